"""What both haproxy benchmarks share: the scenario's addresses, clients, the role and module runs."""
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LB = "haproxy-lb"
DBS = ["haproxy-db1", "haproxy-db2", "haproxy-db3"]


def ip(name):
    data = json.loads(subprocess.run(["podman", "container", "inspect", name], capture_output=True, text=True,
                                     check=True).stdout)[0]
    return [net["IPAddress"] for net in data["NetworkSettings"]["Networks"].values()][0]


def sh(name, command):
    return subprocess.run(["podman", "exec", name, "bash", "-c", command], capture_output=True, text=True,
                          check=True).stdout.strip()


def _inventory():
    inventory = {"all": {"vars": {"ansible_user": "root", "ansible_python_interpreter": "/usr/bin/python3",
                                  "ansible_ssh_private_key_file": os.environ["OSOPS_TESTHOSTS_SSH_KEY"]},
                         "children": {"haproxy": {"hosts": {LB: {"ansible_host": ip(LB)}}}}}}
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump(inventory, handle)
    handle.close()
    return handle.name


def _env():
    return dict(os.environ, ANSIBLE_HOST_KEY_CHECKING="false", ANSIBLE_PIPELINING="true",
                ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=120s -o StrictHostKeyChecking=no "
                                 "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")


def haproxy_server(backend, server, state, timeout=120):
    """osops.toolkit.haproxy_server through Ansible, as an operator runs it."""
    args = json.dumps({"backend": backend, "server": server, "state": state, "timeout": timeout})
    proc = subprocess.run(["ansible", LB, "-i", _inventory(), "-m", "osops.toolkit.haproxy_server", "-a", args],
                          capture_output=True, text=True, env=_env(), cwd=ROOT, check=False)
    if proc.returncode != 0:
        sys.exit("haproxy_server %s/%s %s failed:\n%s" % (backend, server, state, proc.stdout[-2000:]))


def converge(**settings):
    """The scenario's role run with changed settings (extensions/molecule/haproxy_tls/role.yml)."""
    backends = [{"name": db, "address": ip(db)} for db in DBS]
    argv = ["ansible-playbook", "-i", _inventory(), "extensions/molecule/haproxy_tls/role.yml",
            "-e", json.dumps(dict(settings, scenario_backends=backends))]
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), cwd=ROOT, check=False)
    if proc.returncode != 0:
        sys.exit("role.yml %s failed:\n%s" % (settings, proc.stdout[-3000:]))


def table(header, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    for row in [header] + rows:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))


def now():
    return time.monotonic()
