/*
 * lifetime.c - callbacks never outlive their handle: once smtp_quit or
 * smtp_xquit has returned, no callback of that handle runs again, so a
 * program may free the context its lParam points to. Run by
 * tests/tests/c_callback_lifetime.rs:
 *
 *   lifetime SINK STALL
 *
 *   SINK   host:port of a server that takes any message
 *   STALL  host:port of a server that answers EHLO after 30 s
 *
 * Each round gives a handle a freshly allocated context as lParam. Every
 * callback checks, when it starts and again when it ends, that the context is
 * still alive; right after smtp_quit/smtp_xquit returns, the program marks it
 * dead (and frees it once the other threads are done), so a callback that ran
 * or was still running after the return is counted. Callbacks spin for a
 * moment to widen the window a late one would fall into.
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

static const char LOCAL[] = "lifetime.client.test";

enum { ALIVE = 0x11fe, DEAD = 0xdead };

typedef struct {
    atomic_int magic;
    atomic_int calls;
    atomic_int status_calls;
    atomic_int status_result;
} context_t;

/* Callbacks that found their context dead, over the whole run. */
static atomic_int touched_after_quit;

static context_t *context_new(void) {
    context_t *c = calloc(1, sizeof *c);
    if (!c) {
        perror("calloc");
        exit(99);
    }
    atomic_store(&c->magic, ALIVE);
    return c;
}

static void spin_us(long us) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000L + (now.tv_nsec - start.tv_nsec) / 1000 < us);
}

/* What every callback does with its context: check, work a little, check again. */
static void use_context(uintptr_t lParam) {
    context_t *c = (context_t *)lParam;
    if (atomic_load(&c->magic) != ALIVE) {
        atomic_fetch_add(&touched_after_quit, 1);
        return;
    }
    atomic_fetch_add(&c->calls, 1);
    spin_us(300);
    if (atomic_load(&c->magic) != ALIVE) atomic_fetch_add(&touched_after_quit, 1);
}

static int debug_proc(SMTP_HANDLE h, const char *buf, int len, uintptr_t lParam) {
    (void)h;
    (void)buf;
    (void)len;
    use_context(lParam);
    return 0;
}

static int status_proc(SMTP_HANDLE h, int result, uintptr_t lParam) {
    context_t *c = (context_t *)lParam;
    (void)h;
    use_context(lParam);
    atomic_store(&c->status_result, result);
    atomic_fetch_add(&c->status_calls, 1);
    return 0;
}

/* An endless message, 76-character lines. */
static int fill_proc(SMTP_HANDLE h, char *buf, int len, uintptr_t lParam) {
    (void)h;
    use_context(lParam);
    for (int i = 0; i < len; i++) buf[i] = (i % 78 == 76) ? '\r' : (i % 78 == 77) ? '\n' : 'a';
    return len;
}

/* Waits up to 15 s until the context has seen `n` callbacks. */
static int wait_calls(context_t *c, int n) {
    for (int i = 0; i < 15000 && atomic_load(&c->calls) < n; i++) {
        struct timespec ms = {0, 1000000L};
        nanosleep(&ms, NULL);
    }
    return atomic_load(&c->calls) >= n;
}

/* ---- smtp_xquit from the main thread while another thread is in smtp_data ---------------- */

typedef struct {
    SMTP_HANDLE h;
    int rc;
} sender_t;

static void *send_endless(void *arg) {
    sender_t *s = arg;
    s->rc = smtp_mail(s->h, "lifetime@client.test");
    if (s->rc == SMTP_SUCCESS) s->rc = smtp_rcpt(s->h, "sink@server.test");
    if (s->rc == SMTP_SUCCESS) s->rc = smtp_data(s->h, fill_proc);
    return NULL;
}

static void xquit_during_data(const char *sink, int round) {
    char name[128];
    context_t *c = context_new();
    sender_t s = {0, 1};
    snprintf(name, sizeof name, "round %d: smtp_helo with a debug proc", round);
    CHECK_RC(name, smtp_helo(sink, LOCAL, &s.h, debug_proc, (uintptr_t)c), SMTP_SUCCESS);
    pthread_t thread;
    if (pthread_create(&thread, NULL, send_endless, &s) != 0) {
        CHECK("pthread_create", 0, "failed");
        return;
    }
    /* The data and debug procs are running on the sender's thread by now. */
    int busy = wait_calls(c, 40);
    int rc = smtp_xquit(s.h);
    atomic_store(&c->magic, DEAD);
    pthread_join(thread, NULL);
    snprintf(name, sizeof name, "round %d: smtp_xquit during smtp_data on another thread", round);
    CHECK(name, busy && rc == SMTP_SUCCESS && s.rc == SMTP_ABORTED,
          "%d callbacks seen; xquit %d (%s); smtp_data %d (%s)",
          atomic_load(&c->calls), rc, smtp_strerror(rc), s.rc, smtp_strerror(s.rc));
    free(c);
}

/* ---- smtp_quit while a second thread's calls deliver this handle's debug copies ---------- */

typedef struct {
    SMTP_HANDLE h;
    atomic_int stop;
    int failed;
} nooper_t;

static void *noop_loop(void *arg) {
    nooper_t *n = arg;
    while (!atomic_load(&n->stop))
        if (smtp_noop(n->h) != SMTP_SUCCESS) n->failed++;
    return NULL;
}

static void quit_while_another_thread_reads(const char *sink, int round) {
    char name[128];
    nooper_t other = {0, 0, 0};
    CHECK_RC("smtp_helo for the busy neighbour",
             smtp_helo(sink, LOCAL, &other.h, debug_proc, (uintptr_t)context_new()),
             SMTP_SUCCESS);
    pthread_t thread;
    if (pthread_create(&thread, NULL, noop_loop, &other) != 0) {
        CHECK("pthread_create", 0, "failed");
        return;
    }
    context_t *c = context_new();
    SMTP_HANDLE h = 0;
    snprintf(name, sizeof name, "round %d: smtp_helo next to a busy handle", round);
    CHECK_RC(name, smtp_helo(sink, LOCAL, &h, debug_proc, (uintptr_t)c), SMTP_SUCCESS);
    int rc = SMTP_SUCCESS;
    for (int i = 0; i < 5 && rc == SMTP_SUCCESS; i++) rc = smtp_noop(h);
    int quit = smtp_quit(h);
    atomic_store(&c->magic, DEAD);
    atomic_store(&other.stop, 1);
    pthread_join(thread, NULL);
    snprintf(name, sizeof name, "round %d: smtp_quit while another thread reads", round);
    CHECK(name,
          rc == SMTP_SUCCESS && quit == SMTP_SUCCESS && other.failed == 0 &&
              atomic_load(&c->calls) > 0,
          "noop %d, quit %d (%s), neighbour failures %d, %d callbacks", rc, quit,
          smtp_strerror(quit), other.failed,
          atomic_load(&c->calls));
    uintptr_t neighbour = 0;
    smtp_opts(other.h, OPT_GET_PARAM, (uintptr_t)&neighbour);
    smtp_quit(other.h);
    free((void *)neighbour);
    free(c);
}

/* ---- smtp_xquit of an smtp_xhelo connect: the status proc runs before it returns --------- */

static void xquit_during_connect(const char *stall, const char *sink, int round) {
    char name[128];
    context_t *c = context_new();
    SMTP_HANDLE h = 0;
    snprintf(name, sizeof name, "round %d: smtp_xhelo to a stalled server", round);
    CHECK_RC(name, smtp_xhelo(stall, LOCAL, &h, debug_proc, status_proc, (uintptr_t)c),
             SMTP_SUCCESS);
    /* The greeting's copy arrives on the reader thread; EHLO then stalls. */
    int greeted = wait_calls(c, 1);
    int rc = smtp_xquit(h);
    int statuses = atomic_load(&c->status_calls), result = atomic_load(&c->status_result);
    atomic_store(&c->magic, DEAD);
    snprintf(name, sizeof name,
             "round %d: smtp_xquit calls the status proc with SMTP_ABORTED before it returns",
             round);
    CHECK(name, greeted && rc == SMTP_SUCCESS && statuses == 1 && result == SMTP_ABORTED,
          "greeted %d, xquit %d (%s), %d status calls, result %d", greeted, rc, smtp_strerror(rc),
          statuses, result);
    /* The daemon's answer to the cancelled connect comes before the answers to a later
     * connect: once one is made, a late status or copy would have been counted. */
    SMTP_HANDLE probe = 0;
    if (smtp_helo(sink, LOCAL, &probe, NULL, 0) == SMTP_SUCCESS) smtp_quit(probe);
    free(c);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: lifetime SINK STALL\n");
        return 100;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int round = 1; round <= 5; round++) xquit_during_data(argv[1], round);
    for (int round = 1; round <= 5; round++) quit_while_another_thread_reads(argv[1], round);
    for (int round = 1; round <= 3; round++) xquit_during_connect(argv[2], argv[1], round);
    CHECK("no callback touched its context after smtp_quit/smtp_xquit returned",
          atomic_load(&touched_after_quit) == 0,
          "%d callbacks did", atomic_load(&touched_after_quit));
    printf("%d failed\n", failures);
    return failures > 99 ? 99 : failures;
}
