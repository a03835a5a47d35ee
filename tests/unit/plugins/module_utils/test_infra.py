"""Inventory composition: bulk pagination, node/hypervisor merge, redaction, filters, groups."""
import json

from ansible_collections.osops.toolkit.plugins.module_utils import _infra
from ansible_collections.osops.toolkit.plugins.module_utils._infra import (
    REDACTED,
    RequestCounter,
    compose_hosts,
    compose_servers,
    host_groups,
    redact,
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


def test_servers_grouped_under_their_hypervisor_with_unique_names():
    data = {"servers": [
        {"id": "aaaaaaaa-1", "name": "web", "status": "ACTIVE", "OS-EXT-SRV-ATTR:host": "compute-1",
         "addresses": {"net": [{"version": 6, "addr": "fd00::1"}, {"version": 4, "addr": "192.0.2.5"}]}},
        {"id": "bbbbbbbb-2", "name": "web", "status": "SHUTOFF", "OS-EXT-SRV-ATTR:host": "compute-9"},
    ]}
    hosts, groups = compose_servers(data, {"compute-1": "compute-1"})
    assert sorted(hosts) == ["web-aaaaaaaa", "web-bbbbbbbb"]
    assert hosts["web-aaaaaaaa"]["ansible_host"] == "192.0.2.5"
    assert groups == {"web-aaaaaaaa": "servers_on_compute-1"}


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
    items = _infra._paged(proxy, "/os-hypervisors/detail", "hypervisors", "2.87", counter)
    assert [i["id"] for i in items] == ["h%d" % i for i in range(7)]
    assert counter.requests == 3
    assert [c.get("marker") for c in proxy.calls] == [None, "h2", "h5"]
