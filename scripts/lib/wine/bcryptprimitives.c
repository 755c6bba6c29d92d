/* A stand-in for Windows' bcryptprimitives.dll, for Wine only (scripts/lib/wine-env.sh installs it).
 *
 * Rust's standard library (1.78+) takes its random bytes from ProcessPrng in bcryptprimitives.dll,
 * which every Windows 10+ has and Wine 8 lacks: without it any Rust program or DLL fails to load.
 * This one answers from RtlGenRandom (advapi32), Windows' older system generator, which Wine has.
 * It is never shipped: real Windows brings its own. */
#include <windows.h>
#include <ntsecapi.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    /* RtlGenRandom takes a ULONG length; ProcessPrng is documented never to fail. */
    while (len > 0) {
        ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
