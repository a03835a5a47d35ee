"""osops.toolkit.infra against the sandbox: what ansible-inventory shows equals what the APIs report."""
import json
import os
import subprocess
import time

import openstack
import pytest
import yaml

BM_PREFIX = "osops-inv-"
TEMPLATE = "{{ lookup('ansible.builtin.pipe', 'echo templated') }}"


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
        "odd": bm.create_node(name=BM_PREFIX + "odd", driver="fake-hardware", resource_class="silver",
                              extra={"note": TEMPLATE},
                              driver_info={"ipmi_password": "s3cr3t-bmc", "ipmi_address": "10.9.9.9"}),
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


def test_driver_info_secrets_never_reach_the_inventory(tmp_path, nodes):
    proc = ansible_inventory(inventory_file(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "s3cr3t-bmc" not in proc.stdout
    info = plain(json.loads(proc.stdout))["_meta"]["hostvars"][BM_PREFIX + "odd"]["osops_ironic"]["driver_info"]
    assert info["ipmi_password"] == "******" and info["ipmi_address"] == "10.9.9.9"


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


def test_servers_grouped_under_their_hypervisor(tmp_path, cloud):
    image = cloud.image.find_image("tiny")
    flavor = cloud.compute.find_flavor("m1.tiny")
    server = cloud.compute.create_server(name="osops-inv-vm", image_id=image.id, flavor_id=flavor.id,
                                         networks="none", host="fake-compute-2")
    try:
        cloud.compute.wait_for_server(server, wait=120)
        hostvars, groups = listing(inventory_file(tmp_path, sources=["nova"], include_servers=True))
        assert "osops-inv-vm" in groups["servers_on_fake_compute_2"]
        assert hostvars["osops-inv-vm"]["osops_server_id"] == server.id
        assert server.id in hostvars["fake-compute-2"]["osops_instances"]
    finally:
        cloud.compute.delete_server(server)
        cloud.compute.wait_for_delete(server, wait=120)


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
