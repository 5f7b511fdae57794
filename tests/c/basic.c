/*
 * A C program written against client/include/smtp32.h, run by tests/tests/c_abi.rs.
 *
 *   basic HOST       exercises the API against the SMTP server at HOST (the aiosmtpd store
 *                    server): two messages are sent, one with smtp_data_buf and one with
 *                    smtp_data; the Rust test then checks what arrived.
 *   basic NODAEMON   expects every entry point to report SMTP_CANNOT_INITIALIZE.
 *
 * The daemon is found through SMTP32_SOCKET. Each check prints "ok - name" or
 * "not ok - name: detail"; the exit code is the number of failed checks.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, for count.h */

#include "smtp32.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "count.h"

/* Must match c_abi.rs: the first message, sent in pieces with smtp_data_buf. */
static const char *PIECES[] = {"Subject: c data_buf\r\n\r\n.dot line\r", "\nbare lf\n", "no final newline"};

/* Must match c_abi.rs: the second message, pulled by smtp_data. */
static const char PULLED[] = "Subject: c smtp_data\n\n..two dots\nline\r\n.\n";

static atomic_long debug_bytes;
static atomic_int debug_bad_param;

static int debug_proc(SMTP_HANDLE h, const char *buf, int len, uintptr_t lParam) {
    (void)h;
    (void)buf;
    if (lParam != 42) atomic_store(&debug_bad_param, 1);
    atomic_fetch_add(&debug_bytes, len);
    return 0;
}

static size_t pulled_at = 0;
static uintptr_t pulled_param = 0;

/* Hands out PULLED five bytes at a time. */
static int data_proc(SMTP_HANDLE h, char *buf, int len, uintptr_t lParam) {
    (void)h;
    pulled_param = lParam;
    size_t left = strlen(PULLED) - pulled_at;
    size_t n = left < 5 ? left : 5;
    if ((int)n > len) n = (size_t)len;
    memcpy(buf, PULLED + pulled_at, n);
    pulled_at += n;
    return (int)n;
}

static int abort_calls = 0;

static int aborting_proc(SMTP_HANDLE h, char *buf, int len, uintptr_t lParam) {
    (void)h;
    (void)lParam;
    if (++abort_calls == 1 && len >= 6) {
        memcpy(buf, "part\r\n", 6);
        return 6;
    }
    return -1;
}

static atomic_int status_result = 1; /* 1 = not called yet */
static atomic_uintptr_t status_param;
static count_t status_calls = COUNT_INIT;

static int status_proc(SMTP_HANDLE h, int result, uintptr_t lParam) {
    (void)h;
    atomic_store(&status_param, lParam);
    atomic_store(&status_result, result);
    count_raise(&status_calls);
    return 0;
}

/* Waits up to ten seconds for the status callback; returns its result (1 if it never came). */
static int wait_status(void) {
    count_wait(&status_calls, 1, 10000);
    return atomic_load(&status_result);
}

static void check_reply(const char *name, SMTP_HANDLE h, int want_code) {
    char reply[512];
    int code = -1;
    int rc = smtp_rply(h, reply, sizeof reply, &code);
    char prefix[8];
    snprintf(prefix, sizeof prefix, "%d", want_code);
    CHECK(name, rc == SMTP_SUCCESS && code == want_code && strncmp(reply, prefix, 3) == 0,
          "rc %d code %d reply \"%s\", want code %d", rc, code, reply, want_code);
}

static void no_daemon(void) {
    SMTP_HANDLE h = 0;
    CHECK_RC("smtp_helo without a daemon", smtp_helo("127.0.0.1:25", "c.test", &h, NULL, 0), SMTP_CANNOT_INITIALIZE);
    CHECK_RC("smtp_xhelo without a daemon", smtp_xhelo("127.0.0.1:25", "c.test", &h, NULL, NULL, 0), SMTP_CANNOT_INITIALIZE);
}

static void with_server(const char *host) {
    /* strerror and date need no connection. */
    const char *ok = smtp_strerror(SMTP_SUCCESS);
    const char *inval = smtp_strerror(SMTP_INVALID_HANDLE);
    const char *unknown = smtp_strerror(12345);
    CHECK("smtp_strerror", ok && *ok && inval && *inval && strcmp(ok, inval) != 0 && unknown && *unknown,
          "\"%s\" / \"%s\" / \"%s\"", ok ? ok : "(null)", inval ? inval : "(null)", unknown ? unknown : "(null)");

    char date[SMTP_DATE_SIZE];
    int dlen = smtp_date(date);
    CHECK("smtp_date", dlen == (int)strlen(date) && dlen >= 29 && date[3] == ',' &&
                           (date[dlen - 5] == '+' || date[dlen - 5] == '-'),
          "returned %d for \"%s\"", dlen, date);
    CHECK_RC("smtp_date(NULL)", smtp_date(NULL), SMTP_INVALID_ARGUMENT);

    /* Invalid handles. */
    CHECK_RC("smtp_noop(0)", smtp_noop(0), SMTP_INVALID_HANDLE);
    CHECK_RC("smtp_noop(unknown handle)", smtp_noop(123456), SMTP_INVALID_HANDLE);
    CHECK_RC("smtp_mail(unknown handle)", smtp_mail(999999, "x@y.test"), SMTP_INVALID_HANDLE);
    CHECK_RC("smtp_quit(unknown handle)", smtp_quit(999999), SMTP_INVALID_HANDLE);

    /* Connect. */
    SMTP_HANDLE h = 0;
    CHECK_RC("smtp_helo(NULL host)", smtp_helo(NULL, "c.test", &h, NULL, 0), SMTP_INVALID_ARGUMENT);
    int rc = smtp_helo(host, "c.test", &h, debug_proc, 42);
    CHECK_RC("smtp_helo", rc, SMTP_SUCCESS);
    if (rc != SMTP_SUCCESS) return;
    CHECK("smtp_helo sets a non-zero handle", h != 0, "handle %u", h);

    /* Options. */
    uintptr_t param = 0;
    CHECK_RC("smtp_opts OPT_GET_PARAM", smtp_opts(h, OPT_GET_PARAM, (uintptr_t)&param), SMTP_SUCCESS);
    CHECK("OPT_GET_PARAM gives the helo lParam", param == 42, "got %lu", (unsigned long)param);
    CHECK_RC("smtp_opts OPT_SET_PARAM", smtp_opts(h, OPT_SET_PARAM, 77), SMTP_SUCCESS);
    smtp_opts(h, OPT_GET_PARAM, (uintptr_t)&param);
    CHECK("OPT_SET_PARAM then OPT_GET_PARAM", param == 77, "got %lu", (unsigned long)param);
    CHECK_RC("smtp_opts unknown option", smtp_opts(h, 999, 0), SMTP_INVALID_OPTION);
    CHECK_RC("smtp_opts OPT_TIMEOUT 0", smtp_opts(h, OPT_TIMEOUT, 0), SMTP_INVALID_ARGUMENT);
    CHECK_RC("smtp_opts OPT_TIMEOUT 1000", smtp_opts(h, OPT_TIMEOUT, 1000), SMTP_INVALID_ARGUMENT);
    CHECK_RC("smtp_opts OPT_TIMEOUT 30", smtp_opts(h, OPT_TIMEOUT, 30), SMTP_SUCCESS);
    /* The debug proc was registered with lParam 42; keep it checking against 42. */
    CHECK_RC("smtp_opts OPT_SET_PARAM back to 42", smtp_opts(h, OPT_SET_PARAM, 42), SMTP_SUCCESS);

    /* NOOP and the reply. */
    CHECK_RC("smtp_noop", smtp_noop(h), SMTP_SUCCESS);
    check_reply("smtp_rply after NOOP", h, 250);
    char small[4];
    int code = 0;
    rc = smtp_rply(h, small, sizeof small, &code);
    CHECK("smtp_rply truncates to len with a NUL", rc == SMTP_SUCCESS && code == 250 && strcmp(small, "250") == 0,
          "rc %d code %d \"%s\"", rc, code, small);

    /* Bad arguments never reach the server. */
    CHECK_RC("smtp_mail(NULL)", smtp_mail(h, NULL), SMTP_INVALID_ARGUMENT);
    CHECK_RC("smtp_mail with CRLF inside", smtp_mail(h, "a@a.test>\r\nRCPT TO:<x@y.test"), SMTP_INVALID_ARGUMENT);

    /* Message 1: smtp_data_buf in pieces, len 0 ends it. */
    CHECK_RC("smtp_mail", smtp_mail(h, "c1@a.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rcpt", smtp_rcpt(h, "r@b.test"), SMTP_SUCCESS);
    for (size_t i = 0; i < sizeof PIECES / sizeof *PIECES; i++)
        CHECK_RC("smtp_data_buf piece", smtp_data_buf(h, PIECES[i], (int)strlen(PIECES[i])), SMTP_SUCCESS);
    CHECK_RC("smtp_data_buf len 0 ends the message", smtp_data_buf(h, NULL, 0), SMTP_SUCCESS);
    check_reply("smtp_rply after the message", h, 250);

    /* An abandoned transaction. */
    CHECK_RC("smtp_mail before rset", smtp_mail(h, "abandoned@a.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rset", smtp_rset(h), SMTP_SUCCESS);

    /* Message 2: pulled through smtp_data, with the handle's lParam. */
    CHECK_RC("smtp_opts OPT_SET_PARAM for smtp_data", smtp_opts(h, OPT_SET_PARAM, 42), SMTP_SUCCESS);
    CHECK_RC("smtp_mail 2", smtp_mail(h, "c2@a.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rcpt 2", smtp_rcpt(h, "r@b.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_data", smtp_data(h, data_proc), SMTP_SUCCESS);
    CHECK("smtp_data pulled everything", pulled_at == strlen(PULLED), "pulled %zu of %zu", pulled_at, strlen(PULLED));
    CHECK("smtp_data proc gets lParam", pulled_param == 42, "got %lu", (unsigned long)pulled_param);

    CHECK("the debug proc saw traffic", atomic_load(&debug_bytes) > 100, "%ld bytes", atomic_load(&debug_bytes));
    CHECK("the debug proc got its lParam", atomic_load(&debug_bad_param) == 0, "a call had another lParam");

    CHECK_RC("smtp_quit", smtp_quit(h), SMTP_SUCCESS);
    CHECK_RC("smtp_noop after quit", smtp_noop(h), SMTP_INVALID_HANDLE);

    /* xhelo: the status proc reports success, then the handle works. */
    SMTP_HANDLE x = 0;
    CHECK_RC("smtp_xhelo", smtp_xhelo(host, "c.test", &x, NULL, status_proc, 5), SMTP_SUCCESS);
    CHECK("smtp_xhelo sets a handle", x != 0 && x != h, "handle %u (first was %u)", x, h);
    int st = wait_status();
    CHECK_RC("smtp_xhelo status", st, SMTP_SUCCESS);
    CHECK("smtp_xhelo status lParam", atomic_load(&status_param) == 5, "got %lu", (unsigned long)atomic_load(&status_param));
    CHECK_RC("smtp_noop after xhelo", smtp_noop(x), SMTP_SUCCESS);

    /* A data proc returning -1 resets the connection and invalidates the handle. */
    CHECK_RC("smtp_mail before abort", smtp_mail(x, "aborted@a.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rcpt before abort", smtp_rcpt(x, "r@b.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_data aborted by its proc", smtp_data(x, aborting_proc), SMTP_ABORTED);
    CHECK_RC("smtp_noop after the abort", smtp_noop(x), SMTP_INVALID_HANDLE);
    CHECK_RC("smtp_quit after the abort", smtp_quit(x), SMTP_INVALID_HANDLE);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: basic HOST | basic NODAEMON\n");
        return 100;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[1], "NODAEMON") == 0)
        no_daemon();
    else
        with_server(argv[1]);
    printf("%d failed\n", failures);
    return failures > 99 ? 99 : failures;
}
