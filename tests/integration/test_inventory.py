"""osops.toolkit.infra against the sandbox: what ansible-inventory shows equals what the APIs report."""
import json
import os
import stat
import subprocess
import time

import openstack
import pytest
import yaml

from ansible_collections.osops.toolkit.plugins.module_utils._infra import safe_host_name

BM_PREFIX = "osops-inv-"
TEMPLATE = "{{ lookup('ansible.builtin.pipe', 'echo templated') }}"
# secrets Ironic itself shows to a system admin (it masks only some: ipmi_password, *_token...)
SECRETS = {
    "kek": "osops-sec-kek", "community": "osops-sec-snmp", "key": "osops-sec-foo-key",
    "token": "osops-sec-bar-token", "url": "osops-sec-url-pass", "nested": "osops-sec-nested",
    "rootpwd": "osops-sec-rootpwd", "properties": "osops-sec-properties", "extra": "osops-sec-extra",
    "password": "s3cr3t-bmc",
}


@pytest.fixture(scope="module")
def system(sandbox):
    os.environ["OS_CLIENT_CONFIG_FILE"] = sandbox
    return openstack.connect(cloud="osbox-system")


@pytest.fixture(scope="module")
def nodes(system):
    """Three fake-hardware nodes: available, in maintenance with a reason, and with a template
    in its extra data and a password in its driver_info."""
    bm = system.baremetal
    for old in bm.nodes(fields=["uuid", "name"]):
        if (old.name or "").startswith(BM_PREFIX):
            bm.delete_node(old)
    made = {
        "avail": bm.create_node(name=BM_PREFIX + "avail", driver="fake-hardware", resource_class="gold",
                                properties={"cpus": 8, "memory_mb": 16384}),
        "maint": bm.create_node(name=BM_PREFIX + "maint", driver="fake-hardware", resource_class="silver"),
        "odd": bm.create_node(
            name=BM_PREFIX + "odd", driver="fake-hardware", resource_class="silver",
            extra={"note": TEMPLATE, "asset_key": SECRETS["extra"]},
            driver_info={"ipmi_password": SECRETS["password"], "ipmi_address": "10.9.9.9",
                         "kek": SECRETS["kek"], "snmp_community": SECRETS["community"],
                         "foo_key": SECRETS["key"], "bar_token": SECRETS["token"],
                         "redfish_address": "https://admin:%s@bmc.example.net/redfish/v1" % SECRETS["url"],
                         "snmp": {"version": "3", "auth": {"snmp_community": SECRETS["nested"]}}},
            instance_info={"kernel_append_params": "nofb rootpwd=%s nomodeset" % SECRETS["rootpwd"],
                           "image_source": "http://images.example.net/tiny.qcow2"},
            properties={"vendor": "acme", "bmc_token": SECRETS["properties"]}),
    }
    bm.set_node_provision_state(made["avail"], "manage", wait=True, timeout=120)
    bm.set_node_provision_state(made["avail"], "provide", wait=True, timeout=120)
    bm.set_node_maintenance(made["maint"], reason="bad disk")
    yield made
    bm.unset_node_maintenance(made["maint"])
    for node in made.values():
        bm.delete_node(node)


def inventory_file(tmp_path, **options):
    config = dict({"plugin": "osops.toolkit.infra"}, **options)
    path = tmp_path / "osbox.infra.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def ansible_inventory(path, env=None):
    # a source that fails to parse is only a warning unless this is set (AWX sets it for imports)
    run_env = dict(os.environ, OS_CLOUD="osbox", ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    run_env.update(env or {})
    proc = subprocess.run(["ansible-inventory", "-i", str(path), "--list", "--export"],
                          capture_output=True, text=True, env=run_env, check=False)
    return proc


def plain(value):
    """ansible-inventory --export writes unsafe strings as {"__ansible_unsafe": "..."}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def listing(path, env=None):
    proc = ansible_inventory(path, env)
    assert proc.returncode == 0, proc.stderr
    data = plain(json.loads(proc.stdout))
    hostvars = data.get("_meta", {}).get("hostvars", {})
    groups = dict((g, set(v.get("hosts", []))) for g, v in data.items() if g != "_meta")
    return hostvars, groups


@pytest.mark.usefixtures("computes_enabled")
def test_hosts_and_vars_equal_what_nova_and_ironic_report(tmp_path, cloud, system, nodes):
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == "fake-compute-3"]
    cloud.compute.update_service(svc, status="disabled", disabled_reason="inventory test")
    hostvars, groups = listing(inventory_file(tmp_path))

    hypervisors = {h.service_details["host"]: h for h in cloud.compute.hypervisors(details=True)}
    node_names = {n.name or n.id for n in system.baremetal.nodes()}
    assert set(hostvars) == set(hypervisors) | node_names
    for host, hv in hypervisors.items():
        assert hostvars[host]["osops_hypervisor_id"] == hv.id
        assert hostvars[host]["ansible_host"] == hv.host_ip
    assert hostvars["fake-compute-3"]["osops_service_status"] == "disabled"
    assert hostvars["fake-compute-3"]["osops_disabled_reason"] == "inventory test"
    assert "fake-compute-3" in groups["service_disabled"]
    assert {"fake-compute-1", "fake-compute-2", "fake-compute-10"} <= groups["service_enabled"]
    assert set(hypervisors) <= groups["hypervisors"] and set(hypervisors) <= groups["service_up"]

    avail = hostvars[BM_PREFIX + "avail"]["osops_ironic"]
    assert avail["uuid"] == nodes["avail"].id
    assert (avail["provision_state"], avail["resource_class"]) == ("available", "gold")
    assert avail["properties"]["cpus"] == 8
    assert BM_PREFIX + "avail" in groups["provision_state_available"]
    assert BM_PREFIX + "avail" in groups["resource_class_gold"]
    maint = hostvars[BM_PREFIX + "maint"]["osops_ironic"]
    assert (maint["maintenance"], maint["maintenance_reason"]) == (True, "bad disk")
    assert groups["maintenance"] >= {BM_PREFIX + "maint"} and BM_PREFIX + "avail" not in groups["maintenance"]
    assert {BM_PREFIX + "maint", BM_PREFIX + "odd"} <= groups["provision_state_enroll"]
    assert set(node_names) <= groups["conductor_group_default"]


def test_node_secrets_never_reach_the_inventory_nor_its_cache(tmp_path, nodes):
    cache_dir = tmp_path / "cache"
    path = inventory_file(tmp_path, sources=["ironic"], cache=True, cache_plugin="ansible.builtin.jsonfile",
                          cache_connection=str(cache_dir), cache_timeout=600)
    proc = ansible_inventory(path)
    assert proc.returncode == 0, proc.stderr
    assert not [s for s in SECRETS.values() if s in proc.stdout]
    node = plain(json.loads(proc.stdout))["_meta"]["hostvars"][BM_PREFIX + "odd"]["osops_ironic"]
    info = node["driver_info"]
    assert info["ipmi_address"] == "10.9.9.9" and info["ipmi_password"] == "******"
    assert info["kek"] == info["snmp_community"] == info["foo_key"] == info["bar_token"] == "******"
    assert info["redfish_address"] == "https://******@bmc.example.net/redfish/v1"
    assert info["snmp"] == {"version": "3", "auth": {"snmp_community": "******"}}
    assert node["instance_info"] == {"kernel_append_params": "nofb rootpwd=****** nomodeset",
                                     "image_source": "http://images.example.net/tiny.qcow2"}
    assert node["properties"] == {"vendor": "acme", "bmc_token": "******"}
    assert node["extra"]["asset_key"] == "******"

    files = list(cache_dir.iterdir())
    assert files, "nothing was cached"
    for cached in files:
        assert stat.S_IMODE(cached.stat().st_mode) == 0o600, cached
        text = cached.read_text()
        assert BM_PREFIX + "odd" in text and not [s for s in SECRETS.values() if s in text]

    # a cache file written by an older version (raw API data, no format) is never used: rewritten
    [cached] = files
    old = {"osbox": {"nodes": [{"uuid": "x", "name": BM_PREFIX + "stale", "extra": {"k": SECRETS["extra"]}}]}}
    cached.write_text(json.dumps({"__payload__": json.dumps(old)}))  # as ansible-core 2.19's jsonfile writes
    cached.chmod(0o644)
    hostvars = listing(path)[0]
    assert BM_PREFIX + "odd" in hostvars and BM_PREFIX + "stale" not in hostvars
    assert SECRETS["extra"] not in cached.read_text() and stat.S_IMODE(cached.stat().st_mode) == 0o600


def test_every_api_string_is_exported_as_unsafe(tmp_path, nodes):
    """What AWX stores from an inventory source keeps the marking: never templated there either."""
    proc = ansible_inventory(inventory_file(tmp_path))
    hostvars = json.loads(proc.stdout)["_meta"]["hostvars"]
    assert hostvars["fake-compute-1"]["osops_hypervisor_hostname"] == {"__ansible_unsafe": "fake-compute-1"}
    note = hostvars[BM_PREFIX + "odd"]["osops_ironic"]["extra"]["note"]
    assert note == {"__ansible_unsafe": TEMPLATE}


def test_api_strings_are_never_templated(tmp_path, nodes, ansible):
    inventory = inventory_file(tmp_path, sources=["ironic"])
    playbook = tmp_path / "show.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "show", "hosts": BM_PREFIX + "odd", "gather_facts": False, "connection": "local",
        "tasks": [{"name": "note", "ansible.builtin.debug": {"var": "osops_ironic.extra.note"}}]}]))
    run = ansible(playbook=playbook, playbook_args=["-i", str(inventory)])
    assert run.rc == 0, run.output
    assert run.task(host=BM_PREFIX + "odd")["osops_ironic.extra.note"] == TEMPLATE


def test_compose_groups_keyed_groups_and_filters(tmp_path, nodes):
    path = inventory_file(
        tmp_path,
        filters={"resource_class": ["gold", "silver"]},
        compose={"ansible_host": "osops_ironic.name ~ '.bmc.example.net'"},
        groups={"needs_attention": "osops_ironic.maintenance"},
        keyed_groups=[{"key": "osops_ironic.resource_class", "prefix": "rc"}],
        strict=True)
    hostvars, groups = listing(path)
    assert set(hostvars) == {BM_PREFIX + "avail", BM_PREFIX + "maint", BM_PREFIX + "odd"}
    assert hostvars[BM_PREFIX + "avail"]["ansible_host"] == BM_PREFIX + "avail.bmc.example.net"
    assert groups["needs_attention"] == {BM_PREFIX + "maint"}
    assert groups["rc_gold"] == {BM_PREFIX + "avail"}
    assert groups["rc_silver"] == {BM_PREFIX + "maint", BM_PREFIX + "odd"}


def test_strict_fails_on_a_key_that_does_not_exist(tmp_path):
    path = inventory_file(tmp_path, sources=["nova"], strict=True,
                          keyed_groups=[{"key": "osops_no_such_var", "prefix": "x"}])
    proc = ansible_inventory(path)
    assert proc.returncode != 0
    assert "osops_no_such_var" in proc.stderr
    lenient = inventory_file(tmp_path, sources=["nova"], strict=False,
                             keyed_groups=[{"key": "osops_no_such_var", "prefix": "x"}])
    assert ansible_inventory(lenient).returncode == 0


def test_a_cache_hit_makes_no_api_call(tmp_path, nodes):
    cache_dir = tmp_path / "cache"
    path = inventory_file(tmp_path, cache=True, cache_plugin="ansible.builtin.jsonfile",
                          cache_connection=str(cache_dir), cache_timeout=600)
    first = listing(path)[0]
    # the same inventory with a clouds.yaml that points at nothing: only the cache can answer
    dead = tmp_path / "dead-clouds.yaml"
    dead.write_text(yaml.safe_dump({"clouds": {"osbox": {"auth": {
        "auth_url": "http://127.0.0.1:9/v3", "username": "x", "password": "x", "project_name": "x",
        "user_domain_name": "Default", "project_domain_name": "Default"}}}}))
    second = listing(path, env={"OS_CLIENT_CONFIG_FILE": str(dead)})[0]
    assert second == first and BM_PREFIX + "avail" in second
    uncached = inventory_file(tmp_path)  # the same file without the cache options
    proc = ansible_inventory(uncached, env={"OS_CLIENT_CONFIG_FILE": str(dead)})
    assert proc.returncode != 0  # so without the cache the dead cloud is really asked


def test_an_unreachable_cloud_fails_loudly_or_warns(tmp_path):
    dead = tmp_path / "dead-clouds.yaml"
    dead.write_text(yaml.safe_dump({"clouds": {"gone": {"auth": {
        "auth_url": "http://127.0.0.1:9/v3", "username": "x", "password": "x", "project_name": "x",
        "user_domain_name": "Default", "project_domain_name": "Default"}}}}))
    env = {"OS_CLIENT_CONFIG_FILE": str(dead), "OS_CLOUD": ""}
    proc = ansible_inventory(inventory_file(tmp_path), env=env)
    assert proc.returncode != 0
    assert "osops.toolkit.infra could not read cloud 'gone'" in proc.stderr
    proc = ansible_inventory(inventory_file(tmp_path, fail_on_errors=False), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "could not read cloud 'gone'" in proc.stderr
    assert json.loads(proc.stdout).get("_meta", {}).get("hostvars", {}) == {}


def test_awx_style_only_os_client_config_file(tmp_path, sandbox, cloud):
    """An AWX inventory source: ansible-inventory --list --export with OS_CLIENT_CONFIG_FILE alone."""
    with open(sandbox) as handle:
        osbox = yaml.safe_load(handle)["clouds"]["osbox"]
    awx = tmp_path / "awx-clouds.yaml"
    awx.write_text(yaml.safe_dump({"clouds": {"devstack": osbox}}))
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("OS_"))
    env["OS_CLIENT_CONFIG_FILE"] = str(awx)
    proc = subprocess.run(["ansible-inventory", "-i", str(inventory_file(tmp_path, sources=["nova"])),
                           "--list", "--export"], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    hostvars = plain(json.loads(proc.stdout))["_meta"]["hostvars"]
    assert {h.service_details["host"] for h in cloud.compute.hypervisors(details=True)} == set(hostvars)
    assert {v["osops_cloud"] for v in hostvars.values()} == {"devstack"}


def test_two_clouds_in_parallel_with_prefixes(tmp_path, sandbox):
    with open(sandbox) as handle:
        osbox = yaml.safe_load(handle)["clouds"]["osbox"]
    two = tmp_path / "two-clouds.yaml"
    two.write_text(yaml.safe_dump({"clouds": {"east": osbox, "west": osbox}}))
    path = inventory_file(tmp_path, clouds=["east", "west"], sources=["nova"], host_prefix={"west": "w-"})
    hostvars = listing(path, env={"OS_CLIENT_CONFIG_FILE": str(two)})[0]
    assert "east-fake-compute-1" in hostvars and "w-fake-compute-1" in hostvars
    assert hostvars["w-fake-compute-1"]["osops_cloud"] == "west"
    assert hostvars["east-fake-compute-1"]["osops_cloud"] == "east"


@pytest.fixture
def unsafe_node(system):
    """An Ironic node named '..': as a host name, host_vars/.. would be the inventory's directory."""
    bm = system.baremetal
    for old in bm.nodes(fields=["uuid", "name"]):
        if old.name == "..":
            bm.delete_node(old)
    node = bm.create_node(name="..", driver="fake-hardware")
    yield node
    bm.delete_node(node)


def test_servers_live_in_their_own_name_space_and_unsafe_names_are_made_safe(tmp_path, cloud, nodes, unsafe_node):
    """A tenant naming a server like a hypervisor or an Ironic node gets neither its name nor its
    vars; a name from an API never walks out of host_vars/."""
    image = cloud.image.find_image("tiny")
    flavor = cloud.compute.find_flavor("m1.tiny")
    servers = [cloud.compute.create_server(name=name, image_id=image.id, flavor_id=flavor.id,
                                           networks="none", host="fake-compute-2")
               for name in ("fake-compute-2", "../../x y", BM_PREFIX + "avail")]
    try:
        for server in servers:
            cloud.compute.wait_for_server(server, wait=120, interval=1)
        proc = ansible_inventory(inventory_file(tmp_path, include_servers=True))
        assert proc.returncode == 0, proc.stderr
        data = plain(json.loads(proc.stdout))
        hostvars = data["_meta"]["hostvars"]
        groups = dict((g, set(v.get("hosts", []))) for g, v in data.items() if g != "_meta")

        hv = [h for h in cloud.compute.hypervisors(details=True) if h.service_details["host"] == "fake-compute-2"][0]
        compute2 = hostvars["fake-compute-2"]
        assert compute2["osops_kind"] == "hypervisor" and compute2["osops_hypervisor_id"] == hv.id
        assert compute2["ansible_host"] == hv.host_ip and "osops_server_id" not in compute2
        node = hostvars[BM_PREFIX + "avail"]
        assert node["osops_ironic"]["uuid"] == nodes["avail"].id and "osops_server_id" not in node
        for server, display_name in zip(servers, ("fake-compute-2", "../../x y", BM_PREFIX + "avail")):
            name = "server-" + server.id
            assert hostvars[name]["osops_server_name"] == display_name
            assert hostvars[name]["osops_server_id"] == server.id and hostvars[name]["osops_kind"] == "server"
            assert name in groups["servers"]
            on = safe_host_name(hostvars[name]["osops_compute_host"]).replace("-", "_")
            assert name in groups["servers_on_" + on]
        assert not [h for h in hostvars if "/" in h or ".." in h or h.startswith(".") or " " in h]

        unsafe = [h for h, v in hostvars.items() if (v.get("osops_ironic") or {}).get("uuid") == unsafe_node.id]
        assert unsafe == [safe_host_name("..")] and unsafe[0].startswith("__-")

        warning = " ".join(proc.stderr.split())
        assert ("tenant server 'fake-compute-2' (id %s, project %s) has the name of infrastructure host "
                "'fake-compute-2'" % (servers[0].id, servers[0].project_id)) in warning, proc.stderr
        assert ("tenant server '%s' (id %s, project %s) has the name of infrastructure host '%s'" % (
            BM_PREFIX + "avail", servers[2].id, servers[2].project_id, BM_PREFIX + "avail")) in warning, proc.stderr
    finally:
        for server in servers:
            cloud.compute.delete_server(server)
        for server in servers:
            cloud.compute.wait_for_delete(server, wait=120, interval=1)


@pytest.fixture
def nova_managed_node(system, cloud):
    """A node in the shard of the sandbox's Ironic-driver nova-compute: once available, Nova
    lists it as a hypervisor named by the node's UUID (as Nova does for every Ironic node)."""
    bm = system.baremetal
    properties = {"cpus": 8, "memory_mb": 16384, "local_gb": 100, "cpu_arch": "x86_64"}
    node = bm.create_node(name=BM_PREFIX + "bmhv", driver="fake-hardware", resource_class="bm-gold",
                          shard="osbox-bm", properties=properties)
    try:
        bm.set_node_provision_state(node, "manage", wait=True, timeout=120)
        bm.set_node_provision_state(node, "provide", wait=True, timeout=120)
        assert _wait(lambda: _hypervisor_named(cloud, node.id), 120), "nova never listed the node"
        yield node
    finally:
        bm.delete_node(node)
        assert _wait(lambda: not _hypervisor_named(cloud, node.id), 120), "nova kept the hypervisor"


def _hypervisor_named(cloud, name):
    return [h for h in cloud.compute.hypervisors() if h.name == name]


def _wait(probe, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if probe():
            return True
        time.sleep(2)
    return False


def test_a_node_that_nova_lists_as_hypervisor_is_one_host(tmp_path, cloud, nova_managed_node):
    hostvars, groups = listing(inventory_file(tmp_path))
    name = BM_PREFIX + "bmhv"
    assert nova_managed_node.id not in hostvars  # not a second host named by the UUID
    both = hostvars[name]
    assert both["osops_kind"] == "baremetal_hypervisor"
    assert both["osops_hypervisor_hostname"] == nova_managed_node.id
    assert both["osops_hypervisor_type"] == "ironic"
    assert both["osops_service_host"] == "ironic-compute"
    assert both["osops_ironic"]["uuid"] == nova_managed_node.id
    assert both["osops_ironic"]["provision_state"] == "available"
    assert name in groups["hypervisors"] and name in groups["baremetal"]
    assert name in groups["resource_class_bm_gold"]
