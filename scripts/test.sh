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
# fuzz/ is its own workspace with its own lock file: a core dependency added without refreshing it
# would only fail at the fuzz step, long after this point.
cargo metadata --locked --format-version 1 --manifest-path fuzz/Cargo.toml >/dev/null
# rustfmt silently leaves a statement alone when it cannot fit it (a long string literal): the
# nightly's error_on_line_overflow makes that a failure, so every statement stays formatted.
if rustup run nightly rustfmt --version >/dev/null 2>&1; then
  cargo +nightly fmt -p certless -p certless-emulator -p certless-broker -p certless-cli -- --check \
    --config error_on_line_overflow=true,error_on_unformatted=false
fi
cargo clippy --workspace --all-targets --features certless/test-hooks --locked -- -D warnings
# Dependencies inside core point one way (credential -> cache -> token, never back).
scripts/module-graph.py

section "Rust tests (core, emulator, broker, CLI) against the emulator on loopback"
# test-hooks: lets the Azure Arc tests point the agent's key directory at the emulator's (test builds only).
# certless-py has no Rust tests, and its test binary would link libpython: its suite is pytest, below.
rust_tests=(--workspace --exclude certless-py --features certless/test-hooks --locked --no-fail-fast)
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run "${rust_tests[@]}"
else
  cargo test "${rust_tests[@]}"
fi
cargo test --workspace --exclude certless-py --locked --doc

section "the demo (README's main command)"
cargo run --locked -q -p certless-cli --features certless/test-hooks -- demo

section "fuzzing: every parser of outside input, briefly (cargo-fuzz on nightly, ASan)"
# fuzz/ is its own workspace: the workspace-wide fmt above does not see it.
cargo fmt --manifest-path fuzz/Cargo.toml --check
# Two targets at a time: one per core of the CI machine, which runs nothing else meanwhile.
CERTLESS_FUZZ_JOBS=${CERTLESS_FUZZ_JOBS:-2} ./scripts/fuzz.sh "${CERTLESS_FUZZ_SECONDS:-15}"

section "C ABI (header drift, C tests plain/ASAN/valgrind), .NET on Mono"
# The Windows DLLs are built once, in release, by the packaging below, which checks their imports
# and runs them under Wine: a debug cross-build here would compile both Windows targets twice.
CERTLESS_SKIP_WINDOWS=1 ./scripts/test-c-dotnet.sh

section "Python package: pip install ./py, pytest against the emulator"
./scripts/test-python.sh

section "Node package: build, generated declarations, node --test against the emulator, npm install ./node"
./scripts/test-node.sh

section "The broker (certless serve) seen by azure-identity, @azure/identity, the CLI and the bindings"
./scripts/test-serve.sh

section "Packages: every artifact built once, then installed with no cargo or rustc on PATH (Windows ones under Wine)"
# Every artifact, the aarch64 wheel included: this x86_64 host cannot run it, but its cross build
# and auditwheel's manylinux check show it is still whole (about 5 minutes of a cold CI).
./scripts/package.sh
./scripts/package.sh --check
# The certificate store on Windows (issue 16), in the Wine prefix and Windows build just made.
./scripts/test-windows-store.sh
# The broker as a Windows service (issue 15): sc create/start/stop on the packaged certless.exe.
./scripts/test-windows-service.sh

section "The seed's host: an ASP.NET Web API built against the NuGet package, recycled under load (Mono's ASP.NET)"
./scripts/test-aspnet.sh
