# Wine for running certless's Windows builds on this Linux machine. Source it, then:
#   wine_setup            install Wine and mingw-w64 if missing, make the prefix, add the stand-ins
#   wine_run OUT EXE ARG...   run a Windows program; its stdout and stderr go to the file OUT
#                         (pipes from Windows programs under Wine lose output), its exit code is returned
# The prefix is $WINEPREFIX, by default target/wine-prefix (made once, ~10 s).
#
# What Wine 8.0 lacks that real Windows 10+ has, and the stand-in used here:
#   bcryptprimitives.dll!ProcessPrng: Rust's standard library (1.78+) takes its randomness from it, so
#   every Rust .exe or .dll fails to load (exit 53) without it. The stand-in forwards to
#   RtlGenRandom (advapi32's SystemFunction036), which Wine has.
# shellcheck shell=bash

WINE_ENV_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${WINEPREFIX:=${CARGO_TARGET_DIR:-$WINE_ENV_ROOT/target}/wine-prefix}"
export WINEPREFIX
export WINEDEBUG="${WINEDEBUG:--all}"
# No Mono or Gecko download prompts (nothing can be downloaded here anyway).
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"

wine_setup() {
  local as_root=()
  [[ $(id -u) -eq 0 ]] || as_root=(sudo)
  if ! command -v wine >/dev/null || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
    echo "installing wine and mingw-w64 (about a minute)"
    "${as_root[@]}" apt-get update -qq &&
      "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        mingw-w64 wine64 wine >/dev/null || return 1
  fi
  if [[ ! -f "$WINEPREFIX/system.reg" ]]; then
    echo "making the Wine prefix $WINEPREFIX"
    mkdir -p "$WINEPREFIX"
    wine wineboot -i >/dev/null 2>&1 || true
    wineserver -w 2>/dev/null || true
    [[ -f "$WINEPREFIX/system.reg" ]] || { echo "wineboot did not make $WINEPREFIX"; return 1; }
  fi
  local system32="$WINEPREFIX/drive_c/windows/system32"
  if [[ ! -f "$system32/bcryptprimitives.dll" ]]; then
    local src
    src="$(mktemp -d)"
    cat >"$src/prng.c" <<'EOF'
#include <windows.h>
#include <ntsecapi.h>

/* Fills `data` with `len` random bytes, as Windows 10's bcryptprimitives.dll does. */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
  while (len > 0) {
    ULONG chunk = len > 0x10000000 ? 0x10000000 : (ULONG)len;
    if (!RtlGenRandom(data, chunk)) return FALSE;
    data += chunk;
    len -= chunk;
  }
  return TRUE;
}
EOF
    x86_64-w64-mingw32-gcc -O2 -shared -o "$src/bcryptprimitives.dll" "$src/prng.c" -ladvapi32 &&
      cp "$src/bcryptprimitives.dll" "$system32/bcryptprimitives.dll"
    local status=$?
    rm -rf "$src"
    ((status == 0)) || { echo "could not build the ProcessPrng stand-in"; return 1; }
  fi
  wine --version
}

wine_run() {
  local out="$1"
  shift
  wine "$@" >"$out" 2>&1
}
