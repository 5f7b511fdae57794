/*
 * A Windows program linked against D32-SMTP.DLL (its import library), run under Wine by
 * tests/windows/run.sh against the daemon's named pipe (SMTP32_SOCKET):
 *
 *   wine_client SINK STALL    SINK: an SMTP server (Postfix smtp-sink) as host:port;
 *                             STALL: a server that accepts and never greets.
 *
 * helo, mail, rcpt, data through a callback, rply, quit; xhelo with its status callback;
 * xquit cancelling an xhelo stalled on the greeting; 200 timed smtp_noop round trips. Each check
 * prints "ok - name" or "not ok - name: detail"; the exit code is the number of failures.
 */
#include "smtp32.h"

#include <stdio.h>
#include <string.h>
#include <windows.h>

#include "../c/check.h"

static const char MESSAGE[] = "Subject: from Wine\r\n\r\nsent through D32-SMTP.DLL\r\n";

static HANDLE status_event;
static volatile LONG status_result = 12345;

static int sent_so_far;

/* smtp_data's proc: hands MESSAGE over in pieces of at most len bytes, then 0. */
static int pull(SMTP_HANDLE conn, char *buf, int len, uintptr_t lParam)
{
    (void)conn;
    (void)lParam;
    int left = (int)sizeof MESSAGE - 1 - sent_so_far;
    int n = left < len ? left : len;
    memcpy(buf, MESSAGE + sent_so_far, (size_t)n);
    sent_so_far += n;
    return n;
}

static int on_status(SMTP_HANDLE conn, int result, uintptr_t lParam)
{
    (void)conn;
    (void)lParam;
    InterlockedExchange(&status_result, result);
    SetEvent(status_event);
    return 0;
}

/* Waits up to 10 s for the status callback; its result, or 12345 when it never came. */
static int wait_status(void)
{
    if (WaitForSingleObject(status_event, 10000) != WAIT_OBJECT_0)
        return 12345;
    ResetEvent(status_event);
    return (int)status_result;
}

static void one_message(const char *sink)
{
    SMTP_HANDLE conn = 0;
    char reply[512];
    int code = 0;
    int rc = smtp_helo(sink, "wine.test", &conn, NULL, 0);
    if (rc != SMTP_SUCCESS && smtp_rply(0, reply, sizeof reply, &code) == SMTP_SUCCESS)
        printf("# smtp_helo: %s\n", reply);
    CHECK_RC("smtp_helo reaches smtp-sink over the named pipe", rc, SMTP_SUCCESS);
    CHECK_RC("smtp_mail", smtp_mail(conn, "sender@wine.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rcpt", smtp_rcpt(conn, "rcpt@wine.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_data pulls the message through its callback", smtp_data(conn, pull),
             SMTP_SUCCESS);
    CHECK("the callback handed over the whole message", sent_so_far == (int)sizeof MESSAGE - 1,
          "%d bytes", sent_so_far);
    CHECK_RC("smtp_rply", smtp_rply(conn, reply, sizeof reply, &code), SMTP_SUCCESS);
    CHECK("the server accepted the message with 250", code == 250, "code %d, reply %s", code,
          reply);

    LARGE_INTEGER freq, t0, t1;
    QueryPerformanceFrequency(&freq);
    enum { ROUNDS = 200 };
    double best = 1e9, total = 0;
    for (int i = 0; i < ROUNDS; i++) {
        QueryPerformanceCounter(&t0);
        int rc = smtp_noop(conn); /* a pipe round trip to the daemon, and NOOP to smtp-sink */
        QueryPerformanceCounter(&t1);
        if (rc != SMTP_SUCCESS)
            failures++;
        double us = (double)(t1.QuadPart - t0.QuadPart) * 1e6 / (double)freq.QuadPart;
        total += us;
        if (us < best)
            best = us;
    }
    printf("# smtp_noop round trip: mean %.0f us, best %.0f us over %d\n", total / ROUNDS, best,
           ROUNDS);
    CHECK_RC("smtp_quit", smtp_quit(conn), SMTP_SUCCESS);
}

static void background_connect(const char *sink)
{
    SMTP_HANDLE conn = 0;
    CHECK_RC("smtp_xhelo returns at once", smtp_xhelo(sink, "wine.test", &conn, NULL, on_status, 0),
             SMTP_SUCCESS);
    CHECK_RC("the status callback reports the connect", wait_status(), SMTP_SUCCESS);
    CHECK_RC("smtp_noop on the background connection", smtp_noop(conn), SMTP_SUCCESS);
    CHECK_RC("smtp_quit after xhelo", smtp_quit(conn), SMTP_SUCCESS);
}

static void cancel_stalled(const char *stall)
{
    SMTP_HANDLE conn = 0;
    CHECK_RC("smtp_xhelo to a server that never greets",
             smtp_xhelo(stall, "wine.test", &conn, NULL, on_status, 0), SMTP_SUCCESS);
    CHECK("no status while the greeting is awaited",
          WaitForSingleObject(status_event, 300) == WAIT_TIMEOUT, "status %ld came early",
          status_result);
    CHECK_RC("smtp_xquit cancels the stalled connect", smtp_xquit(conn), SMTP_SUCCESS);
    CHECK_RC("the status callback reports SMTP_ABORTED", wait_status(), SMTP_ABORTED);
    CHECK_RC("the cancelled handle is gone", smtp_noop(conn), SMTP_INVALID_HANDLE);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: wine_client SINK_HOST:PORT STALL_HOST:PORT\n");
        return 100;
    }
    status_event = CreateEventA(NULL, TRUE, FALSE, NULL);
    one_message(argv[1]);
    background_connect(argv[1]);
    cancel_stalled(argv[2]);
    return failures;
}
