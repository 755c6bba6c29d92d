#!/usr/bin/env bash
# The broker (`certless serve`) seen by its clients: the real azure-identity (Python) and
# @azure/identity (Node) ManagedIdentityCredential, the certless CLI, Python and Node bindings
# through CERTLESS_BROKER, process herds, /metrics through prometheus_client's parser.
# Reuses what scripts/test/test-python.sh and scripts/test/test-node.sh set up (the venv with the
# certless package, node/node_modules), and builds what is missing. The broker's own Rust tests are
# the crate's (cargo nextest run -p certless-broker) and cli/tests/serve.rs, which runs the binary
# (cargo nextest run -p certless-cli --test serve). Last, the systemd unit
# (scripts/test/check-systemd-unit.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=${CERTLESS_PY_VENV:-target/py-venv}
py="$venv/bin/python"

cargo build --locked -q -p certless-cli

if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
venv=$(cd "$venv" && pwd)
py="$venv/bin/python"
"$py" -m pip install -q --disable-pip-version-check -r py/tests/requirements.txt -r tests/serve/requirements.txt \
  -r tests/otlp/requirements.txt
if ! "$py" -c "import certless" 2>/dev/null; then
  PATH="$venv/bin:$PATH" MATURIN_PEP517_ARGS="--locked --profile dev" \
    "$py" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps ./py
fi

if [ ! -d node/node_modules/@azure/identity ]; then
  (cd node && npm install --ignore-scripts --no-audit --no-fund)
fi
if [ ! -f node/certless.node ]; then
  node node/scripts/build.js --locked
fi

"$py" -m pytest tests/serve -q -p no:cacheprovider "$@"
scripts/test/check-systemd-unit.sh
