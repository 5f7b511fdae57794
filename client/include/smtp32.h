/*
 * smtp32.h - the SMTP-32 handle API, served by the smtp32d daemon.
 *
 * Types are modernised: GLOBALHANDLE is SMTP_HANDLE, the DWORD lParam is
 * uintptr_t, FARPROC is one of the typed callbacks below. A program written
 * from the SMTP-32 manual includes <d32-smtp.h> (and <d32-fw.h>) instead,
 * which define the manual's types on top of this header, and drops only
 * "#include <windows.h>"; the README's "Porting from SMTP-32" lists what
 * behaves differently. Link with -lsmtp32 (libsmtp32.so or libsmtp32.a).
 *
 * The library finds the daemon through the SMTP32_SOCKET environment
 * variable, else $XDG_RUNTIME_DIR/smtp32d.sock, else
 * /run/smtp32d/smtp32d.sock (root) or /tmp/smtp32d-$UID/smtp32d.sock.
 *
 * General rules:
 * - Every function is thread-safe; different handles may be used at the same
 *   time from different threads. A second call on a handle while one is in
 *   flight returns SMTP_IN_PROGRESS (smtp_xquit excepted).
 * - A NULL pointer argument, a string that is not UTF-8 or holds CR, LF or
 *   NUL, or an out-of-range value is SMTP_INVALID_ARGUMENT.
 * - A 4xx/5xx reply from the server is SMTP_FAILURE; smtp_rply then returns
 *   that reply.
 * - Debug and status callbacks run on the thread that reads the daemon's
 *   answers: a thread waiting in an smtp32 call (usually the caller itself),
 *   or the library's reader thread ("smtp32-reader") while no call waits;
 *   always in the order the daemon sent them. They must return
 *   quickly and must not call blocking smtp32 functions (those return
 *   SMTP_IN_PROGRESS there); smtp_xquit and smtp_opts(OPT_SET_PARAM/
 *   OPT_GET_PARAM) may be called. Data, line and yield callbacks run on the
 *   thread that made the call.
 * - Callbacks never outlive their handle: once smtp_quit or smtp_xquit has
 *   returned (on any thread), no callback of that handle (debug, status,
 *   data, line) runs again, so the context lParam points to may be freed.
 *   They wait for a callback already running on another thread to return;
 *   called from inside a callback, they wait for none (that could deadlock)
 *   but still let none start. Do not hold a lock your callbacks take while
 *   calling them.
 * - *conn is stored before any callback of the new handle runs.
 * - No function ever unwinds or aborts on bad input; an internal panic is
 *   reported as SMTP_FAILURE.
 */
#ifndef SMTP32_H
#define SMTP32_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of this header, which is the smtp32 crate's version (a unit
 * test keeps them equal). smtp32_version() gives the library's at run time.
 * The shared library's SONAME, libsmtp32.so.1, changes only with the C ABI.
 */
#define SMTP32_VERSION_MAJOR 0
#define SMTP32_VERSION_MINOR 1
#define SMTP32_VERSION_PATCH 0
#define SMTP32_VERSION "0.1.0"

/* Return codes (the numbers of ReturnCode in protocol/src/failure.rs). */
#define SMTP_SUCCESS                 0   /* the operation succeeded */
#define SMTP_FAILURE                -1   /* the server refused (4xx/5xx) or answered nonsense; see smtp_rply */
#define SMTP_INVALID_HANDLE         -2   /* unknown, closed or foreign handle */
#define SMTP_CANNOT_SEND_COMMAND    -3   /* the connection to the server is gone */
#define SMTP_TIMED_OUT              -4   /* no reply within the connection's timeout */
#define SMTP_IN_PROGRESS            -5   /* another operation (or the xhelo connect) is in flight */
#define SMTP_ABORTED                -6   /* cancelled by smtp_xquit or a callback; the handle is gone */
#define SMTP_INSUFFICIENT_LENGTH    -7   /* the caller's buffer is too small */
#define SMTP_UNKNOWN_HOST           -8   /* the host name did not resolve */
#define SMTP_CANNOT_ALLOC_SOCKET    -9   /* no socket could be allocated */
#define SMTP_CANNOT_BIND_SOCKET    -10   /* the socket could not be bound */
#define SMTP_HOST_NOT_RESPONDING   -11   /* nothing answered on the SMTP port */
#define SMTP_CANNOT_INITIALIZE     -12   /* the smtp32d daemon cannot be reached or refused the handshake */
#define SMTP_CANNOT_INIT_WINSOCK   -13   /* kept for compatibility */
#define SMTP_OUT_OF_MEMORY         -14   /* a daemon connection limit was reached */
#define SMTP_INVALID_OPTION        -15   /* unknown smtp_opts option */
#define SMTP_INVALID_ARGUMENT      -16   /* NULL pointer, CR/LF/NUL in a string, value out of range */
#define SMTP_TLS_FAILURE           -17   /* TLS could not be had or did not verify; smtp_rply gives the reason */

/* smtp_opts options. */
#define OPT_YIELD_ON    1   /* value: smtp_yield_proc, or 0 for the default yield */
#define OPT_YIELD_OFF   2   /* value: unused (0) */
#define OPT_SET_PARAM   3   /* value: the new lParam */
#define OPT_GET_PARAM   4   /* value: (uintptr_t) pointer to a uintptr_t receiving lParam */
#define OPT_DEBUG       5   /* value: smtp_debug_proc, or 0 to stop debug copies */
#define OPT_TIMEOUT     6   /* value: timeout in seconds, 1..999 */

/* Size of the buffer smtp_date needs. */
#define SMTP_DATE_SIZE  64

typedef uint32_t SMTP_HANDLE;                       /* 0 is never a valid handle */

/* Fills buf (room for len bytes); returns bytes copied, 0 = end, -1 = abort. Calling thread. */
typedef int (*smtp_data_proc)(SMTP_HANDLE, char *buf, int len, uintptr_t lParam);
/* One reply line (NUL-terminated; len excludes the NUL); -1 = abort. Calling thread. */
typedef int (*smtp_line_proc)(SMTP_HANDLE, const char *line, int len, uintptr_t lParam);
/* A copy of len bytes of traffic, either direction, in order (not NUL-terminated). Reader thread. */
typedef int (*smtp_debug_proc)(SMTP_HANDLE, const char *buf, int len, uintptr_t lParam);
/* The result code of an smtp_xhelo connect, once. Reader thread. */
typedef int (*smtp_status_proc)(SMTP_HANDLE, int result, uintptr_t lParam);
/* Called at least every 50 ms while a call waits for the daemon. Calling thread. */
typedef int (*smtp_yield_proc)(void);

/*
 * smtp_helo: connects to host ("name", "1.2.3.4", "name:port", "[v6]",
 * "[v6]:port"; port 25 by default), reads the greeting and sends EHLO local
 * (HELO when EHLO is refused). On success stores the new handle in *conn.
 * proc (may be NULL) receives a copy of all traffic from the greeting on, as
 * the callbacks above run, with lParam.
 * TLS: "smtps://host[:port]" is TLS from the first byte (port 465 by
 * default); "smtp://host[:port]?tls=none|opportunistic|required" (port 25)
 * connects in the clear and, for opportunistic, upgrades with STARTTLS when
 * the server offers it, for required fails with SMTP_TLS_FAILURE when TLS
 * cannot be had (before any MAIL is possible). A plain host string uses the
 * daemon's configured tls.policy (default none). Certificates are verified
 * for the host name (or IP address) given here; only the daemon's
 * administrator can make an exception.
 * Returns SMTP_SUCCESS, SMTP_FAILURE (the server refused; smtp_rply(0, ...)
 * on this thread gives the reply), SMTP_TLS_FAILURE (smtp_rply(0, ...) gives
 * the reason, with code 0), SMTP_CANNOT_INITIALIZE (no daemon),
 * SMTP_OUT_OF_MEMORY, SMTP_UNKNOWN_HOST, SMTP_CANNOT_ALLOC_SOCKET,
 * SMTP_CANNOT_BIND_SOCKET, SMTP_HOST_NOT_RESPONDING, SMTP_CANNOT_SEND_COMMAND,
 * SMTP_TIMED_OUT, SMTP_INVALID_ARGUMENT.
 */
int smtp_helo(const char *host, const char *local, SMTP_HANDLE *conn, smtp_debug_proc proc, uintptr_t lParam);

/*
 * smtp_xhelo: like smtp_helo, but stores the handle in *conn and returns at
 * once; the connect runs in the daemon. stat (may be NULL) is called once, as
 * the callbacks above run, with SMTP_SUCCESS or the connect's error (SMTP_ABORTED
 * after smtp_xquit; SMTP_CANNOT_INITIALIZE if the daemon goes away). Calls on
 * the handle before then return SMTP_IN_PROGRESS; after a failed connect the
 * handle is invalid.
 * Returns SMTP_SUCCESS, SMTP_CANNOT_INITIALIZE, SMTP_OUT_OF_MEMORY,
 * SMTP_INVALID_ARGUMENT.
 */
int smtp_xhelo(const char *host, const char *local, SMTP_HANDLE *conn, smtp_debug_proc dbg, smtp_status_proc stat, uintptr_t lParam);

/*
 * Firewall (SOCKS) connect, the manual's d32-fw.h.
 * socks_ver is FW_VERSION4, FW_VERSION5 or both (try 5, fall back to 4 when
 * the proxy does not answer as a SOCKS5 server). addr_type says where the
 * destination is: dest_host holds an IPv4 (FW_ADDR_IP4) or IPv6 (FW_ADDR_IP6,
 * SOCKS5 only) address, or domain_name holds a DNS name (FW_ADDR_DNS) that
 * the proxy resolves (SOCKS4a with version 4). methods holds n_methods of the
 * characters '0' (no authentication), '1' (GSSAPI: not supported) and '2'
 * (username/passwd, RFC 1929); it is read only for version 5. username is
 * also the SOCKS4 user id. fw_port 0 means 1080; ports are in host byte
 * order. String pointers that are not used must be NULL.
 */
#define FW_VERSION4  1
#define FW_VERSION5  2
#define FW_ADDR_IP4  1
#define FW_ADDR_DNS  3
#define FW_ADDR_IP6  4

typedef struct fw_parameters {
    const char *methods;          /* SOCKS5 methods, e.g. "0", "2", "02" */
    unsigned char n_methods;      /* how many characters of methods to read */
    unsigned char addr_type;      /* FW_ADDR_IP4, FW_ADDR_DNS or FW_ADDR_IP6 */
    const char *domain_name;      /* destination DNS name (FW_ADDR_DNS) */
    const char *fw_host;          /* the proxy's address or name */
    const char *dest_host;        /* destination IP address (FW_ADDR_IP4/IP6) */
    unsigned short fw_port;       /* the proxy's port; 0 = 1080 */
    unsigned short dest_port;     /* the SMTP server's port */
    const char *username;         /* SOCKS4 user id / SOCKS5 method 2 user */
    const char *passwd;           /* SOCKS5 method 2 password */
    int socks_ver;                /* FW_VERSION4 | FW_VERSION5 */
    char reserved[256 - 6 * sizeof(char *) - 2 * sizeof(unsigned char) - 2 * sizeof(unsigned short) - sizeof(int)];
} fw_param;

/*
 * smtp_fw_helo: like smtp_helo, but reaches the SMTP server through the SOCKS
 * proxy described by fw; the proxy handshake, the greeting and EHLO/HELO are
 * all under the connection's timeout. proc receives the SMTP traffic only,
 * never the proxy handshake.
 * Returns SMTP_SUCCESS; SMTP_FAILURE when the proxy answers but refuses (no
 * common version or method, a wrong username/passwd, the destination refused
 * by the proxy or unreachable from it) or the SMTP server refuses its
 * greeting or EHLO/HELO (smtp_rply(0, ...) gives the reply or the reason);
 * SMTP_HOST_NOT_RESPONDING when nothing accepts on the proxy's port;
 * SMTP_UNKNOWN_HOST when fw_host does not resolve; SMTP_INVALID_ARGUMENT for
 * a field that breaks the rules above (GSSAPI alone, method 2 without
 * username and passwd, IPv6 with version 4 only, dest_port 0, ...);
 * SMTP_TIMED_OUT, SMTP_CANNOT_INITIALIZE, SMTP_OUT_OF_MEMORY,
 * SMTP_CANNOT_ALLOC_SOCKET, SMTP_CANNOT_SEND_COMMAND.
 */
int smtp_fw_helo(const char *local, SMTP_HANDLE *conn, smtp_debug_proc proc, uintptr_t lParam, const fw_param *fw);

/*
 * smtp_mail: MAIL FROM:<from>, starting a message. The message is not known
 * yet, so no ESMTP parameter is added: a caller that needs SIZE=, BODY=8BITMIME
 * or SMTPUTF8 passes them after the address, "<me@example.com> BODY=8BITMIME"
 * (smtp_ext says what the server offers); smtp_sendmsg adds them itself.
 * Returns SMTP_SUCCESS, SMTP_INVALID_HANDLE, SMTP_FAILURE,
 * SMTP_CANNOT_SEND_COMMAND, SMTP_TIMED_OUT, SMTP_IN_PROGRESS, SMTP_ABORTED,
 * SMTP_INVALID_ARGUMENT.
 */
int smtp_mail(SMTP_HANDLE conn, const char *from);

/* smtp_rcpt: RCPT TO:<to>, adding a recipient. Return codes as smtp_mail. */
int smtp_rcpt(SMTP_HANDLE conn, const char *to);

/*
 * smtp_data: sends a message pulled from proc, which is called on this thread
 * with a buffer of 4 KiB to 64 KiB (len is never below 4096, so a proc that
 * writes a line per call always has room) until it returns 0; then ends the
 * message and returns the server's verdict. The daemon normalises line
 * endings to CRLF and dot-stuffs. proc returning -1 (or smtp_xquit from another thread)
 * resets the connection: SMTP_ABORTED, and the handle is invalid. A proc that
 * claims more bytes than len also resets it (SMTP_INVALID_ARGUMENT).
 * Returns as smtp_mail.
 */
int smtp_data(SMTP_HANDLE conn, smtp_data_proc proc);

/*
 * smtp_data_buf: sends len bytes of the message (the first call sends DATA);
 * len 0 ends the message and returns the server's verdict. Returns as
 * smtp_mail.
 */
int smtp_data_buf(SMTP_HANDLE conn, const char *buf, int len);   /* len 0 ends the message */

/*
 * smtp_rply: copies the last full server reply ("250-a\r\n250 b": lines joined
 * by CRLF, without a final CRLF) into reply, truncated to len bytes including
 * the NUL, and its code into *code ("" and 0 when there is none yet).
 * After a failure that no server reply explains (SMTP_TLS_FAILURE, or an
 * SMTP_FAILURE the daemon decided on, such as a message over the server's
 * SIZE limit) it gives the reason instead, with code 0, until the next call.
 * Handle 0 gives the reply of this thread's last failed smtp_helo, smtp_xhelo
 * or smtp_fw_helo (a proxy's refusal as a reason with code 0); every open,
 * successful or not, resets it.
 * Returns SMTP_SUCCESS, SMTP_INVALID_HANDLE, SMTP_IN_PROGRESS,
 * SMTP_INVALID_ARGUMENT (code NULL, len < 0, reply NULL with len > 0).
 */
int smtp_rply(SMTP_HANDLE conn, char *reply, int len, int *code);

/* smtp_noop: NOOP. Returns as smtp_mail. */
int smtp_noop(SMTP_HANDLE conn);

/* smtp_rset: RSET, abandoning the current message. Returns as smtp_mail. */
int smtp_rset(SMTP_HANDLE conn);

/*
 * smtp_quit: sends QUIT, closes the connection and frees the handle. With
 * the daemon's connection cache on (cache.idle_seconds, default 5 s), a
 * connection in a clean state (no mail transaction open, last reply 2xx) is
 * kept warm instead, for the next smtp_helo/smtp_xhelo/smtp_fw_helo of the
 * same user with the same server, TLS mode, SOCKS route and local name (see
 * the README); it gets QUIT when the cache lets it go.
 * Returns SMTP_SUCCESS, SMTP_INVALID_HANDLE, SMTP_IN_PROGRESS (the handle is
 * then kept), or a transport error (the handle is freed anyway). Once it has
 * freed the handle, no callback of it runs again (see the general rules).
 */
int smtp_quit(SMTP_HANDLE conn);

/*
 * smtp_xquit: cancels an smtp_xhelo connect or the operation in flight on the
 * handle (from any thread, or from a callback), closes the connection at once
 * and frees the handle. The cancelled call returns SMTP_ABORTED; a cancelled
 * connect calls stat with SMTP_ABORTED before smtp_xquit returns (on the
 * thread that calls smtp_xquit). After it returns no callback of the handle
 * runs again: a data or line proc on another thread is not called again.
 * Returns SMTP_SUCCESS, SMTP_INVALID_HANDLE.
 */
int smtp_xquit(SMTP_HANDLE conn);

/*
 * smtp_opts: sets a per-handle option: OPT_TIMEOUT (value 1..999 seconds, else
 * SMTP_INVALID_ARGUMENT), OPT_SET_PARAM, OPT_GET_PARAM (value = uintptr_t *),
 * OPT_DEBUG (value = smtp_debug_proc or 0), OPT_YIELD_ON (value =
 * smtp_yield_proc or 0 = default; yielding is on by default), OPT_YIELD_OFF.
 * Returns SMTP_SUCCESS, SMTP_INVALID_HANDLE, SMTP_INVALID_OPTION,
 * SMTP_INVALID_ARGUMENT, or a daemon error for OPT_TIMEOUT/OPT_DEBUG.
 */
int smtp_opts(SMTP_HANDLE conn, uint16_t option, uintptr_t value);

/*
 * smtp_date: writes the current local date-time in RFC 5322 form
 * ("Sat, 28 Nov 2026 13:28:29 +0100", English names whatever the locale) and
 * a NUL into date, which must hold SMTP_DATE_SIZE (64) bytes.
 * Returns the string's length, or SMTP_INVALID_ARGUMENT for NULL.
 */
int smtp_date(char *date);

/* smtp_strerror: a static description of a return code (never NULL). */
const char *smtp_strerror(int code);

/*
 * smtp32_version: the library's version, "MAJOR.MINOR.PATCH" (a static
 * string), to compare with the SMTP32_VERSION a program was compiled with.
 */
const char *smtp32_version(void);

/* smtp_send: SEND FROM:<from> (RFC 821; most servers refuse it). Returns as smtp_mail. */
int smtp_send(SMTP_HANDLE conn, const char *from);

/* smtp_soml: SOML FROM:<from> (RFC 821; most servers refuse it). Returns as smtp_mail. */
int smtp_soml(SMTP_HANDLE conn, const char *from);

/* smtp_saml: SAML FROM:<from> (RFC 821; most servers refuse it). Returns as smtp_mail. */
int smtp_saml(SMTP_HANDLE conn, const char *from);

/* smtp_turn: TURN (RFC 821; most servers refuse it). Returns as smtp_mail. */
int smtp_turn(SMTP_HANDLE conn);

/* smtp_vrfy: VRFY name; the reply is in smtp_rply. Returns as smtp_mail. */
int smtp_vrfy(SMTP_HANDLE conn, const char *name);

/*
 * smtp_expn: EXPN name; proc (may be NULL) is called on this thread once per
 * reply line with its text (without code and separator). proc returning -1,
 * or smtp_xquit (from proc or another thread) while lines are delivered,
 * resets the connection: no further line, SMTP_ABORTED, the handle is invalid.
 * Returns as smtp_mail.
 */
int smtp_expn(SMTP_HANDLE conn, const char *name, smtp_line_proc proc);

/* smtp_help: HELP [topic] (NULL or "" = the list); proc as for smtp_expn. Returns as smtp_mail. */
int smtp_help(SMTP_HANDLE conn, const char *topic, smtp_line_proc proc);

/*
 * smtp_direct: sends one command line msg (not QUIT; CR/LF inside is
 * SMTP_INVALID_ARGUMENT) and copies the NUL-terminated reply text into
 * rep_buf, whose size is *len. When it does not fit, the text is truncated,
 * *len is set to the size needed (including the NUL) and the call returns
 * SMTP_INSUFFICIENT_LENGTH (SMTP_FAILURE still wins for a 4xx/5xx reply).
 * Returns as smtp_mail, plus SMTP_INSUFFICIENT_LENGTH.
 */
int smtp_direct(SMTP_HANDLE conn, const char *msg, char *rep_buf, int *len);

/*
 * smtp_starttls: sends STARTTLS, upgrades the connection to TLS (verifying
 * the server's certificate for the host name given to smtp_helo, against the
 * system's roots and the daemon's tls.ca_files) and sends EHLO again; the
 * extensions are then those of the new EHLO.
 * Returns SMTP_SUCCESS; SMTP_TLS_FAILURE when the server does not offer
 * STARTTLS or the connection is already encrypted (the connection is
 * unchanged), or when the handshake or the certificate check fails (the
 * connection is gone: only smtp_quit/smtp_xquit remain); smtp_rply gives the
 * reason. SMTP_FAILURE when the server refuses STARTTLS (4xx/5xx), and the
 * errors of smtp_mail.
 */
int smtp_starttls(SMTP_HANDLE conn);

/*
 * smtp_auth: SMTP AUTH as user with secret (a password, or the OAuth2 bearer
 * token for "XOAUTH2"). mechanism is "PLAIN", "LOGIN" or "XOAUTH2" (any
 * case), or NULL for the best the server offers: PLAIN, else LOGIN (XOAUTH2
 * only when named). The secret never appears in the daemon's logs, in debug
 * callbacks (they see "AUTH PLAIN ***" and "***") or in smtp32ctl output.
 * Returns SMTP_SUCCESS (235); SMTP_TLS_FAILURE on a connection without TLS
 * (nothing is sent; only the daemon's administrator can allow AUTH in
 * cleartext, with auth.allow_cleartext); SMTP_FAILURE when the server refuses
 * (535 for a wrong password; smtp_rply gives it) or does not offer the
 * mechanism (smtp_rply gives the reason); SMTP_INVALID_ARGUMENT for an
 * unknown mechanism, an empty user or secret; and the errors of smtp_mail.
 */
int smtp_auth(SMTP_HANDLE conn, const char *mechanism, const char *user, const char *secret);

/*
 * smtp_ext: whether the server offered the EHLO keyword (any case, e.g.
 * "SIZE", "PIPELINING", "AUTH"). When it did, its parameters ("10485760" for
 * SIZE, "PLAIN LOGIN" for AUTH, "" for none) are copied NUL-terminated into
 * params of len bytes (params may be NULL when len is 0).
 * Returns SMTP_SUCCESS (offered); SMTP_FAILURE (not offered, or the server
 * took HELO); SMTP_INSUFFICIENT_LENGTH (offered, but the parameters were
 * truncated to fit); SMTP_INVALID_HANDLE, SMTP_IN_PROGRESS,
 * SMTP_INVALID_ARGUMENT.
 */
int smtp_ext(SMTP_HANDLE conn, const char *keyword, char *params, int len);

/*
 * smtp_sendmsg: a whole message in one call: MAIL FROM:<from> ("" for <>),
 * RCPT TO for each of the nrcpts (>= 1) addresses of rcpts, DATA and the len
 * bytes of msg, made transparent as by smtp_data_buf (line endings to CRLF,
 * dot-stuffing, a final CRLF added). When the server offers PIPELINING the
 * envelope goes out in one write; with CHUNKING as well, a message that fits
 * one request goes with the envelope as one "BDAT n LAST" before any reply is
 * read (RFC 3030). MAIL carries SIZE=n when the server offers SIZE,
 * BODY=8BITMIME when msg has 8-bit bytes and the server offers 8BITMIME,
 * SMTPUTF8 when an address is not ASCII and the server offers it.
 * rcpt_codes (may be NULL) receives each recipient's reply code (0 when no
 * RCPT was sent for it).
 * Returns SMTP_SUCCESS when at least one recipient was accepted and the
 * server took the message (the others have a 4xx/5xx code in rcpt_codes);
 * SMTP_FAILURE when MAIL, every RCPT, DATA or the message was refused
 * (smtp_rply gives the reply that decided; the transaction is reset), or,
 * before anything is sent, when the message is over the server's SIZE limit
 * or an address is not ASCII and the server lacks SMTPUTF8 (smtp_rply gives
 * the reason, code 0); and the errors of smtp_mail.
 * A message of any size takes this path: one over the daemon's frame limit
 * (4 MiB by default) is streamed in chunks behind the same pipelined envelope,
 * with the same MAIL parameters and the same SIZE check before anything is
 * sent, and the daemon holds at most a chunk or two of it at a time.
 */
int smtp_sendmsg(SMTP_HANDLE conn, const char *from, const char *const *rcpts, int nrcpts,
                 const char *msg, size_t len, int *rcpt_codes);

#ifdef __cplusplus
}
#endif

#endif /* SMTP32_H */
