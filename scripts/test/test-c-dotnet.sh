#!/usr/bin/env bash
# The C ABI and .NET suites (issue 4), self-installing on a fresh Debian bookworm machine:
#   1. header drift check (pinned cbindgen), the .NET drop-in's drift check, the ffi crate's unit tests;
#   2. C tests compiled with -Wall -Wextra -Werror -pedantic against include/certless.h, run
#      against the emulator on loopback: plain, under ASAN+UBSan, and under valgrind;
#   3. the .NET wrapper and its tests compiled with mcs (C# 7.2) and run on mono;
#   4. the Windows cross-build: certless.dll for x86_64 and i686 (mingw-w64).
# Every step runs even when an earlier one failed; a summary closes the output.
# CERTLESS_SKIP_WINDOWS=1 skips step 4 (for a quick local loop).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
HOST_DIR="$TARGET_DIR/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}debug"
OUT="$TARGET_DIR/c-dotnet"
mkdir -p "$OUT"

# shellcheck source=scripts/lib/steps-env.sh
source scripts/lib/steps-env.sh

# ---------------------------------------------------------------------------------------------
section "tools"
# shellcheck source=scripts/lib/apt-env.sh
source scripts/lib/apt-env.sh
# redis-server: the .NET suite's shared-cache test starts one itself.
wanted=(gcc mono-mcs mono-runtime libmono-system-net-http4.0-cil valgrind redis-server)
[[ "${CERTLESS_SKIP_WINDOWS:-}" == 1 ]] || wanted+=(mingw-w64)
apt_install "${wanted[@]}"
if [[ "${CERTLESS_SKIP_WINDOWS:-}" != 1 ]]; then
  installed_targets="$(rustup target list --installed)"
  for t in x86_64-pc-windows-gnu i686-pc-windows-gnu; do
    grep -qx "$t" <<<"$installed_targets" || rustup target add "$t"
  done
fi
gcc --version | head -1
mono --version | head -1
valgrind --version

# ---------------------------------------------------------------------------------------------
step "header include/certless.h is what cbindgen generates" scripts/gen-header.sh --check
step "drop-in dotnet/Certless.cs is what scripts/gen-dotnet-dropin.sh makes of dotnet/src" scripts/gen-dotnet-dropin.sh --check
# The drop-in merges every file's usings, which would hide one a file lacks: dotnet/src compiles as it is too.
step "dotnet/src compiles as it is (C# 7.2)" mcs -langversion:7.2 -warnaserror+ -target:library -r:System.Net.Http.dll \
  -out:"$OUT/dotnet-src.dll" dotnet/src/*.cs dotnet/CertlessAuthenticationHandler.cs

build_native() {
  # One build of the library (cdylib) and the emulator, reused by every step below.
  cargo build --locked -p certless-ffi -p certless-cli &&
    test -f "$HOST_DIR/libcertless.so" && test -x "$HOST_DIR/certless"
}
step "build libcertless and the emulator" build_native
# With -p certless-cli (which has no library: --lib runs certless-ffi's tests alone) cargo resolves
# features as for the build above and reuses it; -p certless-ffi alone compiled certless and five
# of its dependencies once more.
step "certless-ffi unit tests (status codes, version macros)" cargo test --locked -q -p certless-ffi -p certless-cli --lib

# ---------------------------------------------------------------------------------------------
EMULATOR_PID=""
stop_emulator() {
  if [[ -n "$EMULATOR_PID" ]]; then
    kill "$EMULATOR_PID" 2>/dev/null
    wait "$EMULATOR_PID" 2>/dev/null
    EMULATOR_PID=""
  fi
}
# shellcheck source=scripts/lib/otlp-env.sh
source scripts/lib/otlp-env.sh
trap 'stop_emulator; otlp_receiver_stop' EXIT

start_emulator() {
  local ready="$OUT/emulator.json" i
  rm -f "$ready"
  # With https: the client environment then names the https authority, so every exchange goes
  # through rustls (ring) and the emulator's CA, as a real one goes through TLS.
  "$HOST_DIR/certless" emulator --https-port 0 --state-dir "$OUT/emulator-state" --ready-file "$ready" \
    >"$OUT/emulator.log" 2>&1 &
  EMULATOR_PID=$!
  for ((i = 0; i < 300; i++)); do
    [[ -s "$ready" ]] && break
    kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$OUT/emulator.log"; return 1; }
    sleep 0.1
  done
  [[ -s "$ready" ]] || { echo "the emulator did not get ready"; cat "$OUT/emulator.log"; return 1; }
  # Only the emulator's environment may select a managed-identity source or an authority.
  unset IDENTITY_ENDPOINT IDENTITY_HEADER IDENTITY_SERVER_THUMBPRINT MSI_ENDPOINT MSI_SECRET IMDS_ENDPOINT \
    AZURE_FEDERATED_TOKEN_FILE CERTLESS_MANAGED_IDENTITY_SOURCE CERTLESS_MANAGED_IDENTITY_OBJECT_ID \
    CERTLESS_MANAGED_IDENTITY_RESOURCE_ID CERTLESS_TOKEN_EXCHANGE_AUDIENCE CERTLESS_CA_FILE
  export NO_PROXY="127.0.0.1,localhost${NO_PROXY:+,$NO_PROXY}" no_proxy="127.0.0.1,localhost${no_proxy:+,$no_proxy}"
  # The ready file is one line of JSON; its "env" object holds "NAME":"value" pairs.
  local pair name value
  while IFS= read -r pair || [[ -n "$pair" ]]; do
    name="${pair%%\":*}"; name="${name#\"}"
    value="${pair#*\":\"}"; value="${value%\"}"
    [[ "$name" =~ ^[A-Z_][A-Z0-9_]*$ ]] && export "$name=$value"
  done < <(sed -e 's/.*"env":{\([^}]*\)}.*/\1/' "$ready" | tr ',' '\n')
  CERTLESS_TEST_EMULATOR_URL="$(grep -o '"http_url":"[^"]*"' "$ready" | sed 's/.*":"//; s/"$//')"
  export CERTLESS_TEST_EMULATOR_URL
  CERTLESS_CA_FILE="$(grep -o '"ca_pem_path":"[^"]*"' "$ready" | sed 's/.*":"//; s/"$//')"
  export CERTLESS_CA_FILE
  echo "emulator at $CERTLESS_TEST_EMULATOR_URL (pid $EMULATOR_PID)"
  [[ -n "${AZURE_TENANT_ID:-}" && -n "${AZURE_POD_IDENTITY_AUTHORITY_HOST:-}" && -f "$CERTLESS_CA_FILE" ]]
}
step "start the emulator" start_emulator
# The OTLP receiver the telemetry tests export to (test_telemetry.c, TelemetryTests.cs);
# CERTLESS_TEST_OTLP_URL names it, and test_emulator.c checks that it gets nothing.
step "start the OTLP receiver (tests/otlp/receiver.py)" otlp_receiver_start "$OUT"
# with_emulator COMMAND...: the emulator must still be running (on a shared machine another
# session's cleanup may have ended it); say so loudly and restart it rather than fail every test.
with_emulator() {
  if [[ -z "$EMULATOR_PID" ]] || ! kill -0 "$EMULATOR_PID" 2>/dev/null; then
    local status=none
    if [[ -n "$EMULATOR_PID" ]]; then wait "$EMULATOR_PID" 2>/dev/null; status=$?; fi
    echo "WARNING: the emulator (pid ${EMULATOR_PID:-none}) is not running (exit status $status); its log ends with:"
    tail -n 5 "$OUT/emulator.log" 2>/dev/null
    EMULATOR_PID=""
    start_emulator || return 1
  fi
  "$@"
}

# ---------------------------------------------------------------------------------------------
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -g -I"$ROOT/include")
LINK=(-L"$HOST_DIR" -lcertless -lpthread -Wl,-rpath,"$HOST_DIR")
C_TESTS=(test_offline test_emulator test_sigpipe test_unload test_telemetry)

compile_c() {
  local t
  for t in "${C_TESTS[@]}"; do
    gcc "${CFLAGS[@]}" -O1 "tests/c/$t.c" -o "$OUT/$t" "${LINK[@]}" || return 1
    gcc "${CFLAGS[@]}" -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
      "tests/c/$t.c" -o "$OUT/$t-asan" "${LINK[@]}" || return 1
  done
}
run_c() { # run_c SUFFIX [WRAPPER...]
  local suffix="$1" t ok=0
  shift
  for t in "${C_TESTS[@]}"; do
    "$@" "$OUT/$t$suffix" || ok=1
  done
  return $ok
}
step "C tests compile with -Wall -Wextra -Werror -pedantic" compile_c
step "C tests" with_emulator run_c ""
step "C tests under AddressSanitizer + UBSan" \
  with_emulator run_c -asan env ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Under valgrind (~50x slower) loading the system trust store for every credential dominates the
# run: trust only the emulator's CA there (SSL_CERT_FILE/SSL_CERT_DIR, as rustls-native-certs reads
# them). And Entra is reached over http there: valgrind cannot follow ring's assembly (AES-GCM,
# constant-time compares) and reports its results as uninitialised; TLS runs in the plain and
# sanitizer runs above.
mkdir -p "$OUT/no-system-certs"
run_c_valgrind() {
  run_c "" env SSL_CERT_FILE="$CERTLESS_CA_FILE" SSL_CERT_DIR="$OUT/no-system-certs" \
    AZURE_AUTHORITY_HOST="$CERTLESS_TEST_EMULATOR_URL" \
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
}
step "C tests under valgrind (no errors, no definite leaks)" with_emulator run_c_valgrind

# ---------------------------------------------------------------------------------------------
compile_dotnet() {
  local shared=(dotnet/tests/TestRunner.cs dotnet/tests/EmulatorAdmin.cs)
  mkdir -p "$OUT/dotnet" &&
    mcs -langversion:7.2 -warnaserror+ -target:library -doc:"$OUT/dotnet/Certless.xml" -r:System.Net.Http.dll \
      -out:"$OUT/dotnet/Certless.dll" dotnet/Certless.cs dotnet/CertlessAuthenticationHandler.cs &&
    mcs -langversion:7.2 -warnaserror+ -r:"$OUT/dotnet/Certless.dll" -r:System.Core.dll \
      -out:"$OUT/dotnet/CertlessTests.exe" dotnet/tests/CertlessTests.cs "${shared[@]}" &&
    mcs -langversion:7.2 -warnaserror+ -r:"$OUT/dotnet/Certless.dll" -r:System.Core.dll -r:System.Net.Http.dll \
      -out:"$OUT/dotnet/HandlerTests.exe" dotnet/tests/HandlerTests.cs "${shared[@]}" &&
    mcs -langversion:7.2 -warnaserror+ -r:"$OUT/dotnet/Certless.dll" -r:System.Core.dll \
      -out:"$OUT/dotnet/RecycleTests.exe" dotnet/tests/RecycleTests.cs "${shared[@]}" &&
    mcs -langversion:7.2 -warnaserror+ -r:"$OUT/dotnet/Certless.dll" -r:System.Core.dll \
      -out:"$OUT/dotnet/TelemetryTests.exe" dotnet/tests/TelemetryTests.cs "${shared[@]}" &&
    mcs -langversion:7.2 -warnaserror+ -r:"$OUT/dotnet/Certless.dll" \
      -out:"$OUT/dotnet/NoLibraryTests.exe" dotnet/tests/NoLibraryTests.cs dotnet/tests/TestRunner.cs
}
step ".NET wrapper and tests compile with mcs (C# 7.2)" compile_dotnet
run_dotnet() {
  # A hang (a request that never completes, a runtime that cannot exit) fails the step instead
  # of stalling CI; the tests take seconds.
  LD_LIBRARY_PATH="$HOST_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    timeout --kill-after=10 120 mono --debug "$OUT/dotnet/CertlessTests.exe"
}
step ".NET tests on mono" with_emulator run_dotnet
run_dotnet_handler() {
  LD_LIBRARY_PATH="$HOST_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    timeout --kill-after=10 120 mono --debug "$OUT/dotnet/HandlerTests.exe"
}
step ".NET HttpClient handler tests on mono (a local resource sends claims challenges)" with_emulator run_dotnet_handler
run_dotnet_recycle() {
  # IIS's recycle in one process: AppDomains unloaded with requests in flight and loggers set, 50
  # times; a hang (an AppDomain that cannot unload) fails the step instead of stalling CI.
  LD_LIBRARY_PATH="$HOST_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    timeout --kill-after=10 300 mono --debug "$OUT/dotnet/RecycleTests.exe" 50
}
step ".NET AppDomain recycles with requests in flight and loggers set (IIS's recycle, on mono)" with_emulator run_dotnet_recycle
run_dotnet_telemetry() {
  # Telemetry is read from the environment once per process: this one exports to the receiver, at
  # short intervals; its children (the exit's flush, telemetry off) change what they need.
  LD_LIBRARY_PATH="$HOST_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OTEL_EXPORTER_OTLP_ENDPOINT="$CERTLESS_TEST_OTLP_URL" \
    OTEL_SERVICE_NAME=certless-dotnet-test OTEL_METRIC_EXPORT_INTERVAL=200 OTEL_BSP_SCHEDULE_DELAY=100 \
    timeout --kill-after=10 300 mono --debug "$OUT/dotnet/TelemetryTests.exe"
}
step ".NET telemetry on mono (OTLP to the receiver: metrics, spans, traceparent, the flush at exit, off)" \
  with_emulator run_dotnet_telemetry
run_dotnet_without_library() {
  # No LD_LIBRARY_PATH: libcertless.so is nowhere Mono looks.
  env -u LD_LIBRARY_PATH timeout --kill-after=10 60 mono --debug "$OUT/dotnet/NoLibraryTests.exe"
}
step ".NET without its native library: an exception that says where to put it" run_dotnet_without_library
stop_emulator

# ---------------------------------------------------------------------------------------------
windows_dll() { # windows_dll TRIPLE OBJDUMP
  local triple="$1" objdump="$2" dll
  dll="$TARGET_DIR/$triple/debug/certless.dll"
  cargo build --locked -q -p certless-ffi --target "$triple" || return 1
  [[ -f "$dll" ]] || { echo "$dll was not produced"; return 1; }
  # It is a DLL of the right machine that exports the C ABI.
  # It is a DLL of the right machine, exports the C ABI, and needs no MinGW runtime DLL beside it
  # (libgcc_s_*, libwinpthread-1, libstdc++): users copy certless.dll alone.
  local headers
  headers="$("$objdump" -f -p "$dll")" || return 1
  grep -E "file format (pei-x86-64|pei-i386)" <<<"$headers" &&
    grep -q "certless_credential_get_token_async" <<<"$headers" &&
    ! grep -iE "DLL Name: (libgcc|libwinpthread|libstdc)" <<<"$headers" &&
    echo "$dll exports the C ABI and imports only Windows system DLLs ($(stat -c %s "$dll") bytes)"
}
if [[ "${CERTLESS_SKIP_WINDOWS:-}" != 1 ]]; then
  step "Windows cross-build x86_64-pc-windows-gnu links certless.dll" windows_dll x86_64-pc-windows-gnu x86_64-w64-mingw32-objdump
  step "Windows cross-build i686-pc-windows-gnu links certless.dll" windows_dll i686-pc-windows-gnu i686-w64-mingw32-objdump
fi

# ---------------------------------------------------------------------------------------------
steps_summary c-dotnet
