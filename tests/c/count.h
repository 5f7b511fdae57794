/*
 * A count that callbacks raise and a test program waits on without polling:
 * a mutex and a condition variable, so the wait ends the moment the count
 * is reached (or at its deadline). Include after defining _POSIX_C_SOURCE
 * 200809L.
 */
#ifndef SMTP32_TEST_COUNT_H
#define SMTP32_TEST_COUNT_H

#include <pthread.h>
#include <time.h>

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int value;
} count_t;

#define COUNT_INIT {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0}

/* A deadline for pthread_cond_timedwait (which reads CLOCK_REALTIME), `ms` from now. */
static inline struct timespec deadline_in(long ms) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Raises the count by one and wakes whoever waits on it. */
static inline void count_raise(count_t *c) {
    pthread_mutex_lock(&c->lock);
    c->value++;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
}

/* Waits until the count reaches `n` or `ms` milliseconds pass; returns the count. */
static inline int count_wait(count_t *c, int n, long ms) {
    struct timespec until = deadline_in(ms);
    pthread_mutex_lock(&c->lock);
    while (c->value < n)
        if (pthread_cond_timedwait(&c->changed, &c->lock, &until) != 0) break;
    int value = c->value;
    pthread_mutex_unlock(&c->lock);
    return value;
}

#endif
