#!/usr/bin/env bash
# Prints certless's version, the one place every artifact takes it from: the workspace
# Cargo.toml's [workspace.package] version. No cargo needed.
set -euo pipefail
cd "$(dirname "$0")/../.."
version="$(awk '
  /^\[/ { section = $0; next }
  section == "[workspace.package]" && $1 == "version" { gsub(/[" ]/, "", $3); print $3; exit }
' Cargo.toml)"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.-]+)?$ ]] || {
  echo "no [workspace.package] version in Cargo.toml (found '$version')" >&2
  exit 1
}
echo "$version"
