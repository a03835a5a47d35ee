"""ovs_info's parsing of ovs-vsctl / ovs-ofctl / ovs-appctl output (samples from OVS 3.1)."""
import json

from ansible_collections.osops.toolkit.plugins.module_utils._ovs import (
    assemble_bridges,
    highest_protocol,
    interface_problems,
    parse_datapaths,
    parse_flows,
    parse_version,
    parse_vsctl_json,
)


def test_versions():
    assert parse_version("ovs-vsctl (Open vSwitch) 3.1.0\nDB Schema 8.3.1\n") == "3.1.0"
    assert parse_version("ovs-vswitchd (Open vSwitch) 3.1.0\n") == "3.1.0"
    assert parse_version("") is None


def _table(headings, rows):
    return json.dumps({"headings": headings, "data": rows})


def test_bridges_ports_interfaces_and_missing_ofport():
    bridges = parse_vsctl_json(_table(
        ["_uuid", "name", "datapath_type", "protocols", "ports"],
        [[["uuid", "b1"], "br-int", "netdev", ["set", []], ["set", [["uuid", "p1"], ["uuid", "p2"]]]],
         [["uuid", "b2"], "br-ex", "", ["set", ["OpenFlow10", "OpenFlow13"]], ["uuid", "p3"]]]))
    ports = parse_vsctl_json(_table(["_uuid", "name", "interfaces"], [
        [["uuid", "p1"], "br-int", ["uuid", "i1"]], [["uuid", "p2"], "tap0", ["uuid", "i2"]],
        [["uuid", "p3"], "br-ex", ["uuid", "i3"]]]))
    ifaces = parse_vsctl_json(_table(["_uuid", "name", "type", "ofport", "error"], [
        [["uuid", "i1"], "br-int", "internal", 65534, ["set", []]],
        [["uuid", "i2"], "tap0", "internal", -1, "could not open network device tap0 (No such device)"],
        [["uuid", "i3"], "br-ex", "internal", ["set", []], ["set", []]]]))
    result = assemble_bridges(bridges, ports, ifaces)
    assert result["br-int"]["ports"] == ["br-int", "tap0"]
    assert result["br-int"]["datapath_type"] == "netdev"
    assert result["br-ex"]["datapath_type"] == "system"          # empty means the default, system
    assert result["br-ex"]["protocols"] == ["OpenFlow10", "OpenFlow13"]
    assert result["br-int"]["interfaces"]["br-int"]["ofport"] == 65534
    assert interface_problems(result) == [
        "br-ex on br-ex has no ofport (-1)",
        "tap0 on br-int has no ofport (-1): could not open network device tap0 (No such device)"]


def test_flows_are_normalized_and_sorted():
    text = ("NXST_FLOW reply (xid=0x4):\n"
            " cookie=0x0, duration=5.1s, table=0, n_packets=3, n_bytes=180, priority=0 actions=NORMAL\n"
            " cookie=0x1, table=0, priority=100,in_port=2 actions=drop\n")
    assert parse_flows(text) == ["cookie=0x0, table=0, priority=0 actions=NORMAL",
                                 "cookie=0x1, table=0, priority=100,in_port=2 actions=drop"]


def test_datapaths_and_protocols():
    assert parse_datapaths("netdev@ovs-netdev: hit:0 missed:2\n  br-int:\n    br-int 65534/1: (tap)\n") == \
        ["netdev@ovs-netdev"]
    assert highest_protocol(["OpenFlow10", "OpenFlow13"]) == "OpenFlow13"
    assert highest_protocol([]) is None
