#!/usr/bin/env bash
# Installs what the test suites need (on a fresh Debian machine) and runs every one of them.
# The README's test command; CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n== %s ==\n' "$*"; }

section "toolchain"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo --version

section "format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

section "Rust tests (core, emulator, CLI) against the emulator on loopback"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
cargo test --workspace --locked --doc

section "the demo (README's main command)"
cargo run --locked -q -p certless-cli -- demo
