"""domain_drift against a real libvirtd in a podman test host, with real (defined) domains.

The domains are LXC ones: libvirt's LXC driver defines them without QEMU in the image, and
domain_drift only lists domains, whatever their driver (the module's uri option).
"""
import json
import os
import subprocess
import uuid

import pytest

NAME = "osops-libvirt"
DOMAIN_XML = """<domain type='lxc'><name>%s</name><uuid>%s</uuid><memory>65536</memory>
<os><type>exe</type><init>/bin/sh</init></os><devices><console type='pty'/></devices></domain>"""


def podman(*args, check=True):
    proc = subprocess.run(["podman"] + list(args), capture_output=True, text=True, check=False)
    if check:
        assert proc.returncode == 0, "podman %s: %s%s" % (" ".join(args[:3]), proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


@pytest.fixture(scope="module")
def libvirt_host(testhosts):
    podman("rm", "-f", NAME, check=False)
    podman("run", "-d", "--name", NAME, "--systemd=always", "--cap-add", "SYS_ADMIN,NET_ADMIN,SYS_NICE,SYS_PTRACE",
           os.environ.get("OSOPS_TESTHOSTS_BASE_IMAGE", "localhost/osops-bookworm-systemd:latest"), "/sbin/init")
    try:
        # the first apt-get update can race the container's own boot (apt-key: unknown error)
        podman("exec", NAME, "bash", "-c", "set -e; systemctl is-system-running --wait >/dev/null || true; "
               "for i in 1 2 3; do apt-get update -q >/dev/null 2>&1 && break; sleep 2; done; "
               "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
               "libvirt-daemon-system libvirt-daemon-driver-lxc libvirt-clients >/dev/null; "
               "systemctl start libvirtd; virsh -c lxc:/// version >/dev/null")
        yield NAME
    finally:
        podman("rm", "-f", NAME, check=False)


def define(name, domain_uuid):
    podman("exec", NAME, "bash", "-c", "cat > /tmp/d.xml <<'EOF'\n%s\nEOF\nvirsh -q -c lxc:/// define /tmp/d.xml"
           % (DOMAIN_XML % (name, domain_uuid)))


def run_module(args, check=False):
    argv = ["ansible", "all", "-i", NAME + ",", "-c", "containers.podman.podman", "-m", "osops.toolkit.domain_drift",
            "-a", json.dumps(args), "-e", "ansible_python_interpreter=/usr/bin/python3"]
    if check:
        argv.append("--check")
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="true")
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    parsed = json.loads(proc.stdout)
    return proc.returncode, parsed["plays"][0]["tasks"][0]["hosts"][NAME]


def test_domains_nova_forgot_and_instances_libvirt_lost(libvirt_host):
    known, forgotten, lost = (str(uuid.uuid4()) for _index in range(3))
    define("instance-00000001", known)
    define("instance-00000002", forgotten)
    rc, result = run_module({"uri": "lxc:///", "nova_instances": [known, lost.upper()]})
    assert rc == 0, result
    assert result["changed"] is False
    assert result["unknown_domains"] == [{"uuid": forgotten, "name": "instance-00000002", "state": "shut off"}]
    assert result["missing_domains"] == [lost]
    assert result["counts"] == {"domains": 2, "nova_instances": 2, "unknown_domains": 1, "missing_domains": 1}

    rc, checked = run_module({"uri": "lxc:///", "nova_instances": [known, forgotten]}, check=True)
    assert rc == 0 and checked["unknown_domains"] == [] and checked["missing_domains"] == []


def test_an_unreachable_libvirt_is_a_clear_error(libvirt_host):
    rc, result = run_module({"uri": "qemu+unix:///system?socket=/nonexistent", "nova_instances": []})
    assert rc != 0
    assert result["msg"].startswith("virsh list --all --uuid failed on qemu+unix:///system")
