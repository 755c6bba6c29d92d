#!/usr/bin/env bash
# The native artifacts, for users without a Rust toolchain, into dist/ (version from
# scripts/package/version.sh, i.e. the workspace Cargo.toml):
#   dist/certless-VERSION-linux-x64          the CLI, Linux x86_64, glibc >= 2.17 (cargo-zigbuild)
#   dist/certless-VERSION-win-x64.exe        the CLI, Windows x64 (x86_64-pc-windows-gnu)
#   dist/native/linux-x64/libcertless.so     the C ABI, glibc >= 2.17
#   dist/native/win-x64/certless.dll         the C ABI, Windows x64
#   dist/native/win-x86/certless.dll         the C ABI, Windows x86 (32-bit IIS application pools)
#   dist/native/include/certless.h
#   dist/SHA256SUMS                          every file under dist/
# Each target is built once, in release; scripts/package/package-dotnet.sh and the Wine runs below reuse
# these files rather than building their own.
#
#   scripts/package/package-native.sh           build
#   scripts/package/package-native.sh --check   check dist/ with no cargo or rustc on PATH: the sums; the Linux
#                                       CLI's `certless demo`; the C tests against the Linux library
#                                       and the emulator (Entra over https); under Wine, the Windows
#                                       CLI's demo and the C tests cross-compiled with mingw-w64 against
#                                       certless.dll (Entra over http: TLS does not verify under Wine);
#                                       the same C tests built for i686 against the x86 certless.dll
#                                       under 32-bit Wine (a WoW64 process, as a 32-bit IIS pool)
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
DIST="$ROOT/dist"
VERSION="$(scripts/package/version.sh)" || exit 1
LINUX=x86_64-unknown-linux-gnu
GLIBC_FLOOR=2.17
WIN64=x86_64-pc-windows-gnu
WIN32=i686-pc-windows-gnu
CLI_LINUX="certless-$VERSION-linux-x64"
CLI_WINDOWS="certless-$VERSION-win-x64.exe"

# shellcheck source=scripts/lib/apt-env.sh
source "$ROOT/scripts/lib/apt-env.sh"

# The highest GLIBC_x.y symbol version a binary needs.
glibc_needed() {
  objdump -T "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n | tail -1
}
# version_le A B: A <= B for x.y versions.
version_le() { [[ "$(printf '%s\n%s\n' "$1" "$2" | sort -t. -k1,1n -k2,2n | head -1)" == "$1" ]]; }

# Regenerates dist/SHA256SUMS over every file in dist/ (whichever packaging script ran).
write_sums() {
  (cd "$DIST" && find . -type f ! -name SHA256SUMS -printf '%P\n' | LC_ALL=C sort | xargs -r -d '\n' sha256sum >SHA256SUMS)
}

# ---------------------------------------------------------------------------------------------
build() {
  local start=$SECONDS
  section "tools"
  # nasm: aws-lc-sys (the emulator in the CLI) assembles its Windows x86_64 code with it.
  apt_install mingw-w64 binutils nasm || return 1
  local installed
  installed="$(rustup target list --installed)"
  for t in "$LINUX" "$WIN64" "$WIN32"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t" || return 1
  done

  # shellcheck source=scripts/lib/package-env.sh
  source scripts/lib/package-env.sh
  section "Linux x86_64, glibc >= $GLIBC_FLOOR: libcertless.so and the CLI"
  build_linux_glibc217 || return 1
  section "Windows x64: certless.dll and certless.exe"
  build_windows_x64 || return 1
  section "Windows x86: certless.dll"
  build_windows_x86 || return 1

  section "dist/"
  rm -rf "$DIST/native" "$DIST"/certless-*-linux-x64 "$DIST"/certless-*-win-x64.exe
  mkdir -p "$DIST/native/linux-x64" "$DIST/native/win-x64" "$DIST/native/win-x86" "$DIST/native/include"
  local rel="$TARGET_DIR/$LINUX/release" w64="$TARGET_DIR/$WIN64/release" w32="$TARGET_DIR/$WIN32/release"
  # Stripped copies: debug symbols are most of a release binary's size.
  strip -o "$DIST/$CLI_LINUX" "$rel/certless" &&
    strip -o "$DIST/native/linux-x64/libcertless.so" "$rel/libcertless.so" &&
    x86_64-w64-mingw32-strip -o "$DIST/$CLI_WINDOWS" "$w64/certless.exe" &&
    x86_64-w64-mingw32-strip -o "$DIST/native/win-x64/certless.dll" "$w64/certless.dll" &&
    i686-w64-mingw32-strip -o "$DIST/native/win-x86/certless.dll" "$w32/certless.dll" &&
    cp include/certless.h "$DIST/native/include/" || return 1

  local ok=0 f needed
  for f in "$DIST/$CLI_LINUX" "$DIST/native/linux-x64/libcertless.so"; do
    needed="$(glibc_needed "$f")"
    if version_le "$needed" "$GLIBC_FLOOR"; then
      echo "$(basename "$f") needs glibc $needed (floor $GLIBC_FLOOR)"
    else
      echo "$(basename "$f") needs glibc $needed, above the floor $GLIBC_FLOOR"
      ok=1
    fi
  done
  # Users copy certless.dll alone: it must need no MinGW runtime DLL (libgcc_s_*, libwinpthread-1).
  local headers
  for f in "$DIST/native/win-x64/certless.dll" "$DIST/native/win-x86/certless.dll" "$DIST/$CLI_WINDOWS"; do
    headers="$(x86_64-w64-mingw32-objdump -f -p "$f")" || return 1
    if grep -iE "DLL Name: (libgcc|libwinpthread|libstdc)" <<<"$headers"; then
      echo "$f needs a MinGW runtime DLL"
      ok=1
    fi
  done
  # Each DLL is of its machine and exports the C ABI.
  for f in win-x64:pei-x86-64 win-x86:pei-i386; do
    headers="$(x86_64-w64-mingw32-objdump -f -p "$DIST/native/${f%%:*}/certless.dll")"
    if grep -q "file format ${f#*:}" <<<"$headers" && grep -q "certless_credential_token_is_current" <<<"$headers"; then
      echo "${f%%:*}/certless.dll: ${f#*:}, exports the C ABI"
    else
      echo "${f%%:*}/certless.dll is not a ${f#*:} DLL exporting the C ABI"
      ok=1
    fi
  done
  write_sums
  (cd "$DIST" && find . -type f ! -name SHA256SUMS -printf '%P\t%s bytes\n' | LC_ALL=C sort)
  echo "package-native: built in $((SECONDS - start)) s"
  return $ok
}

# ---------------------------------------------------------------------------------------------
# shellcheck source=scripts/lib/steps-env.sh
source "$ROOT/scripts/lib/steps-env.sh"

check_sums() { (cd "$DIST" && sha256sum --quiet -c SHA256SUMS) && echo "every file matches dist/SHA256SUMS"; }

check_linux_cli() {
  local cli="$WORK/bin/certless"
  mkdir -p "$WORK/bin" && cp "$DIST/$CLI_LINUX" "$cli" && chmod +x "$cli" || return 1
  local needed
  needed="$(glibc_needed "$cli")"
  version_le "$needed" "$GLIBC_FLOOR" || { echo "needs glibc $needed"; return 1; }
  [[ "$("$cli" --version)" == "certless $VERSION" ]] || { echo "version: $("$cli" --version)"; return 1; }
  # The demo starts its own emulator and goes through the whole flow.
  "$cli" demo >"$WORK/demo-linux.txt" 2>&1
  local status=$?
  cat "$WORK/demo-linux.txt"
  ((status == 0)) && grep -q "made 0 upstream request" "$WORK/demo-linux.txt"
}

# The C test programs run against the packaged libraries: the ABI, the emulator's flows, and what a
# host that unloads code relies on (abandoned requests never called back, log subscriptions).
PACKAGED_C_TESTS=(test_offline test_emulator test_unload)

check_linux_library() {
  local lib="$WORK/linux-lib" t ok=0
  mkdir -p "$lib" && cp "$DIST/native/linux-x64/libcertless.so" "$lib/" || return 1
  for t in "${PACKAGED_C_TESTS[@]}"; do
    gcc -std=c11 -Wall -Wextra -Werror -pedantic -O1 -I"$DIST/native/include" "tests/c/$t.c" -o "$lib/$t" \
      -L"$lib" -lcertless -lpthread -Wl,-rpath,"$lib" || return 1
  done
  emulator_start "$WORK/bin/certless" "$WORK/emulator-https" --https-port 0 || return 1
  for t in "${PACKAGED_C_TESTS[@]}"; do
    "$lib/$t" || ok=1
  done
  emulator_stop
  return $ok
}

check_windows_cli() {
  local win="$WORK/win"
  mkdir -p "$win" && cp "$DIST/$CLI_WINDOWS" "$win/certless.exe" || return 1
  wine_run "$win/version.txt" "$win/certless.exe" --version
  tr -d '\r' <"$win/version.txt"
  [[ "$(tr -d '\r' <"$win/version.txt")" == "certless $VERSION" ]] || return 1
  if wine_run "$win/demo.txt" "$win/certless.exe" demo && grep -q "made 0 upstream request" "$win/demo.txt"; then
    tr -d '\r' <"$win/demo.txt"
    return 0
  fi
  echo "certless.exe demo failed under Wine:"
  tr -d '\r' <"$win/demo.txt"
  echo "trying certless.exe token against the Linux emulator instead"
  emulator_start "$WORK/bin/certless" "$WORK/emulator-http" || return 1
  wine_run "$win/token.txt" "$win/certless.exe" token --scope https://contoso.sharepoint.com/.default --json
  local status=$?
  emulator_stop
  tr -d '\r' <"$win/token.txt" | sed 's/"accessToken":"[^"]*"/"accessToken":"<redacted>"/'
  ((status == 0)) && grep -q '"accessToken":"eyJ' "$win/token.txt"
}

# windows_c_tests DIR ARCH: the C tests cross-compiled for ARCH (x86_64 or i686) with mingw-w64,
# exactly alike for both, linked against dist's certless.dll of that machine and run under Wine
# against the emulator, in DIR.
windows_c_tests() {
  local win="$1" arch="$2" dll format t ok=0
  case "$arch" in
    x86_64) dll="$DIST/native/win-x64/certless.dll" format=pei-x86-64 ;;
    i686) dll="$DIST/native/win-x86/certless.dll" format=pei-i386 ;;
    *) echo "windows_c_tests: unknown architecture $arch"; return 2 ;;
  esac
  mkdir -p "$win/compat/arpa" "$win/compat/netinet" "$win/compat/sys" || return 1
  # Empty stand-ins: tests/c/win32-compat.h, force-included, brings winsock instead.
  touch "$win/compat/arpa/inet.h" "$win/compat/netinet/in.h" "$win/compat/sys/socket.h"
  cp "$dll" "$win/" || return 1
  for t in "${PACKAGED_C_TESTS[@]}"; do
    # Linked against certless.dll itself (GNU ld reads a DLL's exports; no import library needed).
    "$arch-w64-mingw32-gcc" -std=gnu11 -Wall -Wextra -Werror -O1 -include tests/c/win32-compat.h -I"$win/compat" \
      -I"$DIST/native/include" "tests/c/$t.c" -o "$win/$t.exe" "$win/certless.dll" -static -lpthread -lws2_32 || return 1
    # A test program of the other machine would not load this DLL at all; say which one it is.
    x86_64-w64-mingw32-objdump -f "$win/$t.exe" | grep -q "file format $format" ||
      { echo "$t.exe is not $format"; return 1; }
  done
  echo "${PACKAGED_C_TESTS[*]/%/.exe}: $format, linked against $(basename "$(dirname "$dll")")/certless.dll"
  # Entra over http: Windows' certificate verification does not work under Wine 8 (docs/packaging.md).
  emulator_start "$WORK/bin/certless" "$WORK/emulator-http-$arch" || return 1
  for t in "${PACKAGED_C_TESTS[@]}"; do
    wine_run "$win/$t.txt" "$win/$t.exe" || ok=1
    tr -d '\r' <"$win/$t.txt"
  done
  emulator_stop
  return $ok
}

check_windows_library() { windows_c_tests "$WORK/win-lib" x86_64; }

# The x86 DLL (32-bit IIS application pools) in a 32-bit process, a WoW64 one as on 64-bit
# Windows: the C tests check the ABI that differs there (4-byte pointers and size_t, 64-bit
# returns in a register pair, the callbacks' calling convention and arguments).
check_windows_x86_library() {
  windows_c_tests "$WORK/win32-lib" i686 || return 1
  # The tests print the width of the process they ran in.
  local t
  for t in "${PACKAGED_C_TESTS[@]}"; do
    grep -q "$t: ran in a 32-bit process" "$WORK/win32-lib/$t.txt" || { echo "$t.exe did not run as 32-bit"; return 1; }
  done
}

# Wine for both Windows DLLs: one WoW64 prefix (CERTLESS_WINE32, scripts/lib/wine-env.sh), in which
# 64-bit and 32-bit programs run side by side.
wine_env() {
  export CERTLESS_WINE32=1
  # shellcheck source=scripts/lib/wine-env.sh
  source scripts/lib/wine-env.sh
  wine_setup
}

check() {
  # A clean environment: system directories only, so neither cargo nor rustc can be found.
  export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  unset CARGO_HOME RUSTUP_HOME RUSTUP_TOOLCHAIN CARGO_BUILD_TARGET
  if command -v cargo || command -v rustc; then
    echo "cargo or rustc is still on PATH; the check needs an environment without them"
    return 1
  fi
  [[ -f "$DIST/SHA256SUMS" && -f "$DIST/$CLI_LINUX" ]] || { echo "dist/ is empty: run scripts/package/package-native.sh first"; return 1; }
  WORK="$TARGET_DIR/package-check/native"
  rm -rf "$WORK" && mkdir -p "$WORK"
  # shellcheck source=scripts/lib/emulator-env.sh
  source scripts/lib/emulator-env.sh
  trap emulator_stop EXIT
  apt_install gcc libc6-dev binutils

  step "dist/SHA256SUMS" check_sums
  step "Linux CLI (glibc <= $GLIBC_FLOOR) runs certless demo" check_linux_cli
  step "C tests against dist's libcertless.so and the emulator (Entra over https)" check_linux_library
  # An extra CA file (this machine sets SSL_CERT_FILE) makes building the Entra client fail under
  # Wine: its crypt32 rejects the certificate chain engine that the Windows verifier configures.
  unset SSL_CERT_FILE SSL_CERT_DIR CERTLESS_CA_FILE
  step "Wine set-up (64- and 32-bit, one WoW64 prefix)" wine_env
  step "Windows CLI under Wine" check_windows_cli
  step "C tests (mingw-w64) against dist's certless.dll under Wine (Entra over http)" check_windows_library
  step "C tests (mingw-w64 i686) against dist's x86 certless.dll under 32-bit Wine (Entra over http)" \
    check_windows_x86_library

  steps_summary package-native
}

case "${1:-}" in
  --check) check ;;
  "") build ;;
  *) echo "usage: scripts/package/package-native.sh [--check]" >&2; exit 2 ;;
esac
