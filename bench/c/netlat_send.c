/* One message through smtp32d the way a short-lived C program sends it:
 * smtp_helo, smtp_auth, smtp_sendmsg, smtp_quit. Used by smtp32-netbench.
 * Usage: netlat_send HOST USER PASSWORD FROM TO MESSAGE-FILE (SMTP32_SOCKET set). */
#include "smtp32.h"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: netlat_send HOST USER PASSWORD FROM TO MESSAGE-FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[6], "rb");
    if (!f) { perror(argv[6]); return 2; }
    static char msg[1 << 20];
    size_t len = fread(msg, 1, sizeof msg, f);
    fclose(f);
    SMTP_HANDLE h;
    int rc = smtp_helo(argv[1], "netbench.smtp32.test", &h, NULL, 0);
    if (rc != SMTP_SUCCESS) { fprintf(stderr, "helo: %s\n", smtp_strerror(rc)); return 1; }
    rc = smtp_auth(h, NULL, argv[2], argv[3]);
    if (rc != SMTP_SUCCESS) { fprintf(stderr, "auth: %s\n", smtp_strerror(rc)); return 1; }
    const char *to[] = { argv[5] };
    int codes[1];
    rc = smtp_sendmsg(h, argv[4], to, 1, msg, len, codes);
    if (rc != SMTP_SUCCESS) { fprintf(stderr, "sendmsg: %s\n", smtp_strerror(rc)); return 1; }
    return smtp_quit(h) == SMTP_SUCCESS ? 0 : 1;
}
