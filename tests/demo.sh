#!/usr/bin/env bash
# The demo: sets up and starts the sandbox cloud, then runs the main jobs against it:
#  1. playbooks/demo.yml (`ansible-playbook osops.toolkit.demo`): the hypervisor report and a
#     maintenance round trip of one compute service;
#  2. playbooks/drain_host.yml (`ansible-playbook osops.toolkit.drain_host`): three instances
#     (ACTIVE, SHUTOFF, PAUSED) on fake-compute-1 drained with progress, then sent home.
# Extra arguments go to the first ansible-playbook (for example: -e demo_host=fake-compute-2).
set -euo pipefail
. "$(dirname "$0")/lib/toolchain.sh"
lock_machine
ensure_tools
ensure_sandbox
say "ansible-playbook osops.toolkit.demo (cloud: $OS_CLOUD)"
cd "$ROOT"
ansible-playbook osops.toolkit.demo "$@"
say "ansible-playbook osops.toolkit.drain_host -e drain_host=fake-compute-1 -e drain_host_send_home=true"
python "$ROOT/tests/sandbox/lib/demo_servers.py" create fake-compute-1
# the sandbox is shared with the tests: leave no demo instance behind, whatever happens
trap 'python "$ROOT/tests/sandbox/lib/demo_servers.py" delete' EXIT
ansible-playbook osops.toolkit.drain_host -e drain_host=fake-compute-1 -e drain_host_send_home=true
