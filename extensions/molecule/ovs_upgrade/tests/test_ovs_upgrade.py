"""What the role left on each hypervisor (testinfra, podman backend)."""
import os


def test_packages_at_the_new_version(host):
    want = os.environ.get("OSOPS_OVS_VERSION_NEW")
    for name in ("openvswitch-switch", "openvswitch-common"):
        package = host.package(name)
        assert package.is_installed
        if want:
            assert package.version == want
        assert package.version.endswith("+osops1")


def test_daemons_run_the_installed_binaries(host):
    for name in ("ovsdb-server", "ovs-vswitchd"):
        pid = host.check_output("cat /run/openvswitch/%s.pid" % name)
        assert "(deleted)" not in host.check_output("readlink /proc/%s/exe" % pid)


def test_bridges_ports_and_ofports_kept(host):
    assert host.check_output("ovs-vsctl list-br").split() == ["br-ex", "br-int"]
    assert host.check_output("ovs-vsctl list-ports br-int").split() == ["patch-ex", "tap-vm1", "tap-vm2"]
    assert host.check_output("ovs-vsctl list-ports br-ex").split() == ["ex-uplink", "patch-int"]
    ofports = host.check_output("ovs-vsctl --bare --columns=ofport list Interface").split()
    assert len(ofports) == 7 and all(int(port) > 0 for port in ofports)


def test_netdev_datapath_and_flows_back(host):
    assert "netdev@ovs-netdev" in host.check_output("ovs-appctl dpif/show")
    flows = host.check_output("ovs-ofctl --names dump-flows br-int")
    # --names quotes the port names: in_port="tap-vm1" actions=output:"tap-vm2"
    assert "cookie=0x5a" in flows and 'in_port="tap-vm1" actions=output:"tap-vm2"' in flows
    assert "cookie=0x5b" in host.check_output("ovs-ofctl dump-flows br-ex")


def test_agent_restarted_after_ovs_where_it_runs(host):
    """fake-compute-3 has a stand-in neutron-openvswitch-agent unit (prepare.yml)."""
    if host.backend.get_hostname() != "fake-compute-3":
        assert not host.file("/etc/systemd/system/neutron-openvswitch-agent.service").exists
        return
    stamp = "systemctl show --timestamp=unix --property=ActiveEnterTimestamp --value %s"
    agent = int(host.check_output(stamp % "neutron-openvswitch-agent").lstrip("@"))
    ovs = int(host.check_output(stamp % "ovs-vswitchd").lstrip("@"))
    assert agent >= ovs


def test_flow_restore_wait_cleared(host):
    out = host.check_output("ovs-vsctl --if-exists get Open_vSwitch . other_config:flow-restore-wait")
    assert out.strip() in ("", '"false"')
