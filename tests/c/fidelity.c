/*
 * fidelity.c - the manual's promises that the library once broke (issue 14,
 * item 2). Run by tests/tests/c_fidelity.rs:
 *
 *   fidelity EXIM SINK REFUSING SOCKS_PORT SOCKS_USER SOCKS_PASS
 *
 *   EXIM       host:port of an MTA that answers EXPN team@example.test (three
 *              members) and HELP
 *   SINK       host:port of a server that takes any message (127.0.0.1:PORT)
 *   REFUSING   host:port of a server that refuses EHLO and HELO with 5xx
 *   SOCKS_PORT, SOCKS_USER, SOCKS_PASS
 *              a SOCKS5 proxy on 127.0.0.1 wanting that user name and password
 *
 * Prints "ok - NAME" / "not ok - NAME: detail"; exits with the failure count.
 */
#define _POSIX_C_SOURCE 200809L

#include "smtp32.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "count.h"

static const char LOCAL[] = "fidelity.client.test";

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* ---- smtp_xquit during smtp_expn / smtp_help -------------------------------------------- */

typedef struct {
    SMTP_HANDLE h;
    atomic_int lines;
    atomic_int lines_after_xquit;
    atomic_int xquit_returned;
    int xquit_rc;
    int from_callback; /* 1: the line proc calls smtp_xquit; 0: another thread does */
    count_t first_line_seen;
    int saw_handle_freed;
} listing_t;

static listing_t *current;

/* Waits (at most 10 s) until the handle is gone, as smtp_opts reports. */
static int wait_handle_freed(SMTP_HANDLE h) {
    uintptr_t p = 0;
    for (int i = 0; i < 10000; i++) {
        if (smtp_opts(h, OPT_GET_PARAM, (uintptr_t)&p) == SMTP_INVALID_HANDLE) return 1;
        sleep_ms(1);
    }
    return 0;
}

static int line_proc(SMTP_HANDLE h, const char *line, int len, uintptr_t lParam) {
    listing_t *l = current;
    (void)line;
    (void)len;
    (void)lParam;
    if (atomic_load(&l->xquit_returned)) atomic_fetch_add(&l->lines_after_xquit, 1);
    if (atomic_fetch_add(&l->lines, 1) == 0) {
        if (l->from_callback) {
            l->xquit_rc = smtp_xquit(h);
            atomic_store(&l->xquit_returned, 1);
        } else {
            /* Let the other thread cancel while this line is being handled. */
            count_raise(&l->first_line_seen);
            l->saw_handle_freed = wait_handle_freed(h);
        }
    }
    return 0;
}

static void *cancel_at_first_line(void *arg) {
    listing_t *l = arg;
    count_wait(&l->first_line_seen, 1, 10000);
    l->xquit_rc = smtp_xquit(l->h);
    atomic_store(&l->xquit_returned, 1);
    return NULL;
}

static void xquit_during_listing(const char *exim, const char *verb, int from_callback) {
    char name[160];
    listing_t l;
    memset(&l, 0, sizeof l);
    l.first_line_seen = (count_t)COUNT_INIT;
    l.from_callback = from_callback;
    l.xquit_rc = 1;
    current = &l;
    const char *who = from_callback ? "from the line proc" : "from another thread";
    snprintf(name, sizeof name, "smtp_helo for smtp_xquit during %s %s", verb, who);
    CHECK_RC(name, smtp_helo(exim, LOCAL, &l.h, NULL, 0), SMTP_SUCCESS);
    pthread_t thread;
    int threaded = !from_callback && pthread_create(&thread, NULL, cancel_at_first_line, &l) == 0;
    int rc = strcmp(verb, "smtp_expn") == 0 ? smtp_expn(l.h, "team@example.test", line_proc)
                                            : smtp_help(l.h, NULL, line_proc);
    if (threaded) pthread_join(thread, NULL);
    snprintf(name, sizeof name, "smtp_xquit during %s %s gives SMTP_ABORTED and no further line",
             verb, who);
    CHECK(name, rc == SMTP_ABORTED && l.xquit_rc == SMTP_SUCCESS && atomic_load(&l.lines) == 1 &&
                    atomic_load(&l.lines_after_xquit) == 0 && (from_callback || l.saw_handle_freed),
          "%s returned %d (%s), xquit %d, %d lines (%d after xquit returned)", verb, rc,
          smtp_strerror(rc), l.xquit_rc,
          atomic_load(&l.lines), atomic_load(&l.lines_after_xquit));
    snprintf(name, sizeof name, "the handle is invalid after smtp_xquit during %s %s", verb, who);
    CHECK_RC(name, smtp_noop(l.h), SMTP_INVALID_HANDLE);
}

/* ---- smtp_rply(0, ...) after every kind of open ----------------------------------------- */

static int last_open_reply(char *text, int size) {
    int code = -1;
    int rc = smtp_rply(0, text, size, &code);
    return rc == SMTP_SUCCESS ? code : rc;
}

static void fw_to(fw_param *fw, char *host, size_t size, const char *hostport,
                  unsigned short socks_port,
                  const char *user, const char *pass) {
    const char *colon = strrchr(hostport, ':');
    size_t n = colon ? (size_t)(colon - hostport) : 0;
    if (n >= size) n = 0;
    memcpy(host, hostport, n);
    host[n] = '\0';
    memset(fw, 0, sizeof *fw);
    fw->methods = "2";
    fw->n_methods = 1;
    fw->addr_type = FW_ADDR_IP4;
    fw->fw_host = "127.0.0.1";
    fw->fw_port = socks_port;
    fw->dest_host = host;
    fw->dest_port = colon ? (unsigned short)atoi(colon + 1) : 0;
    fw->username = user;
    fw->passwd = pass;
    fw->socks_ver = FW_VERSION5;
}

static void last_open_reply_is_reset(const char *sink, const char *refusing,
                                     unsigned short socks_port,
                                     const char *user, const char *pass) {
    char text[512];
    SMTP_HANDLE h = 0;
    CHECK_RC("smtp_helo to the refusing server", smtp_helo(refusing, LOCAL, &h, NULL, 0),
             SMTP_FAILURE);
    int code = last_open_reply(text, sizeof text);
    CHECK("smtp_rply(0) gives the refusal", code >= 500 && code < 600, "code %d \"%s\"", code,
          text);

    CHECK_RC("smtp_helo that works", smtp_helo(sink, LOCAL, &h, NULL, 0), SMTP_SUCCESS);
    code = last_open_reply(text, sizeof text);
    CHECK("smtp_rply(0) is empty after an smtp_helo that worked", code == 0 && text[0] == '\0',
          "code %d \"%s\"", code, text);
    smtp_quit(h);

    char host[256];
    fw_param fw;
    smtp_helo(refusing, LOCAL, &h, NULL, 0);
    fw_to(&fw, host, sizeof host, sink, socks_port, user, pass);
    CHECK_RC("smtp_fw_helo that works", smtp_fw_helo(LOCAL, &h, NULL, 0, &fw), SMTP_SUCCESS);
    code = last_open_reply(text, sizeof text);
    CHECK("smtp_rply(0) is empty after an smtp_fw_helo that worked", code == 0 && text[0] == '\0',
          "code %d \"%s\"", code, text);
    smtp_quit(h);

    fw_to(&fw, host, sizeof host, refusing, socks_port, user, pass);
    CHECK_RC("smtp_fw_helo to the refusing server", smtp_fw_helo(LOCAL, &h, NULL, 0, &fw),
             SMTP_FAILURE);
    code = last_open_reply(text, sizeof text);
    CHECK("smtp_rply(0) gives the refusal through the proxy", code >= 500 && code < 600,
          "code %d \"%s\"", code, text);

    fw_to(&fw, host, sizeof host, sink, socks_port, user, "not-the-password");
    CHECK_RC("smtp_fw_helo with a wrong proxy password", smtp_fw_helo(LOCAL, &h, NULL, 0, &fw),
             SMTP_FAILURE);
    code = last_open_reply(text, sizeof text);
    CHECK("smtp_rply(0) gives the proxy's refusal as a reason with code 0",
          code == 0 && text[0] != '\0',
          "code %d \"%s\"", code, text);

    SMTP_HANDLE x = 0;
    smtp_helo(refusing, LOCAL, &h, NULL, 0);
    CHECK_RC("smtp_xhelo", smtp_xhelo(sink, LOCAL, &x, NULL, NULL, 0), SMTP_SUCCESS);
    code = last_open_reply(text, sizeof text);
    CHECK("smtp_rply(0) is empty after an smtp_xhelo", code == 0 && text[0] == '\0',
          "code %d \"%s\"", code, text);
    smtp_xquit(x);
}

/* ---- smtp_data: the fill proc always has room for a line -------------------------------- */

enum { LINE = 1000, MESSAGE_BYTES = 3 * 1024 * 1024 };

static int smallest_offer = 1 << 30;
static long pulled;

/* Writes one 1000-byte line per call, as line-at-a-time programs do. */
static int line_at_a_time(SMTP_HANDLE h, char *buf, int len, uintptr_t lParam) {
    (void)h;
    (void)lParam;
    if (pulled >= MESSAGE_BYTES) return 0;
    if (len < smallest_offer) smallest_offer = len;
    if (len < LINE) return -1; /* no room for the next line: such a program gives up */
    memset(buf, 'x', LINE - 2);
    buf[LINE - 2] = '\r';
    buf[LINE - 1] = '\n';
    pulled += LINE;
    return LINE;
}

static void data_offers_room_for_a_line(const char *sink) {
    SMTP_HANDLE h = 0;
    CHECK_RC("smtp_helo for smtp_data", smtp_helo(sink, LOCAL, &h, NULL, 0), SMTP_SUCCESS);
    CHECK_RC("smtp_mail for smtp_data", smtp_mail(h, "lines@client.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rcpt for smtp_data", smtp_rcpt(h, "sink@server.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_data of 3 MiB, a line per call", smtp_data(h, line_at_a_time), SMTP_SUCCESS);
    CHECK("smtp_data offers the fill proc at least 4 KiB every time",
          smallest_offer >= 4096 && pulled >= MESSAGE_BYTES,
          "smallest offer %d bytes, %ld bytes pulled", smallest_offer, pulled);
    smtp_quit(h);
}

/* ---- smtp_xhelo: *conn is set before any callback runs ---------------------------------- */

enum { OPENS = 20 };

static SMTP_HANDLE opened[OPENS];
static atomic_int unset_in_callback;
static count_t statuses = COUNT_INIT;
static atomic_int successes;

static int seen_proc(SMTP_HANDLE h, const char *buf, int len, uintptr_t lParam) {
    (void)buf;
    (void)len;
    if (opened[lParam] != h) atomic_fetch_add(&unset_in_callback, 1);
    return 0;
}

static int status_proc(SMTP_HANDLE h, int result, uintptr_t lParam) {
    if (opened[lParam] != h) atomic_fetch_add(&unset_in_callback, 1);
    if (result == SMTP_SUCCESS) atomic_fetch_add(&successes, 1);
    count_raise(&statuses);
    return 0;
}

static void xhelo_stores_conn_first(const char *sink) {
    int rc = SMTP_SUCCESS;
    for (int i = 0; i < OPENS && rc == SMTP_SUCCESS; i++)
        rc = smtp_xhelo(sink, LOCAL, &opened[i], seen_proc, status_proc, (uintptr_t)i);
    CHECK_RC("smtp_xhelo 20 times", rc, SMTP_SUCCESS);
    int seen = count_wait(&statuses, OPENS, 15000);
    CHECK("smtp_xhelo stores *conn before its status and debug procs run",
          seen == OPENS && atomic_load(&successes) == OPENS &&
              atomic_load(&unset_in_callback) == 0,
          "%d statuses (%d successes), %d callbacks saw *conn unset", seen,
          atomic_load(&successes),
          atomic_load(&unset_in_callback));
    for (int i = 0; i < OPENS; i++) smtp_quit(opened[i]);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: fidelity EXIM SINK REFUSING SOCKS_PORT SOCKS_USER SOCKS_PASS\n");
        return 100;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    xquit_during_listing(argv[1], "smtp_expn", 1);
    xquit_during_listing(argv[1], "smtp_help", 1);
    xquit_during_listing(argv[1], "smtp_expn", 0);
    xquit_during_listing(argv[1], "smtp_help", 0);
    last_open_reply_is_reset(argv[2], argv[3], (unsigned short)atoi(argv[4]), argv[5], argv[6]);
    data_offers_room_for_a_line(argv[2]);
    xhelo_stores_conn_first(argv[2]);
    printf("%d failed\n", failures);
    return failures > 99 ? 99 : failures;
}
