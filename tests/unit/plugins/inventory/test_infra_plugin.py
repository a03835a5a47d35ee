"""The inventory plugin's own rule: no server is ever added under a name that is already a host."""
import pytest
from ansible.inventory.data import InventoryData

from ansible_collections.osops.toolkit.plugins.inventory import infra


@pytest.fixture
def plugin(monkeypatch):
    made = infra.InventoryModule()
    made.inventory = InventoryData()
    options = {"include_servers": True, "host_prefix": {}, "var_prefix": "osops_", "strict": False,
               "filters": {}, "compose": {}, "groups": {}, "keyed_groups": []}
    monkeypatch.setattr(made, "get_option", options.__getitem__)
    made.options = options
    made.warnings = []
    monkeypatch.setattr(infra.display, "warning", made.warnings.append)
    return made


def _cloud(nodes, servers):
    return {"hypervisors": [], "services": [], "aggregates": [], "nodes": nodes, "servers": servers}


def test_a_server_never_joins_a_host_of_its_name_from_any_cloud(plugin):
    # an Ironic node of cloud b renamed to what a server of cloud a is called
    plugin.options["host_prefix"] = {"a": "", "b": ""}
    plugin._populate({"a": _cloud([], [{"id": "s1", "name": "vm", "addresses": {
                                        "n": [{"version": 4, "addr": "192.0.2.9"}]}}]),
                      "b": _cloud([{"uuid": "u1", "name": "server-s1"}], [])})
    host = plugin.inventory.get_host("server-s1")
    assert host.vars["osops_kind"] == "baremetal" and host.vars["osops_cloud"] == "b"
    assert "ansible_host" not in host.vars and "osops_server_id" not in host.vars
    assert plugin.warnings == ["osops.toolkit.infra: tenant server vm (id s1) would be host 'server-s1', "
                               "which exists already; it is left out"]
