#!/usr/bin/env bash
# The systemd unit users install (packaging/systemd/certless.service, docs/broker.md,
# "Linux: systemd"), checked without a running systemd:
#   1. `systemd-analyze verify` accepts it;
#   2. its sandbox scores an exposure level of at most 2.0 (`systemd-analyze security --offline`);
#   3. the broker starts with exactly its ExecStart arguments (the paths moved into a scratch
#      directory, the group made this user's own), reports ready on /healthz and /readyz over TCP,
#      gets a token against the emulator over the Unix socket, and leaves the secret and the
#      socket readable by owner and group only, and the kept secret (StateDirectory) by its owner.
# Needs systemd-analyze (Debian's systemd package, installed when missing), python3 and curl.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/emulator-env.sh
source scripts/lib/emulator-env.sh

unit=packaging/systemd/certless.service
target_dir="${CARGO_TARGET_DIR:-$(pwd)/target}"
# shellcheck source=scripts/lib/apt-env.sh
source scripts/lib/apt-env.sh
command -v systemd-analyze >/dev/null || apt_install systemd
apt_install curl
cargo build --locked -q -p certless-cli
bin="$target_dir/debug/certless"

work=$(mktemp -d)
broker_pid=
trap '[[ -n "$broker_pid" ]] && kill "$broker_pid" 2>/dev/null; emulator_stop; rm -rf "$work"' EXIT

# 1 and 2: the unit as installed, but with this build as its program (verify wants it to exist).
sed "s#/usr/local/bin/certless#$bin#" "$unit" >"$work/certless.service"
systemd-analyze verify "$work/certless.service"
systemd-analyze security --offline=true --threshold=20 "$work/certless.service" | tail -1
echo "check-systemd-unit: systemd accepts the unit; exposure within 2.0"

# 3: ExecStart's arguments, continuation lines joined.
mapfile -t args < <(python3 - "$unit" "$work" "$(id -gn)" <<'PY'
import shlex, sys
unit, work, group = sys.argv[1:]
text = open(unit).read().replace("\\\n", " ")
line = next(l for l in text.splitlines() if l.startswith("ExecStart="))
words = shlex.split(line[len("ExecStart="):])
assert words[0] == "/usr/local/bin/certless", words[0]
for word in words[1:]:
    word = word.replace("/etc/certless", work).replace("/run/certless", work)
    word = word.replace("/var/lib/certless", work + "/state")
    word = word.replace("certless-clients", group)
    print("127.0.0.1:0" if word == "127.0.0.1:8765" else word)
PY
)
emulator_start "$bin" "$work/emulator" >/dev/null
emulator_appsettings "$work/appsettings.json"
echo "certless ${args[*]}"
"$bin" "${args[@]}" --ready-file "$work/ready.json" >"$work/broker.log" 2>&1 &
broker_pid=$!
for _ in $(seq 1 200); do [[ -s "$work/ready.json" ]] && break; sleep 0.1; done
[[ -s "$work/ready.json" ]] || { cat "$work/broker.log"; echo "the broker did not start" >&2; exit 1; }
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/ready.json")
base=${url%%/msi/*}
curl -sf "$base/healthz" >/dev/null
curl -sf "$base/readyz" >/dev/null
secret=$(cat "$work/secret")
answer=$(curl -sf --unix-socket "$work/certless.sock" -H "X-IDENTITY-HEADER: $secret" \
  "http://localhost/msi/token?api-version=2019-08-01&resource=https://graph.microsoft.com")
python3 -c 'import json,sys; a=json.loads(sys.argv[1]); assert a["access_token"] and a["token_type"]=="Bearer", a' "$answer"
for file in secret certless.sock; do
  mode=$(stat -c %a "$work/$file")
  [[ "${mode: -1}" == 0 ]] || { echo "$file is mode $mode: others may use it" >&2; exit 1; }
done
mode=$(stat -c %a "$work/state/broker-secret")
[[ "$mode" == 600 ]] || { echo "the kept secret is mode $mode, not 600" >&2; exit 1; }
echo "check-systemd-unit: the broker runs with the unit's arguments and serves a token over its socket"
