#!/usr/bin/env bash
# The Python package's test suite: a venv, `pip install ./py`, pytest against the emulator.
# Needs python3 (3.10+, with venv and pip) and Rust. Called by scripts/test.sh; runs on its own too.
#
#   CERTLESS_PY_VENV      the venv to (re)use (default target/py-venv)
#   CERTLESS_PY_PROFILE   cargo profile of the extension: dev (default: shares the workspace's debug
#                         build) or release (what a plain `pip install ./py` builds; use it to benchmark)
#   PYTHON                the interpreter that creates the venv (default python3)
set -euo pipefail
cd "$(dirname "$0")/../.."

venv=${CERTLESS_PY_VENV:-target/py-venv}
profile=${CERTLESS_PY_PROFILE:-dev}

if [ ! -x "$venv/bin/python" ]; then
  "${PYTHON:-python3}" -m venv "$venv"
fi
venv=$(cd "$venv" && pwd)
py="$venv/bin/python"
"$py" --version
# With the OTLP receiver's packages (tests/otlp/requirements.txt), which the telemetry tests run.
"$py" -m pip install -q --disable-pip-version-check -r py/tests/requirements.txt -r tests/otlp/requirements.txt

# The shared cache's tests start Debian's redis-server themselves.
# shellcheck source=scripts/lib/apt-env.sh
source scripts/lib/apt-env.sh
apt_install redis-server

# The emulator the tests start (certless emulator --ready-file ...).
cargo build --locked -q -p certless-cli

# maturin builds in the workspace's target/ (no --target), so CI compiles the core once.
# --no-build-isolation uses the venv's pinned maturin instead of downloading one per build.
PATH="$venv/bin:$PATH" MATURIN_PEP517_ARGS="--locked --profile $profile" \
  "$py" -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall ./py

status=0
"$py" -m pytest py/tests -q -p no:cacheprovider "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "Python tests failed (pytest exit status $status)" >&2
fi
exit "$status"
