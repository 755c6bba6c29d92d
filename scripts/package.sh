#!/usr/bin/env bash
# Every artifact users install without a Rust toolchain (README "Install", docs/packaging.md),
# into dist/, all of one version (the workspace Cargo.toml's):
#
#   scripts/package.sh           builds: the native libraries and CLIs (package/package-native.sh), the npm
#                                packages (package/package-node.sh), the NuGet package
#                                (package/package-dotnet.sh), the Python wheels and sdist
#                                (package/package-python.sh); dist/SHA256SUMS
#   scripts/package.sh --check   installs each in a clean environment with no cargo or rustc on PATH
#                                and gets a token from the emulator with it (Windows ones under Wine)
#
# Each Rust target is compiled once (scripts/lib/package-env.sh): the native script builds the C
# library, the CLI and the Node addon together per target, and the others reuse them. Every step
# runs even when an earlier one failed; a summary closes the output, and the exit status says
# whether all passed. Environment: as the scripts it runs (CARGO_TARGET_DIR, CERTLESS_SKIP_AARCH64,
# CERTLESS_AARCH64_CHECK_ONLY).
set -uo pipefail
cd "$(dirname "$0")/.."

mode="${1:-}"
case "$mode" in
  "" | --check) ;;
  *) echo "usage: scripts/package.sh [--check]" >&2; exit 2 ;;
esac

# shellcheck source=scripts/lib/steps-env.sh
source scripts/lib/steps-env.sh

if [[ -z "$mode" ]]; then
  step "native libraries and CLIs" scripts/package/package-native.sh
  step "npm packages" scripts/package/package-node.sh
  step "NuGet package" scripts/package/package-dotnet.sh
  step "Python wheels and sdist" scripts/package/package-python.sh
  # Over everything every script put into dist/.
  step "dist/SHA256SUMS" bash -c 'cd dist && find . -type f ! -name SHA256SUMS -printf "%P\n" |
    LC_ALL=C sort | xargs -r -d "\n" sha256sum >SHA256SUMS'
else
  step "native libraries and CLIs: install checks" scripts/package/package-native.sh --check
  step "npm packages: install checks" scripts/package/package-node.sh --check
  step "NuGet package: install check" scripts/package/package-dotnet.sh --check
  step "Python wheels and sdist: install checks" scripts/package/package-python.sh --check
fi

steps_summary "packages${mode:+ $mode}"
