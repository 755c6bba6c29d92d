#!/usr/bin/env bash
# The Node package (node/): installs its dev tools from the committed lockfile, builds the addon
# with cargo into the shared target/ (debug, like the other suites), checks that the committed
# TypeScript declarations are what the sources generate, runs `node --test` against the emulator,
# and checks that `npm install ./node` works in a fresh directory.
# Needs Node >= 20 with npm, and Rust. Run from anywhere; CI runs it from scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

section() { printf '\n== %s ==\n' "$*"; }

section "node: toolchain"
node --version
npm --version

section "node: npm install (committed lockfile)"
# `npm ci` trips over @napi-rs/cli's optional platform packages (shared/TOOLCHAIN.md); `npm install`
# with the lockfile resolves the same versions. --ignore-scripts: our own install script would
# build a release addon, and the step below builds the debug one the tests use. --no-save: npm 11
# would otherwise rewrite the committed lockfile (adding @napi-rs/cli's optional wasm packages).
(cd node && npm install --no-save --ignore-scripts --no-audit --no-fund)

section "node: build the addon and the emulator (cargo, shared target/)"
# One cargo call for both, so their dependency tree is resolved and compiled once.
node node/scripts/build.js --types --with-cli --locked

section "node: generated declarations are committed"
# native.d.ts (napi-derive) and index.d.ts (tsc over index.js) must match what was just generated.
if ! git diff --exit-code -- node/native.d.ts node/index.d.ts; then
  echo "node/*.d.ts differ from the sources: run 'npm run types' in node/ and commit the result" >&2
  exit 1
fi
for f in node/native.d.ts node/index.d.ts; do
  git ls-files --error-unmatch "$f" >/dev/null 2>&1 || { echo "$f is not committed" >&2; exit 1; }
done

section "node: tests (node --test, against the emulator on loopback)"
# The shared cache's test starts Debian's redis-server itself.
# shellcheck source=scripts/lib/apt-env.sh
source scripts/lib/apt-env.sh
apt_install redis-server
# The telemetry test exports to the OTLP receiver (tests/otlp/receiver.py) in the shared test venv.
# shellcheck source=scripts/lib/otlp-env.sh
source scripts/lib/otlp-env.sh
otlp_install
(cd node && node --test --test-concurrency=1 test/)

section "node: npm install ./node in a fresh directory"
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
# Without the addon, only the package's install script can make the checks below pass.
rm -f node/certless.node
(
  cd "$fresh"
  npm init -y >/dev/null
  # The install script builds from source with cargo. The debug profile and the same package set
  # as above (-p certless-cli: same feature unification) make it reuse that build.
  CERTLESS_NODE_PROFILE=debug CERTLESS_NODE_CARGO_FLAGS="-p certless-cli --locked" \
    npm install --no-audit --no-fund --foreground-scripts "$repo/node"
  node -e "
    const c = require('certless');
    if (typeof c.Credential !== 'function') throw new Error('require: no Credential');
    try { new c.Credential({}); throw new Error('no error'); } catch (e) { if (e.code !== 103) throw e; }
    console.log('require(\"certless\") works, version', c.version);
  "
  node --input-type=module -e "
    import { Credential, ErrorCode } from 'certless';
    if (ErrorCode.MissingConfig !== 103 || typeof Credential.fromEnv !== 'function') throw new Error('import: wrong exports');
    console.log('import { Credential } from \"certless\" works');
  "
)
