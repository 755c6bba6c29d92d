#!/usr/bin/env bash
# Installs what the test suites need (on a fresh Debian machine) and runs every one of them.
# The README's test command; CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each section prints the seconds since the start; at exit (pass or fail) a table of how long each
# section took: CI's output is the only record of where its time goes.
SECTION_NAMES=()
SECTION_STARTS=()
section() {
  SECTION_NAMES+=("$*")
  SECTION_STARTS+=("$SECONDS")
  printf '\n== %s == (%d s since the start)\n' "$*" "$SECONDS"
}
section_summary() {
  local status=$? i end
  # A build started in the background (background_start), when this ends before it does.
  if [[ -n "${background_pid:-}" ]] && kill -0 "$background_pid" 2>/dev/null; then
    kill -- "-$background_pid" 2>/dev/null || kill "$background_pid" 2>/dev/null || true
  fi
  printf '\n== time per section (%s) ==\n' "$( ((status == 0)) && echo passed || echo "failed, exit status $status")"
  for i in "${!SECTION_NAMES[@]}"; do
    end=${SECTION_STARTS[i + 1]:-$SECONDS}
    printf '%6d s  %s%s\n' "$((end - SECTION_STARTS[i]))" "${SECTION_NAMES[i]}" \
      "$( ((status != 0 && i == ${#SECTION_NAMES[@]} - 1)) && echo '  <- failed here')"
  done
  printf '%6d s  in all\n' "$SECONDS"
}
trap section_summary EXIT

section "toolchain"
rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo --version

section "system packages, Rust targets, packaging tools: installing in the background"
# The Debian packages and rustup targets that the scripts below each install when missing
# (apt_install, need_rust_target), all in one apt-get update and one install, started now so that
# the downloads and dpkg overlap the Rust builds instead of stopping the run seven times later (a
# fresh CI machine has none of them; wine32:i386 alone took 145 s, BENCHMARKS.md). The scripts
# still install whatever is missing themselves: a package added to one of them and not here only
# costs time. The first section that needs them waits (prefetch_wait).
# shellcheck source=scripts/lib/apt-env.sh
source scripts/lib/apt-env.sh
ci_packages=(gcc libc6-dev binutils valgrind unzip curl zip nasm mingw-w64 wine64 wine
  mono-mcs mono-runtime mono-devel mono-xbuild nuget libmono-system-net-http4.0-cil
  libmono-system-web4.0-cil libmono-system-web-http4.0-cil libmono-system-web-http-webhost4.0-cil
  libmono-system-net-http-formatting4.0-cil libmono-system-configuration4.0-cil python3 redis-server)
command -v systemd-analyze >/dev/null || ci_packages+=(systemd)
prefetch_log="$(mktemp)"
prefetch() {
  local sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo -n)
  # In the background nobody can type a sudo password: then the scripts install in the foreground.
  "${sudo[@]}" true 2>/dev/null || { echo "prefetch: not root and no password-less sudo, skipped"; return 3; }
  # wine32:i386 (the 32-bit Wine of scripts/lib/wine-env.sh) needs dpkg's i386 architecture first.
  local wine32=()
  if ! dpkg-query -W -f='${Status}' wine32:i386 2>/dev/null | grep -q "install ok installed"; then
    dpkg --print-foreign-architectures | grep -qx i386 || "${sudo[@]}" dpkg --add-architecture i386
    wine32=(wine32:i386)
  fi
  # The i386 index has been inconsistent before (TOOLCHAIN.md): then at least the rest.
  apt_install "${ci_packages[@]}" "${wine32[@]}" ||
    { ((${#wine32[@]})) && echo "prefetch: again without wine32:i386" && apt_install "${ci_packages[@]}"; }
}
prefetch_start=$SECONDS
# Then the packaging's pinned build tools (maturin, ziglang, cargo-zigbuild, auditwheel: a venv that
# scripts/lib/package-env.sh makes once), downloaded now rather than when the packaging starts.
(prefetch && echo "prefetch: apt done" && source scripts/lib/package-env.sh && echo "prefetch: build tools in $TOOLS") \
  >"$prefetch_log" 2>&1 &
prefetch_pid=$!
# rustup's own downloads, beside apt's: the cross targets of the packaging.
(rustup target add x86_64-pc-windows-gnu i686-pc-windows-gnu aarch64-unknown-linux-gnu >"$prefetch_log.rustup" 2>&1 ||
  echo "prefetch: rustup target add failed (the packaging scripts add their targets themselves)" >>"$prefetch_log.rustup") &
prefetch_rustup_pid=$!
# Azurite, the Storage emulator the Azure SDK test runs (core/tests/azure_sdk.rs, which fails when it
# is missing), from npm into target/azurite, beside apt's downloads; the Rust tests wait for it. Its
# version and every dependency's are pinned by tests/azurite/package-lock.json (npm ci).
install_azurite() {
  mkdir -p target/azurite && cp tests/azurite/package.json tests/azurite/package-lock.json target/azurite/ &&
    npm ci --prefix target/azurite --no-audit --no-fund
}
azurite_log="$(mktemp)"
install_azurite >"$azurite_log" 2>&1 &
azurite_pid=$!
# The OTLP receiver's packages (tests/otlp/requirements.txt: opentelemetry-proto, protobuf) from PyPI
# into the test venv every suite shares (target/py-venv), beside the other downloads: the Rust tests
# are the first to export to the receiver, so they wait for it; the C/.NET, Python, Node and broker
# suites after them find it there (scripts/lib/otlp-env.sh).
# shellcheck source=scripts/lib/otlp-env.sh
source scripts/lib/otlp-env.sh
otlp_log="$(mktemp)"
otlp_install >"$otlp_log" 2>&1 &
otlp_pid=$!
prefetch_wait() {
  local status=0
  wait "$prefetch_pid" || status=$?
  wait "$prefetch_rustup_pid" || true
  cat "$prefetch_log" "$prefetch_log.rustup"
  rm -f "$prefetch_log" "$prefetch_log.rustup"
  echo "prefetch: finished $((SECONDS - prefetch_start)) s after it started (exit status $status; what is still missing, the scripts install)"
}

# Builds that a later section needs start early, in the background, when the sections before it
# leave much of the two cores idle: at nice 19 and idle I/O priority, so those sections get the
# machine whenever they want it. The later section then finds them done (or waits on cargo's lock
# for the rest). Nothing is built that was not built before, by the same commands; a failure in
# the background fails nothing (the later section builds again and reports it); if this script
# ends first, its EXIT trap ends the build's process group. One at a time:
#   background_start NAME COMMAND...    background_wait
background_priority=(nice -n 19)
if ionice -c 3 true 2>/dev/null; then background_priority+=(ionice -c 3); fi
# Its own session: no terminal for a sudo prompt to stop it on, one process group to end.
if command -v setsid >/dev/null; then background_priority=(setsid -w "${background_priority[@]}"); fi
background_pid=""
background_start() {
  background_name="$1"
  shift
  background_log="$(mktemp)"
  background_started=$SECONDS
  "${background_priority[@]}" "$@" >"$background_log" 2>&1 &
  background_pid=$!
}
background_wait() {
  local status=0
  wait "$background_pid" || status=$?
  background_pid=""
  tail -n 20 "$background_log"
  rm -f "$background_log"
  echo "$background_name: done $((SECONDS - background_started)) s after it started (exit status $status)"
}

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

section "lints (clippy) and the module graph"
# The fuzz targets' build (nightly, its own workspace and target dir: it shares nothing and waits on
# no lock of the builds here) from now on in the background: clippy and nextest's compiles leave it
# little, but the tests themselves, the doc tests and the demo leave idle cores, which it takes. The
# fuzzing section waits for the rest (its own build then finds everything fresh).
background_start "the fuzz targets' build" env CERTLESS_FUZZ_SANITIZER="${CERTLESS_FUZZ_SANITIZER:-none}" \
  ./scripts/test/fuzz.sh --build-only
cargo clippy --workspace --all-targets --features certless/test-hooks,certless/azure-core --locked -- -D warnings
# Dependencies inside core point one way (credential -> cache -> token, never back).
scripts/test/module-graph.py
# Every relative link of every markdown file (README, docs/, ARCHITECTURE.md) points at something.
scripts/test/check-links.py

section "crate docs (cargo doc, warnings as errors) and the crates.io packages"
# Right after clippy, whose checked dependencies both reuse. The docs as docs.rs builds them
# (azure-core on): a broken or private intra-doc link, a bare URL, ... fails. Then the four
# publishable crates packaged and checked together from their .crate files (the script says why
# not cargo package's own verification). BENCHMARKS.md, "CI time: the crate docs and the packages".
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --features certless/azure-core --locked
scripts/test/check-packages.sh

section "Rust tests (core, emulator, broker, CLI) against the emulator on loopback"
# test-hooks: lets the Azure Arc tests point the agent's key directory at the emulator's (test builds only).
# azure-core: certless as the Azure SDK for Rust's credential, and its test against Azurite.
# certless-py has no Rust tests, and its test binary would link libpython: its suite is pytest, below.
rust_tests=(--workspace --exclude certless-py --features certless/test-hooks,certless/azure-core --locked --no-fail-fast)
# The shared cache's tests start Debian's redis-server themselves (the prefetch above installs it;
# this waits for its lock when it is still running, then finds it there).
apt_install redis-server
wait "$azurite_pid" || echo "azurite: the install failed (the Azure SDK test says so)"
cat "$azurite_log"
rm -f "$azurite_log"
# The receiver's packages: a failed install fails here, with its output, rather than in every
# telemetry test. Run again in the foreground (all there: seconds) for CERTLESS_OTLP_PYTHON.
wait "$otlp_pid" || true
cat "$otlp_log"
rm -f "$otlp_log"
otlp_install
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run "${rust_tests[@]}"
else
  cargo test "${rust_tests[@]}"
fi

section "Rust doc tests"
# With the tests' features, the doc tests link the libraries nextest just built; without them cargo
# compiled certless once more for them alone (test-hooks only adds one variable to Azure Arc's key
# lookup, which no doc example sets; azure-core adds the Azure SDK credential and its example).
cargo test --workspace --exclude certless-py --features certless/test-hooks,certless/azure-core --locked --doc

section "the demo (README's main command)"
# Exactly the README's command, which is also the build of the CLI that every suite below shares
# (`cargo build -p certless-cli`). With --features certless/test-hooks it reused nothing: with
# -p certless-cli alone cargo resolves features apart from the workspace build above, so that was
# one more build of certless and the CLI, used by nothing else.
cargo run --locked -q -p certless-cli -- demo

section "fuzzing: every parser of outside input, briefly (libFuzzer on nightly, no ASan)"
# fuzz/ is its own workspace: the workspace-wide fmt above does not see it.
cargo fmt --manifest-path fuzz/Cargo.toml --check
background_wait
# Two targets at a time: one per core of the CI machine, which runs nothing else meanwhile.
# Without AddressSanitizer (the parsers are safe Rust): a third less to compile, and 10 s each
# without it run two to three times the inputs of 15 s with it (BENCHMARKS.md, "CI time:
# cargo-fuzz, the fuzz build and the aarch64 wheel"). `scripts/test/fuzz.sh` alone keeps ASan.
CERTLESS_FUZZ_JOBS=${CERTLESS_FUZZ_JOBS:-2} CERTLESS_FUZZ_SANITIZER=${CERTLESS_FUZZ_SANITIZER:-none} \
  ./scripts/test/fuzz.sh "${CERTLESS_FUZZ_SECONDS:-10}"

section "waiting for the background installs"
prefetch_wait

section "release builds for the packages: starting in the background, at the lowest priority"
# scripts/package.sh compiles three release targets first (Linux x86_64 for glibc 2.17, Windows x64,
# Windows x86: 667 of the release phase's ~1,080 crate units, BENCHMARKS.md), after the suites
# below, which leave much of the two cores idle (valgrind and Mono run one thread, pytest, node
# --test and the broker's clients mostly wait on loopback). The same builds, by package-env.sh's
# own functions, start now.
background_start "release builds of scripts/package.sh" bash -c 'source scripts/lib/package-env.sh &&
  build_linux_glibc217 && build_windows_x64 && build_windows_x86'

section "C ABI (header drift, C tests plain/ASAN/valgrind), .NET on Mono"
# The Windows DLLs are built once, in release, by the packaging below, which checks their imports
# and runs them under Wine: a debug cross-build here would compile both Windows targets twice.
CERTLESS_SKIP_WINDOWS=1 ./scripts/test/test-c-dotnet.sh

section "Python package: pip install ./py, pytest against the emulator"
./scripts/test/test-python.sh

section "Node package: build, generated declarations, node --test against the emulator, npm install ./node"
./scripts/test/test-node.sh

section "The broker (certless serve) seen by azure-identity, @azure/identity, the CLI and the bindings"
./scripts/test/test-serve.sh

section "waiting for the release builds started in the background"
background_wait

section "Packages: every artifact built once (scripts/package.sh), aarch64 only checked"
# Every artifact but the aarch64 wheel, which this x86_64 host cannot run anyway: its release cross
# build (thin LTO) was 175 crate units of its own. In its place `cargo check --release` of the
# extension for aarch64, which shares the release builds' build scripts and proc macros and
# generates no code (cold, alone, on an idle machine: 53 s against the wheel's 166 s); zig compiles
# ring's C and assembly for aarch64, so aarch64-only code that does not compile still fails CI.
# What it no longer proves (the link against glibc 2.17, auditwheel's manylinux_2_17_aarch64, the
# wheel itself), `scripts/package.sh` run outside CI does (BENCHMARKS.md, "CI time: cargo-fuzz,
# the fuzz build and the aarch64 wheel").
CERTLESS_AARCH64_CHECK_ONLY=1 ./scripts/package.sh

section "Packages: install checks, no cargo or rustc on PATH (Windows ones under Wine)"
# Meanwhile, in the background, the Windows store check's own release build: an example brings
# core's dev-dependencies (the emulator, criterion, rcgen) and with them other features of tokio,
# hyper, serde..., so it compiles 76 crate units the packages' Windows build does not share
# (BENCHMARKS.md), while the checks mostly wait on Wine, npm and pip.
background_start "the Windows store example's release build" scripts/test/test-windows-store.sh --build-only
./scripts/package.sh --check

section "The Windows certificate store under Wine"
background_wait
# The certificate store on Windows (issue 16), in the Wine prefix and Windows build just made.
./scripts/test/test-windows-store.sh

section "The broker as a Windows service under Wine"
# The broker as a Windows service (issue 15): sc create/start/stop on the packaged certless.exe.
./scripts/test/test-windows-service.sh

section "The seed's host: an ASP.NET Web API built against the NuGet package, recycled under load (Mono's ASP.NET)"
./scripts/test/test-aspnet.sh
