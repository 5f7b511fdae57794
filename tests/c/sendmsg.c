/*
 * A C program for the issue-4 functions of client/include/smtp32.h, run by
 * tests/tests/c_sendmsg.rs against the aiosmtpd store server (SIZE, 8BITMIME,
 * SMTPUTF8; no STARTTLS, no AUTH):
 *
 *   sendmsg HOST   smtp_ext, smtp_starttls and smtp_auth refused with their
 *                  reasons in smtp_rply, then one message through smtp_sendmsg.
 *
 * Each check prints "ok - name" or "not ok - name: detail"; the exit code is
 * the number of failed checks.
 */
#include "smtp32.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

/* Must match c_sendmsg.rs. */
static const char MESSAGE[] = "Subject: from C\r\n\r\n.one line from smtp_sendmsg\n";

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: sendmsg HOST\n");
        return 100;
    }
    SMTP_HANDLE h = 0;
    CHECK_RC("smtp_helo", smtp_helo(argv[1], "c.smtp32.test", &h, NULL, 0), SMTP_SUCCESS);

    char params[64];
    CHECK_RC("smtp_ext SIZE is offered", smtp_ext(h, "size", params, sizeof params), SMTP_SUCCESS);
    CHECK_RC("smtp_ext STARTTLS is not", smtp_ext(h, "STARTTLS", params, sizeof params), SMTP_FAILURE);
    CHECK_RC("smtp_ext presence only", smtp_ext(h, "8BITMIME", NULL, 0), SMTP_SUCCESS);

    char reply[512];
    int code = -1;
    CHECK_RC("smtp_starttls without STARTTLS", smtp_starttls(h), SMTP_TLS_FAILURE);
    CHECK_RC("smtp_rply after it", smtp_rply(h, reply, sizeof reply, &code), SMTP_SUCCESS);
    CHECK("smtp_rply gives the reason with code 0", code == 0 && strstr(reply, "STARTTLS") != NULL,
          "code %d, text \"%s\"", code, reply);
    CHECK_RC("smtp_auth in cleartext", smtp_auth(h, NULL, "user", "secret"), SMTP_TLS_FAILURE);
    CHECK_RC("smtp_auth with an unknown mechanism", smtp_auth(h, "CRAM-MD5", "user", "secret"),
             SMTP_INVALID_ARGUMENT);

    const char *const rcpts[] = {"c1@b.test", "c2@b.test"};
    int codes[2] = {-1, -1};
    CHECK_RC("smtp_sendmsg", smtp_sendmsg(h, "c@a.test", rcpts, 2, MESSAGE, strlen(MESSAGE), codes), SMTP_SUCCESS);
    CHECK("smtp_sendmsg rcpt_codes", codes[0] == 250 && codes[1] == 250, "%d %d", codes[0], codes[1]);
    CHECK_RC("smtp_rply after smtp_sendmsg", smtp_rply(h, reply, sizeof reply, &code), SMTP_SUCCESS);
    CHECK("smtp_rply is the verdict", code == 250, "code %d, text \"%s\"", code, reply);
    CHECK_RC("smtp_sendmsg without recipients", smtp_sendmsg(h, "c@a.test", rcpts, 0, MESSAGE, 1, NULL),
             SMTP_INVALID_ARGUMENT);

    CHECK_RC("smtp_quit", smtp_quit(h), SMTP_SUCCESS);
    return failures;
}
