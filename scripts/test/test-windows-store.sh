#!/usr/bin/env bash
# The Windows certificate store under Wine (issue 16): cross-builds core/examples/windows_store.rs,
# imports a certificate the emulator made (registered on its app) into Wine's CurrentUser\My
# without an exportable key, builds a StoreWithThumbprint credential (the store is searched, the
# certificate chosen, its key opened and made to sign in place) and gets a token from the emulator
# on loopback with it; then a thumbprint the store lacks must give code 111.
#
# Wine (scripts/lib/wine-env.sh) and the emulator (scripts/lib/emulator-env.sh) are set up as for the
# packages' checks. The release build shares the Windows target directory that
# scripts/package/package-native.sh fills, but an example brings core's dev-dependencies, which
# change the features of many shared crates: it compiles about 76 crate units of its own.
#
#   scripts/test/test-windows-store.sh [--build-only]   --build-only: that build and nothing else
#                                                        (scripts/test.sh starts it early)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/apt-env.sh
source scripts/lib/apt-env.sh
apt_install mingw-w64

target_dir="${CARGO_TARGET_DIR:-$(pwd)/target}"
triple=x86_64-pc-windows-gnu
rustup target list --installed | grep -qx "$triple" || rustup target add "$triple"
cargo build --release --locked -q -p certless --example windows_store --target "$triple"
exe="$target_dir/$triple/release/examples/windows_store.exe"
[[ "${1:-}" != --build-only ]] || exit 0
cargo build --locked -q -p certless-cli

# shellcheck source=scripts/lib/wine-env.sh
source scripts/lib/wine-env.sh
# shellcheck source=scripts/lib/emulator-env.sh
source scripts/lib/emulator-env.sh
apt_install curl

work=$(mktemp -d)
trap 'emulator_stop; wine_stop; rm -rf "$work"' EXIT
emulator_start "$target_dir/debug/certless" "$work/emulator" >/dev/null
url="$CERTLESS_TEST_EMULATOR_URL"
field() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
info=$(curl -sf "$url/_emulator/info")
issued=$(curl -sf -X POST "$url/_emulator/client-certificate" -d '{}')
field "$issued" pfx_base64 | base64 -d >"$work/app.pfx"

# Plain shell variables: wine_clean_env drops the exported ones before the program starts.
pfx=$(winepath -w "$work/app.pfx")
thumbprint=$(field "$issued" thumbprint)
tenant=$(field "$info" tenant_id)
client_id=$(field "$info" default_app_client_id)
status=0
(
  wine_clean_env
  wine_run "$work/out.txt" "$exe" "$pfx" "$thumbprint" "$url/" "$tenant" "$client_id" \
    https://contoso.sharepoint.com/.default
) || status=$?
for expected in '^OK: the certificate was found' '^OK: a token from StoreWithThumbprint' \
  '^OK: a missing certificate is code 111'; do
  grep -q "$expected" "$work/out.txt" || { echo "test-windows-store: no line '$expected' (exit $status)" >&2; exit 1; }
done
echo "test-windows-store: the Windows certificate store works under Wine"
