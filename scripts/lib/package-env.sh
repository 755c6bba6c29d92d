#!/usr/bin/env bash
# Shared by the packaging scripts (scripts/package/package-*.sh); source it from the repository root.
#
# Sets ROOT, TARGET_DIR (CARGO_TARGET_DIR or target/, shared with every other script so each
# target is compiled once), VERSION (the workspace's, the one version of every artifact), TOOLS (a
# venv of pinned build tools) and ZIG_ENV (see below); defines section, timed, need_rust_target.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
TOOLS="${CERTLESS_PKG_TOOLS:-$TARGET_DIR/pkg-tools}"

# What the packaging scripts call besides the Rust and Python tools (a minimal Debian lacks both).
# shellcheck source=scripts/lib/apt-env.sh
source "$ROOT/scripts/lib/apt-env.sh"
apt_install unzip curl

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

# The Rust artifacts of every package, one cargo invocation per target, so that each target's
# crates are compiled once whichever script asks first (the same packages and features each time:
# a different set would unify features differently and recompile the shared crates):
#   Linux x86_64 for glibc 2.17: the C library, the CLI, the Node addon;
#   Windows x64 (mingw-w64): the same three (the addon finds Node's functions in node.exe when it
#     loads: napi's dyn-symbols);
#   Windows x86: the C library (32-bit IIS application pools).
# The Python wheels are built by maturin (pyo3's own build of the extension).
RUST_LINUX=x86_64-unknown-linux-gnu
RUST_WIN64=x86_64-pc-windows-gnu
RUST_WIN32=i686-pc-windows-gnu
RUST_PACKAGES=(-p certless-ffi -p certless-cli -p certless-node)

# Each returns the build's status (the callers do not all run under `set -e`).
build_linux_glibc217() {
  local start=$SECONDS
  env "${ZIG_ENV[@]}" cargo zigbuild --release --locked "${RUST_PACKAGES[@]}" --target "$RUST_LINUX.2.17" ||
    return 1
  echo "-- Linux x86_64, glibc 2.17 (C library, CLI, Node addon): $((SECONDS - start)) s"
}

build_windows_x64() {
  need_rust_target "$RUST_WIN64" || return 1
  # napi's build script wants MSYS2's libnode.dll to link Node's functions on windows-gnu; with
  # napi/dyn-symbols the addon looks them up in the running node.exe instead and links nothing of
  # it. The stand-in only satisfies the build script: a libnode.dll for its existence check, an
  # empty libnode.a for the -lnode it then passes.
  local stub="$TARGET_DIR/napi-libnode-stub"
  mkdir -p "$stub"
  : >"$stub/libnode.dll"
  printf '!<arch>\n' >"$stub/libnode.a"
  local start=$SECONDS
  env LIBNODE_PATH="$stub" \
    cargo build --release --locked "${RUST_PACKAGES[@]}" --features napi/dyn-symbols --target "$RUST_WIN64" ||
    return 1
  echo "-- Windows x64 (C library, CLI, Node addon): $((SECONDS - start)) s"
}

build_windows_x86() {
  need_rust_target "$RUST_WIN32"
  local start=$SECONDS
  cargo build --release --locked -p certless-ffi --target "$RUST_WIN32" || return 1
  echo "-- Windows x86 (C library): $((SECONDS - start)) s"
}
