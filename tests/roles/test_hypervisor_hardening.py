"""osops.toolkit.hypervisor_hardening on three real compute hosts (extensions/molecule/hypervisor_hardening).

The molecule sequence (create, prepare = a compute node before hardening, check, converge,
idempotence, verify) runs first; then these tests log in over SSH, migrate-ssh as nova between
the hosts, rotate the keys, audit in check mode a hardened host and a fresh one, and measure
the Lynis hardening index. The tests run in order and share the hosts.
"""
import json
import os
import re
import subprocess
import time

import pytest

SCENARIO = "hypervisor_hardening"
NODES = ["hv-harden1", "hv-harden2", "hv-harden3"]
GROUP = "hypervisors"
PLAYBOOK = "osops.toolkit.harden_hypervisors"
PREPARE = os.path.join("extensions", "molecule", SCENARIO, "prepare.yml")
FRESH = "hv-harden-fresh"
NETWORK = "osops-hardening"
# what converge.yml sets too: the test hosts' kernel has no AppArmor; certificates from prepare.yml
ROLE_VARS = ["-e", "hypervisor_hardening_hosts=hypervisors", "-e", "hypervisor_hardening_libvirt_security_driver=none",
             "-e", "hypervisor_hardening_libvirt_tls_cert_dir=/etc/pki/qemu"]
SSH_OPTS = ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
            "-o", "ControlMaster=no", "-o", "ControlPath=none", "-o", "ConnectTimeout=10"]


def _ssh(ip, *command, key=None, extra=()):
    """A brand-new SSH connection from the controller (no multiplexing)."""
    argv = ["ssh"] + SSH_OPTS + list(extra)
    if key:
        argv += ["-i", key, "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
    return subprocess.run(argv + ["root@%s" % ip] + list(command), capture_output=True, text=True, check=False,
                          timeout=60)


def _password_attempt(ip, tmp_path):
    """A real password login as root (password "root", which the image sets); True when sshd asked for it."""
    marker = tmp_path / "asked"
    askpass = tmp_path / "askpass.sh"
    askpass.write_text("#!/bin/sh\ntouch %s\necho root\n" % marker)
    askpass.chmod(0o700)
    env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force", DISPLAY=":0")
    proc = subprocess.run(["setsid", "ssh"] + SSH_OPTS + ["-o", "PubkeyAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
                                                          "-o", "PreferredAuthentications=password,keyboard-interactive",
                                                          "root@%s" % ip, "true"],
                          capture_output=True, text=True, check=False, env=env, stdin=subprocess.DEVNULL, timeout=60)
    return proc, marker.exists()


def _report(stdout, node):
    match = re.search(r"%s hardening (audit|run): (\d+)\s+of (\d+) controls pass;([^\"]*)" % node, stdout)
    assert match, stdout[-4000:]
    return match.group(1), int(match.group(2)), int(match.group(3)), match.group(4)


def _as_nova(hosts, node, command, check=False):
    return hosts.sh(node, "runuser -u nova -- " + command, check=check)


def _changed_zero(stdout):
    recap = stdout[stdout.rfind("PLAY RECAP"):]
    return re.findall(r"changed=(\d+)", recap) and all(n == "0" for n in re.findall(r"changed=(\d+)", recap))


def test_molecule_sequence_passed(molecule_scenario):
    if molecule_scenario is None:
        pytest.skip("hosts reused (OSOPS_REUSE_TESTHOSTS)")
    for step in ("check", "converge", "idempotence", "verify"):
        assert "[hypervisor_hardening > %s] Executed: Successful" % step in molecule_scenario, step
    # the check step ran on the unhardened hosts: the audit reported failures there
    for node in NODES:
        mode, passed, total, rest = _report(molecule_scenario, node)
        assert mode == "audit" and passed < total and "fail: " in rest, rest


def test_a_new_ssh_connection_with_the_test_key_works(hosts):
    for node in NODES:
        proc = _ssh(hosts.ip(node), "hostname", key=os.environ["OSOPS_TESTHOSTS_SSH_KEY"])
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == node


def test_root_password_login_is_refused_without_even_asking(hosts, tmp_path):
    proc, asked = _password_attempt(hosts.ip("hv-harden1"), tmp_path)
    assert proc.returncode == 255
    assert "Permission denied (publickey)" in proc.stderr
    assert not asked                  # sshd no longer offers password or keyboard-interactive


def test_migration_ssh_as_nova_between_every_pair(hosts):
    for src, dst in (("hv-harden1", "hv-harden2"), ("hv-harden2", "hv-harden3"), ("hv-harden3", "hv-harden1")):
        proc = _as_nova(hosts, src, "ssh %s hostname" % dst)
        assert proc.returncode == 0 and proc.stdout.strip() == dst, (src, dst, proc.stderr)
        # what live migration over ssh uses: libvirt's ssh transport to the peer's libvirtd
        virsh = _as_nova(hosts, src, "virsh -c qemu+ssh://nova@%s/system hostname" % dst)
        assert virsh.returncode == 0 and virsh.stdout.strip() == dst, (src, dst, virsh.stderr)


def test_migration_key_is_refused_from_elsewhere_and_without_a_pty(hosts, tmp_path):
    key = tmp_path / "nova_key"
    key.write_text(hosts.sh("hv-harden1", "cat /var/lib/nova/.ssh/id_ed25519") + "\n")
    key.chmod(0o600)
    # the controller is not a hypervisor: from= refuses nova's own key from here
    proc = subprocess.run(["ssh"] + SSH_OPTS + ["-i", str(key), "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                                                "nova@%s" % hosts.ip("hv-harden2"), "true"],
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 255 and "Permission denied" in proc.stderr
    # restrict: no port forwarding (a remote forward is asked of sshd when the session starts)
    fwd = _as_nova(hosts, "hv-harden1", "ssh -o ExitOnForwardFailure=yes -R 127.0.0.1:10022:127.0.0.1:22 hv-harden2 true")
    assert fwd.returncode == 255 and "forwarding failed" in fwd.stderr, fwd.stderr


def test_unknown_host_keys_are_refused(hosts):
    # known_hosts is pinned: a name not in it (an address alias) is not trusted on first use
    proc = _as_nova(hosts, "hv-harden1", "ssh -o HostKeyAlias=not-a-peer hv-harden2 true")
    assert proc.returncode == 255 and "Host key verification failed" in proc.stderr


def test_rotation_replaces_the_key_and_the_old_one_is_refused(hosts):
    old_pub = hosts.sh("hv-harden1", "cut -d' ' -f2 /var/lib/nova/.ssh/id_ed25519.pub")
    hosts.sh("hv-harden1", "install -o nova -m 0600 /var/lib/nova/.ssh/id_ed25519 /tmp/old_key")
    assert _as_nova(hosts, "hv-harden1", "ssh -i /tmp/old_key hv-harden2 true").returncode == 0

    run = hosts.playbook(PLAYBOOK, *ROLE_VARS,
                         "-e", "hypervisor_hardening_migration_key_rotate=true", label="playbook: rotate migration keys")
    assert run.returncode == 0, run.stdout[-4000:]

    new_pub = hosts.sh("hv-harden1", "cut -d' ' -f2 /var/lib/nova/.ssh/id_ed25519.pub")
    assert new_pub != old_pub
    for node in NODES:
        assert old_pub not in hosts.sh(node, "cat /var/lib/nova/.ssh/authorized_keys")
        assert new_pub in hosts.sh(node, "cat /var/lib/nova/.ssh/authorized_keys")
    # -F /dev/null: only the old key is offered (nova's ssh config would add the new one)
    old = _as_nova(hosts, "hv-harden1", "ssh -F /dev/null -i /tmp/old_key -o IdentitiesOnly=yes -o BatchMode=yes "
                                        "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=/var/lib/nova/.ssh/known_hosts hv-harden2 true")
    assert old.returncode == 255 and "Permission denied" in old.stderr, old.stderr
    new = _as_nova(hosts, "hv-harden1", "ssh hv-harden2 hostname")
    assert new.returncode == 0 and new.stdout.strip() == "hv-harden2", new.stderr
    hosts.sh("hv-harden1", "rm -f /tmp/old_key")


def test_check_mode_on_hardened_hosts_all_pass_and_changes_nothing(hosts):
    run = hosts.playbook(PLAYBOOK, "--check", *ROLE_VARS,
                         label="playbook --check: hardened hosts")
    assert run.returncode == 0, run.stdout[-4000:]
    for node in NODES:
        mode, passed, total, rest = _report(run.stdout, node)
        assert mode == "audit" and passed == total == 8, rest
        assert "fail:" not in rest
        # said, not hidden, and not counted as a pass: a container cannot run auditd
        assert "skipped: auditd_service;" in rest and "runtime skipped: auditd" in rest
    assert _changed_zero(run.stdout), run.stdout[-2000:]


def test_a_deny_list_that_hits_the_allow_list_is_refused(hosts):
    before = hosts.sh("hv-harden1", "sha256sum /etc/modprobe.d/osops-hypervisor-hardening.conf")
    run = hosts.playbook(PLAYBOOK, *ROLE_VARS,
                         "-e", '{"hypervisor_hardening_modules_deny": ["cramfs", "kvm-intel", "vfat"]}',
                         label="playbook: deny list with kvm_intel, vfat")
    assert run.returncode != 0
    assert "hypervisor_hardening_modules_deny contains kvm_intel, vfat, which a compute node needs" in run.stdout
    assert hosts.sh("hv-harden1", "sha256sum /etc/modprobe.d/osops-hypervisor-hardening.conf") == before


def test_settings_that_would_lock_out_ansible_are_refused(hosts):
    before = hosts.sh("hv-harden1", "sha256sum /etc/ssh/sshd_config")
    run = hosts.playbook(PLAYBOOK, *ROLE_VARS,
                         "-e", '{"hypervisor_hardening_sshd_ports": [2222]}', label="playbook: sshd port 2222 only")
    assert run.returncode != 0
    assert "The sshd settings would lock out this Ansible connection (root@port 22, key)" in run.stdout
    assert hosts.sh("hv-harden1", "sha256sum /etc/ssh/sshd_config") == before


@pytest.fixture(scope="module")
def fresh(hosts):
    """A fourth host, unhardened: prepared like the others (nova, libvirtd) but never converged."""
    hosts.podman("rm", "-f", FRESH, check=False)
    hosts.podman("run", "-d", "--name", FRESH, "--hostname", FRESH, "--network", NETWORK, "--systemd=always",
                 "--cap-add", "SYS_ADMIN,NET_ADMIN,SYS_NICE,SYS_PTRACE",
                 os.environ.get("OSOPS_TESTHOSTS_HYPERVISOR_IMAGE", "localhost/osops-bookworm-hypervisor:latest"), "/sbin/init")
    fresh_hosts = type(hosts)(SCENARIO + "-fresh", [FRESH], GROUP)
    try:
        deadline = time.monotonic() + 60
        while _ssh(fresh_hosts.ip(FRESH), "true", key=os.environ["OSOPS_TESTHOSTS_SSH_KEY"]).returncode != 0:
            assert time.monotonic() < deadline, "sshd of %s did not come up" % FRESH
            time.sleep(1)
        run = fresh_hosts.playbook(PREPARE, label="prepare: fresh host")
        assert run.returncode == 0, run.stdout[-4000:]
        yield fresh_hosts
    finally:
        if not os.environ.get("OSOPS_KEEP_TESTHOSTS"):
            hosts.podman("rm", "-f", FRESH, check=False)


SNAPSHOT = ("sha256sum /etc/ssh/sshd_config /etc/libvirt/qemu.conf /etc/libvirt/libvirtd.conf /etc/nova/nova.conf; "
            "stat -c '%n %a %U:%G' /etc/nova /etc/nova/nova.conf /var/lib/nova; ls -a /var/lib/nova /etc/sysctl.d "
            "/etc/modprobe.d /etc/audit/rules.d; sysctl net.ipv4.conf.all.accept_redirects net.ipv4.conf.all.send_redirects; "
            "find /etc /var/lib/nova -newer /tmp/snapshot-marker -not -path '/etc/machine-id' -print")


def test_check_mode_on_a_fresh_host_reports_failures_and_changes_nothing(fresh, tmp_path):
    fresh.sh(FRESH, "touch /tmp/snapshot-marker; sleep 1")
    before = fresh.sh(FRESH, SNAPSHOT)
    run = fresh.playbook(PLAYBOOK, "--check", *ROLE_VARS,
                         label="playbook --check: fresh host")
    assert run.returncode == 0, run.stdout[-4000:]
    mode, passed, total, rest = _report(run.stdout, FRESH)
    assert mode == "audit" and passed < total
    failed = rest.split("fail: ")[1].split(";")[0].split(", ")
    for control in ("sysctl_file", "sysctl_runtime", "kernel_modules", "sshd", "auditd_rules", "libvirt_qemu",
                    "file_modes", "migration_keys"):
        assert control in failed, rest
    assert fresh.sh(FRESH, SNAPSHOT) == before
    # and the contrast for the password test above: an unhardened sshd does ask for the password
    proc, asked = _password_attempt(fresh.ip(FRESH), tmp_path)
    assert proc.returncode == 255 and asked


def test_a_missing_nova_user_fails_clearly(fresh):
    fresh.sh(FRESH, "userdel nova")
    run = fresh.playbook(PLAYBOOK, "--check", *ROLE_VARS,
                         label="playbook --check: no nova user")
    assert run.returncode != 0
    assert "User nova does not exist on %s" % FRESH in run.stdout


RESTART_LOG = "/run/osops-restarts"
# test-only drop-ins: each sshd reload and libvirtd (re)start logs when it began and ended (one kernel clock
# for all the hosts) and takes 2 s, so that reloads run at the same time on several hosts would overlap
DROPINS = {
    "ssh": "[Service]\nExecReload=\n"
           "ExecReload=/bin/sh -c 'echo \"$$(date +%%s.%%N) begin\" >> {log}; sleep 2'\n"
           "ExecReload=/usr/sbin/sshd -t\nExecReload=/bin/kill -HUP $MAINPID\n"
           "ExecReload=/bin/sh -c 'echo \"$$(date +%%s.%%N) end\" >> {log}'\n",
    "libvirtd": "[Service]\nEnvironment=LIBVIRTD_ARGS=\n"
                "ExecStartPre=/bin/sh -c 'echo \"$$(date +%%s.%%N) begin\" >> {log}; sleep 2'\n"
                "ExecStartPost=/bin/sh -c 'echo \"$$(date +%%s.%%N) end\" >> {log}'\n",
}


def _intervals(hosts, service):
    """Per host, the (begin, end) of each logged reload/restart of service."""
    spans = []
    for node in NODES:
        marks = hosts.sh(node, "cat %s.%s 2>/dev/null || true" % (RESTART_LOG, service)).split("\n")
        times = [float(line.split()[0]) for line in marks if line.strip()]
        spans.extend((node, times[i], times[i + 1]) for i in range(0, len(times) - 1, 2))
    return sorted(spans, key=lambda span: span[1])


def test_sshd_reloads_and_libvirtd_restarts_go_one_host_at_a_time(hosts):
    for node in NODES:
        for service, text in DROPINS.items():
            hosts.sh(node, "mkdir -p /etc/systemd/system/%s.service.d && printf '%%s' %s > "
                           "/etc/systemd/system/%s.service.d/osops-test.conf"
                     % (service, _quote(text.format(log=RESTART_LOG + "." + service)), service))
        # libvirtd without its idle timeout, running, so that the role restarts it
        hosts.sh(node, "systemctl daemon-reload && systemctl restart libvirtd && rm -f %s.*" % RESTART_LOG)
    try:
        run = hosts.playbook(PLAYBOOK, *ROLE_VARS, "-e", "hypervisor_hardening_sshd_max_sessions=9",
                             "-e", "hypervisor_hardening_libvirt_seccomp_sandbox=false",
                             label="playbook: sshd and libvirt settings changed on every host")
        assert run.returncode == 0, run.stdout[-4000:]
        for service in DROPINS:
            spans = _intervals(hosts, service)
            assert sorted(node for node, _begin, _end in spans) == NODES, (service, spans)
            for before, after in zip(spans, spans[1:]):
                # the next host's reload began only after the one before had ended
                assert after[1] >= before[2], (service, spans)
    finally:
        for node in NODES:
            hosts.sh(node, "rm -rf /etc/systemd/system/ssh.service.d /etc/systemd/system/libvirtd.service.d "
                           "%s.*; systemctl daemon-reload" % RESTART_LOG)


def _quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def _nova_files(hosts, node):
    return hosts.sh(node, "grep -hv '^#' /var/lib/nova/.ssh/authorized_keys; echo ---; "
                          "grep -hv '^#' /var/lib/nova/.ssh/known_hosts")


def test_a_run_limited_to_one_host_keeps_every_peers_key(hosts):
    before = dict((node, _nova_files(hosts, node)) for node in NODES)
    assert all(before[node].count(" nova@hv-harden") == 3 for node in NODES), before
    run = hosts.playbook(PLAYBOOK, *ROLE_VARS, "--limit", "hv-harden1", label="playbook --limit hv-harden1")
    assert run.returncode == 0, run.stdout[-4000:]
    assert dict((node, _nova_files(hosts, node)) for node in NODES) == before
    # what a cold migration or resize does as nova: make the instance directory on the peer, copy the disk there
    for src, dst in (("hv-harden2", "hv-harden1"), ("hv-harden3", "hv-harden1"), ("hv-harden2", "hv-harden3"),
                     ("hv-harden1", "hv-harden3")):
        proc = _as_nova(hosts, src, "sh -c 'ssh %s mkdir -p /var/lib/nova/instances/osops-cold "
                                    "&& scp -q /etc/hostname %s:/var/lib/nova/instances/osops-cold/disk "
                                    "&& ssh %s cat /var/lib/nova/instances/osops-cold/disk'" % (dst, dst, dst))
        assert proc.returncode == 0 and proc.stdout.strip() == src, (src, dst, proc.stderr)
    for node in NODES:
        hosts.sh(node, "rm -rf /var/lib/nova/instances/osops-cold")


def test_a_member_whose_keys_are_unknown_is_refused(hosts, tmp_path):
    hosts.write_inventory()
    with open(hosts.inventory) as handle:
        inventory = json.load(handle)
    # a new hypervisor in the group, never hardened and not reachable: nothing of it is known
    inventory["all"]["children"][GROUP]["hosts"]["hv-harden-new"] = {"ansible_host": "192.0.2.10"}
    path = tmp_path / "inventory.yml"
    path.write_text(json.dumps(inventory))
    before = dict((node, _nova_files(hosts, node)) for node in NODES)
    proc = subprocess.run(["ansible-playbook", "-i", str(path), PLAYBOOK] + ROLE_VARS + ["--limit", "hv-harden1"],
                          capture_output=True, text=True, check=False, env=hosts._ansible_env(),
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert proc.returncode != 0
    out = " ".join(proc.stdout.split())
    assert ("The migration keys or host keys of hv-harden-new (group hypervisors) are unknown to this run"
            in out), proc.stdout[-4000:]
    assert dict((node, _nova_files(hosts, node)) for node in NODES) == before


def test_lynis_hardening_index_before_and_after(hosts):
    before = int(hosts.sh("hv-harden1", "cat /root/lynis-before.txt"))
    start = time.monotonic()
    after = int(hosts.sh("hv-harden1", "lynis audit system --quick --no-colors --no-log --skip-plugins 2>/dev/null "
                                       "| sed -n 's/.*Hardening index : \\([0-9]*\\).*/\\1/p'"))
    # conftest's timing table (printed at the end of the run)
    label = "lynis hardening index on hv-harden1: before %d, after %d" % (before, after)
    type(hosts).__init__.__globals__["TIMINGS"].append((label, time.monotonic() - start, 0))
    print("Lynis hardening index on hv-harden1: before %d, after %d" % (before, after))
    assert after > before
