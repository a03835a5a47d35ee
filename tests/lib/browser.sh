#!/usr/bin/env bash
# shellcheck shell=bash
# A headless browser for the tests that open generated HTML pages: Debian's chromium, and
# Debian's Pillow (python3-pil, for the system python3) to look at its screenshots.
# Sourced by tests/run.sh (ensure_browser) or run on its own; does nothing when both are there.
ensure_browser() {
  if command -v chromium >/dev/null && /usr/bin/python3 -c "import PIL" 2>/dev/null; then
    return 0
  fi
  printf '\n=== installing chromium and python3-pil (HTML report tests) [%s]\n' "$(date +%T)"
  apt-get update -q >/dev/null || true   # a stale index still installs
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    chromium fonts-dejavu-core python3-pil >/dev/null
  command -v chromium >/dev/null
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  ensure_browser
fi
