# shellcheck shell=bash
# Sourced by bench/galera_failover and bench/rolling_restart: the hosts of the molecule scenario
# extensions/molecule/haproxy_tls (haproxy in front of three Galera nodes with stand-in APIs),
# created and converged unless they already run; destroyed afterwards unless BENCH_KEEP=1.
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/lib/toolchain.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/lib/testhosts.sh"
ensure_tools
ensure_testhosts
cd "$ROOT" || exit 1
if [ "$(podman container inspect -f '{{.State.Running}}' haproxy-lb 2>/dev/null)" != true ]; then
  say "creating the haproxy_tls scenario's hosts (molecule create, prepare, converge)"
  molecule create -s haproxy_tls >/dev/null && molecule prepare -s haproxy_tls >/dev/null \
    && molecule converge -s haproxy_tls >/dev/null
  [ "${BENCH_KEEP:-0}" = 1 ] || trap 'molecule destroy -s haproxy_tls >/dev/null 2>&1' EXIT
fi
