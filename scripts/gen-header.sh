#!/usr/bin/env bash
# Generates include/certless.h from ffi-c/src with the pinned cbindgen.
#   scripts/gen-header.sh           rewrite include/certless.h
#   scripts/gen-header.sh --check   fail (exit 1, with the diff) if the committed header is stale
set -euo pipefail
cd "$(dirname "$0")/.."

CBINDGEN_VERSION=0.29.4 # keep in step with ffi-c/Cargo.toml [package.metadata.cbindgen]
cbindgen="${CARGO_HOME:-$HOME/.cargo}/bin/cbindgen"
if ! "$cbindgen" --version 2>/dev/null | grep -qx "cbindgen $CBINDGEN_VERSION"; then
  echo "installing cbindgen $CBINDGEN_VERSION (about 2 minutes, once)" >&2
  # Its own target dir: do not contend for the workspace's build lock.
  CARGO_TARGET_DIR="${TMPDIR:-/tmp}/certless-cbindgen-build" \
    cargo install cbindgen --version "$CBINDGEN_VERSION" --locked --quiet
fi

generate() {
  "$cbindgen" --quiet --config ffi-c/cbindgen.toml --crate certless-ffi --output "$1" ffi-c
}

if [[ "${1:-}" == "--check" ]]; then
  fresh="$(mktemp)"
  trap 'rm -f "$fresh"' EXIT
  generate "$fresh"
  if ! diff -u include/certless.h "$fresh"; then
    echo "include/certless.h is stale: run scripts/gen-header.sh and commit the result" >&2
    exit 1
  fi
  echo "include/certless.h is up to date (cbindgen $CBINDGEN_VERSION)"
else
  mkdir -p include
  generate include/certless.h
  echo "wrote include/certless.h (cbindgen $CBINDGEN_VERSION)"
fi
