/*
 * porting.c - a program as the SMTP-32 manual's users wrote them, with only
 * "#include <windows.h>" dropped: the manual's types (GLOBALHANDLE, FARPROC,
 * DWORD, LPSTR, WINAPI, far), "(FARPROC)f" casts, MakeProcInstance, callbacks
 * defined as the manual declares them (one in the old K&R style the manual
 * prints), a pointer carried in a DWORD lParam and read back with
 * OPT_GET_PARAM into a DWORD. Compiled by tests/tests/c_porting.rs with
 * -Wall -Werror and run:
 *
 *   porting SINK SOCKS_PORT
 *
 *   SINK        host:port of a server that takes any message (127.0.0.1:PORT)
 *   SOCKS_PORT  a SOCKS5 proxy on 127.0.0.1 without authentication
 *
 * Prints "ok - NAME" / "not ok - NAME: detail"; exits with the failure count.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, for the wait on the xhelo status */

#include <d32-smtp.h>
#include <d32-fw.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

struct session {
    int debug_calls;
    int status;
    int status_calls;
    int lines;
    int yields;
    const char far *next;
};

static struct session ctx;

int WINAPI DebugProc(GLOBALHANDLE hConn, char far *buf, int len, DWORD lParam)
{
    struct session far *s = (struct session far *)lParam;
    (void)hConn;
    (void)buf;
    (void)len;
    s->debug_calls++;
    return 0;
}

/* The data callback exactly as the manual prints its declaration. */
int WINAPI DataProc(hConn, buf, len, lParam)
GLOBALHANDLE hConn;
char far *buf;
int len;
DWORD lParam;
{
    struct session far *s = (struct session far *)lParam;
    int n = (int)strlen(s->next);
    (void)hConn;
    if (n > len) n = len;
    memcpy(buf, s->next, n);
    s->next += n;
    return n;
}

int WINAPI LineProc(GLOBALHANDLE hConn, char far *line, int len, DWORD lParam)
{
    (void)hConn;
    (void)line;
    (void)len;
    ((struct session far *)lParam)->lines++;
    return 0;
}

int WINAPI StatusProc(GLOBALHANDLE hConn, int result, DWORD lParam)
{
    struct session far *s = (struct session far *)lParam;
    (void)hConn;
    s->status = result;
    s->status_calls++;
    return 0;
}

int WINAPI YieldProc(void)
{
    ctx.yields++;
    return 0;
}

static void pause_ms(long ms)
{
    struct timespec t;
    t.tv_sec = ms / 1000;
    t.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&t, NULL);
}

static const char MESSAGE[] = "Subject: ported from SMTP-32\r\n\r\nsent by smtp_data\r\n";

int main(int argc, char **argv)
{
    GLOBALHANDLE hConn;
    FARPROC lpfnDebug, lpfnData;
    DWORD param = 0;
    LPSTR host;
    char reply[512], date[64];
    int code = 0, len, i;

    if (argc != 3) {
        fprintf(stderr, "usage: porting SINK SOCKS_PORT\n");
        return 100;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    host = argv[1];

    lpfnDebug = MakeProcInstance((FARPROC)DebugProc, hInst);
    CHECK_RC("smtp_helo with (FARPROC) and (DWORD)&ctx",
             smtp_helo(host, "porting.client.test", &hConn, lpfnDebug, (DWORD)&ctx), SMTP_SUCCESS);
    CHECK("the debug proc got its DWORD lParam", ctx.debug_calls > 0, "%d calls", ctx.debug_calls);
    CHECK_RC("smtp_opts OPT_GET_PARAM into a DWORD",
             smtp_opts(hConn, OPT_GET_PARAM, (DWORD)(DWORD far *)&param), SMTP_SUCCESS);
    CHECK("OPT_GET_PARAM gives the whole pointer back", param == (DWORD)&ctx, "got %lx",
          (unsigned long)param);
    CHECK_RC("smtp_opts OPT_TIMEOUT", smtp_opts(hConn, OPT_TIMEOUT, 30), SMTP_SUCCESS);
    CHECK_RC("smtp_opts OPT_YIELD_ON with a (DWORD)(FARPROC)",
             smtp_opts(hConn, OPT_YIELD_ON, (DWORD)(FARPROC)YieldProc), SMTP_SUCCESS);
    CHECK_RC("smtp_opts OPT_DEBUG with a MakeProcInstance thunk",
             smtp_opts(hConn, OPT_DEBUG, (DWORD)lpfnDebug), SMTP_SUCCESS);

    CHECK_RC("smtp_mail", smtp_mail(hConn, "ported@client.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rcpt", smtp_rcpt(hConn, "sink@server.test"), SMTP_SUCCESS);
    ctx.next = MESSAGE;
    lpfnData = MakeProcInstance((FARPROC)DataProc, hInst);
    CHECK_RC("smtp_data with a K&R callback through FARPROC", smtp_data(hConn, lpfnData),
             SMTP_SUCCESS);
    FreeProcInstance(lpfnData);
    CHECK("smtp_data pulled the whole message", *ctx.next == '\0', "left: %s", ctx.next);

    CHECK_RC("smtp_mail again", smtp_mail(hConn, "ported@client.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rcpt again", smtp_rcpt(hConn, "sink@server.test"), SMTP_SUCCESS);
    ctx.next = MESSAGE;
    CHECK_RC("smtp_data with the callback itself", smtp_data(hConn, DataProc), SMTP_SUCCESS);

    /* smtp-sink implements neither EXPN nor HELP: the refusal is in smtp_rply. */
    CHECK_RC("smtp_expn with a (FARPROC) line proc", smtp_expn(hConn, "team", (FARPROC)LineProc),
             SMTP_FAILURE);
    CHECK_RC("smtp_help with the line proc itself", smtp_help(hConn, NULL, LineProc), SMTP_FAILURE);
    CHECK_RC("smtp_rply", smtp_rply(hConn, reply, sizeof reply, &code), SMTP_SUCCESS);
    CHECK("smtp_rply gives the refusal", code >= 500 && code < 600, "%d %s", code, reply);
    len = sizeof reply;
    CHECK_RC("smtp_direct", smtp_direct(hConn, "NOOP", reply, &len), SMTP_SUCCESS);
    CHECK("smtp_date returns the length", smtp_date(date) == (int)strlen(date), "%s", date);
    CHECK_RC("smtp_quit", smtp_quit(hConn), SMTP_SUCCESS);
    FreeProcInstance(lpfnDebug);

    CHECK_RC("smtp_xhelo with (FARPROC) status proc",
             smtp_xhelo(host, "porting.client.test", &hConn, NULL, (FARPROC)StatusProc,
                        (DWORD)&ctx), SMTP_SUCCESS);
    for (i = 0; i < 15000 && ctx.status_calls == 0; i++) pause_ms(1);
    CHECK("smtp_xhelo status", ctx.status_calls == 1 && ctx.status == SMTP_SUCCESS, "%d calls, %d",
          ctx.status_calls, ctx.status);
    CHECK_RC("smtp_quit after smtp_xhelo", smtp_quit(hConn), SMTP_SUCCESS);

    {
        fw_param fw;
        char far *colon = strrchr(host, ':');
        char dest[64];
        memset(&fw, 0, sizeof fw);
        snprintf(dest, sizeof dest, "%.*s", (int)(colon - host), host);
        fw.methods = "0";
        fw.n_methods = 1;
        fw.addr_type = FW_ADDR_IP4;
        fw.fw_host = "127.0.0.1";
        fw.fw_port = (unsigned short)atoi(argv[2]);
        fw.dest_host = dest;
        fw.dest_port = (unsigned short)atoi(colon + 1);
        fw.socks_ver = FW_VERSION5;
        CHECK_RC("smtp_fw_helo with a (FARPROC) debug proc",
                 smtp_fw_helo("porting.client.test", &hConn, (FARPROC)DebugProc, (DWORD)&ctx, &fw),
                              SMTP_SUCCESS);
        CHECK_RC("smtp_quit after smtp_fw_helo", smtp_quit(hConn), SMTP_SUCCESS);
    }
    printf("%d failed\n", failures);
    return failures > 99 ? 99 : failures;
}
