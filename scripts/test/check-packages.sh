#!/usr/bin/env bash
# Packages every crate this workspace publishes (certless, certless-emulator, certless-broker,
# certless-cli) and checks that the packages, as crates.io would hand them out, compile together.
#
# Why not `cargo package`'s own verification: it builds each package alone, with its own feature
# set, so the shared dependencies compile up to four times (hyper, reqwest, redis, certless...): 148
# crate builds and 4 min 50 s on a warm target dir (BENCHMARKS.md, "CI time: the crate docs and the
# packages"). Here the .crate files are unpacked side by side, tied to each other with
# [patch.crates-io] (what a registry would do), and checked as one workspace: what cargo's
# verification builds, every library and binary, with the feature docs.rs documents. Most
# dependencies are the ones clippy just checked (BENCHMARKS.md says which are not). Not the tests,
# examples and benches: they are the repository's (they read files under docs/ and tests/, and may
# share helpers across crates by #[path]) and a package need not build them. That still
# catches what packaging breaks: a file the build needs left out of a package (an
# include_str! outside the crate, an ignored file), a manifest that only works in the workspace,
# a path dependency without a version.
#
#   scripts/test/check-packages.sh      # uses $CARGO_TARGET_DIR (default target/)
set -euo pipefail
cd "$(dirname "$0")/../.."

crates=(certless certless-emulator certless-broker certless-cli)
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)"
target="${CARGO_TARGET_DIR:-target}"
packages="$target/package"

args=()
for crate in "${crates[@]}"; do args+=(-p "$crate"); done
# --allow-dirty: a local run checks the working tree (CI's is a clean checkout).
cargo package "${args[@]}" --locked --no-verify --allow-dirty

# Each package carries its license texts and its README (crates.io shows it).
for crate in "${crates[@]}"; do
  list="$(tar -tzf "$packages/$crate-$version.crate")"
  for file in LICENSE-APACHE LICENSE-MIT README.md; do
    grep -qx "$crate-$version/$file" <<<"$list" || { echo "$crate-$version.crate has no $file" >&2; exit 1; }
  done
done

check="$packages/check"
rm -rf "$check"
mkdir -p "$check"
patches=""
members=""
for crate in "${crates[@]}"; do
  # -m: files dated now. A .crate dates every file 2006-07-24, so cargo would take last run's
  # check of an unpacked package as fresh however its sources changed.
  tar -xzmf "$packages/$crate-$version.crate" -C "$check"
  members+="\"$crate-$version\", "
  patches+="$crate = { path = \"$crate-$version\" }"$'\n'
done
cat >"$check/Cargo.toml" <<TOML
[workspace]
resolver = "3"
members = [${members%, }]

[patch.crates-io]
$patches
TOML
# The workspace's profiles (aws-lc-sys optimised in debug builds): otherwise its C compiles again.
sed -n '/^\[profile\./,$p' Cargo.toml >>"$check/Cargo.toml"
# The workspace's lock file: the same versions as every other build (the entries of the crates
# not packaged here are dropped, nothing is upgraded).
cp Cargo.lock "$check/Cargo.lock"
CARGO_TARGET_DIR="$target" cargo check --manifest-path "$check/Cargo.toml" --workspace \
  --features certless/azure-core --offline
