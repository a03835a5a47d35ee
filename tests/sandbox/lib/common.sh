# shellcheck shell=bash
# Functions behind osbox.sh. Sourced, not run. Expects SRC, OSBOX_HOME, OSBOX_COMPUTES.
# Pitfalls these steps work around are numbered in ../../shared/recipes/openstack-sandbox/RECIPE.md.

# The venv new processes start from, and the lock it is built from (OSBOX_VENV/OSBOX_LOCK select
# another series, for example the 2026.1 one of the rolling-upgrade test).
V=${OSBOX_VENV:-$OSBOX_HOME/venv}
LOCK=${OSBOX_LOCK:-$SRC/requirements-lock.txt}
# keep-alive longer than any client pause: with gunicorn's 2 s, a pooled connection reused
# after a 2 s sleep meets a closed socket (RemoteDisconnected)
# gthread waits at stop for idle keep-alive connections (haproxy keeps some to every server) up to
# the graceful timeout: 30 s by default, which made every API restart wait 20 s for the SIGKILL
# request lines up to Apache's 8190 (gunicorn's 4094 refuses nova's port queries for a page of ~100
# servers, 150 device_ids each: servers/detail then answers 500)
G=(--no-control-socket --workers 1 --threads 4 --worker-class gthread --timeout 120 --keep-alive 75
   --graceful-timeout 5 --limit-request-line 8190)
# the gunicorn APIs; OSBOX_API_REPLICAS="127.0.0.2 ..." runs a second copy of each on that address
# (NAME@ADDRESS), as a second controller behind a load balancer
APIS="keystone placement glance neutron nova-api cinder-api"
DAEMONS="nova-conductor nova-scheduler ironic-conductor ironic-api cinder-scheduler cinder-volume"
read -r -a REPLICAS <<< "${OSBOX_API_REPLICAS:-}"
declare -A API_PORT=([keystone]=5000 [placement]=8778 [glance]=9292 [neutron]=9696 [nova-api]=8774 [cinder-api]=8776
                     [ironic-api]=6385)

log() { printf '[osbox %s] %s\n' "$(date +%T)" "$*"; }
quiet() { grep -vE 'Eventlet|eventlet|^$|framework|asyncio/migration|deprecat|not provided in the command line' || true; }
read -r -a COMPUTES <<< "$OSBOX_COMPUTES"
compute_names() { local h; for h in "${COMPUTES[@]}" ironic-compute; do printf 'nova-compute-%s ' "$h"; done; }
replica_names() { local a n; for a in "${REPLICAS[@]}"; do for n in $APIS; do printf '%s@%s ' "$n" "$a"; done; done; }

osbox_install() {
  osbox_install_packages
  osbox_install_venv
}

osbox_install_packages() {
  local need_apt=0
  for p in mariadb-server galera-4 rabbitmq-server bc curl; do dpkg -s "$p" >/dev/null 2>&1 || need_apt=1; done
  if [ $need_apt = 1 ]; then
    log "installing Debian packages (mariadb-server, rabbitmq-server)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # in containers policy-rc.d keeps the packages' init scripts from starting anything
    apt-get install -y -q --no-install-recommends mariadb-server rabbitmq-server bc curl >/dev/null
  fi
}

osbox_install_venv() {
  local want; want=$(sha256sum "$LOCK" | cut -c1-16)
  if [ "$(cat "$V/.osbox-lock" 2>/dev/null)" != "$want" ]; then
    log "building the services venv in $V from $(basename "$LOCK") (about 3-5 minutes cold)"
    rm -rf "$V"; mkdir -p "$(dirname "$V")"
    python3.11 -m venv "$V"
    "$V/bin/pip" install -q -U pip
    "$V/bin/pip" install -q -r "$LOCK"
    echo "$want" > "$V/.osbox-lock"
  fi
}

# etc/ in the tree carries $SANDBOX placeholders; the rendered copy lives in $OSBOX_HOME/etc.
osbox_render() {
  local E=$OSBOX_HOME/etc
  rm -rf "$E"; mkdir -p "$E" "$OSBOX_HOME"/{logs,run,data}
  cp -r "$SRC/etc/." "$E/"
  # paste pipelines shipped inside the wheels (pitfall: not in the tree to avoid stale copies)
  cp "$V/etc/nova/api-paste.ini" "$E/nova/api-paste.ini"
  cp "$V/etc/glance/glance-api-paste.ini" "$E/glance/glance-api-paste.ini"
  cp "$V/etc/neutron/api-paste.ini" "$E/neutron/api-paste.ini"
  cp "$V/etc/cinder/api-paste.ini" "$E/cinder/api-paste.ini"
  for h in "${COMPUTES[@]}"; do
    printf "[DEFAULT]\nhost = %s\nstate_path = \$SANDBOX/data/nova/%s\nlog_file = \$SANDBOX/logs/nova-compute-%s.log\n" \
      "$h" "$h" "$h" > "$E/nova/nova-compute-$h.conf"
  done
  if [ "${OSBOX_GALERA:-0}" = 1 ]; then   # a one-node Galera cluster, so wsrep status is real
    cat >> "$E/my.cnf" <<'CNF'
wsrep_on = ON
wsrep_provider = /usr/lib/galera/libgalera_smm.so
wsrep_cluster_address = gcomm://
wsrep_cluster_name = osbox
wsrep_node_address = 127.0.0.1
wsrep_provider_options = "gmcast.listen_addr=tcp://127.0.0.1:4567"
binlog_format = ROW
innodb_autoinc_lock_mode = 2
CNF
  fi
  find "$E" -type f -exec sed -i "s#\$SANDBOX#$OSBOX_HOME#g" {} +
  cp -r "$SRC/wsgi" "$OSBOX_HOME/"
  cat > "$OSBOX_HOME/clouds.yaml" <<YAML
# Written by tests/sandbox/osbox.sh. osbox: project-scoped admin (nova, glance, neutron,
# placement). osbox-system: system-scoped admin, which Ironic's scoped policy requires.
clouds:
  osbox: &osbox
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: admin
      password: password
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
    interface: public
  osbox-system:
    auth:
      auth_url: http://127.0.0.1:5000/v3
      username: admin
      password: password
      user_domain_name: Default
      system_scope: all
    region_name: RegionOne
    identity_api_version: 3
    interface: public
YAML
}

osbox_env() {
  export PATH=$V/bin:$PATH PYTHONWARNINGS=ignore
  export OS_CLIENT_CONFIG_FILE=$OSBOX_HOME/clouds.yaml OS_CLOUD=osbox
}

# alive NAME: its pid file names a running process that started before the file was written
# (a stale file from a rebooted machine can name a PID that something else has by now)
alive() {
  local f=$OSBOX_HOME/run/$1.pid pid age
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  age=$(ps -o etimes= -p "$pid" 2>/dev/null) || return 1
  [ $(( $(date +%s) - age )) -le $(( $(stat -c %Y "$f") + 2 )) ]
}

# start_bg NAME CMD...: detached, own session (PID = process group), stdin closed
start_bg() {
  local n=$1; shift
  alive "$n" && return 0
  setsid "$@" > "$OSBOX_HOME/logs/$n.out" 2>&1 < /dev/null &
  echo $! > "$OSBOX_HOME/run/$n.pid"
}

wait_http() {
  local u=$1 t=${2:-60} _
  for _ in $(seq 1 $((t * 5))); do
    curl -s -m 2 -o /dev/null "$u" && return 0   # -m: a crash-looping worker holds the socket (pitfall 4)
    sleep 0.2
  done
  log "TIMEOUT waiting for $u"; return 1
}

osbox_start() {
  osbox_env
  local H=$OSBOX_HOME E=$OSBOX_HOME/etc T0 first=0
  T0=$(date +%s.%N)
  [ -f "$H/data/.initialized" ] || first=1
  cd "$H" || return 1
  log "starting (cold=$first) in $H"
  if ! alive keystone && curl -s -m 2 -o /dev/null http://127.0.0.1:5000/; then
    log "FAILED: something else answers on 127.0.0.1:5000 (another sandbox? stop it with"
    log "        OSBOX_HOME=<its home> tests/sandbox/osbox.sh stop)"
    return 1
  fi

  [ -d data/mysql/mysql ] || mariadb-install-db --defaults-file="$E/my.cnf" --auth-root-authentication-method=normal > logs/mariadb-install.log 2>&1
  start_bg mariadb mariadbd --defaults-file="$E/my.cnf"
  local _; for _ in $(seq 1 150); do mariadb-admin --defaults-file="$E/my.cnf" ping >/dev/null 2>&1 && break; sleep 0.2; done
  mariadb --defaults-file="$E/my.cnf" <<'SQL'
CREATE DATABASE IF NOT EXISTS keystone; CREATE DATABASE IF NOT EXISTS placement;
CREATE DATABASE IF NOT EXISTS nova_api; CREATE DATABASE IF NOT EXISTS nova_cell0; CREATE DATABASE IF NOT EXISTS nova;
CREATE DATABASE IF NOT EXISTS glance; CREATE DATABASE IF NOT EXISTS neutron; CREATE DATABASE IF NOT EXISTS ironic;
CREATE DATABASE IF NOT EXISTS cinder;
CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1' IDENTIFIED BY 'secret';
GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'127.0.0.1';
SQL

  if ! alive rabbitmq; then   # pitfall 18: Debian's wrapper su's to rabbitmq; call the real script
    ( . "$E/rabbitmq-env.sh"; mkdir -p "$HOME" "$RABBITMQ_LOG_BASE"
      /usr/lib/rabbitmq/bin/rabbitmq-server -detached
      /usr/lib/rabbitmq/bin/rabbitmqctl wait --timeout 90 "$RABBITMQ_PID_FILE" > /dev/null )
  fi

  if [ $first = 1 ]; then
    mkdir -p data/keystone/fernet-keys data/keystone/credential-keys
    local K="keystone-manage --config-file $E/keystone/keystone.conf"
    $K db_sync 2>&1 | quiet
    $K fernet_setup --keystone-user root --keystone-group root 2>&1 | quiet
    $K credential_setup --keystone-user root --keystone-group root 2>&1 | quiet
    $K bootstrap --bootstrap-password password --bootstrap-region-id RegionOne \
      --bootstrap-admin-url http://127.0.0.1:5000/v3/ --bootstrap-internal-url http://127.0.0.1:5000/v3/ \
      --bootstrap-public-url http://127.0.0.1:5000/v3/ 2>&1 | quiet
  fi
  start_service keystone
  wait_http http://127.0.0.1:5000/v3 90
  if [ $first = 1 ]; then
    python "$SRC/lib/setup_keystone.py"
    placement-manage --config-file "$E/placement/placement.conf" db sync 2>&1 | quiet
    mkdir -p data/glance/images data/glance/staging data/glance/tasks data/neutron/locks data/ironic/locks
    glance-manage --config-file "$E/glance/glance-api.conf" db_sync > logs/glance-manage.log 2>&1
    neutron-db-manage --config-file "$E/neutron/neutron.conf" --config-file "$E/neutron/plugins/ml2/ml2_conf.ini" upgrade heads > logs/neutron-db-manage.log 2>&1
    local N="nova-manage --config-file $E/nova/nova.conf"
    $N api_db sync 2>&1 | quiet
    $N cell_v2 map_cell0 --database_connection 'mysql+pymysql://openstack:secret@127.0.0.1/nova_cell0?charset=utf8' 2>&1 | quiet
    $N cell_v2 create_cell --name cell1 2>&1 | quiet
    $N db sync 2>&1 | quiet
    ironic-dbsync --config-file "$E/ironic/ironic.conf" create_schema > logs/ironic-dbsync.log 2>&1
  fi

  # services added after a sandbox was first initialized get their one-time setup here
  if [ ! -f data/.initialized-cinder ]; then
    [ $first = 1 ] || python "$SRC/lib/setup_keystone.py"
    mkdir -p data/cinder/locks
    cinder-manage --config-file "$E/cinder/cinder.conf" db sync > logs/cinder-manage.log 2>&1
    touch data/.initialized-cinder
  fi

  local n port
  for n in placement glance neutron nova-api nova-conductor nova-scheduler $(compute_names) cinder-api cinder-scheduler \
           cinder-volume ironic-conductor ironic-api $(replica_names); do
    [ "$n" = nova-compute-ironic-compute ] || start_service "$n"
  done
  for port in 8778 9292 9696 8774 6385 8776; do wait_http "http://127.0.0.1:$port/" 120; done
  for n in $(replica_names); do wait_http "http://${n#*@}:${API_PORT[${n%@*}]}/" 120; done
  start_service nova-compute-ironic-compute   # after ironic-api answers

  OSBOX_NOVA_MANAGE="nova-manage --config-file $E/nova/nova.conf" OSBOX_SERVICE_ONLY=ironic-compute \
    python "$SRC/lib/ready.py" "${COMPUTES[@]}"
  if [ $first = 1 ]; then
    python "$SRC/lib/seed.py"
    touch data/.initialized
  fi
  log "$(printf 'control plane ready in %.1fs (cold=%s); clouds.yaml: %s/clouds.yaml' \
    "$(echo "$(date +%s.%N) - $T0" | bc)" $first "$H")"
}

# start_service NAME: one process of the cloud, from its own venv link $OSBOX_HOME/venvs/NAME
# (made pointing at $V the first time; a rolling upgrade repoints it and restarts the process)
start_service() {
  local n=$1 base=${1%@*} addr=127.0.0.1 E=$OSBOX_HOME/etc B
  [[ $n == *@* ]] && addr=${n#*@}
  mkdir -p "$OSBOX_HOME/venvs"
  [ -e "$OSBOX_HOME/venvs/$n" ] || ln -sfn "$V" "$OSBOX_HOME/venvs/$n"
  B=$OSBOX_HOME/venvs/$n/bin
  local -a R=(env "PATH=$B:$PATH")
  case $base in
    keystone) (cd "$OSBOX_HOME/wsgi" && OS_KEYSTONE_CONFIG_DIR=$E/keystone start_bg "$n" "${R[@]}" gunicorn "${G[@]}" \
                --bind "$addr:5000" --name keystone keystone_wsgi:application) ;;
    placement) (cd "$OSBOX_HOME/wsgi" && OS_PLACEMENT_CONFIG_DIR=$E/placement start_bg "$n" "${R[@]}" gunicorn "${G[@]}" \
                 --bind "$addr:8778" --name placement placement_wsgi:application) ;;
    glance) (cd "$OSBOX_HOME/wsgi" && OS_GLANCE_CONFIG_DIR=$E/glance start_bg "$n" "${R[@]}" gunicorn "${G[@]}" \
              --bind "$addr:9292" --name glance glance_wsgi:application) ;;
    neutron) (cd "$OSBOX_HOME/wsgi" && OS_NEUTRON_CONFIG_DIR=$E/neutron start_bg "$n" "${R[@]}" gunicorn "${G[@]}" \
               --bind "$addr:9696" --name neutron neutron_wsgi:application) ;;
    nova-api) (cd "$OSBOX_HOME/wsgi" && OS_NOVA_CONFIG_DIR=$E/nova OS_NOVA_CONFIG_FILES="api-paste.ini;nova.conf;nova-api.conf" \
                start_bg "$n" "${R[@]}" gunicorn "${G[@]}" --bind "$addr:8774" --name nova-api nova_api_wsgi:application) ;;
    cinder-api) (cd "$OSBOX_HOME/wsgi" && OS_CINDER_CONFIG_FILE=$E/cinder/cinder.conf start_bg "$n" "${R[@]}" gunicorn "${G[@]}" \
                  --bind "$addr:8776" --name cinder-api cinder_wsgi:application) ;;
    nova-conductor|nova-scheduler) start_bg "$n" "${R[@]}" "$n" --config-file "$E/nova/nova.conf" ;;
    nova-compute-ironic-compute)
      mkdir -p "$OSBOX_HOME/data/nova/ironic-compute"
      start_bg "$n" "${R[@]}" nova-compute --config-file "$E/nova/nova-cpu.conf" --config-file "$E/nova/nova-compute-ironic.conf" ;;
    nova-compute-*)
      mkdir -p "$OSBOX_HOME/data/nova/${n#nova-compute-}"
      start_bg "$n" "${R[@]}" nova-compute --config-file "$E/nova/nova-cpu.conf" --config-file "$E/nova/$n.conf" ;;
    cinder-scheduler|cinder-volume) start_bg "$n" "${R[@]}" "$n" --config-file "$E/cinder/cinder.conf" ;;
    ironic-conductor|ironic-api) start_bg "$n" "${R[@]}" "$n" --config-file "$E/ironic/ironic.conf" ;;
    *) log "unknown service $n"; return 2 ;;
  esac
}

# osbox.sh restart NAME: stop one process and start it again from its venv link; an API must answer
osbox_restart() {
  local n=$1 base=${1%@*} addr=127.0.0.1
  [[ $n == *@* ]] && addr=${n#*@}
  stop_group "$n"
  start_service "$n"
  if [ -n "${API_PORT[$base]:-}" ]; then wait_http "http://$addr:${API_PORT[$base]}/" 120; fi
  sleep 1
  alive "$n" || { log "$n did not stay up: see $OSBOX_HOME/logs/$n.out"; return 1; }
}

stop_group() {
  local f=$OSBOX_HOME/run/$1.pid p
  [ -f "$f" ] || return 0
  p=$(cat "$f")
  if kill -0 "$p" 2>/dev/null; then
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$p" 2>/dev/null && { kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; }
  fi
  rm -f "$f"
}

osbox_stop() {
  [ -d "$OSBOX_HOME/run" ] || return 0
  local f
  for f in "$OSBOX_HOME"/run/*.pid; do
    case $(basename "$f" .pid) in mariadb|rabbitmq|mysqld) ;; *) stop_group "$(basename "$f" .pid)" & ;; esac
  done
  wait
  if [ -f "$OSBOX_HOME/run/rabbitmq.pid" ]; then
    ( . "$OSBOX_HOME/etc/rabbitmq-env.sh"; timeout 60 /usr/lib/rabbitmq/bin/rabbitmqctl stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || true )
    ERL_EPMD_ADDRESS=127.0.0.1 epmd -kill >/dev/null 2>&1 || true
    rm -f "$OSBOX_HOME/run/rabbitmq.pid"
  fi
  if [ -f "$OSBOX_HOME/run/mariadb.pid" ]; then
    mariadb-admin --defaults-file="$OSBOX_HOME/etc/my.cnf" shutdown 2>/dev/null || true
    stop_group mariadb
  fi
  log "stopped"
}

osbox_status() {
  local n rc=0
  for n in mariadb $APIS $DAEMONS $(compute_names) $(replica_names); do
    if alive "$n"; then echo "$n: running"; else echo "$n: stopped"; rc=3; fi
  done
  return $rc
}
