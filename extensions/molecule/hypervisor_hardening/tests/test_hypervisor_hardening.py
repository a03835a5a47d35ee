"""What the role left on each host (testinfra, podman backend)."""
import pytest


def test_sysctl_file_and_the_runtime_values_a_container_allows(host):
    text = host.file("/etc/sysctl.d/90-osops-hypervisor-hardening.conf").content_string
    for line in ("net.ipv4.ip_forward=1", "net.bridge.bridge-nf-call-iptables=1", "kernel.kptr_restrict=2",
                 "kernel.yama.ptrace_scope=1", "fs.suid_dumpable=0", "net.ipv4.conf.all.accept_redirects=0"):
        assert line in text.splitlines()
    # net.* of the container's network namespace are applied now; forwarding stays on
    assert host.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "1"
    assert host.file("/proc/sys/net/ipv4/conf/all/accept_redirects").content_string.strip() == "0"
    assert host.file("/proc/sys/net/ipv4/conf/all/send_redirects").content_string.strip() == "0"
    assert host.file("/proc/sys/net/ipv4/conf/all/log_martians").content_string.strip() == "1"


def test_module_deny_list_spares_what_a_hypervisor_needs(host):
    lines = host.file("/etc/modprobe.d/osops-hypervisor-hardening.conf").content_string.splitlines()
    for module in ("cramfs", "usb-storage", "dccp", "sctp", "tipc"):
        assert "install %s /bin/false" % module in lines and "blacklist %s" % module in lines
    denied = [line.split()[1] for line in lines if line.startswith(("blacklist", "install"))]
    for module in ("kvm", "kvm_intel", "kvm_amd", "vhost_net", "tun", "openvswitch", "br_netfilter", "nbd", "vfat"):
        assert module not in denied
    assert "br_netfilter" in host.file("/etc/modules-load.d/osops-hypervisor-hardening.conf").content_string.split()


def test_sshd_effective_configuration(host):
    conf = dict(line.split(" ", 1) for line in host.check_output("sshd -T").splitlines())
    assert conf["permitrootlogin"] == "without-password"
    assert conf["passwordauthentication"] == "no"
    assert conf["kbdinteractiveauthentication"] == "no"
    assert conf["pubkeyauthentication"] == "yes"
    assert conf["ciphers"] == "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"
    assert conf["macs"] == "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com"
    assert conf["kexalgorithms"].startswith("sntrup761x25519-sha512@openssh.com,curve25519-sha256")
    assert conf["maxauthtries"] == "3"
    assert conf["x11forwarding"] == "no" and conf["allowtcpforwarding"] == "no"
    sshd_config = host.file("/etc/ssh/sshd_config")
    assert sshd_config.mode == 0o600 and sshd_config.user == "root"
    assert host.service("ssh").is_running


@pytest.mark.parametrize("rule", [
    "-w /etc/nova -p wa -k nova_config",
    "-w /etc/libvirt -p wa -k libvirt_config",
    "-w /etc/libvirt/qemu.conf -p wa -k qemu_config",
    "-w /var/lib/nova/instances -p wa -k nova_instances",
    "-w /var/lib/nova/.ssh -p rwa -k nova_ssh_keys",
    "-w /etc/pki/qemu -p rwa -k qemu_tls_keys",
    "-w /etc/shadow -p wa -k identity",
])
def test_audit_rules(host, rule):
    rules = host.file("/etc/audit/rules.d/osops-hypervisor-hardening.rules")
    assert rule in rules.content_string.splitlines()
    assert rules.mode == 0o640


def test_qemu_and_libvirtd_settings_and_libvirtd_still_runs(host):
    qemu = host.file("/etc/libvirt/qemu.conf")
    lines = qemu.content_string.splitlines()
    for line in ('security_driver = "none"', "seccomp_sandbox = 1", 'user = "libvirt-qemu"', "dynamic_ownership = 1",
                 'default_tls_x509_cert_dir = "/etc/pki/qemu"', "default_tls_x509_verify = 1", "vnc_tls = 1",
                 "spice_tls = 1", "migrate_tls_force = 1"):
        assert line in lines
    assert qemu.mode == 0o600
    libvirtd = host.file("/etc/libvirt/libvirtd.conf").content_string.splitlines()
    assert 'unix_sock_rw_perms = "0770"' in libvirtd
    assert 'key_file = "/etc/pki/qemu/server-key.pem"' in libvirtd
    # libvirtd is socket-activated (and exits when idle): a client starts it with the new settings
    assert host.run("virsh -c qemu:///system uri").stdout.strip() == "qemu:///system"
    assert host.service("libvirtd").is_running


def test_nova_paths_tightened(host):
    assert host.file("/etc/nova").mode == 0o750 and host.file("/etc/nova").group == "nova"
    conf = host.file("/etc/nova/nova.conf")
    assert (conf.mode, conf.user, conf.group) == (0o640, "root", "nova")
    assert host.file("/var/lib/nova/.ssh").mode == 0o700


def test_migration_keys_restricted_and_host_keys_pinned(host):
    keys = [line for line in host.file("/var/lib/nova/.ssh/authorized_keys").content_string.splitlines()
            if line and not line.startswith("#")]
    assert len(keys) == 3
    for line in keys:
        assert line.startswith('restrict,from="10.') and " ssh-ed25519 " in line
    known = host.file("/var/lib/nova/.ssh/known_hosts").content_string
    for peer in ("hv-harden1", "hv-harden2", "hv-harden3"):
        assert any(line.split()[0].split(",")[0] == peer and line.split()[1] == "ssh-ed25519"
                   for line in known.splitlines() if line and not line.startswith("#"))
    key = host.file("/var/lib/nova/.ssh/id_ed25519")
    assert (key.mode, key.user) == (0o600, "nova")
