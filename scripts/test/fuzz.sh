#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that sees outside input (fuzz/: a cargo-fuzz project, built
# here by plain cargo on the nightly; libFuzzer).
#
#   scripts/test/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s, every target
#   scripts/test/fuzz.sh --build-only                          the build and nothing else
#                                                               (scripts/test.sh starts it early)
#
# Builds all targets once (libFuzzer + AddressSanitizer), then runs each for the given time,
# starting from its committed seed corpus (fuzz/corpus/TARGET, only read) plus what earlier
# runs found (fuzz/target/found/TARGET); CERTLESS_FUZZ_JOBS targets at a time (default 1).
# CERTLESS_FUZZ_SANITIZER=none builds without AddressSanitizer (cargo-fuzz's `-s none`), as CI
# does: about a third less to compile and three to four times the executions per second, for
# parsers in safe Rust; what it no longer catches, memory errors in the unsafe code of their
# dependencies and leaks, the default build does.
# Prints libFuzzer's final stats line per target. Any crash, failed property, timeout or
# out-of-memory fails the script, which prints the input that did it and how to turn it into
# a regression test.
set -euo pipefail
cd "$(dirname "$0")/../../fuzz"

build_only=0
if [[ "${1:-}" == --build-only ]]; then
  build_only=1
  shift
fi
seconds=${1:-60}
shift || true
jobs=${CERTLESS_FUZZ_JOBS:-1}
sanitizer=${CERTLESS_FUZZ_SANITIZER:-address}
if ! [[ $seconds =~ ^[0-9]+$ && $jobs =~ ^[1-9][0-9]*$ && $sanitizer =~ ^(address|none)$ ]]; then
  echo "usage: [CERTLESS_FUZZ_JOBS=N] [CERTLESS_FUZZ_SANITIZER=address|none]" \
    "scripts/test/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz.sh: needs the nightly toolchain (rustup toolchain list)" >&2
  exit 1
fi
# The targets: the package's binaries (what `cargo fuzz list` prints). The lock file is
# committed: fail rather than resolve anew.
mapfile -t all < <(rustup run nightly cargo metadata --locked --no-deps --format-version 1 |
  python3 -c 'import json, sys
for p in json.load(sys.stdin)["packages"]:
    print("\n".join(t["name"] for t in p["targets"] if "bin" in t["kind"]))')
if [ $# -gt 0 ]; then
  targets=("$@")
  for target in "${targets[@]}"; do
    if ! printf '%s\n' "${all[@]}" | grep -qx -- "$target"; then
      echo "fuzz.sh: no target '$target'; the targets: ${all[*]}" >&2
      exit 2
    fi
  done
else
  targets=("${all[@]}")
fi

# Exactly the build of `cargo fuzz build -s SANITIZER --codegen-units 16` (cargo-fuzz 0.13.2: its
# cargo arguments and RUSTFLAGS, read from its `-v` output and src/project.rs), by plain cargo: the
# same binaries in the same place, so `cargo fuzz run` (and `tmin`) with those options reuse this
# build (without --codegen-units 16, cargo-fuzz builds everything again at one codegen unit), and
# this script needs no cargo-fuzz, which a fresh CI machine compiled from source first (56 crates,
# 42 s on an idle machine: BENCHMARKS.md). libFuzzer comes from libfuzzer-sys, a dependency, either way. A newer
# cargo-fuzz with other flags only makes its own commands build once more.
# libFuzzer's coverage (8-bit counters, the PC table, comparisons), in cargo-fuzz's order: the
# order is part of cargo's fingerprint.
fuzz_rustflags=(
  -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table
  -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing
  -Cllvm-args=-simplifycfg-branch-fold-threshold=0
)
if [[ $sanitizer == address ]]; then fuzz_rustflags+=(-Zsanitizer=address); fi
# The stack depth; debug assertions (cargo-fuzz keeps them in release unless given -O); more
# codegen units than cargo-fuzz's 1: a much quicker build for slightly slower targets.
fuzz_rustflags+=(-Cllvm-args=-sanitizer-coverage-stack-depth -Cdebug-assertions -Ccodegen-units=16)
fuzz_options="-s $sanitizer --codegen-units 16"
triple=x86_64-unknown-linux-gnu
# --target: the flags then skip build scripts and proc macros (cargo-fuzz does the same).
RUSTFLAGS="${fuzz_rustflags[*]}${RUSTFLAGS:+ $RUSTFLAGS}" rustup run nightly cargo build --locked \
  --target "$triple" --release --config 'profile.release.debug="line-tables-only"' --bins
if ((build_only)); then exit 0; fi

bin=${CARGO_TARGET_DIR:-target}/$triple/release
mkdir -p target/logs

run_target() {
  local target=$1 status=0
  mkdir -p "target/found/$target" "artifacts/$target"
  # New inputs go to the first directory; the committed corpus stays as it is.
  "$bin/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="artifacts/$target/" \
    "target/found/$target" "corpus/$target" >"target/logs/$target.log" 2>&1 || status=$?
  echo "$status" >"target/logs/$target.status"
}

running=0
for target in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_target "$target" &
  running=$((running + 1))
done
wait

failed=()
printf '%-14s %s\n' target "final libFuzzer stats (${seconds} s each)"
for target in "${targets[@]}"; do
  log=target/logs/$target.log
  status=$(cat "target/logs/$target.status")
  printf '%-14s %s\n' "$target" "$(grep -E '^#[0-9]+' "$log" | tail -n 1)"
  [ "$status" -eq 0 ] && continue
  failed+=("$target")
  input=$(grep -oE "artifacts/$target/[^ ]+" "$log" | tail -n 1 || true)
  echo "---- $target FAILED (exit $status); the end of fuzz/$log:"
  # The panic or sanitizer report, without libFuzzer's progress lines and stack frames.
  grep -vE '^#[0-9]+|^ +[0-9]+: |^ +at |^ +#[0-9]+ 0x' "$log" | tail -n 30
  cat <<EOF
---- The input: fuzz/${input:-artifacts/$target/ (see the log)}
  Reproduce: cd fuzz && cargo +nightly fuzz run $fuzz_options $target ${input:-<input>}
  Minimise:  cd fuzz && cargo +nightly fuzz tmin $fuzz_options $target ${input:-<input>}
  Then fix the defect in core, add a #[test] in core that feeds this input to the function the
  target's doc comment names and checks the property that failed (inline the bytes, or build
  the input in the test), and copy the input to fuzz/corpus/$target/ so that every fuzz run
  replays it.
EOF
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} target(s) ran ${seconds} s each without a failure"
