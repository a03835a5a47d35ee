#!/usr/bin/env bash
# shellcheck shell=bash
# A headless browser for the tests that open generated HTML pages (Debian's chromium).
# Sourced by tests/run.sh (ensure_browser) or run on its own; does nothing when chromium is there.
ensure_browser() {
  if command -v chromium >/dev/null; then
    return 0
  fi
  printf '\n=== installing chromium (headless browser for the HTML report tests) [%s]\n' "$(date +%T)"
  apt-get update -q >/dev/null || true   # a stale index still installs
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
  command -v chromium >/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  ensure_browser
fi
