#!/usr/bin/env bash
# The emulator as a separate process, for checks of built artifacts (scripts/package/package-*.sh --check).
# Source it, then one of:
#
#   emulator_start CERTLESS_BIN DIR [emulator option...]
#       starts `CERTLESS_BIN emulator` on free loopback ports with its state in DIR and EXPORTS its
#       client environment (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST, ...,
#       CERTLESS_TEST_EMULATOR_URL; with --https-port 0 the authority is https and CERTLESS_CA_FILE
#       names the emulator's CA), after unsetting every variable that could select another source
#   emulator_start_isolated DIR [--https]
#       builds the `certless` CLI (debug, the build the test suites share), starts its emulator, and
#       fills the array EMULATOR_ENV with the same environment as NAME=VALUE words, exporting
#       nothing: for `env -i "${EMULATOR_ENV[@]}" ...` in a clean environment
#   emulator_appsettings FILE
#       (after emulator_start) writes a Microsoft.Identity.Web appsettings.json for the emulator's
#       app with its user-assigned managed identity as the only credential
#   emulator_stop
#
# Both fill EMULATOR_ENV. Needs python3 (to read the emulator's ready file).
# shellcheck shell=bash

EMULATOR_PID=""
EMULATOR_ENV=()
_EMULATOR_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

emulator_stop() {
  if [[ -n "$EMULATOR_PID" ]]; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
    EMULATOR_PID=""
  fi
  return 0
}

# _emulator_launch BIN DIR [option...]: starts it, waits for its ready file, fills EMULATOR_ENV.
_emulator_launch() {
  local bin="$1" dir="$2" i
  shift 2
  mkdir -p "$dir"
  local ready="$dir/ready.json"
  rm -f "$ready"
  "$bin" emulator --state-dir "$dir/state" --ready-file "$ready" "$@" >"$dir/emulator.log" 2>&1 &
  EMULATOR_PID=$!
  for ((i = 0; i < 600; i++)); do
    [[ -s "$ready" ]] && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$dir/emulator.log"; EMULATOR_PID=""; return 1; }
    sleep 0.1
  done
  [[ -s "$ready" ]] || { echo "the emulator did not get ready"; cat "$dir/emulator.log"; return 1; }
  mapfile -t EMULATOR_ENV < <(python3 - "$ready" <<'PY'
import json, sys
ready = json.load(open(sys.argv[1]))
env = dict(ready["env"])
env["CERTLESS_TEST_EMULATOR_URL"] = ready["http_url"]
if ready.get("ca_pem_path") and env.get("AZURE_AUTHORITY_HOST", "").startswith("https://"):
    env["CERTLESS_CA_FILE"] = ready["ca_pem_path"]
# Loopback only, whatever proxy the caller's environment names.
env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
for name, value in sorted(env.items()):
    print(f"{name}={value}")
PY
  ) || return 1
}

emulator_start() {
  _emulator_launch "$@" || return 1
  # Only the emulator's environment may select a managed-identity source or an authority.
  unset IDENTITY_ENDPOINT IDENTITY_HEADER IDENTITY_SERVER_THUMBPRINT MSI_ENDPOINT MSI_SECRET IMDS_ENDPOINT \
    AZURE_FEDERATED_TOKEN_FILE CERTLESS_MANAGED_IDENTITY_SOURCE CERTLESS_MANAGED_IDENTITY_OBJECT_ID \
    CERTLESS_MANAGED_IDENTITY_RESOURCE_ID CERTLESS_TOKEN_EXCHANGE_AUDIENCE CERTLESS_CA_FILE
  local pair
  for pair in "${EMULATOR_ENV[@]}"; do
    export "${pair?}"
  done
  echo "emulator at $CERTLESS_TEST_EMULATOR_URL, Entra at $AZURE_AUTHORITY_HOST (pid $EMULATOR_PID)"
  [[ -n "${AZURE_TENANT_ID:-}" && -n "${AZURE_POD_IDENTITY_AUTHORITY_HOST:-}" ]]
}

emulator_appsettings() {
  python3 - "$1" <<'PY'
import json, os, sys
json.dump({"AzureAd": {
    "Instance": os.environ["AZURE_AUTHORITY_HOST"],
    "TenantId": os.environ["AZURE_TENANT_ID"],
    "ClientId": os.environ["AZURE_CLIENT_ID"],
    "ClientCredentials": [{"SourceType": "SignedAssertionFromManagedIdentity",
                           "ManagedIdentityClientId": os.environ["CERTLESS_MANAGED_IDENTITY_CLIENT_ID"]}],
}}, open(sys.argv[1], "w"), indent=2)
PY
}

emulator_start_isolated() {
  local dir="$1" https=() root="$_EMULATOR_ROOT"
  [[ "${2:-}" == --https ]] && https=(--https-port 0)
  (cd "$root" && cargo build --locked -q -p certless-cli) || return 1
  local target_dir="${CARGO_TARGET_DIR:-$root/target}"
  [[ "$target_dir" == /* ]] || target_dir="$root/$target_dir"
  _emulator_launch "$target_dir/debug/certless" "$dir" "${https[@]}" || return 1
  echo "emulator (pid $EMULATOR_PID): $(printf '%s\n' "${EMULATOR_ENV[@]}" | grep '^AZURE_AUTHORITY_HOST=')"
}
