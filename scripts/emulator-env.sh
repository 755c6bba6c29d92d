# The emulator as a separate process, for checks of built artifacts. Source it, then:
#   emulator_start CERTLESS_BIN STATE_DIR [emulator option...]
#       starts `CERTLESS_BIN emulator` on free loopback ports and exports its client environment
#       (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_AUTHORITY_HOST, ...) and CERTLESS_TEST_EMULATOR_URL;
#       with --https-port 0 the authority is https and CERTLESS_CA_FILE names the emulator's CA
#   emulator_stop
# shellcheck shell=bash

EMULATOR_PID=""

emulator_stop() {
  if [[ -n "$EMULATOR_PID" ]]; then
    kill "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
    EMULATOR_PID=""
  fi
  return 0
}

emulator_start() {
  local bin="$1" dir="$2" i
  shift 2
  mkdir -p "$dir"
  local ready="$dir/ready.json"
  rm -f "$ready"
  "$bin" emulator --state-dir "$dir/state" --ready-file "$ready" "$@" >"$dir/emulator.log" 2>&1 &
  EMULATOR_PID=$!
  for ((i = 0; i < 300; i++)); do
    [[ -s "$ready" ]] && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$dir/emulator.log"; return 1; }
    sleep 0.1
  done
  [[ -s "$ready" ]] || { echo "the emulator did not get ready"; cat "$dir/emulator.log"; return 1; }
  # Only the emulator's environment may select a managed-identity source or an authority.
  unset IDENTITY_ENDPOINT IDENTITY_HEADER IDENTITY_SERVER_THUMBPRINT MSI_ENDPOINT MSI_SECRET IMDS_ENDPOINT \
    AZURE_FEDERATED_TOKEN_FILE CERTLESS_MANAGED_IDENTITY_SOURCE CERTLESS_MANAGED_IDENTITY_OBJECT_ID \
    CERTLESS_MANAGED_IDENTITY_RESOURCE_ID CERTLESS_TOKEN_EXCHANGE_AUDIENCE CERTLESS_CA_FILE
  export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
  # The ready file is one line of JSON; its "env" object holds "NAME":"value" pairs.
  local pair name value
  while IFS= read -r pair || [[ -n "$pair" ]]; do
    name="${pair%%\":*}"; name="${name#\"}"
    value="${pair#*\":\"}"; value="${value%\"}"
    if [[ "$name" =~ ^[A-Z_][A-Z0-9_]*$ ]]; then export "$name=$value"; fi
  done < <(sed -e 's/.*"env":{\([^}]*\)}.*/\1/' "$ready" | tr ',' '\n')
  CERTLESS_TEST_EMULATOR_URL="$(grep -o '"http_url":"[^"]*"' "$ready" | sed 's/.*":"//; s/"$//' || true)"
  export CERTLESS_TEST_EMULATOR_URL
  local ca
  ca="$(grep -o '"ca_pem_path":"[^"]*"' "$ready" | sed 's/.*":"//; s/"$//' || true)"
  if [[ "$AZURE_AUTHORITY_HOST" == https://* && -n "$ca" ]]; then
    export CERTLESS_CA_FILE="$ca"
  fi
  echo "emulator at $CERTLESS_TEST_EMULATOR_URL, Entra at $AZURE_AUTHORITY_HOST (pid $EMULATOR_PID)"
  [[ -n "${AZURE_TENANT_ID:-}" && -n "${AZURE_POD_IDENTITY_AUTHORITY_HOST:-}" ]]
}
