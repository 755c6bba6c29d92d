#!/usr/bin/env bash
# The .NET cache-hit benchmark (dotnet/bench/WarmGetToken.cs) on Mono, against the emulator, with
# the release native library and CLI of dist/ (scripts/package/package-native.sh builds them).
#   scripts/bench/bench-dotnet.sh [WRAPPER.cs] [samples] [calls-per-sample]
# WRAPPER.cs defaults to dotnet/Certless.cs; give another revision's to compare
# (git show REV:dotnet/Certless.cs > /tmp/old.cs).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
VERSION="$(scripts/package/version.sh)"
WRAPPER="${1:-dotnet/Certless.cs}"
LIB="$ROOT/dist/native/linux-x64"
CLI="$ROOT/dist/certless-$VERSION-linux-x64"
[[ -f "$LIB/libcertless.so" && -x "$CLI" ]] || { echo "run scripts/package/package-native.sh first" >&2; exit 1; }
OUT="${CARGO_TARGET_DIR:-$ROOT/target}/bench-dotnet"
mkdir -p "$OUT"
mcs -langversion:7.2 -optimize+ -target:library -out:"$OUT/Certless.dll" "$WRAPPER"
mcs -langversion:7.2 -optimize+ -r:"$OUT/Certless.dll" -out:"$OUT/WarmGetToken.exe" dotnet/bench/WarmGetToken.cs
# shellcheck source=scripts/lib/emulator-env.sh
source scripts/lib/emulator-env.sh
trap emulator_stop EXIT
emulator_start "$CLI" "$OUT/emulator" >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); mono $(mono --version | head -1 | grep -o 'version [0-9.]*')"
LD_LIBRARY_PATH="$LIB" mono "$OUT/WarmGetToken.exe" "${@:2}"
