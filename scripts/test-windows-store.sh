#!/usr/bin/env bash
# The Windows certificate store under Wine: cross-builds core/examples/windows_store.rs, imports
# a certificate the emulator made (registered on its app) into Wine's CurrentUser\My without an
# exportable key, builds a StoreWithThumbprint credential (the store is searched, the certificate
# chosen, its key opened and made to sign) and asks the emulator, natively on loopback, for a
# token — which real Windows gets; Wine 8 cannot build the HTTP client (see the end).
# Needs mingw-w64 and wine (apt-get install -y --no-install-recommends mingw-w64 wine64 wine).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
for tool in wine x86_64-w64-mingw32-gcc curl python3; do
  command -v "$tool" >/dev/null || { echo "test-windows-store: $tool is missing" >&2; exit 2; }
done

cargo build --locked -q -p certless-cli
cargo build --locked -q -p certless --example windows_store --target x86_64-pc-windows-gnu
exe="$repo/target/x86_64-pc-windows-gnu/debug/examples/windows_store.exe"

work=$(mktemp -d)
emulator_pid=
cleanup() {
  [ -n "$emulator_pid" ] && kill "$emulator_pid" 2>/dev/null || true
  WINEPREFIX="$work/prefix" wineserver -k 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
wine wineboot -i >/dev/null 2>&1
# Rust's std calls ProcessPrng (bcryptprimitives.dll), which Wine 8 lacks: a stand-in over
# RtlGenRandom.
cat > "$work/prng.c" <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}
C
printf 'LIBRARY bcryptprimitives\nEXPORTS\n  ProcessPrng\n' > "$work/prng.def"
x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  "$work/prng.c" "$work/prng.def" -ladvapi32

"$repo/target/debug/certless" emulator --ready-file "$work/ready.json" --state-dir "$work/state" \
  > "$work/emulator.log" 2>&1 &
emulator_pid=$!
for _ in $(seq 1 400); do [ -f "$work/ready.json" ] && break; sleep 0.05; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["http_url"])' "$work/ready.json")
info=$(curl -sf "$url/_emulator/info")
issued=$(curl -sf -X POST "$url/_emulator/client-certificate" -d '{}')
python3 - "$work/app.pfx" "$issued" <<'PY'
import base64, json, sys
open(sys.argv[1], "wb").write(base64.b64decode(json.loads(sys.argv[2])["pfx_base64"]))
PY
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

wine "$exe" 'Z:'"${work//\//\\}"'\app.pfx' "$(field "$issued" thumbprint)" "$url/" \
  "$(field "$info" tenant_id)" "$(field "$info" default_app_client_id)" \
  https://contoso.sharepoint.com/.default > "$work/out.txt" 2>&1 || true
cat "$work/out.txt"
grep -q '^OK: the certificate was found' "$work/out.txt"
grep -q '^OK: a missing certificate is code 111' "$work/out.txt"
# Under Wine 8 no HTTP client can be built (its crypt32 refuses the TLS verifier's chain engine),
# so Entra's check of the store-signed assertion runs on real Windows only.
grep -qE '^(OK: a token from StoreWithThumbprint|SKIP: no token request)' "$work/out.txt"
echo "test-windows-store: the Windows certificate store works under Wine (see the lines above)"
