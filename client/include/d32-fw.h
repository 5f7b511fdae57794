/*
 * d32-fw.h - the SMTP-32 manual's firewall header: fw_param, the FW_*
 * constants and smtp_fw_helo. They live in smtp32.h; this header is here so
 * that a program ported from the manual keeps its "#include <d32-fw.h>".
 */
#ifndef D32_FW_H
#define D32_FW_H

#include "d32-smtp.h"

#endif /* D32_FW_H */
