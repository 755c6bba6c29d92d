#!/usr/bin/env bash
# Debian packages the scripts need, installed when missing (CI starts from a fresh machine).
# Source it, then: apt_install PACKAGE...  (as root, or through sudo; quiet; only the missing ones)
# shellcheck shell=bash

apt_install() {
  local missing=() pkg sudo=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "installing ${missing[*]}" >&2
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  # Another apt (a second script, an unattended upgrade) may hold the lock for a while: wait for it
  # rather than fail at once.
  "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
}
