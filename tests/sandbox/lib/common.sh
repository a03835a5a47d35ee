# shellcheck shell=bash
# Functions behind osbox.sh. Sourced, not run. Expects SRC, OSBOX_HOME, OSBOX_COMPUTES.
# Pitfalls these steps work around are numbered in ../../shared/recipes/openstack-sandbox/RECIPE.md.

V=$OSBOX_HOME/venv
# keep-alive longer than any client pause: with gunicorn's 2 s, a pooled connection reused
# after a 2 s sleep meets a closed socket (RemoteDisconnected)
G=(gunicorn --no-control-socket --workers 1 --threads 4 --worker-class gthread --timeout 120 --keep-alive 75)
APIS="keystone placement glance neutron nova-api cinder-api"
DAEMONS="nova-conductor nova-scheduler ironic-conductor ironic-api cinder-scheduler cinder-volume"

log() { printf '[osbox %s] %s\n' "$(date +%T)" "$*"; }
quiet() { grep -vE 'Eventlet|eventlet|^$|framework|asyncio/migration|deprecat|not provided in the command line' || true; }
read -r -a COMPUTES <<< "$OSBOX_COMPUTES"
compute_names() { local h; for h in "${COMPUTES[@]}" ironic-compute; do printf 'nova-compute-%s ' "$h"; done; }

osbox_install() {
  local need_apt=0
  for p in mariadb-server galera-4 rabbitmq-server bc curl; do dpkg -s "$p" >/dev/null 2>&1 || need_apt=1; done
  if [ $need_apt = 1 ]; then
    log "installing Debian packages (mariadb-server, rabbitmq-server)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    # in containers policy-rc.d keeps the packages' init scripts from starting anything
    apt-get install -y -q --no-install-recommends mariadb-server rabbitmq-server bc curl >/dev/null
  fi
  local want; want=$(sha256sum "$SRC/requirements-lock.txt" | cut -c1-16)
  if [ "$(cat "$V/.osbox-lock" 2>/dev/null)" != "$want" ]; then
    log "building the services venv in $V (pinned 2026.2 Hibiscus; about 3 minutes cold)"
    rm -rf "$V"; mkdir -p "$OSBOX_HOME"
    python3.11 -m venv "$V"
    "$V/bin/pip" install -q -U pip
    "$V/bin/pip" install -q -r "$SRC/requirements-lock.txt"
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
  (cd wsgi && OS_KEYSTONE_CONFIG_DIR=$E/keystone start_bg keystone "${G[@]}" --bind 127.0.0.1:5000 --name keystone keystone_wsgi:application)
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

  (cd wsgi && OS_PLACEMENT_CONFIG_DIR=$E/placement start_bg placement "${G[@]}" --bind 127.0.0.1:8778 --name placement placement_wsgi:application)
  (cd wsgi && OS_GLANCE_CONFIG_DIR=$E/glance start_bg glance "${G[@]}" --bind 127.0.0.1:9292 --name glance glance_wsgi:application)
  (cd wsgi && OS_NEUTRON_CONFIG_DIR=$E/neutron start_bg neutron "${G[@]}" --bind 127.0.0.1:9696 --name neutron neutron_wsgi:application)
  (cd wsgi && OS_NOVA_CONFIG_DIR=$E/nova OS_NOVA_CONFIG_FILES="api-paste.ini;nova.conf;nova-api.conf" \
     start_bg nova-api "${G[@]}" --bind 127.0.0.1:8774 --name nova-api nova_api_wsgi:application)
  start_bg nova-conductor nova-conductor --config-file "$E/nova/nova.conf"
  start_bg nova-scheduler nova-scheduler --config-file "$E/nova/nova.conf"
  local h
  for h in "${COMPUTES[@]}"; do
    mkdir -p "data/nova/$h"
    start_bg "nova-compute-$h" nova-compute --config-file "$E/nova/nova-cpu.conf" --config-file "$E/nova/nova-compute-$h.conf"
  done
  (cd wsgi && OS_CINDER_CONFIG_FILE=$E/cinder/cinder.conf start_bg cinder-api "${G[@]}" --bind 127.0.0.1:8776 \
     --name cinder-api cinder_wsgi:application)
  start_bg cinder-scheduler cinder-scheduler --config-file "$E/cinder/cinder.conf"
  start_bg cinder-volume cinder-volume --config-file "$E/cinder/cinder.conf"
  start_bg ironic-conductor ironic-conductor --config-file "$E/ironic/ironic.conf"
  start_bg ironic-api ironic-api --config-file "$E/ironic/ironic.conf"
  local port; for port in 8778 9292 9696 8774 6385 8776; do wait_http "http://127.0.0.1:$port/" 120; done
  mkdir -p data/nova/ironic-compute
  start_bg nova-compute-ironic-compute nova-compute --config-file "$E/nova/nova-cpu.conf" \
    --config-file "$E/nova/nova-compute-ironic.conf"

  OSBOX_NOVA_MANAGE="nova-manage --config-file $E/nova/nova.conf" OSBOX_SERVICE_ONLY=ironic-compute \
    python "$SRC/lib/ready.py" "${COMPUTES[@]}"
  if [ $first = 1 ]; then
    python "$SRC/lib/seed.py"
    touch data/.initialized
  fi
  log "$(printf 'control plane ready in %.1fs (cold=%s); clouds.yaml: %s/clouds.yaml' \
    "$(echo "$(date +%s.%N) - $T0" | bc)" $first "$H")"
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
  local n
  for n in $DAEMONS $(compute_names) $APIS; do stop_group "$n" & done
  wait
  if [ -f "$OSBOX_HOME/run/rabbitmq.pid" ]; then
    ( . "$OSBOX_HOME/etc/rabbitmq-env.sh"; /usr/lib/rabbitmq/bin/rabbitmqctl stop "$RABBITMQ_PID_FILE" >/dev/null 2>&1 || true )
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
  for n in mariadb $APIS $DAEMONS $(compute_names); do
    if alive "$n"; then echo "$n: running"; else echo "$n: stopped"; rc=3; fi
  done
  return $rc
}
