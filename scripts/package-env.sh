#!/usr/bin/env bash
# Shared by the packaging scripts (scripts/package-*.sh); source it from the repository root.
#
# Sets ROOT, TARGET_DIR (CARGO_TARGET_DIR or target/, shared with every other script so each
# target is compiled once), VERSION (the workspace's, the one version of every artifact), TOOLS (a
# venv of pinned build tools) and ZIG_ENV (see below); defines section, timed, need_rust_target.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
TOOLS="${CERTLESS_PKG_TOOLS:-$TARGET_DIR/pkg-tools}"

section() { printf '\n== %s ==\n' "$*"; }

# timed NAME COMMAND...: runs it and says how long it took (the numbers in BENCHMARKS.md). Not in
# an `||` or `if`: that would switch off `set -e` inside COMMAND; a failure ends the script.
timed() {
  local name="$1" start=$SECONDS
  shift
  "$@"
  echo "-- $name: $((SECONDS - start)) s"
}

VERSION="$(cargo metadata --no-deps --offline --format-version 1 --manifest-path "$ROOT/Cargo.toml" |
  python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "certless"))')"

# Build tools, pinned, in their own venv (made once). maturin 1.16.0 embeds cargo-zigbuild 0.24.0:
# the two must stay in step (ZIG_ENV below).
if [[ ! -x "$TOOLS/bin/maturin" || ! -x "$TOOLS/bin/cargo-zigbuild" || ! -x "$TOOLS/bin/auditwheel" ]]; then
  section "build tools into $TOOLS"
  "${PYTHON:-python3}" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q --disable-pip-version-check \
    maturin==1.16.0 ziglang==0.17.1 cargo-zigbuild==0.24.0 auditwheel==6.8.2
fi

# Linux builds for glibc 2.17 link with zig through cargo-zigbuild's wrapper scripts, which sit in
# a directory named after the executable that wrote them (maturin's or cargo-zigbuild's). cargo
# rebuilds every crate when the linker path changes, so the wheel (maturin) and the Node addon
# (cargo-zigbuild) would each recompile the whole tree after the other. This variable, which
# cargo-zigbuild reads in place of its own path, gives both the same wrappers: one compile of the
# shared crates for both.
ZIG_ENV=("CARGO_BIN_EXE_cargo-zigbuild=$TOOLS/bin/cargo-zigbuild" "PATH=$TOOLS/bin:$PATH")

need_rust_target() {
  rustup target list --installed | grep -qx "$1" || rustup target add "$1"
}
