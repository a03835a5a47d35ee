#!/usr/bin/env bash
# bench/inventory: prints a table, asserts nothing. BENCH_NODES (2000), BENCH_SERVERS (20), BENCH_REPEAT (3),
# BENCH_SCALE_SERVERS (0: no scale rows; 1000 adds about 25 minutes of seeding on 2 cores).
set -euo pipefail
. "$(dirname "$0")/../../tests/lib/toolchain.sh"
ensure_tools
ensure_sandbox
say "bench/inventory"
python "$ROOT/bench/inventory/bench.py"
