#!/usr/bin/env bash
# bench/drain: prints a table, asserts nothing. BENCH_INSTANCES (20), BENCH_HOST (fake-compute-1), BENCH_RUNS (3).
set -euo pipefail
. "$(dirname "$0")/../../tests/lib/toolchain.sh"
ensure_tools
ensure_sandbox
say "bench/drain"
OSBOX_OPENSTACK_CLI="$OSBOX_HOME/venv/bin/openstack" python "$ROOT/bench/drain/bench.py"
