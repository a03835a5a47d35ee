#!/usr/bin/env bash
# bench/rolling_restart: prints a table, asserts nothing. BENCH_CLIENTS (4), BENCH_KEEP=1 keeps the hosts
# (extensions/molecule/haproxy_tls) for the next run.
set -euo pipefail
. "$(dirname "$0")/../lib/haproxy_hosts.sh"
say "bench/rolling_restart"
python "$ROOT/bench/rolling_restart/bench.py"
