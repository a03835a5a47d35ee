"""drift_report and project_cleanup against the sandbox cloud; every finding is made for real first."""
import json
import uuid

import openstack
import pytest
import yaml

pytestmark = pytest.mark.usefixtures("computes_enabled")


def task(module, **args):
    return [{"name": module, "osops.toolkit." + module: args}]


def ids(items):
    return sorted(i["id"] for i in items)


@pytest.fixture
def external_network(cloud):
    net = cloud.network.create_network(name="osops-it-ext", is_router_external=True,
                                       provider_network_type="flat", provider_physical_network="osops-it-ext")
    cloud.network.create_subnet(network_id=net.id, cidr="203.0.113.0/24", ip_version=4)
    yield net
    for ip in cloud.network.ips(floating_network_id=net.id):
        cloud.network.delete_ip(ip)
    cloud.network.delete_network(net)


@pytest.fixture
def deleted_project(cloud, sandbox, external_network):
    """A project that owns one of everything, then is deleted from Keystone."""
    name = "osops-it-doomed-%s" % uuid.uuid4().hex[:6]
    project = cloud.identity.create_project(name=name, domain_id="default")
    admin_user = cloud.identity.find_user("admin", domain_id="default")
    admin_role = cloud.identity.find_role("admin")
    cloud.identity.assign_project_role_to_user(project, admin_user, admin_role)
    doomed = openstack.connect(cloud="osbox", project_name=name, project_domain_id="default")
    image = cloud.image.find_image("tiny", ignore_missing=False)
    flavor = cloud.compute.find_flavor("m1.tiny", ignore_missing=False)
    made = {}
    server = doomed.compute.create_server(name=name + "-vm", image_id=image.id, flavor_id=flavor.id, networks="none")
    made["servers"] = [doomed.compute.wait_for_server(server, wait=120, interval=1).id]
    net = doomed.network.create_network(name=name + "-net")
    subnet = doomed.network.create_subnet(network_id=net.id, cidr="10.77.0.0/24", ip_version=4)
    made["networks"] = [net.id]
    made["ports"] = [doomed.network.create_port(network_id=net.id, name=name + "-port").id]
    router = doomed.network.create_router(name=name + "-router", external_gateway_info={"network_id": external_network.id})
    doomed.network.add_interface_to_router(router, subnet_id=subnet.id)
    made["routers"] = [router.id]
    made["floating_ips"] = [doomed.network.create_ip(floating_network_id=external_network.id).id]
    made["security_groups"] = sorted(g.id for g in [doomed.network.create_security_group(name=name + "-sg")]
                                     + [g for g in cloud.network.security_groups(name="default")
                                        if g.project_id == project.id])
    made["images"] = [doomed.image.create_image(name=name + "-image", disk_format="raw", container_format="bare").id]
    volume = doomed.block_storage.create_volume(name=name + "-volume", size=1)
    doomed.block_storage.wait_for_status(volume, status="available", wait=120, interval=1)
    snapshot = doomed.block_storage.create_snapshot(volume_id=volume.id, name=name + "-snap")
    doomed.block_storage.wait_for_status(snapshot, status="available", wait=120, interval=1)
    made["volumes"], made["snapshots"] = [volume.id], [snapshot.id]
    doomed.close()
    cloud.identity.delete_project(project)
    yield project.id, made
    # whatever a failed test left behind
    for server_id in made["servers"]:
        cloud.compute.delete_server(server_id, ignore_missing=True)
    for ip_id in made["floating_ips"]:
        cloud.network.delete_ip(ip_id, ignore_missing=True)
    for port in cloud.network.ports(project_id=project.id):
        if port.device_owner == "network:router_interface":
            cloud.network.remove_interface_from_router(port.device_id, port_id=port.id)
    for router_id in made["routers"]:
        if cloud.network.find_router(router_id):
            cloud.network.update_router(router_id, external_gateway_info={})
            cloud.network.delete_router(router_id)
    for server_id in made["servers"]:
        server = cloud.compute.find_server(server_id)
        if server:
            cloud.compute.wait_for_delete(server, wait=120)
    for port_id in made["ports"]:
        cloud.network.delete_port(port_id, ignore_missing=True)
    for net_id in made["networks"]:
        cloud.network.delete_network(net_id, ignore_missing=True)
    for image_id in made["images"]:
        cloud.image.delete_image(image_id, ignore_missing=True)
    for snapshot_id in made["snapshots"]:
        cloud.block_storage.delete_snapshot(snapshot_id, ignore_missing=True)
    for volume_id in made["volumes"]:
        snapshot = cloud.block_storage.find_snapshot(made["snapshots"][0], ignore_missing=True)
        if snapshot:
            cloud.block_storage.wait_for_delete(snapshot, wait=120)
        cloud.block_storage.delete_volume(volume_id, ignore_missing=True)
    for group_id in made["security_groups"]:
        cloud.network.delete_security_group(group_id, ignore_missing=True)


def test_a_deleted_projects_leftovers_are_reported_then_cleaned_up(ansible, cloud, deleted_project):
    project_id, made = deleted_project

    drift = ansible(tasks=task("drift_report", checks=["orphans"]))
    assert drift.rc == 0, drift.output
    orphans = drift.task()["report"]["orphans"]
    for kind, expected in made.items():
        mine = [o for o in orphans[kind] if o["project_id"] == project_id]
        if kind == "ports":   # plus the router's interface port, which the project owns too
            assert set(expected) < set(ids(mine)), mine
        else:
            assert ids(mine) == sorted(expected), kind
    assert drift.task()["counts"]["orphans"]["total"] >= sum(len(v) for v in made.values())
    assert drift.task()["changed"] is False

    report_only = ansible(tasks=task("project_cleanup", project_id=project_id))
    assert report_only.rc == 0, report_only.output
    planned = report_only.task()["resources"]
    assert report_only.task()["changed"] is False
    assert set(r["result"] for r in planned) == {"would_delete"}
    for kind, expected in made.items():
        assert ids(r for r in planned if r["type"] == kind) == sorted(expected), kind
    assert cloud.compute.find_server(made["servers"][0]) is not None

    checked = ansible(tasks=task("project_cleanup", project_id=project_id, confirm=True), check=True)
    assert checked.rc == 0 and checked.task()["changed"] is False, checked.output
    assert cloud.network.find_router(made["routers"][0]) is not None

    cleaned = ansible(tasks=task("project_cleanup", project_id=project_id, confirm=True))
    assert cleaned.rc == 0, cleaned.output
    assert cleaned.task()["changed"] is True
    assert set(r["result"] for r in cleaned.task()["resources"]) == {"deleted"}
    assert cloud.compute.find_server(made["servers"][0]) is None
    assert list(cloud.network.ports(project_id=project_id)) == []
    assert list(cloud.network.networks(project_id=project_id)) == []
    assert list(cloud.network.routers(project_id=project_id)) == []
    assert list(cloud.network.ips(project_id=project_id)) == []
    # (listing with a project filter would make neutron create the default group again)
    assert [g for g in cloud.network.security_groups() if g.project_id == project_id] == []
    assert cloud.image.find_image(made["images"][0]) is None
    assert cloud.block_storage.find_volume(made["volumes"][0], ignore_missing=True) is None
    assert cloud.block_storage.find_snapshot(made["snapshots"][0], ignore_missing=True) is None

    again = ansible(tasks=task("project_cleanup", project_id=project_id, confirm=True))
    assert again.rc == 0 and again.task()["changed"] is False and again.task()["counts"]["total"] == 0

    drift = ansible(tasks=task("drift_report", checks=["orphans"]))
    assert all(o["project_id"] != project_id for items in drift.task()["report"]["orphans"].values() for o in items)


def test_cleanup_refuses_an_unknown_project_name(ansible):
    run = ansible(tasks=task("project_cleanup", project="osops-it-no-such-project"))
    assert run.rc != 0 and "can only be cleaned up by its id" in run.task()["msg"]


@pytest.fixture
def admin_network(cloud):
    net = cloud.network.create_network(name="osops-it-ghosts")
    cloud.network.create_subnet(network_id=net.id, cidr="10.78.0.0/24", ip_version=4)
    yield net
    for port in cloud.network.ports(network_id=net.id):
        cloud.network.delete_port(port)
    cloud.network.delete_network(net)


def test_ghost_ports_are_found(ansible, cloud, admin_network):
    gone = str(uuid.uuid4())
    orphaned = cloud.network.create_port(network_id=admin_network.id, device_owner="compute:nova", device_id=gone)
    unbound_host = cloud.network.create_port(network_id=admin_network.id, binding_host_id="fake-compute-1")
    quiet = cloud.network.create_port(network_id=admin_network.id)
    run = ansible(tasks=task("drift_report", checks=["ghost_ports"]))
    assert run.rc == 0, run.output
    ghosts = dict((p["id"], p) for p in run.task()["report"]["ghost_ports"])
    assert ghosts[orphaned.id]["reason"] == "its server %s no longer exists" % gone
    assert ghosts[unbound_host.id]["reason"] == "bound to fake-compute-1, which has no agent"
    assert quiet.id not in ghosts


def test_stuck_servers_orphan_allocations_and_long_disabled_hosts(ansible, cloud, boot):
    [server] = boot([("fake-compute-2", "ACTIVE")])
    cloud.compute.reset_server_state(server, "error")
    [hv] = [h for h in cloud.compute.hypervisors(details=True) if h.service_details["host"] == "fake-compute-2"]
    consumer = str(uuid.uuid4())
    response = cloud.placement.put("/allocations/%s" % consumer, microversion="1.28", json={
        "allocations": {hv.id: {"resources": {"VCPU": 1}}}, "consumer_generation": None,
        "project_id": cloud.current_project_id, "user_id": cloud.current_user_id})
    assert response.status_code == 204, response.text
    services = dict((s.host, s) for s in cloud.compute.services(binary="nova-compute"))
    cloud.compute.update_service(services["fake-compute-10"], status="disabled", disabled_reason="2026-01-05 bad DIMM")
    cloud.compute.update_service(services["fake-compute-3"], status="disabled", disabled_reason="ask Bob")
    try:
        run = ansible(tasks=task("drift_report", checks=["stuck_servers", "orphan_allocations", "disabled_hosts"],
                                 stuck_after_minutes=0, disabled_after_days=30))
        assert run.rc == 0, run.output
        report = run.task()["report"]
        [stuck] = [s for s in report["stuck_servers"] if s["id"] == server.id]
        assert stuck["status"] == "ERROR"
        [orphan] = [a for a in report["orphan_allocations"] if a["consumer"] == consumer]
        assert (orphan["provider"], orphan["resources"]) == (hv.id, {"VCPU": 1})
        assert server.id not in [a["consumer"] for a in report["orphan_allocations"]]
        disabled = dict((d["host"], d) for d in report["disabled_hosts"])
        assert disabled["fake-compute-10"]["since"] == "2026-01-05" and disabled["fake-compute-10"]["days"] > 30
        assert disabled["fake-compute-3"]["days"] is None
        assert "fake-compute-1" not in disabled
        assert run.task()["counts"]["orphan_allocations"] >= 1
    finally:
        cloud.placement.delete("/allocations/%s" % consumer)


def test_disabled_hosts_say_who_disabled_them(ansible, disable_service):
    disable_service("fake-compute-10", "osops:ovs_upgrade 2026-01-05T08:00:00Z Open vSwitch upgrade to 3.3.1")
    disable_service("fake-compute-1", "AUTO: Connection to libvirt lost: 1")
    run = ansible(tasks=task("drift_report", checks=["disabled_hosts"], disabled_after_days=30))
    assert run.rc == 0, run.output
    disabled = dict((d["host"], d) for d in run.task()["report"]["disabled_hosts"])
    ours = disabled["fake-compute-10"]
    assert (ours["since"], ours["disabled_by"]["who"], ours["disabled_by"]["job"]) == ("2026-01-05", "osops", "ovs_upgrade")
    assert ours["days"] > 30
    libvirt = disabled["fake-compute-1"]
    assert (libvirt["days"], libvirt["disabled_by"]["who"], libvirt["disabled_by"]["since_source"]) == (
        None, "libvirt", "updated_at")


def test_the_playbooks_write_the_report_and_only_delete_when_confirmed(ansible, cloud, tmp_path, admin_network):
    report = ansible(playbook="osops.toolkit.drift_report", extra_vars={"drift_report_dir": str(tmp_path)})
    assert report.rc == 0, report.output
    written = json.loads((tmp_path / "drift-report.json").read_text())
    assert written["counts"]["total"] == sum(
        v["total"] if isinstance(v, dict) else v for k, v in written["counts"].items() if k != "total")
    assert yaml.safe_load((tmp_path / "drift-report.yaml").read_text()) == written

    project = cloud.identity.create_project(name="osops-it-pb-%s" % uuid.uuid4().hex[:6], domain_id="default")
    port = cloud.network.create_port(network_id=admin_network.id, project_id=project.id)
    cloud.identity.delete_project(project)
    args = {"project_cleanup_project_id": project.id, "project_cleanup_resource_types": ["ports"]}
    unconfirmed = ansible(playbook="osops.toolkit.project_cleanup", extra_vars=dict(args, project_cleanup_confirm="yes"))
    assert unconfirmed.rc == 0, unconfirmed.output
    assert cloud.network.find_port(port.id) is not None
    confirmed = ansible(playbook="osops.toolkit.project_cleanup", extra_vars=dict(args, project_cleanup_confirm=project.id))
    assert confirmed.rc == 0, confirmed.output
    assert cloud.network.find_port(port.id) is None

    refused = ansible(playbook="osops.toolkit.project_cleanup", extra_vars={"project_cleanup_resource_types": ["disks"]})
    assert refused.rc != 0
    assert sorted(refused.argument_errors()) == [
        "missing required arguments: project_cleanup_project_id",
        "value of project_cleanup_resource_types must be one or more of: servers, floating_ips, ports, routers, "
        "networks, snapshots, backups, volumes, images, security_groups. Got no match for: disks"]
