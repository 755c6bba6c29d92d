#!/usr/bin/env bash
# The emulator for install checks (scripts/package-*.sh --check): source it, then
#
#   emulator_start DIR [--https]   builds the `certless` CLI (debug, the build the test suites share)
#                                  and starts `certless emulator` on loopback with its state in DIR;
#                                  fills EMULATOR_ENV with the client environment as NAME=VALUE words
#                                  (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST, ...,
#                                  CERTLESS_TEST_EMULATOR_URL; with --https also CERTLESS_CA_FILE, and
#                                  Entra is reached over https), for `env -i "${EMULATOR_ENV[@]}" ...`
#   emulator_stop                  ends it
#
# Needs cargo (for the emulator only) and python3 (to read its ready file).

EMULATOR_PID=""
EMULATOR_ENV=()
_EMULATOR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

emulator_start() {
  local dir="$1" https=() root="$_EMULATOR_ROOT" i
  [[ "${2:-}" == --https ]] && https=(--https-port 0)
  (cd "$root" && cargo build --locked -q -p certless-cli) || return 1
  local target_dir="${CARGO_TARGET_DIR:-$root/target}"
  [[ "$target_dir" == /* ]] || target_dir="$root/$target_dir"
  local bin="$target_dir/debug/certless"

  mkdir -p "$dir"
  rm -f "$dir/ready.json"
  "$bin" emulator "${https[@]}" --state-dir "$dir" --ready-file "$dir/ready.json" >"$dir/emulator.log" 2>&1 &
  EMULATOR_PID=$!
  for ((i = 0; i < 600; i++)); do
    [[ -s "$dir/ready.json" ]] && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$dir/emulator.log"; EMULATOR_PID=""; return 1; }
    sleep 0.1
  done
  [[ -s "$dir/ready.json" ]] || { echo "the emulator did not get ready"; cat "$dir/emulator.log"; return 1; }
  mapfile -t EMULATOR_ENV < <(python3 - "$dir/ready.json" <<'EOF'
import json, sys
ready = json.load(open(sys.argv[1]))
env = dict(ready["env"])
env["CERTLESS_TEST_EMULATOR_URL"] = ready["http_url"]
if ready.get("ca_pem_path"):
    env["CERTLESS_CA_FILE"] = ready["ca_pem_path"]
# Loopback only, whatever proxy the caller's environment names.
env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
for name, value in sorted(env.items()):
    print(f"{name}={value}")
EOF
  ) || return 1
  echo "emulator (pid $EMULATOR_PID): $(printf '%s\n' "${EMULATOR_ENV[@]}" | grep '^AZURE_AUTHORITY_HOST=')"
}

emulator_stop() {
  if [[ -n "$EMULATOR_PID" ]]; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
    EMULATOR_PID=""
  fi
}
