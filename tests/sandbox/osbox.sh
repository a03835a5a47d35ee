#!/usr/bin/env bash
# The sandbox cloud: a real OpenStack control plane on 127.0.0.1 for the tests and the demo.
#
#   tests/sandbox/osbox.sh install   Debian packages + the services' venv (pinned), idempotent
#   tests/sandbox/osbox.sh install-venv   only the venv
#   tests/sandbox/osbox.sh start     install if needed, start (cold: initialise; warm: just start), wait ready
#   tests/sandbox/osbox.sh stop      stop every process it started
#   tests/sandbox/osbox.sh stop NAME one process only (restart NAME starts it again)
#   tests/sandbox/osbox.sh restart NAME   restart one process (keystone, nova-compute-HOST, nova-api@127.0.0.2, ...)
#                                    from its venv link $OSBOX_HOME/venvs/NAME
#   tests/sandbox/osbox.sh pause NAME SECONDS   stop one process, wait, start it again (an outage for fault tests)
#   tests/sandbox/osbox.sh status    which processes run
#   tests/sandbox/osbox.sh reset     stop and forget the data (next start is cold)
#   tests/sandbox/osbox.sh env       print the environment to eval: OS_CLIENT_CONFIG_FILE, OS_CLOUD
#
# State (venv, databases, logs, clouds.yaml) lives in $OSBOX_HOME, outside the git tree:
# default /var/cache/osops/sandbox. Nova computes: $OSBOX_COMPUTES (host names). Another series:
# OSBOX_VENV + OSBOX_LOCK. A second copy of each API on another address: OSBOX_API_REPLICAS.
# A one-node Galera cluster instead of a plain MariaDB: OSBOX_GALERA=1 (before the first start).
set -euo pipefail
SRC=$(cd "$(dirname "$0")" && pwd)
export OSBOX_HOME=${OSBOX_HOME:-/var/cache/osops/sandbox}
OSBOX_COMPUTES=${OSBOX_COMPUTES:-"fake-compute-1 fake-compute-2 fake-compute-3 fake-compute-10"}
. "$SRC/lib/common.sh"

cmd=${1:-}
case $cmd in
  install) osbox_install ;;
  install-venv) osbox_install_venv ;;
  start) osbox_install; osbox_render; osbox_start ;;
  stop) if [ -z "${2:-}" ]; then osbox_stop
        else osbox_env
          case " mariadb $APIS $DAEMONS $(compute_names) $(replica_names) " in
            *" $2 "*) stop_group "$2" ;;
            *) log "unknown service $2"; exit 2 ;;
          esac
        fi ;;
  restart) [ -n "${2:-}" ] || { echo "usage: $0 restart NAME" >&2; exit 2; }; osbox_env; osbox_restart "$2" ;;
  pause) [ -n "${3:-}" ] || { echo "usage: $0 pause NAME SECONDS" >&2; exit 2; }
         osbox_env; stop_group "$2"; sleep "$3"; osbox_restart "$2" ;;
  status) osbox_status ;;
  reset) osbox_stop; rm -rf "$OSBOX_HOME/data" "$OSBOX_HOME/logs" "$OSBOX_HOME/run" "$OSBOX_HOME/venvs" ;;
  env) printf 'export OS_CLIENT_CONFIG_FILE=%s/clouds.yaml\nexport OS_CLOUD=osbox\n' "$OSBOX_HOME" ;;
  *) echo "usage: $0 install|install-venv|start|stop [NAME]|restart NAME|pause NAME SECONDS|status|reset|env" >&2; exit 2 ;;
esac
