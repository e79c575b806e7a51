/*
 * A stand-in for Windows' bcryptprimitives.dll, for running Windows test binaries under Wine 8
 * only; it is never shipped. Rust's standard library takes its random numbers from
 * ProcessPrng, which Windows 10 and later export from bcryptprimitives.dll but Wine 8 lacks, so
 * every Rust program stops at start under it. This forwards to RtlGenRandom (advapi32's
 * SystemFunction036), which Wine has.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
