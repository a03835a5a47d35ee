#!/usr/bin/env bash
# bench/galera_failover: prints a table, asserts nothing. BENCH_STEADY (3 s), BENCH_OBSERVE (20 s), BENCH_KEEP=1
# keeps the hosts (extensions/molecule/haproxy_tls) for the next run.
set -euo pipefail
. "$(dirname "$0")/../lib/haproxy_hosts.sh"
say "bench/galera_failover"
python "$ROOT/bench/galera_failover/bench.py"
