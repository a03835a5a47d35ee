# shellcheck shell=bash
# Sourced by tests/run.sh and tests/demo.sh: the tools venv, the collection path, the sandbox env.
# Everything heavy is cached in $OSOPS_CACHE (default /var/cache/osops), outside the git tree,
# and rebuilt when its pinned inputs change; a fresh machine builds it from nothing.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export OSOPS_CACHE=${OSOPS_CACHE:-/var/cache/osops}
export OSBOX_HOME=${OSBOX_HOME:-$OSOPS_CACHE/sandbox}
TOOLS=$OSOPS_CACHE/tools-venv
ROOT_KEY=$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
export OSOPS_COLLECTIONS=$OSOPS_CACHE/collections/$ROOT_KEY

say() { printf '\n=== %s [%s]\n' "$*" "$(date +%T)"; }
# pip's index here prints one harmless "Location ... is ignored" warning per package
pipq() { "$@" 2> >(grep -v "^WARNING: Location 'file:" >&2); }

# ensure_debian_packages PKG...: the missing ones in one apt-get run (one index update, one dpkg run), so
# that the parts installed afterwards (test hosts, sandbox, browser) find theirs and can run side by side
ensure_debian_packages() {
  local missing="" pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
  done
  [ -z "$missing" ] && return 0
  say "installing Debian packages:$missing"
  TMPDIR=/var/tmp apt-get update -q >/dev/null  # /tmp may be 0700: apt-key runs as _apt
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
}

# The sandbox's ports and the test hosts' names are machine-wide: one test command or demo at a time.
# The lock is held until the calling script exits.
lock_machine() {
  mkdir -p "$OSOPS_CACHE"
  exec 9>"$OSOPS_CACHE/run.lock"
  if ! flock -n 9; then
    echo "Another tests/run.sh or tests/demo.sh is running on this machine (pid $(cat "$OSOPS_CACHE/run.pid" 2>/dev/null))," \
         "and they share the sandbox cloud and the test hosts. Wait for it to end, then run this again." >&2
    exit 3
  fi
  echo $$ > "$OSOPS_CACHE/run.pid"
}

ensure_tools() {
  # ansible-test sanity checks our shell scripts only when the shellcheck program is there
  if ! command -v shellcheck >/dev/null; then
    say "installing shellcheck"
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q shellcheck >/dev/null
  fi
  local want; want=$(cat "$ROOT/tests/requirements-tools.txt" "$ROOT/requirements.txt" | sha256sum | cut -c1-16)
  if [ "$(cat "$TOOLS/.osops-lock" 2>/dev/null)" != "$want" ]; then
    say "installing the test toolchain into $TOOLS"
    command -v python3.11 >/dev/null || { apt-get update -q && apt-get install -y -q python3.11-venv; }
    rm -rf "$TOOLS"; mkdir -p "$OSOPS_CACHE"
    python3.11 -m venv "$TOOLS"
    pipq "$TOOLS/bin/pip" install -q -U pip
    pipq "$TOOLS/bin/pip" install -q -r "$ROOT/tests/requirements-tools.txt" -r "$ROOT/requirements.txt"
    echo "$want" > "$TOOLS/.osops-lock"
  fi
  export PATH=$TOOLS/bin:$PATH
  # the collection as Ansible looks for it: ansible_collections/osops/toolkit
  mkdir -p "$OSOPS_COLLECTIONS/ansible_collections/osops"
  ln -sfn "$ROOT" "$OSOPS_COLLECTIONS/ansible_collections/osops/toolkit"
  export ANSIBLE_COLLECTIONS_PATH=$OSOPS_COLLECTIONS
  # ansible-test bootstraps pip in its venvs with a script from a host CI cannot reach
  local pip_version
  pip_version=$(grep -o "pip='[0-9.]*'" "$TOOLS"/lib/python3.11/site-packages/ansible_test/_internal/python_requirements.py \
                | head -1 | cut -d"'" -f2)
  mkdir -p "$HOME/.ansible/test/cache"
  cp "$ROOT/tests/lib/get_pip.py" "$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
  export ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 ANSIBLE_NOCOLOR=1 PYTHONWARNINGS=ignore
}

ensure_sandbox() {
  say "sandbox cloud: install if needed, start, wait until ready"
  # the services outlive this run: they must not hold the machine lock (fd 9), or the next run is refused
  pipq "$ROOT/tests/sandbox/osbox.sh" start 9>&-
  eval "$("$ROOT/tests/sandbox/osbox.sh" env)"
}

# the 2026.1 services venv of tests/upgrade (the main sandbox's venv is its 2026.2)
ensure_upgrade_venv() {
  OSBOX_HOME=$OSOPS_CACHE/upgrade-sandbox OSBOX_VENV=$OSOPS_CACHE/venv-2026.1 \
    OSBOX_LOCK=$ROOT/tests/sandbox/requirements-lock-2026.1.txt pipq "$ROOT/tests/sandbox/osbox.sh" install-venv
}
