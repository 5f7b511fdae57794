/*
 * The check macros of the C test programs in tests/c/. Each check prints
 * "ok - name" or "not ok - name: detail" and counts failures in `failures`;
 * the Rust side (tests/src/c_program.rs) reads those lines.
 */
#ifndef SMTP32_TEST_CHECK_H
#define SMTP32_TEST_CHECK_H

#include <stdio.h>

static int failures = 0;

#define CHECK(name, cond, ...)                 \
    do {                                       \
        if (cond) {                            \
            printf("ok - %s\n", name);         \
        } else {                               \
            printf("not ok - %s: ", name);     \
            printf(__VA_ARGS__);               \
            printf("\n");                      \
            failures++;                        \
        }                                      \
    } while (0)

/* A return code check; `got` is evaluated once. */
#define CHECK_RC(name, got, want)                                                           \
    do {                                                                                    \
        int got_ = (got);                                                                   \
        CHECK(name, got_ == (want), "got %d (%s), want %d (%s)", got_, smtp_strerror(got_), \
              (want), smtp_strerror(want));                                                 \
    } while (0)

#endif
