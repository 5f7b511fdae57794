/*
 * d32-smtp.h - the SMTP-32 manual's own header, for programs ported from
 * Windows: drop the "#include <windows.h>" line and keep "#include
 * <d32-smtp.h>" (and <d32-fw.h>); the manual's calls, casts and callback
 * definitions then compile unchanged. Link with -lsmtp32 as for smtp32.h,
 * which this header includes; new code should use smtp32.h directly.
 *
 * What it adds to smtp32.h:
 * - The manual's types: GLOBALHANDLE (SMTP_HANDLE), LPSTR, WORD, DWORD,
 *   FARPROC, and WINAPI, PASCAL, FAR, far, NEAR, near as nothing.
 * - DWORD is pointer-sized (uintptr_t), not 32 bits: the manual's lParam is a
 *   DWORD that programs fill with a pointer ("(DWORD)&ctx"), and OPT_GET_PARAM
 *   writes a pointer-sized value where the manual says "DWORD far *". With a
 *   32-bit DWORD both would truncate or overrun on 64-bit Linux.
 * - smtp_helo, smtp_xhelo, smtp_fw_helo, smtp_data, smtp_expn and smtp_help
 *   as macros that cast their callback arguments, so that a FARPROC, a
 *   "(FARPROC)f" cast or a callback written as the manual defines it
 *   ("int WINAPI cb(GLOBALHANDLE h, char far *buf, int len, DWORD lParam)")
 *   is accepted where smtp32.h wants its typed callbacks. The functions
 *   themselves are unchanged ("(smtp_helo)(...)" calls one without the macro).
 * - MakeProcInstance(proc, inst) as (FARPROC)(proc), FreeProcInstance as
 *   nothing: there are no instance thunks here.
 * Every difference in behaviour from the Windows library is listed in the
 * README's "Porting from SMTP-32" section.
 */
#ifndef D32_SMTP_H
#define D32_SMTP_H

#include "smtp32.h"

#ifndef WINAPI
#define WINAPI
#endif
#ifndef PASCAL
#define PASCAL
#endif
#ifndef FAR
#define FAR
#endif
#ifndef far
#define far
#endif
#ifndef NEAR
#define NEAR
#endif
#ifndef near
#define near
#endif

typedef SMTP_HANDLE GLOBALHANDLE;
typedef char *LPSTR;
typedef uint16_t WORD;
typedef uintptr_t DWORD;   /* pointer-sized: see above */
typedef int (*FARPROC)();  /* any callback; the macros below give it its real type */

#define MakeProcInstance(proc, inst) ((FARPROC)(proc))
#define FreeProcInstance(proc) ((void)(proc))

#define smtp_helo(host, local, conn, proc, lParam) \
    (smtp_helo)((host), (local), (conn), (smtp_debug_proc)(proc), (uintptr_t)(lParam))
#define smtp_xhelo(host, local, conn, dbg, stat, lParam)                                        \
    (smtp_xhelo)((host), (local), (conn), (smtp_debug_proc)(dbg), (smtp_status_proc)(stat), \
                 (uintptr_t)(lParam))
#define smtp_fw_helo(local, conn, proc, lParam, fw) \
    (smtp_fw_helo)((local), (conn), (smtp_debug_proc)(proc), (uintptr_t)(lParam), (fw))
#define smtp_data(conn, proc) (smtp_data)((conn), (smtp_data_proc)(proc))
#define smtp_expn(conn, name, proc) (smtp_expn)((conn), (name), (smtp_line_proc)(proc))
#define smtp_help(conn, topic, proc) (smtp_help)((conn), (topic), (smtp_line_proc)(proc))

#endif /* D32_SMTP_H */
