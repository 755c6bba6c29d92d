#!/usr/bin/env bash
# The seed user's host (issue 19): an ASP.NET Web API on .NET Framework, built the way Visual Studio
# builds it (an old-style .csproj, packages.config, Web.config, Global.asax) with xbuild against the
# NuGet package in dist/ (its .targets copying the native libraries), hosted by the ASP.NET runtime of
# Mono in tests/aspnet/Host (a stand-in for IIS: one process, the application in an AppDomain that
# ASP.NET unloads and restarts when Web.config or bin\ changes), serving a controller that reads a
# SharePoint list from the emulator's SharePoint Online stand-in through CertlessAuthenticationHandler.
# tests/aspnet/drive.py then runs the cold start, recycles under load, a site never granted, a claims
# challenge and 50 recycles in a row. Needs dist/ from scripts/package.sh (the package and the Linux CLI,
# which is the emulator).
#
#   scripts/test/test-aspnet.sh [CYCLES]     (default 50)
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ "$TARGET_DIR" == /* ]] || TARGET_DIR="$ROOT/$TARGET_DIR"
DIST="$ROOT/dist"
VERSION="$(scripts/package/version.sh)" || exit 1
NUPKG="$DIST/Certless.$VERSION.nupkg"
CLI="$DIST/certless-$VERSION-linux-x64"
WORK="$TARGET_DIR/aspnet"
CYCLES="${1:-50}"

# shellcheck source=scripts/lib/steps-env.sh
source scripts/lib/steps-env.sh
# shellcheck source=scripts/lib/apt-env.sh
source scripts/lib/apt-env.sh
# shellcheck source=scripts/lib/emulator-env.sh
source scripts/lib/emulator-env.sh

HOST_PID=""
stop_all() {
  if [[ -n "$HOST_PID" ]]; then
    { exec 9>&-; } 2>/dev/null # closing its stdin asks the host to stop
    kill "$HOST_PID" 2>/dev/null
    wait "$HOST_PID" 2>/dev/null
    HOST_PID=""
  fi
  emulator_stop
}
trap stop_all EXIT

section "tools"
tools() {
  apt_install mono-devel mono-xbuild nuget libmono-system-web4.0-cil libmono-system-web-http4.0-cil \
    libmono-system-web-http-webhost4.0-cil libmono-system-net-http-formatting4.0-cil \
    libmono-system-net-http4.0-cil libmono-system-configuration4.0-cil python3 || return 1
  [[ -f "$NUPKG" ]] || { echo "$NUPKG is missing: run scripts/package.sh first"; return 1; }
  [[ -x "$CLI" ]] || { echo "$CLI (the emulator) is missing: run scripts/package.sh first"; return 1; }
  mono --version | head -1
}
step "Mono's ASP.NET and Web API, xbuild, nuget; the package from dist/" tools

# The site's Web.config as deployed, with its SharePoint site. Not with the host's WholeRequests module
# (AspNetHost.cs): with it Mono crashed at unloads far more often (16 crashes in 224 recycles, against 1 in 80
# and 2 in 55 without it, 2026-12-07), so the pipeline's lost request stays a 504 with a thread dump.
deploy_config() {
  sed -e "s|@SHAREPOINT_SITE@|$1|" "$WORK/WebApi/Web.config.in" >"$WORK/WebApi/Web.config"
}

build_site() {
  rm -rf "$WORK" && mkdir -p "$WORK/feed" && cp "$NUPKG" "$WORK/feed/" || return 1
  cp -r tests/aspnet/WebApi "$WORK/WebApi" || return 1
  local app="$WORK/WebApi" f
  for f in packages.config WebApi.csproj; do
    sed "s/@VERSION@/$VERSION/g" "$app/$f.in" >"$app/$f" && rm "$app/$f.in" || return 1
  done
  (cd "$app" && HOME="$WORK/home" nuget install packages.config -Source "$WORK/feed" -OutputDirectory ../packages \
    -NonInteractive) || return 1
  # Web.config needs the emulator's address: written when it runs (start_site).
  deploy_config http://placeholder || return 1
  (cd "$app" && xbuild /nologo /verbosity:minimal /p:Configuration=Release WebApi.csproj) || return 1
  for f in CrmBridge.dll Certless.dll x64/certless.dll x86/certless.dll libcertless.so; do
    [[ -f "$app/bin/$f" ]] || { echo "bin/$f is missing after the build"; return 1; }
  done
  # The host's Runner type is loaded into the application's AppDomain from its bin\, as ASP.NET requires.
  mcs -langversion:7.2 -warnaserror+ -r:System.Web.dll -out:"$app/bin/AspNetHost.exe" tests/aspnet/Host/AspNetHost.cs &&
    printf 'namespace CrmBridge.Deployed { public static class Build { public const string Stamp = "%s"; } }\n' "$(date +%s)" \
      >"$WORK/Deployed.cs" &&
    mcs -target:library -out:"$WORK/Deployed.dll" "$WORK/Deployed.cs"
}
step "the Web API site builds with xbuild against the NuGet package (packages.config)" build_site

start_site() {
  emulator_start "$CLI" "$WORK/emulator" --https-port 0 || return 1
  local app="$WORK/WebApi" site="$CERTLESS_TEST_EMULATOR_URL/sharepoint/contoso.sharepoint.com/sites/crm"
  deploy_config "$site" || return 1
  # The app may read and write the list on site crm (a Sites.Selected grant, made as Graph makes it);
  # site finance is granted to nobody.
  curl -sf -X POST -H 'Content-Type: application/json' "$CERTLESS_TEST_EMULATOR_URL/_emulator/sharepoint/grants" \
    -d "{\"site\":\"contoso.sharepoint.com/sites/crm\",\"app_id\":\"$AZURE_CLIENT_ID\",\"roles\":[\"write\"]}" || return 1
  # The application pool's environment: the emulator's managed identity and app registration.
  rm -f "$WORK/host.url"
  mkfifo "$WORK/host.in" 2>/dev/null || true
  mono --debug "$app/bin/AspNetHost.exe" "$WORK/host.url" "$app" <"$WORK/host.in" >"$WORK/host.log" 2>&1 &
  HOST_PID=$!
  exec 9>"$WORK/host.in"
  local i
  for ((i = 0; i < 600; i++)); do
    [[ -s "$WORK/host.url" ]] && break
    kill -0 "$HOST_PID" 2>/dev/null || { cat "$WORK/host.log"; return 1; }
    sleep 0.1
  done
  [[ -s "$WORK/host.url" ]] || { echo "the host did not start"; cat "$WORK/host.log"; return 1; }
  echo "site at $(cat "$WORK/host.url") (host pid $HOST_PID)"
}
step "the site runs in the ASP.NET host, its environment the emulator's managed identity" start_site

drive() {
  local status
  CERTLESS_TEST_DEPLOY_DLL="$WORK/Deployed.dll" \
    python3 tests/aspnet/drive.py "$(cat "$WORK/host.url")" "$CERTLESS_TEST_EMULATOR_URL" "$WORK/WebApi" "$HOST_PID" "$CYCLES"
  status=$?
  ((status == 0)) || show_thread_dumps
  if ! kill -0 "$HOST_PID" 2>/dev/null; then
    echo "the host process died; its log ends with:"
    tail -n 30 "$WORK/host.log"
    return 1
  fi
  return $status
}
# drive.py sends the host SIGQUIT when a request hangs or fails: Mono writes a dump of its managed threads to
# the host's log. The threads a request passes through (listener, remoting, ASP.NET, the site, certless).
show_thread_dumps() {
  grep -q "^Full thread dump:" "$WORK/host.log" || return 0
  echo "the host's threads when drive.py asked (the whole log: $WORK/host.log):"
  python3 tests/aspnet/thread_dumps.py "$WORK/host.log"
}
# Mono 6.8's own defect (docs/windows-iis.md, "Known problem"): its ASP.NET runtime sometimes dies in
# native code while freeing an unloaded AppDomain, with no certless frame involved (a site that only
# calls libc's getpid through a DllImport does it too, and the code before a change crashes as often as
# after it). Such a crash, and only that (Mono's native crash report in the host's log), gets the whole
# drive again in a new host, said loudly, at most seven times; an eighth crash, or any other failure,
# fails. On 2026-12-07 the defect struck about three drives in five on this machine, and once five
# drives in a row (at three in five, eight attempts all crash about once in sixty runs; issue: find out
# whether certless adds to it, with a control site that never calls it).
mono_crashed() {
  ! kill -0 "$HOST_PID" 2>/dev/null && grep -q "Native Crash Reporting" "$WORK/host.log"
}
drive_again_after_a_mono_crash() {
  local attempt
  local attempts=8
  for ((attempt = 1; attempt <= attempts; attempt++)); do
    drive && return 0
    mono_crashed && ((attempt < attempts)) || return 1
    echo "MONO CRASHED in native code (attempt $attempt; its report is in host-crashed-$attempt.log; Mono's"
    echo "known defect at AppDomain unloads looks like this): the whole drive runs again in a new host"
    cp "$WORK/host.log" "$WORK/host-crashed-$attempt.log"
    stop_all
    start_site || return 1
  done
}
step "cold start, recycles under load, a site never granted, a claims challenge, $CYCLES recycles" \
  drive_again_after_a_mono_crash
stop_all

steps_summary aspnet
