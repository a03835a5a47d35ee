#!/usr/bin/env bash
# The demo: sets up and starts the sandbox cloud, then runs the main job against it
# (playbooks/demo.yml, runnable anywhere as `ansible-playbook osops.toolkit.demo`).
# Extra arguments go to ansible-playbook (for example: tests/demo.sh -e demo_host=fake-compute-2).
set -euo pipefail
. "$(dirname "$0")/lib/toolchain.sh"
ensure_tools
ensure_sandbox
say "ansible-playbook osops.toolkit.demo (cloud: $OS_CLOUD)"
cd "$ROOT"
ansible-playbook osops.toolkit.demo "$@"
