/* Test scaffolding only, never shipped: Wine 8.0 has no bcryptprimitives.dll, whose
 * ProcessPrng every Rust program since 1.78 imports. This DLL gives it, filling the buffer
 * through RtlGenRandom (advapi32's SystemFunction036). Windows 10 and later have the real one. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG step = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!SystemFunction036(data, step))
            return FALSE;
        data += step;
        len -= step;
    }
    return TRUE;
}
