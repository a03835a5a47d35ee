#!/usr/bin/env bash
# The whole test suite, from a fresh Debian bookworm machine (root; PyPI and Debian reachable):
# installs the toolchain, the sandbox cloud and the test hosts, starts the cloud, then runs with pytest
#   tests/unit         pure logic
#   tests/quality      ansible-test sanity (no ignore entries), ansible-lint --profile production, docs
#   tests/integration  the modules and playbooks through ansible-playbook against the sandbox
#   tests/roles        every role's molecule scenario on real podman test hosts (tests/lib/testhosts.sh),
#                      hypervisor_hardening and ovs_upgrade included
# and, at the same time in a pytest process of its own (unless pytest arguments select tests),
#   tests/upgrade      the rolling upgrade of a second sandbox cloud from 2026.1 to 2026.2, in its own
#                      network namespace (about 20 minutes); its log: $OSOPS_CACHE/upgrade-lane.log
# OSOPS_ONLY=unit,quality,integration,roles,upgrade (any of them, comma-separated) runs only those parts
# and installs only what they need. Extra arguments go to pytest (for example: tests/run.sh -k compute_service).
# At the end it prints how many seconds each part took. The sandbox keeps running afterwards
# (tests/sandbox/osbox.sh stop).
set -euo pipefail
. "$(dirname "$0")/lib/toolchain.sh"
. "$(dirname "$0")/lib/browser.sh"
. "$(dirname "$0")/lib/testhosts.sh"
T0=$(date +%s)

# every part by default; pytest arguments (-k ...) select tests, and the upgrade lane takes none
default=unit,quality,integration,roles,upgrade
[ $# -eq 0 ] || default=unit,quality,integration,roles
only=${OSOPS_ONLY:-$default}
wants() { [[ ",$only," == *",$1,"* ]]; }
for part in ${only//,/ }; do
  case $part in unit|quality|integration|roles|upgrade) ;;
    *) echo "OSOPS_ONLY: unknown part '$part' (parts: unit, quality, integration, roles, upgrade)" >&2; exit 2 ;;
  esac
done

lock_machine

export OSOPS_TIMINGS=$OSOPS_CACHE/timings-$ROOT_KEY.tsv
: > "$OSOPS_TIMINGS"
timed() {  # timed LABEL COMMAND...: run it and add its seconds to the table
  local label=$1 t; shift; t=$(date +%s)
  "$@"
  printf '%s\t%s\n' "$label" "$(( $(date +%s) - t ))" >> "$OSOPS_TIMINGS"
}
# shellcheck disable=SC2317  # run by the EXIT trap
print_timings() {
  printf '\n=== where the time went (seconds)\n'
  awk -F'\t' '{ printf "  %-52s %6d\n", $1, $2 }' "$OSOPS_TIMINGS"
  printf '  %-52s %6d\n' "the whole test command" "$(( $(date +%s) - T0 ))"
}
trap print_timings EXIT

# every Debian package of the chosen parts in one apt run; then the test-host images are baked in the
# background (podman, disk and the Debian mirror) while the venvs install and the sandbox starts (CPU)
packages="shellcheck python3.11-venv"
wants roles && packages="$packages $_TESTHOSTS_APT"
{ wants integration || wants roles; } && packages="$packages mariadb-server galera-4 rabbitmq-server bc curl"
wants integration && packages="$packages chromium fonts-dejavu-core python3-pil"
wants upgrade && packages="$packages haproxy"
# shellcheck disable=SC2086
timed "install: Debian packages" ensure_debian_packages $packages
if wants roles; then
  ( timed "install: test-host images (in the background)" ensure_testhosts ) \
    > "$OSOPS_CACHE/testhosts-$ROOT_KEY.log" 2>&1 & testhosts_pid=$!
fi
timed "install: toolchain venv" ensure_tools
if wants upgrade; then
  # the 2026.1 venv of the upgrade lane builds while the main sandbox installs and starts
  ensure_upgrade_venv > "$OSOPS_CACHE/upgrade-venv.log" 2>&1 & venv_pid=$!
fi
if wants integration || wants roles; then
  timed "install: sandbox cloud venv" pipq "$ROOT/tests/sandbox/osbox.sh" install
  timed "sandbox start" ensure_sandbox
fi
wants integration && timed "install: browser" ensure_browser
if wants roles; then
  wait "$testhosts_pid" || { tail -30 "$OSOPS_CACHE/testhosts-$ROOT_KEY.log"; exit 1; }
  cat "$OSOPS_CACHE/testhosts-$ROOT_KEY.log"
  _testhosts_podman_config  # its exports, in this shell too
fi
cd "$ROOT"

if wants upgrade; then
  wait "$venv_pid" || { tail -20 "$OSOPS_CACHE/upgrade-venv.log"; exit 1; }
  say "pytest tests/upgrade (in the background, log: $OSOPS_CACHE/upgrade-lane.log)"
  pytest -p no:cacheprovider -o junit_family=xunit2 --junitxml="$OSOPS_CACHE/junit-upgrade-$ROOT_KEY.xml" \
    -v -rP tests/upgrade > "$OSOPS_CACHE/upgrade-lane.log" 2>&1 &
  lane_pid=$!
fi

paths=()
for part in unit quality integration roles; do wants $part && paths+=("tests/$part"); done
rc=0
set +e
if [ ${#paths[@]} -gt 0 ]; then
  say "pytest ${paths[*]}"
  t=$(date +%s)
  pytest -p no:cacheprovider --durations=30 -o junit_family=xunit2 --junitxml="$OSOPS_CACHE/junit-$ROOT_KEY.xml" "${paths[@]}" "$@"
  rc=$?
  printf '%s\t%s\n' "pytest ${paths[*]} (wall clock)" "$(( $(date +%s) - t ))" >> "$OSOPS_TIMINGS"
fi
if wants upgrade; then
  say "waiting for tests/upgrade"
  wait "$lane_pid"; lane_rc=$?
  grep -E "PASSED|FAILED|ERROR|passed|failed|error" "$OSOPS_CACHE/upgrade-lane.log" | tail -40
  [ $lane_rc = 0 ] || { tail -150 "$OSOPS_CACHE/upgrade-lane.log"; [ $rc != 0 ] || rc=$lane_rc; }
fi
set -e
exit $rc
