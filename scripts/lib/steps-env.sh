#!/usr/bin/env bash
# Steps that all run, each recorded PASS or FAIL with its duration, and a summary at the end: for
# the scripts whose every check should report even when an earlier one failed. Source it, then
#   section TITLE...            prints a section heading
#   step NAME COMMAND...        runs COMMAND under the heading NAME and records how it went
#   steps_summary LABEL         prints the record and "LABEL: N passed, M failed"; fails if any failed
# shellcheck shell=bash

RESULTS=()
PASSED=0
FAILED=0

section() { printf '\n== %s ==\n' "$*"; }

step() {
  local name="$1" start=$SECONDS
  shift
  section "$name"
  if "$@"; then
    RESULTS+=("PASS  $name ($((SECONDS - start)) s)")
    PASSED=$((PASSED + 1))
  else
    RESULTS+=("FAIL  $name ($((SECONDS - start)) s)")
    FAILED=$((FAILED + 1))
  fi
}

steps_summary() {
  section "summary ($1)"
  printf '%s\n' "${RESULTS[@]}"
  echo "$1: $PASSED passed, $FAILED failed"
  ((FAILED == 0))
}
