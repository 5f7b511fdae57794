/*
 * manual.c - an SMTP-32 program written from the manual's function descriptions
 * (../shared/seed/SMTP-32-reference.txt, "2 Reference"), with only the types
 * modernised as smtp32.h does: GLOBALHANDLE is SMTP_HANDLE, DWORD lParam is
 * uintptr_t, FARPROC is the matching typed callback. Run by
 * tests/tests/c_manual.rs:
 *
 *   manual EXIM SINK SLOW STALL SOCKS_PORT SOCKS_USER SOCKS_PASS
 *
 *   EXIM   host:port of an MTA with local domain example.test, mailboxes
 *          alice, bob, carol and the alias team (EXPN, VRFY and HELP allowed)
 *   SINK   host:port of a server that takes any message (127.0.0.1:PORT)
 *   SLOW   host:port of a server that answers NOOP after 2 s and RSET after 30 s
 *   STALL  host:port of a server that answers EHLO after 30 s
 *   SOCKS_PORT, SOCKS_USER, SOCKS_PASS
 *          a SOCKS5 proxy on 127.0.0.1 wanting that user name and password
 *
 * Every function of the manual's function summary is called. Each check
 * prints "ok - NAME" or "not ok - NAME: detail"; the exit code is the number
 * of failed checks (at most 99). The daemon is found through SMTP32_SOCKET.
 */
#define _POSIX_C_SOURCE 200809L

#include "smtp32.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "count.h"

static const char LOCAL[] = "manual.client.test";

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000.0 + t.tv_nsec / 1e6;
}

/* Splits "host:port" into its parts (host copied into `host`). */
static int split_host(const char *hostport, char *host, size_t size, unsigned short *port) {
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= size) return 0;
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = '\0';
    *port = (unsigned short)atoi(colon + 1);
    return *port != 0;
}

/* ---- the reply of the last command, as smtp_rply gives it ------------------------------- */

static int reply_code(SMTP_HANDLE h, char *text, int size) {
    int code = -1;
    int rc = smtp_rply(h, text, size, &code);
    return rc == SMTP_SUCCESS ? code : rc;
}

/* ---- debug callback: "the application can specify ... lParam ... a pointer to a structure" */

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    char bytes[65536];
    size_t len;
    int calls;
} trace_t;

static void trace_init(trace_t *t) {
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->changed, NULL);
}

static int trace_proc(SMTP_HANDLE h, const char *buf, int len, uintptr_t lParam) {
    trace_t *t = (trace_t *)lParam;
    (void)h;
    if (!t) return 0;
    pthread_mutex_lock(&t->lock);
    size_t room = sizeof t->bytes - 1 - t->len;
    size_t n = (size_t)len < room ? (size_t)len : room;
    memcpy(t->bytes + t->len, buf, n);
    t->len += n;
    t->bytes[t->len] = '\0';
    t->calls++;
    pthread_cond_broadcast(&t->changed);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

static int trace_has(trace_t *t, const char *needle) {
    pthread_mutex_lock(&t->lock);
    int found = strstr(t->bytes, needle) != NULL;
    pthread_mutex_unlock(&t->lock);
    return found;
}

/* Waits (at most ms) until the trace holds `needle`. */
static int trace_wait(trace_t *t, const char *needle, long ms) {
    struct timespec until = deadline_in(ms);
    int found;
    pthread_mutex_lock(&t->lock);
    while (!(found = strstr(t->bytes, needle) != NULL)) {
        if (pthread_cond_timedwait(&t->changed, &t->lock, &until) != 0) {
            found = strstr(t->bytes, needle) != NULL;
            break;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return found;
}

/* ---- line callback for smtp_expn / smtp_help -------------------------------------------- */

typedef struct {
    char lines[64][256];
    int count;
    int bad_len;
    int abort_at; /* return -1 on this call (1-based); 0 = never */
} listing_t;

static listing_t *current_listing;

static int line_proc(SMTP_HANDLE h, const char *line, int len, uintptr_t lParam) {
    listing_t *l = current_listing;
    (void)h;
    (void)lParam;
    if (len != (int)strlen(line)) l->bad_len++;
    if (l->count < 64) {
        strncpy(l->lines[l->count], line, 255);
        l->lines[l->count][255] = '\0';
    }
    l->count++;
    return (l->abort_at && l->count == l->abort_at) ? -1 : 0;
}

static int listing_has(const listing_t *l, const char *needle) {
    for (int i = 0; i < l->count && i < 64; i++)
        if (strstr(l->lines[i], needle)) return 1;
    return 0;
}

/* ---- data callback for smtp_data: "must return the number of bytes it copied" ----------- */

static const char PULLED[] = "Subject: manual smtp_data\r\nFrom: <c@client.test>\r\n\r\n"
                             "sent by smtp_data from a callback\r\n.a line with a leading dot\r\n";
static size_t pulled_at;
static uintptr_t pulled_param;

static int data_proc(SMTP_HANDLE h, char *buf, int len, uintptr_t lParam) {
    (void)h;
    pulled_param = lParam;
    size_t left = strlen(PULLED) - pulled_at;
    size_t n = left < 7 ? left : 7; /* small pieces: the library must keep calling */
    if ((int)n > len) n = (size_t)len;
    memcpy(buf, PULLED + pulled_at, n);
    pulled_at += n;
    return (int)n;
}

/* ---- xhelo status callback, awaited with a condition variable --------------------------- */

static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t status_changed = PTHREAD_COND_INITIALIZER;
static int status_result;
static int status_calls;
static uintptr_t status_param;

static int status_proc(SMTP_HANDLE h, int result, uintptr_t lParam) {
    (void)h;
    pthread_mutex_lock(&status_lock);
    status_result = result;
    status_param = lParam;
    status_calls++;
    pthread_cond_broadcast(&status_changed);
    pthread_mutex_unlock(&status_lock);
    return 0;
}

static int status_count(void) {
    pthread_mutex_lock(&status_lock);
    int n = status_calls;
    pthread_mutex_unlock(&status_lock);
    return n;
}

/* Waits up to 15 s for the status callback's next call; returns its result or 1 on timeout. */
static int wait_status(int calls_before) {
    struct timespec until = deadline_in(15000);
    int result = 1;
    pthread_mutex_lock(&status_lock);
    while (status_calls == calls_before)
        if (pthread_cond_timedwait(&status_changed, &status_lock, &until) != 0) break;
    if (status_calls > calls_before) result = status_result;
    pthread_mutex_unlock(&status_lock);
    return result;
}

/* ---- yield callback --------------------------------------------------------------------- */

static pthread_t main_thread;
static int yield_calls;
static int yield_off_thread;

static int yield_proc(void) {
    if (!pthread_equal(pthread_self(), main_thread)) yield_off_thread++;
    yield_calls++;
    return 0;
}

/* ---- smtp_xquit from a second thread ---------------------------------------------------- */

typedef struct {
    SMTP_HANDLE h;
    trace_t *trace;
    int saw_command;
    int rc;
} canceller_t;

static void *canceller(void *arg) {
    canceller_t *c = arg;
    /* Cancel only once the stalled command is on the wire. */
    c->saw_command = trace_wait(c->trace, "RSET\r\n", 15000);
    c->rc = smtp_xquit(c->h);
    return NULL;
}

/* ======================================================================================== */

static void without_a_connection(void) {
    /* smtp_strerror: a text for every code; different codes, different texts. */
    int codes[] = {SMTP_SUCCESS, SMTP_FAILURE, SMTP_INVALID_HANDLE, SMTP_CANNOT_SEND_COMMAND, SMTP_TIMED_OUT,
                   SMTP_IN_PROGRESS, SMTP_ABORTED, SMTP_INSUFFICIENT_LENGTH, SMTP_UNKNOWN_HOST,
                   SMTP_CANNOT_ALLOC_SOCKET, SMTP_CANNOT_BIND_SOCKET, SMTP_HOST_NOT_RESPONDING,
                   SMTP_CANNOT_INITIALIZE, SMTP_CANNOT_INIT_WINSOCK, SMTP_OUT_OF_MEMORY, SMTP_INVALID_OPTION,
                   SMTP_INVALID_ARGUMENT};
    int n = (int)(sizeof codes / sizeof *codes), distinct = 1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
            if (!smtp_strerror(codes[i]) || !*smtp_strerror(codes[i]) ||
                strcmp(smtp_strerror(codes[i]), smtp_strerror(codes[j])) == 0)
                distinct = 0;
    CHECK("smtp_strerror gives a distinct text per code", distinct && *smtp_strerror(SMTP_SUCCESS), "a text is empty or shared");

    /* smtp_date: "returns the length of the string placed into the buffer". */
    char date[SMTP_DATE_SIZE];
    int len = smtp_date(date);
    int day, year, hh, mm, ss, zone;
    char wday[4], mon[4];
    int fields = sscanf(date, "%3s, %d %3s %d %d:%d:%d %d", wday, &day, mon, &year, &hh, &mm, &ss, &zone);
    CHECK("smtp_date returns the length of an RFC 822 date", len == (int)strlen(date) && fields == 8 &&
          date[3] == ',' && year >= 2024 && (strchr(date, '+') || strrchr(date, '-') > date + 20),
          "returned %d for \"%s\" (%d fields)", len, date, fields);

    /* "Invalid connection handle was specified." */
    char buf[64];
    int code, blen = (int)sizeof buf;
    CHECK_RC("smtp_noop with an invalid handle", smtp_noop(424242), SMTP_INVALID_HANDLE);
    CHECK_RC("smtp_mail with an invalid handle", smtp_mail(424242, "a@b.test"), SMTP_INVALID_HANDLE);
    CHECK_RC("smtp_rply with an invalid handle", smtp_rply(424242, buf, sizeof buf, &code), SMTP_INVALID_HANDLE);
    CHECK_RC("smtp_direct with an invalid handle", smtp_direct(424242, "NOOP", buf, &blen), SMTP_INVALID_HANDLE);
    CHECK_RC("smtp_opts with an invalid handle", smtp_opts(424242, OPT_TIMEOUT, 20), SMTP_INVALID_HANDLE);
    CHECK_RC("smtp_quit with an invalid handle", smtp_quit(424242), SMTP_INVALID_HANDLE);
    CHECK_RC("smtp_xquit with an invalid handle", smtp_xquit(424242), SMTP_INVALID_HANDLE);
}

static void with_the_mta(const char *exim) {
    trace_t trace;
    trace_init(&trace);
    char text[4096];
    SMTP_HANDLE h = 0;

    CHECK_RC("smtp_helo", smtp_helo(exim, LOCAL, &h, trace_proc, (uintptr_t)&trace), SMTP_SUCCESS);
    if (!h) return;
    CHECK("smtp_helo debug proc saw the greeting and EHLO", trace_has(&trace, "220 ") && trace_has(&trace, "EHLO manual.client.test\r\n"),
          "trace: %s", trace.bytes);
    CHECK("smtp_rply after smtp_helo", reply_code(h, text, sizeof text) == 250, "%s", text);

    /* smtp_vrfy: "The response ... can be obtained with the smtp_rply command". */
    CHECK_RC("smtp_vrfy alice@example.test", smtp_vrfy(h, "alice@example.test"), SMTP_SUCCESS);
    int code = reply_code(h, text, sizeof text);
    CHECK("smtp_rply after smtp_vrfy", code == 250 || code == 252, "%d %s", code, text);
    CHECK_RC("smtp_vrfy of an unknown user", smtp_vrfy(h, "nobody@example.test"), SMTP_FAILURE);
    CHECK("smtp_rply gives the smtp_vrfy refusal", reply_code(h, text, sizeof text) == 550, "%s", text);

    /* smtp_expn: "the callback function proc is called with ... one recipient". */
    listing_t expn;
    memset(&expn, 0, sizeof expn);
    current_listing = &expn;
    CHECK_RC("smtp_expn team@example.test", smtp_expn(h, "team@example.test", line_proc), SMTP_SUCCESS);
    CHECK("smtp_expn calls proc once per member", expn.count == 3 && expn.bad_len == 0 &&
          listing_has(&expn, "alice@example.test") && listing_has(&expn, "bob@example.test") &&
          listing_has(&expn, "carol@example.test") && strncmp(expn.lines[0], "250", 3) != 0,
          "%d lines (%d with a wrong len), first \"%s\"", expn.count, expn.bad_len, expn.lines[0]);

    /* smtp_help: "the topic parameter should be set to NULL or point to an empty string". */
    listing_t help_null, help_empty, help_topic;
    memset(&help_null, 0, sizeof help_null);
    memset(&help_empty, 0, sizeof help_empty);
    memset(&help_topic, 0, sizeof help_topic);
    current_listing = &help_null;
    CHECK_RC("smtp_help NULL", smtp_help(h, NULL, line_proc), SMTP_SUCCESS);
    current_listing = &help_empty;
    CHECK_RC("smtp_help \"\"", smtp_help(h, "", line_proc), SMTP_SUCCESS);
    CHECK("smtp_help lists the commands, a line per call", help_null.count >= 2 && help_null.count == help_empty.count &&
          listing_has(&help_null, "EXPN") && help_null.bad_len == 0, "%d and %d lines", help_null.count, help_empty.count);
    current_listing = &help_topic;
    CHECK_RC("smtp_help MAIL", smtp_help(h, "MAIL", line_proc), SMTP_SUCCESS);
    CHECK("smtp_help MAIL sends the topic", help_topic.count >= 1 && trace_has(&trace, "\r\nHELP MAIL\r\n"), "%d lines", help_topic.count);

    /* smtp_send, smtp_soml, smtp_saml, smtp_turn: today's servers refuse them. */
    CHECK_RC("smtp_send refused", smtp_send(h, "c@client.test"), SMTP_FAILURE);
    CHECK("smtp_send sends SEND FROM and smtp_rply has the refusal",
          trace_has(&trace, "\r\nSEND FROM:<c@client.test>\r\n500") && reply_code(h, text, sizeof text) == 500, "%s", text);
    CHECK_RC("smtp_soml refused", smtp_soml(h, "c@client.test"), SMTP_FAILURE);
    CHECK("smtp_soml sends SOML FROM", trace_has(&trace, "\r\nSOML FROM:<c@client.test>\r\n500") && reply_code(h, text, sizeof text) == 500, "%s", text);
    CHECK_RC("smtp_saml refused", smtp_saml(h, "c@client.test"), SMTP_FAILURE);
    CHECK("smtp_saml sends SAML FROM", trace_has(&trace, "\r\nSAML FROM:<c@client.test>\r\n500") && reply_code(h, text, sizeof text) == 500, "%s", text);
    CHECK_RC("smtp_turn refused", smtp_turn(h), SMTP_FAILURE);
    CHECK("smtp_turn sends TURN", trace_has(&trace, "\r\nTURN\r\n500") && reply_code(h, text, sizeof text) == 500, "%s", text);

    /* smtp_direct: "the response ... is placed into the buffer ... NULL terminated". */
    char rep[512];
    int len = (int)sizeof rep;
    CHECK_RC("smtp_direct NOOP", smtp_direct(h, "NOOP", rep, &len), SMTP_SUCCESS);
    CHECK("smtp_direct fills the reply buffer", strncmp(rep, "250", 3) == 0 && trace_has(&trace, "\r\nNOOP\r\n"), "\"%s\"", rep);
    char small[8];
    len = (int)sizeof small;
    CHECK_RC("smtp_direct HELP with a small buffer", smtp_direct(h, "HELP", small, &len), SMTP_INSUFFICIENT_LENGTH);
    CHECK("smtp_direct truncates and sets len to the size needed",
          strlen(small) == sizeof small - 1 && strncmp(small, "214", 3) == 0 && len > (int)sizeof small, "\"%s\" len %d", small, len);
    char *big = malloc((size_t)len);
    int needed = len;
    CHECK_RC("smtp_direct HELP with the size it asked for", big ? smtp_direct(h, "HELP", big, &len) : SMTP_FAILURE, SMTP_SUCCESS);
    CHECK("smtp_direct reply fits exactly", big && (int)strlen(big) == needed - 1 && strncmp(big, small, 7) == 0, "len %d", needed);
    free(big);
    len = (int)sizeof rep;
    CHECK_RC("smtp_direct of an unknown command", smtp_direct(h, "FROB", rep, &len), SMTP_FAILURE);
    CHECK("smtp_direct refusal is in the buffer and in smtp_rply", strncmp(rep, "500", 3) == 0 && reply_code(h, text, sizeof text) == 500, "\"%s\"", rep);
    len = (int)sizeof rep;
    CHECK_RC("smtp_direct with CR LF inside", smtp_direct(h, "NOOP\r\nRSET", rep, &len), SMTP_INVALID_ARGUMENT);
    len = (int)sizeof rep;
    CHECK_RC("smtp_direct QUIT is refused", smtp_direct(h, "QUIT", rep, &len), SMTP_INVALID_ARGUMENT);

    /* A message through smtp_data: smtp_mail, smtp_rcpt (one refused), smtp_data. */
    CHECK_RC("smtp_mail", smtp_mail(h, "c@client.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rcpt of an unknown user", smtp_rcpt(h, "nobody@example.test"), SMTP_FAILURE);
    CHECK("smtp_rply gives the smtp_rcpt refusal", reply_code(h, text, sizeof text) == 550, "%s", text);
    CHECK_RC("smtp_rcpt alice", smtp_rcpt(h, "alice@example.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_opts OPT_SET_PARAM for smtp_data", smtp_opts(h, OPT_SET_PARAM, (uintptr_t)&trace), SMTP_SUCCESS);
    CHECK_RC("smtp_data", smtp_data(h, data_proc), SMTP_SUCCESS);
    CHECK("smtp_data pulled the whole message with lParam", pulled_at == strlen(PULLED) && pulled_param == (uintptr_t)&trace,
          "pulled %lu of %lu", (unsigned long)pulled_at, (unsigned long)strlen(PULLED));
    CHECK("smtp_rply after smtp_data", reply_code(h, text, sizeof text) == 250, "%s", text);

    /* smtp_rset abandons a transaction. */
    CHECK_RC("smtp_mail before smtp_rset", smtp_mail(h, "abandoned@client.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rset", smtp_rset(h), SMTP_SUCCESS);

    /* A message through smtp_data_buf: "To signify the end of data the len parameter should be set to 0". */
    static const char *pieces[] = {"Subject: manual smtp_data_buf\r\n", "From: <c@client.test>\r\n\r\n",
                                   "sent by smtp_data_buf in three pieces\r\n"};
    CHECK_RC("smtp_mail 2", smtp_mail(h, "c@client.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rcpt bob", smtp_rcpt(h, "bob@example.test"), SMTP_SUCCESS);
    int rc = SMTP_SUCCESS;
    for (int i = 0; i < 3 && rc == SMTP_SUCCESS; i++) rc = smtp_data_buf(h, pieces[i], (int)strlen(pieces[i]));
    CHECK_RC("smtp_data_buf pieces", rc, SMTP_SUCCESS);
    CHECK_RC("smtp_data_buf len 0 ends the message", smtp_data_buf(h, NULL, 0), SMTP_SUCCESS);
    CHECK_RC("smtp_noop", smtp_noop(h), SMTP_SUCCESS);
    CHECK("the debug proc got the whole session through its lParam", trace.calls > 20 && trace_has(&trace, "\r\nDATA\r\n354"), "%d calls", trace.calls);
    CHECK_RC("smtp_quit", smtp_quit(h), SMTP_SUCCESS);
    CHECK_RC("smtp_quit frees the handle", smtp_noop(h), SMTP_INVALID_HANDLE);

    /* "An application can abort the listing by returning -1 in the callback function". */
    SMTP_HANDLE a = 0;
    CHECK_RC("smtp_helo for the aborted listings", smtp_helo(exim, LOCAL, &a, NULL, 0), SMTP_SUCCESS);
    listing_t aborted;
    memset(&aborted, 0, sizeof aborted);
    aborted.abort_at = 2;
    current_listing = &aborted;
    CHECK_RC("smtp_expn aborted by its proc", smtp_expn(a, "team@example.test", line_proc), SMTP_ABORTED);
    CHECK("smtp_expn stops calling proc after -1", aborted.count == 2, "%d calls", aborted.count);
    CHECK_RC("smtp_expn abort invalidates the handle", smtp_noop(a), SMTP_INVALID_HANDLE);
    CHECK_RC("smtp_quit after the smtp_expn abort", smtp_quit(a), SMTP_INVALID_HANDLE);
    CHECK_RC("smtp_helo again for smtp_help", smtp_helo(exim, LOCAL, &a, NULL, 0), SMTP_SUCCESS);
    memset(&aborted, 0, sizeof aborted);
    aborted.abort_at = 1;
    CHECK_RC("smtp_help aborted by its proc", smtp_help(a, NULL, line_proc), SMTP_ABORTED);
    CHECK_RC("smtp_help abort invalidates the handle", smtp_noop(a), SMTP_INVALID_HANDLE);
}

static void options(const char *slow) {
    SMTP_HANDLE h = 0;
    trace_t trace;
    trace_init(&trace);
    CHECK_RC("smtp_helo to the slow server", smtp_helo(slow, LOCAL, &h, NULL, 11), SMTP_SUCCESS);
    if (!h) return;

    /* OPT_GET_PARAM: "value must point to the DWORD which is to receive the current callback parameter". */
    uintptr_t param = 0;
    CHECK_RC("smtp_opts OPT_GET_PARAM", smtp_opts(h, OPT_GET_PARAM, (uintptr_t)&param), SMTP_SUCCESS);
    CHECK("smtp_opts OPT_GET_PARAM gives the smtp_helo lParam", param == 11, "got %lu", (unsigned long)param);
    CHECK_RC("smtp_opts OPT_SET_PARAM", smtp_opts(h, OPT_SET_PARAM, (uintptr_t)&trace), SMTP_SUCCESS);
    smtp_opts(h, OPT_GET_PARAM, (uintptr_t)&param);
    CHECK("smtp_opts OPT_SET_PARAM then OPT_GET_PARAM", param == (uintptr_t)&trace, "got %lu", (unsigned long)param);

    /* OPT_DEBUG: "change or disable the debug callback function". */
    CHECK_RC("smtp_vrfy with no debug proc", smtp_vrfy(h, "first@client.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_opts OPT_DEBUG on", smtp_opts(h, OPT_DEBUG, (uintptr_t)trace_proc), SMTP_SUCCESS);
    CHECK_RC("smtp_vrfy with a debug proc", smtp_vrfy(h, "second@client.test"), SMTP_SUCCESS);
    CHECK("smtp_opts OPT_DEBUG on: the proc sees later traffic with the new lParam",
          trace_has(&trace, "VRFY second@client.test\r\n250") && !trace_has(&trace, "first@"), "trace: %s", trace.bytes);
    CHECK_RC("smtp_opts OPT_DEBUG off", smtp_opts(h, OPT_DEBUG, 0), SMTP_SUCCESS);
    CHECK_RC("smtp_vrfy after OPT_DEBUG off", smtp_vrfy(h, "third@client.test"), SMTP_SUCCESS);
    CHECK("smtp_opts OPT_DEBUG off: no more copies", !trace_has(&trace, "third@"), "trace: %s", trace.bytes);

    /* OPT_YIELD_ON with a yield function, during a NOOP the server answers after 2 s. */
    main_thread = pthread_self();
    CHECK_RC("smtp_opts OPT_YIELD_ON with a function", smtp_opts(h, OPT_YIELD_ON, (uintptr_t)yield_proc), SMTP_SUCCESS);
    double start = now_ms();
    CHECK_RC("smtp_noop while yielding", smtp_noop(h), SMTP_SUCCESS);
    double elapsed = now_ms() - start;
    CHECK("smtp_opts OPT_YIELD_ON: called every 50 ms on the calling thread",
          elapsed >= 1900 && yield_calls + 1 >= (int)(elapsed / 50) && yield_off_thread == 0,
          "%d calls (%d on another thread) in %.0f ms", yield_calls, yield_off_thread, elapsed);
    int before = yield_calls;
    CHECK_RC("smtp_opts OPT_YIELD_OFF", smtp_opts(h, OPT_YIELD_OFF, 0), SMTP_SUCCESS);
    CHECK_RC("smtp_noop without yielding", smtp_noop(h), SMTP_SUCCESS);
    CHECK("smtp_opts OPT_YIELD_OFF: no calls", yield_calls == before, "%d calls", yield_calls - before);
    CHECK_RC("smtp_opts OPT_YIELD_ON with NULL (the default function)", smtp_opts(h, OPT_YIELD_ON, 0), SMTP_SUCCESS);
    CHECK_RC("smtp_noop with the default yielding", smtp_noop(h), SMTP_SUCCESS);
    CHECK("smtp_opts OPT_YIELD_ON NULL replaces the application's function", yield_calls == before, "%d calls", yield_calls - before);

    /* OPT_TIMEOUT: "must be in the range of 1 to 999"; an unknown option. */
    CHECK_RC("smtp_opts unknown option", smtp_opts(h, 99, 0), SMTP_INVALID_OPTION);
    CHECK_RC("smtp_opts OPT_TIMEOUT 0", smtp_opts(h, OPT_TIMEOUT, 0), SMTP_INVALID_ARGUMENT);
    CHECK_RC("smtp_opts OPT_TIMEOUT 1000", smtp_opts(h, OPT_TIMEOUT, 1000), SMTP_INVALID_ARGUMENT);
    CHECK_RC("smtp_opts OPT_TIMEOUT 999", smtp_opts(h, OPT_TIMEOUT, 999), SMTP_SUCCESS);

    /* smtp_xquit from a second thread cancels a command in progress (the server answers RSET after 30 s). */
    CHECK_RC("smtp_opts OPT_DEBUG to watch for RSET", smtp_opts(h, OPT_DEBUG, (uintptr_t)trace_proc), SMTP_SUCCESS);
    canceller_t c = {h, &trace, 0, 1};
    pthread_t thread;
    int started = pthread_create(&thread, NULL, canceller, &c) == 0;
    start = now_ms();
    CHECK_RC("smtp_rset cancelled by smtp_xquit", started ? smtp_rset(h) : SMTP_FAILURE, SMTP_ABORTED);
    elapsed = now_ms() - start;
    if (started) pthread_join(thread, NULL);
    CHECK("smtp_xquit from another thread", started && c.saw_command && c.rc == SMTP_SUCCESS && elapsed < 10000,
          "saw RSET %d, xquit %d (%s), rset returned after %.0f ms", c.saw_command, c.rc, smtp_strerror(c.rc), elapsed);
    CHECK_RC("smtp_xquit invalidates the handle", smtp_noop(h), SMTP_INVALID_HANDLE);

    /* OPT_TIMEOUT 1 against a NOOP answered after 2 s. */
    SMTP_HANDLE t = 0;
    CHECK_RC("smtp_helo for OPT_TIMEOUT", smtp_helo(slow, LOCAL, &t, NULL, 0), SMTP_SUCCESS);
    CHECK_RC("smtp_opts OPT_TIMEOUT 1", smtp_opts(t, OPT_TIMEOUT, 1), SMTP_SUCCESS);
    start = now_ms();
    CHECK_RC("smtp_noop times out after OPT_TIMEOUT 1", smtp_noop(t), SMTP_TIMED_OUT);
    elapsed = now_ms() - start;
    CHECK("smtp_opts OPT_TIMEOUT 1: the timeout is about a second", elapsed >= 900 && elapsed < 1900, "%.0f ms", elapsed);
    smtp_xquit(t);
}

static void asynchronous(const char *sink, const char *stall) {
    SMTP_HANDLE x = 0;
    int calls = status_count();

    /* smtp_xhelo to a server that is slow to answer EHLO: calls meanwhile are SMTP_IN_PROGRESS. */
    CHECK_RC("smtp_xhelo to a stalled server", smtp_xhelo(stall, LOCAL, &x, NULL, status_proc, 6), SMTP_SUCCESS);
    CHECK("smtp_xhelo returns a handle at once", x != 0 && status_count() == calls, "handle %u", x);
    CHECK_RC("smtp_noop before the connection is established", smtp_noop(x), SMTP_IN_PROGRESS);
    CHECK_RC("smtp_xquit cancels the asynchronous connect", smtp_xquit(x), SMTP_SUCCESS);
    /* "the application must not terminate until the status callback ... SMTP_ABORTED". */
    CHECK_RC("smtp_xhelo status after smtp_xquit", wait_status(calls), SMTP_ABORTED);
    CHECK("smtp_xhelo status lParam", status_param == 6, "got %lu", (unsigned long)status_param);
    CHECK_RC("smtp_xquit handle is invalid", smtp_noop(x), SMTP_INVALID_HANDLE);

    /* smtp_xhelo that connects: the status proc says SMTP_SUCCESS, then the handle works. */
    calls = status_count();
    x = 0;
    CHECK_RC("smtp_xhelo", smtp_xhelo(sink, LOCAL, &x, NULL, status_proc, 7), SMTP_SUCCESS);
    CHECK_RC("smtp_xhelo status", wait_status(calls), SMTP_SUCCESS);
    CHECK("smtp_xhelo status lParam 7", status_param == 7, "got %lu", (unsigned long)status_param);
    CHECK_RC("smtp_mail after smtp_xhelo", smtp_mail(x, "x@client.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rcpt after smtp_xhelo", smtp_rcpt(x, "y@server.test"), SMTP_SUCCESS);
    const char msg[] = "Subject: manual smtp_xhelo\r\n\r\nafter an asynchronous connect\r\n";
    CHECK_RC("smtp_data_buf after smtp_xhelo", smtp_data_buf(x, msg, (int)strlen(msg)), SMTP_SUCCESS);
    CHECK_RC("smtp_data_buf end after smtp_xhelo", smtp_data_buf(x, NULL, 0), SMTP_SUCCESS);
    CHECK_RC("smtp_quit after smtp_xhelo", smtp_quit(x), SMTP_SUCCESS);
}

static void firewall(const char *sink, unsigned short socks_port, const char *user, const char *pass) {
    char host[256];
    unsigned short port = 0;
    if (!split_host(sink, host, sizeof host, &port)) {
        CHECK("smtp_fw_helo destination", 0, "cannot parse %s", sink);
        return;
    }
    trace_t trace;
    trace_init(&trace);
    fw_param fw;
    memset(&fw, 0, sizeof fw); /* "any string pointer ... that is not used should be set to NULL" */
    fw.methods = "2";
    fw.n_methods = 1;
    fw.addr_type = FW_ADDR_IP4;
    fw.fw_host = "127.0.0.1";
    fw.fw_port = socks_port;
    fw.dest_host = host;
    fw.dest_port = port;
    fw.username = user;
    fw.passwd = pass;
    fw.socks_ver = FW_VERSION5;
    SMTP_HANDLE h = 0;
    CHECK_RC("smtp_fw_helo through SOCKS5 with a password", smtp_fw_helo(LOCAL, &h, trace_proc, (uintptr_t)&trace, &fw), SMTP_SUCCESS);
    if (!h) return;
    CHECK("smtp_fw_helo debug proc sees the SMTP traffic", trace_has(&trace, "220 ") && trace_has(&trace, "EHLO manual.client.test\r\n"),
          "trace: %s", trace.bytes);
    CHECK_RC("smtp_mail via the firewall", smtp_mail(h, "fw@client.test"), SMTP_SUCCESS);
    CHECK_RC("smtp_rcpt via the firewall", smtp_rcpt(h, "y@server.test"), SMTP_SUCCESS);
    const char msg[] = "Subject: manual smtp_fw_helo\r\n\r\nthrough the firewall\r\n";
    CHECK_RC("smtp_data_buf via the firewall", smtp_data_buf(h, msg, (int)strlen(msg)), SMTP_SUCCESS);
    CHECK_RC("smtp_data_buf end via the firewall", smtp_data_buf(h, NULL, 0), SMTP_SUCCESS);
    CHECK_RC("smtp_quit via the firewall", smtp_quit(h), SMTP_SUCCESS);

    fw.passwd = "not-the-password";
    SMTP_HANDLE w = 0;
    CHECK_RC("smtp_fw_helo with a wrong password", smtp_fw_helo(LOCAL, &w, NULL, 0, &fw), SMTP_FAILURE);
}

int main(int argc, char **argv) {
    if (argc != 8) {
        fprintf(stderr, "usage: manual EXIM SINK SLOW STALL SOCKS_PORT SOCKS_USER SOCKS_PASS\n");
        return 100;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    without_a_connection();
    with_the_mta(argv[1]);
    options(argv[3]);
    asynchronous(argv[2], argv[4]);
    firewall(argv[2], (unsigned short)atoi(argv[5]), argv[6], argv[7]);
    printf("%d failed\n", failures);
    return failures > 99 ? 99 : failures;
}
