#!/usr/bin/env bash
# The OTLP receiver the telemetry tests export to (tests/otlp/receiver.py), for every suite. Source
# it from the repository's root, then:
#   otlp_install             the receiver's packages (tests/otlp/requirements.txt) into the test
#                            venv every suite shares (CERTLESS_PY_VENV, default target/py-venv, made
#                            when missing) and its self-test; exports CERTLESS_OTLP_PYTHON, the
#                            venv's python, which the tests that start a receiver of their own use
#   otlp_receiver_start DIR  one receiver on a free loopback port (log and port file in DIR);
#                            exports CERTLESS_TEST_OTLP_URL (http://127.0.0.1:PORT)
#   otlp_receiver_stop       ends it (also safe when none runs)
# scripts/test.sh calls otlp_install before the Rust tests; each suite's script calls it again
# (a few seconds when all is there), so it also runs on its own.
# shellcheck shell=bash

otlp_install() {
  local venv="${CERTLESS_PY_VENV:-target/py-venv}"
  if [[ ! -x "$venv/bin/python" ]]; then
    "${PYTHON:-python3}" -m venv "$venv" || return 1
  fi
  venv="$(cd "$venv" && pwd)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r tests/otlp/requirements.txt &&
    "$venv/bin/python" tests/otlp/receiver.py --self-test || return 1
  export CERTLESS_OTLP_PYTHON="$venv/bin/python"
}

OTLP_RECEIVER_PID=""

otlp_receiver_start() {
  local dir="$1" port_file i
  [[ -n "${CERTLESS_OTLP_PYTHON:-}" ]] || otlp_install || return 1
  mkdir -p "$dir"
  port_file="$dir/otlp-receiver.port"
  rm -f "$port_file"
  "$CERTLESS_OTLP_PYTHON" tests/otlp/receiver.py --port-file "$port_file" >"$dir/otlp-receiver.log" 2>&1 &
  OTLP_RECEIVER_PID=$!
  for ((i = 0; i < 300; i++)); do
    [[ -s "$port_file" ]] && break
    kill -0 "$OTLP_RECEIVER_PID" 2>/dev/null || { cat "$dir/otlp-receiver.log"; OTLP_RECEIVER_PID=""; return 1; }
    sleep 0.1
  done
  [[ -s "$port_file" ]] || { echo "the OTLP receiver did not start"; cat "$dir/otlp-receiver.log"; return 1; }
  export CERTLESS_TEST_OTLP_URL="http://127.0.0.1:$(tr -d '[:space:]' <"$port_file")"
  echo "OTLP receiver at $CERTLESS_TEST_OTLP_URL (pid $OTLP_RECEIVER_PID)"
}

otlp_receiver_stop() {
  if [[ -n "$OTLP_RECEIVER_PID" ]]; then
    kill "$OTLP_RECEIVER_PID" 2>/dev/null
    wait "$OTLP_RECEIVER_PID" 2>/dev/null
    OTLP_RECEIVER_PID=""
  fi
  return 0
}
