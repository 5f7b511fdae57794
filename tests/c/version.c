/*
 * version.c - the header's version macros and the library's smtp32_version()
 * agree. Run by tests/tests/c_library.rs (no daemon needed); prints
 * "ok - NAME" / "not ok - NAME: detail" and exits with the failure count.
 */
#include "smtp32.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

int main(void) {
    char built[64];
    snprintf(built, sizeof built, "%d.%d.%d", SMTP32_VERSION_MAJOR, SMTP32_VERSION_MINOR,
             SMTP32_VERSION_PATCH);
    CHECK("SMTP32_VERSION is MAJOR.MINOR.PATCH", strcmp(built, SMTP32_VERSION) == 0, "%s vs %s",
          built, SMTP32_VERSION);
    const char *running = smtp32_version();
    CHECK("smtp32_version() is the header's SMTP32_VERSION", running && strcmp(running,
          SMTP32_VERSION) == 0,
          "library %s, header %s", running ? running : "(null)", SMTP32_VERSION);
    printf("version %s\n", running ? running : "(null)");
    return failures;
}
