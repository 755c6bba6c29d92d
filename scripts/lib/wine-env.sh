#!/usr/bin/env bash
# Wine, for running certless's Windows artifacts on this Linux machine (docs/packaging.md, "Verified under Wine 8, not on Windows").
#
#   source scripts/lib/wine-env.sh     sets up (once) and exports the environment, defines wine_run/wine_stop
#   scripts/lib/wine-env.sh            only sets up, and prints the prefix
#
# Set-up, each step skipped when already done:
#   - apt packages wine64, wine (Wine 8 on Debian 12; the command is `wine`) and mingw-w64;
#   - a 64-bit prefix in $CERTLESS_WINEPREFIX (default: <cargo target dir>/wine), Windows 10;
#   - scripts/lib/wine/bcryptprimitives.c built with mingw into the prefix's system32: Rust's std needs
#     ProcessPrng from that DLL, which Wine 8 lacks (real Windows 10+ has it), so without the
#     stand-in no Rust-built exe or DLL loads under Wine;
#   - with CERTLESS_WINE32=1, 32-bit Windows programs too (the x86 certless.dll of 32-bit IIS
#     application pools): dpkg's i386 architecture and wine32:i386, installed before the prefix is
#     made so that it is a WoW64 prefix from the start (as 64-bit Windows runs a 32-bit pool), and
#     the stand-in built for i686 into the prefix's syswow64, where 32-bit programs look for it.
# Exports WINEPREFIX, WINEARCH, WINEDEBUG and WINEDLLOVERRIDES.
#
#   wine_run LOG PROGRAM [ARG...]   runs a Windows program (a Unix path) with its stdout and stderr in
#                                   the file LOG (Windows console programs under Wine fail to write
#                                   to a pipe), prints LOG, returns the exit status; no spaces in
#                                   paths or arguments
#   wine_clean_env                  (in a subshell) drops every variable Wine does not need
#   wine_stop                       ends this prefix's wineserver (and so its programs)

_certless_wine_setup() {
  local root target_dir
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  target_dir="${CARGO_TARGET_DIR:-$root/target}"
  [[ "$target_dir" == /* ]] || target_dir="$root/$target_dir"

  # shellcheck source=scripts/lib/apt-env.sh
  source "$root/scripts/lib/apt-env.sh"
  local packages=(wine64 wine mingw-w64)
  if [[ "${CERTLESS_WINE32:-}" == 1 ]]; then
    _certless_add_i386 || return 1
    packages+=(wine32:i386)
  fi
  apt_install "${packages[@]}" || return 1

  export WINEPREFIX="${CERTLESS_WINEPREFIX:-$target_dir/wine}"
  export WINEARCH=win64
  # Wine's own diagnostics (fixme:, err:) would drown the programs' output.
  export WINEDEBUG=-all
  # Our ProcessPrng stand-in, and no Gecko/Mono installer dialogs when the prefix is made.
  export WINEDLLOVERRIDES="bcryptprimitives=n;mscoree=;mshtml="

  if [[ ! -f "$WINEPREFIX/system.reg" ]]; then
    echo "wine-env: making the prefix $WINEPREFIX" >&2
    mkdir -p "$(dirname "$WINEPREFIX")"
    wine wineboot -i >/dev/null 2>&1 || true
    wineserver -w
    [[ -f "$WINEPREFIX/system.reg" ]] || { echo "wine-env: 'wine wineboot -i' made no prefix" >&2; return 1; }
    # Made with Wine's 32-bit side installed: its syswow64 already holds the 32-bit system.
    if _certless_has_wine32; then touch "$WINEPREFIX/.certless-wow64"; fi
  fi
  # A new prefix says Windows 7, which Node.js 22 refuses to run on; certless targets Windows 10+.
  if ! grep -q '"ProductName"="Microsoft Windows 10"' "$WINEPREFIX/system.reg"; then
    wine winecfg -v win10 >/dev/null 2>&1
    wineserver -w
  fi

  local source="$root/scripts/lib/wine/bcryptprimitives.c" dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
  if [[ ! -f "$dll" || "$source" -nt "$dll" ]]; then
    x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror -shared -s -o "$dll" \
      "$source" "$root/scripts/lib/wine/bcryptprimitives.def" -ladvapi32 || return 1
  fi
  [[ "${CERTLESS_WINE32:-}" == 1 ]] || return 0

  # A prefix made before wine32 was installed has no 32-bit system yet: update it, once.
  if [[ ! -f "$WINEPREFIX/.certless-wow64" ]]; then
    echo "wine-env: adding the 32-bit side to the prefix $WINEPREFIX" >&2
    wine wineboot -u >/dev/null 2>&1 || true
    wineserver -w
    touch "$WINEPREFIX/.certless-wow64"
  fi
  dll="$WINEPREFIX/drive_c/windows/syswow64/bcryptprimitives.dll"
  if [[ ! -f "$dll" || "$source" -nt "$dll" ]]; then
    # WINAPI is stdcall on i686 (ProcessPrng@8); Rust's std imports the undecorated name, which
    # the .def exports: --enable-stdcall-fixup links the two without a warning.
    i686-w64-mingw32-gcc -O2 -Wall -Wextra -Werror -shared -s -Wl,--enable-stdcall-fixup -o "$dll" \
      "$source" "$root/scripts/lib/wine/bcryptprimitives.def" -ladvapi32 || return 1
  fi
}

# dpkg's i386 architecture, which wine32:i386 comes from (apt_install then updates the index).
_certless_add_i386() {
  dpkg --print-foreign-architectures | grep -qx i386 && return 0
  echo "wine-env: adding dpkg's i386 architecture (for wine32:i386)" >&2
  if [[ $(id -u) -eq 0 ]]; then dpkg --add-architecture i386; else sudo dpkg --add-architecture i386; fi
}

_certless_has_wine32() {
  dpkg-query -W -f='${Status}' wine32:i386 2>/dev/null | grep -q "install ok installed"
}

wine_run() {
  local log="$1" program="$2" arg line status=0
  shift 2
  rm -f "$log"
  # cmd.exe does the redirection, so the program writes to a file it opened itself. Wine's cmd
  # mangles quoted words, so none are quoted: no spaces allowed.
  for arg in "$log" "$program" "$@"; do
    [[ "$arg" != *[[:space:]]* ]] || { echo "wine_run: '$arg' contains a space" >&2; return 2; }
  done
  line="$(winepath -w "$program")"
  for arg in "$@"; do line+=" $arg"; done
  wine cmd /c "$line > $(winepath -w "$log") 2>&1" || status=$?
  [[ -f "$log" ]] || { echo "wine_run: $program wrote nothing (exit status $status)" >&2; return 1; }
  cat "$log"
  return "$status"
}

# Windows programs under Wine see the whole Unix environment. Call in a subshell before wine_run
# to give them only what Wine needs: this machine's SSL_CERT_FILE, for one, would reach certless
# as a CA file, which Wine 8's crypt32 cannot take (docs/packaging.md, "Verified under Wine 8, not on Windows").
wine_clean_env() {
  local name keep=" HOME USER LOGNAME LANG WINEPREFIX WINEARCH WINEDEBUG WINEDLLOVERRIDES "
  for name in $(compgen -e); do
    [[ "$keep" == *" $name "* ]] || unset "$name" 2>/dev/null || true
  done
  export PATH=/usr/bin:/bin
}

wine_stop() {
  wineserver -k 2>/dev/null || true
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  _certless_wine_setup
  echo "WINEPREFIX=$WINEPREFIX ($(wine --version))"
else
  _certless_wine_setup
fi

# The name scripts/package/package-native.sh uses: the set-up (already done when sourced), then the version.
wine_setup() {
  _certless_wine_setup && wine --version
}
