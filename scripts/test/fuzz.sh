#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that sees outside input (fuzz/, cargo-fuzz, nightly).
#
#   scripts/test/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     default: 60 s, every target
#
# Builds all targets once (libFuzzer + AddressSanitizer), then runs each for the given time,
# starting from its committed seed corpus (fuzz/corpus/TARGET, only read) plus what earlier
# runs found (fuzz/target/found/TARGET); CERTLESS_FUZZ_JOBS targets at a time (default 1).
# Prints libFuzzer's final stats line per target. Any crash, failed property, timeout or
# out-of-memory fails the script, which prints the input that did it and how to turn it into
# a regression test.
set -euo pipefail
cd "$(dirname "$0")/../../fuzz"

seconds=${1:-60}
shift || true
jobs=${CERTLESS_FUZZ_JOBS:-1}
if ! [[ $seconds =~ ^[0-9]+$ && $jobs =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: [CERTLESS_FUZZ_JOBS=N] scripts/test/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  exit 2
fi

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz.sh: needs the nightly toolchain (rustup toolchain list)" >&2
  exit 1
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# The lock file is committed: fail rather than resolve anew.
rustup run nightly cargo metadata --locked --format-version 1 >/dev/null

mapfile -t all < <(rustup run nightly cargo fuzz list)
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

# More codegen units: a much quicker build for slightly slower targets.
rustup run nightly cargo fuzz build --codegen-units 16

bin=target/x86_64-unknown-linux-gnu/release
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
  Reproduce: cd fuzz && cargo +nightly fuzz run $target ${input:-<input>}
  Minimise:  cd fuzz && cargo +nightly fuzz tmin $target ${input:-<input>}
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
