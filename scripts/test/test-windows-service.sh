#!/usr/bin/env bash
# The broker as a Windows service, under Wine (issue 15): the certless.exe that
# scripts/package/package-native.sh put into dist/ is registered with `sc create` as docs/broker.md
# ("Windows: a service") shows (serve --service), started by the service control manager, answers /healthz
# and a token request from the emulator's managed identity, and stops cleanly on `sc stop`
# (SERVICE_CONTROL_STOP: finish requests in flight, report STOPPED).
#
# Its own Wine prefix (target/wine-service): the managed-identity variable a service sees comes
# from the machine's environment in the registry, which must not reach the other Wine checks.
set -euo pipefail
cd "$(dirname "$0")/../.."
target_dir="${CARGO_TARGET_DIR:-$(pwd)/target}"
export CERTLESS_WINEPREFIX="$target_dir/wine-service"
# shellcheck source=scripts/lib/wine-env.sh
source scripts/lib/wine-env.sh
# shellcheck source=scripts/lib/emulator-env.sh
source scripts/lib/emulator-env.sh
apt_install curl

version=$(scripts/package/version.sh)
exe_dist="dist/certless-$version-win-x64.exe"
[[ -f "$exe_dist" ]] || { echo "test-windows-service: $exe_dist is missing: run scripts/package/package-native.sh" >&2; exit 2; }
cargo build --locked -q -p certless-cli

work=$(mktemp -d)
cleanup() {
  wine sc stop certless >/dev/null 2>&1 || true
  wine sc delete certless >/dev/null 2>&1 || true
  wine_stop
  emulator_stop
  rm -rf "$work"
}
trap cleanup EXIT
emulator_start "$target_dir/debug/certless" "$work/emulator" >/dev/null
emulator_appsettings "$work/appsettings.json"
cp "$exe_dist" "$work/certless.exe"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# Services take their environment from the registry's machine environment (read when Wine starts).
wine reg add 'HKLM\System\CurrentControlSet\Control\Session Manager\Environment' /f \
  /v AZURE_POD_IDENTITY_AUTHORITY_HOST /d "$AZURE_POD_IDENTITY_AUTHORITY_HOST" >/dev/null
wine_stop
# Wine ends its services when the last ordinary Windows program exits: one waits meanwhile.
wine cmd /c "ping -n 300 127.0.0.1 >NUL" >/dev/null 2>&1 &

w() { winepath -w "$work/$1"; }
wine sc create certless binPath= "$(w certless.exe) serve --service --listen 127.0.0.1:$port \
--config $(w appsettings.json) --secret-file $(w secret) --log-file $(w broker.log)" >/dev/null
wine sc start certless >/dev/null
state() { wine sc query certless 2>/dev/null | grep -o 'STATE *: *[0-9]* *[A-Z_]*' | awk '{print $NF}'; }
for _ in $(seq 1 100); do [[ -s "$work/secret" ]] && curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
[[ "$(state)" == RUNNING ]] || { cat "$work/broker.log" 2>/dev/null; echo "the service is $(state)" >&2; exit 1; }
curl -sf "http://127.0.0.1:$port/healthz"
echo
answer=$(curl -sf -H "X-IDENTITY-HEADER: $(cat "$work/secret")" \
  "http://127.0.0.1:$port/msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com")
# The token is the emulator's own (it verifies signature, issuer and audience).
python3 - "$CERTLESS_TEST_EMULATOR_URL" "$answer" <<'PY'
import json, sys, urllib.request
url, answer = sys.argv[1], json.loads(sys.argv[2])
request = urllib.request.Request(url + "/_emulator/verify", data=json.dumps({"token": answer["access_token"]}).encode(),
                                 headers={"Content-Type": "application/json"})
verdict = json.load(urllib.request.urlopen(request))
assert verdict["valid"] and verdict["claims"]["aud"] == "https://graph.microsoft.com", verdict
print("the service served a token the emulator issued, for", verdict["claims"]["aud"])
PY
wine sc stop certless >/dev/null
for _ in $(seq 1 50); do [[ "$(state)" == STOPPED ]] && break; sleep 0.2; done
[[ "$(state)" == STOPPED ]] || { echo "the service did not stop: $(state)" >&2; exit 1; }
grep -q "certless serve: stopped" "$work/broker.log" || { cat "$work/broker.log"; exit 1; }
echo "test-windows-service: sc create/start/stop drive certless serve --service under Wine"
