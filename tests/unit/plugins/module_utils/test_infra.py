"""Inventory composition: bulk pagination, node/hypervisor merge, redaction, filters, groups,
safe host names, servers in their own name space."""
import json
import os

from ansible_collections.osops.toolkit.plugins.module_utils import _infra
from ansible_collections.osops.toolkit.plugins.module_utils._infra import (
    REDACTED,
    RequestCounter,
    compose_hosts,
    compose_servers,
    host_groups,
    redact,
    safe_host_name,
    without_secrets,
)

NODE_UUID = "7c1bd8e0-0000-4000-8000-000000000001"


def _data():
    return {
        "hypervisors": [
            {"id": "hv-1", "hypervisor_hostname": "compute-1.example.net", "host_ip": "10.0.0.1",
             "hypervisor_type": "QEMU", "state": "up", "status": "enabled", "vcpus": 64, "vcpus_used": 3,
             "service": {"host": "compute-1", "id": "svc-1"}, "servers": [{"uuid": "s1"}, {"uuid": "s0"}]},
            {"id": "hv-2", "hypervisor_hostname": NODE_UUID, "host_ip": "10.0.0.9",
             "hypervisor_type": "ironic", "state": "up", "status": "enabled",
             "service": {"host": "ironic-compute", "id": "svc-2"}, "servers": []},
        ],
        "services": [
            {"id": "svc-1", "host": "compute-1", "status": "disabled", "state": "up",
             "disabled_reason": "RAM errors", "forced_down": False, "zone": "az1"},
            {"id": "svc-2", "host": "ironic-compute", "status": "enabled", "state": "up",
             "disabled_reason": None, "forced_down": False, "zone": "nova"},
        ],
        "aggregates": [{"name": "ssd", "hosts": ["compute-1"], "metadata": {"rack": "r12"}}],
        "nodes": [
            {"uuid": NODE_UUID, "name": "bm-7", "provision_state": "active", "power_state": "power on",
             "maintenance": False, "resource_class": "gold", "conductor_group": "",
             "driver": "ipmi", "driver_info": {"ipmi_address": "10.1.0.7", "ipmi_password": "******",
                                               "ipmi_username": "admin", "snmp_community": "public"}},
            {"uuid": "7c1bd8e0-0000-4000-8000-000000000002", "name": None, "provision_state": "manageable",
             "maintenance": True, "maintenance_reason": "bad disk", "resource_class": "silver",
             "conductor_group": "rack2", "driver": "redfish",
             "driver_info": {"redfish_password": "hunter2", "redfish_address": "https://bmc"}},
        ],
        "servers": [],
    }


def test_hypervisor_carries_service_az_aggregates_and_instances():
    hosts = compose_hosts(_data())
    hv = hosts["compute-1"]
    assert (hv["service_status"], hv["disabled_reason"], hv["availability_zone"]) == ("disabled", "RAM errors", "az1")
    assert hv["aggregates"] == ["ssd"] and hv["aggregate_metadata"] == {"ssd": {"rack": "r12"}}
    assert hv["instance_count"] == 2 and hv["instances"] == ["s0", "s1"]
    assert hv["ansible_host"] == "10.0.0.1" and hv["vcpus_used"] == 3
    assert "ironic" not in hv


def test_a_node_that_nova_lists_as_hypervisor_is_one_host():
    hosts = compose_hosts(_data())
    assert sorted(hosts) == ["7c1bd8e0-0000-4000-8000-000000000002", "bm-7", "compute-1"]
    both = hosts["bm-7"]
    assert both["kind"] == "baremetal_hypervisor"
    assert both["service_host"] == "ironic-compute" and both["ironic"]["provision_state"] == "active"


def test_secrets_in_driver_info_are_redacted():
    assert redact({"ipmi_password": "x", "ipmi_address": "a", "snmp_community": "c", "ssh_key_contents": "k",
                   "auth_token": "t"}) == {"ipmi_password": REDACTED, "ipmi_address": "a",
                                           "snmp_community": REDACTED, "ssh_key_contents": REDACTED,
                                           "auth_token": REDACTED}
    hosts = compose_hosts(_data())
    assert "hunter2" not in json.dumps(hosts)
    assert hosts["bm-7"]["ironic"]["driver_info"]["ipmi_username"] == "admin"


def test_filters():
    assert sorted(compose_hosts(_data(), filters={"service_status": "disabled"})) == ["compute-1"]
    assert sorted(compose_hosts(_data(), filters={"maintenance": True})) == ["7c1bd8e0-0000-4000-8000-000000000002"]
    assert sorted(compose_hosts(_data(), filters={"resource_class": ["gold", "silver"]})) == \
        ["7c1bd8e0-0000-4000-8000-000000000002", "bm-7"]
    assert sorted(compose_hosts(_data(), filters={"aggregate": "ssd"})) == ["compute-1"]


def test_prefix_keeps_names_unique_per_cloud():
    assert sorted(compose_hosts(_data(), prefix="east-"))[0] == "east-7c1bd8e0-0000-4000-8000-000000000002"


def test_groups():
    hosts = compose_hosts(_data())
    assert host_groups(hosts["compute-1"]) == ["hypervisors", "az_az1", "aggregate_ssd", "service_up",
                                               "service_disabled"]
    assert host_groups(hosts["7c1bd8e0-0000-4000-8000-000000000002"]) == [
        "baremetal", "provision_state_manageable", "resource_class_silver", "conductor_group_rack2",
        "maintenance"]
    assert "conductor_group_default" in host_groups(hosts["bm-7"])
    assert "hypervisors" in host_groups(hosts["bm-7"])


def test_servers_are_named_by_uuid_and_grouped_under_their_hypervisor():
    data = dict(_data(), servers=[
        {"id": "aaaaaaaa-1", "name": "web", "status": "ACTIVE", "OS-EXT-SRV-ATTR:host": "compute-1",
         "OS-EXT-SRV-ATTR:hypervisor_hostname": "compute-1.example.net", "tenant_id": "p1",
         "addresses": {"net": [{"version": 6, "addr": "fd00::1"}, {"version": 4, "addr": "192.0.2.5"}]}},
        {"id": "bbbbbbbb-2", "name": "web", "status": "SHUTOFF", "OS-EXT-SRV-ATTR:host": "compute-9"},
    ])
    hosts, groups = compose_servers(data, compose_hosts(data), prefix="east-")
    assert sorted(hosts) == ["east-server-aaaaaaaa-1", "east-server-bbbbbbbb-2"]
    assert hosts["east-server-aaaaaaaa-1"]["ansible_host"] == "192.0.2.5"
    assert hosts["east-server-aaaaaaaa-1"]["server_name"] == "web"
    assert groups == {"east-server-aaaaaaaa-1": "servers_on_compute-1"}


def test_a_server_named_like_an_infrastructure_host_is_its_own_host_and_a_warning():
    data = dict(_data(), servers=[
        {"id": "cccccccc-3", "name": "compute-1", "tenant_id": "p-evil", "OS-EXT-SRV-ATTR:host": "compute-1",
         "addresses": {"net": [{"version": 4, "addr": "192.0.2.66"}]}},
        {"id": "dddddddd-4", "name": "BM-7", "tenant_id": "p-evil"},
        {"id": "eeeeeeee-5", "name": "../../x y", "tenant_id": "p-evil"},
    ])
    infra = compose_hosts(data)
    before = json.dumps(infra, sort_keys=True)
    warnings = []
    hosts, _groups = compose_servers(data, infra, warnings=warnings)
    assert sorted(hosts) == ["server-cccccccc-3", "server-dddddddd-4", "server-eeeeeeee-5"]
    assert not set(hosts) & set(infra) and json.dumps(infra, sort_keys=True) == before
    assert hosts["server-eeeeeeee-5"]["server_name"] == "../../x y"
    assert len(warnings) == 2
    assert "'compute-1'" in warnings[0] and "cccccccc-3" in warnings[0] and "p-evil" in warnings[0]
    assert "'BM-7'" in warnings[1] and "'bm-7'" in warnings[1]  # names differing only in case


def test_safe_host_names_stay_inside_host_vars():
    for name in ("compute-1", "compute-1.example.net", "bm_7", "7c1bd8e0-0000-4000-8000-000000000001"):
        assert safe_host_name(name) == name
    for name in ("../../x y", "..", ".", "", "a/b", "/etc/passwd", "a..b", ".hidden", "tab\there",
                 "new\nline", "nul\x00", "bell\x07", "caf\u00e9", "~root", "a b"):
        safe = safe_host_name(name)
        assert safe != name
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in safe), safe
        assert ".." not in safe and not safe.startswith(".")
        assert os.path.dirname(os.path.normpath(os.path.join("host_vars", safe + ".yml"))) == "host_vars"
        assert safe_host_name(name) == safe  # deterministic
    assert safe_host_name("../../x y").startswith("______x_y-")
    assert len({safe_host_name("a b"), safe_host_name("a_b"), safe_host_name("a\tb"), safe_host_name("a/b")}) == 4


def test_unsafe_names_from_the_apis_are_made_safe():
    data = _data()
    data["services"][0]["host"] = data["hypervisors"][0]["service"]["host"] = "../../compute 1"
    data["nodes"][0]["name"] = "bm 7"
    hosts = compose_hosts(data)
    assert safe_host_name("../../compute 1") in hosts and safe_host_name("bm 7") in hosts
    assert hosts[safe_host_name("../../compute 1")]["service_host"] == "../../compute 1"
    assert hosts[safe_host_name("bm 7")]["ironic"]["name"] == "bm 7"


def test_a_node_named_like_a_hypervisor_never_changes_it():
    data = _data()
    data["nodes"][1]["name"] = "compute-1"  # the owner of a node may rename it
    warnings = []
    hosts = compose_hosts(data, warnings=warnings)
    assert hosts["compute-1"]["kind"] == "hypervisor" and hosts["compute-1"]["ansible_host"] == "10.0.0.1"
    assert hosts["7c1bd8e0-0000-4000-8000-000000000002"]["ironic"]["name"] == "compute-1"
    assert warnings == ["Ironic node 'compute-1' (UUID 7c1bd8e0-0000-4000-8000-000000000002) has the name of "
                        "hypervisor 'compute-1' (hypervisor hostname compute-1.example.net); it is host "
                        "'7c1bd8e0-0000-4000-8000-000000000002' instead"]


def test_hypervisors_sharing_a_service_host_are_named_by_hypervisor_hostname():
    data = _data()
    data["nodes"] = []  # sources: [nova] - the Ironic driver's hypervisors are not matched to nodes
    data["hypervisors"].append(dict(data["hypervisors"][1], id="hv-3", hypervisor_hostname="node-3"))
    hosts = compose_hosts(data)
    assert sorted(hosts) == ["7c1bd8e0-0000-4000-8000-000000000001", "compute-1", "node-3"]


SECRETS = ("s-pw", "s-kek", "s-snmp", "s-key", "s-token", "s-url", "s-root", "s-q", "s-sig", "s-nested", "s-list")


def test_redaction_is_recursive_and_covers_every_kind_of_secret():
    value = {
        "ipmi_address": "10.1.0.7", "ipmi_username": "admin", "ipmi_password": "s-pw", "kek": "s-kek",
        "snmp_community": "s-snmp", "foo_key": "s-key", "bar_token": "s-token", "empty_password": "",
        "redfish_address": "https://admin:s-url@bmc.example.net:8443/redfish/v1",
        "plain_url": "https://bmc.example.net/redfish/v1",
        "nested": {"level2": {"password": "s-nested", "port": 623}},
        "list": [{"secret": "s-list"}, "https://u:s-url@x/"],
        "kernel_append_params": "nofb console=ttyS0 rootpwd=s-root ipa-pass='s-q s-q' nomodeset",
        "image_source": "https://swift/v1/img?temp_url_sig=s-sig&temp_url_expires=1700000000",
    }
    clean = redact(value)
    text = json.dumps(clean)
    assert not [s for s in SECRETS if s in text], text
    assert clean["ipmi_address"] == "10.1.0.7" and clean["ipmi_username"] == "admin"
    assert clean["ipmi_password"] == clean["kek"] == clean["snmp_community"] == REDACTED
    assert clean["foo_key"] == clean["bar_token"] == REDACTED and clean["empty_password"] == ""
    assert clean["redfish_address"] == "https://******@bmc.example.net:8443/redfish/v1"
    assert clean["plain_url"] == value["plain_url"]
    assert clean["nested"] == {"level2": {"password": REDACTED, "port": 623}}
    assert clean["list"] == [{"secret": REDACTED}, "https://******@x/"]
    assert clean["kernel_append_params"] == "nofb console=ttyS0 rootpwd=****** ipa-pass=****** nomodeset"
    assert clean["image_source"] == "https://swift/v1/img?temp_url_sig=******&temp_url_expires=1700000000"
    assert redact("https://u:p@ss@bmc/x") == "https://******@bmc/x"  # an @ inside the password


def test_node_secrets_are_redacted_in_every_field_and_before_caching():
    data = _data()
    data["nodes"][0].update(
        driver_info={"redfish": {"auth": {"password": "s-nested"}}, "kek": "s-kek"},
        instance_info={"kernel_append_params": "rootpwd=s-root", "image_source": "http://u:s-url@img/x"},
        properties={"vendor": "acme", "bmc_token": "s-token"},
        extra={"note": "ok", "snmp_community": "s-snmp", "foo_key": "s-key"})
    data["servers"] = [{"id": "s1", "name": "vm", "OS-EXT-SRV-ATTR:user_data": "cGFzc3dvcmQ=",
                        "metadata": {"db_password": "s-pw"}, "flavor": {"original_name": "m1", "extra_specs": {}}}]
    cached = without_secrets(data)
    assert not [s for s in SECRETS if s in json.dumps(cached)]
    assert cached["servers"] == [{"id": "s1", "name": "vm", "flavor": {"original_name": "m1"}}]
    assert cached["nodes"][0]["properties"]["vendor"] == "acme"
    node = compose_hosts(data)["bm-7"]["ironic"]  # raw data too (a cache from an older version)
    assert not [s for s in SECRETS if s in json.dumps(node)]
    assert node["instance_info"] == {"kernel_append_params": "rootpwd=******", "image_source": "http://******@img/x"}
    assert node["extra"] == {"note": "ok", "snmp_community": REDACTED, "foo_key": REDACTED}


class _Response(object):
    status_code = 200

    def __init__(self, body):
        self._body = body
        self.headers = {}

    def json(self):
        return self._body


class _Proxy(object):
    """A Nova that pages 3 items at a time, as its *_links say."""

    def __init__(self, items):
        self.items, self.calls = items, []

    def get(self, path, params=None, microversion=None):
        self.calls.append(dict(params or {}))
        start = 0
        if params.get("marker"):
            start = [i["id"] for i in self.items].index(params["marker"]) + 1
        page = self.items[start:start + 3]
        body = {"hypervisors": page}
        if start + 3 < len(self.items):
            body["hypervisors_links"] = [{"rel": "next", "href": "http://nova/os-hypervisors/detail?limit=3&marker="
                                          + page[-1]["id"]}]
        return _Response(body)


def test_pagination_follows_next_links_and_counts_requests(monkeypatch):
    monkeypatch.setattr(_infra, "PAGE_SIZE", 3)
    proxy = _Proxy([{"id": "h%d" % i} for i in range(7)])
    counter = RequestCounter()
    items = _infra._listed(proxy, "/os-hypervisors/detail", "hypervisors", "2.87", counter, {})
    assert [i["id"] for i in items] == ["h%d" % i for i in range(7)]
    assert counter.requests == 3
    assert [c.get("marker") for c in proxy.calls] == [None, "h2", "h5"]
