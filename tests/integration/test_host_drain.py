"""host_drain, host_return and host_evacuate through ansible-playbook against the sandbox cloud.

What moved is read back from Nova (openstacksdk), not taken from what the module said.
"""
import re
import time

import pytest


pytestmark = pytest.mark.usefixtures("computes_enabled")

HOST = "fake-compute-1"
NEIGHBOUR = "fake-compute-10"   # HOST is a prefix of its name
FAST = dict(poll_interval=0.5)
PINNED_TRAIT = "CUSTOM_OSOPS_PINNED"
OURS = r"osops:%s \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ %s"   # _compute.owned_reason


def task(module, register=None, **args):
    entry = {"name": module, "osops.toolkit." + module: args}
    if register:
        entry["register"] = register
    return entry


def service(cloud, host):
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == host]
    return svc


def servers_on(cloud, host):
    return sorted(s.id for s in cloud.compute.servers(all_projects=True, compute_host=host) if s.compute_host == host)


def by_id(records):
    return dict((r["id"], r) for r in records)


def test_drain_moves_every_state_it_can_then_return_sends_them_home(server_host, ansible, cloud, boot):
    specs = [(HOST, "ACTIVE"), (HOST, "SHUTOFF"), (HOST, "PAUSED"), (NEIGHBOUR, "ACTIVE")]
    active, shutoff, paused, neighbour = boot(specs)
    drain = dict(host=HOST, disabled_reason="CHG-7 kernel upgrade", concurrency=2, **FAST)

    first = ansible(tasks=[task("host_drain", **drain)], diff=True)
    assert first.rc == 0, first.output
    result = first.task()
    assert result["changed"] is True
    assert servers_on(cloud, HOST) == []
    assert server_host(neighbour.id) == NEIGHBOUR
    svc = service(cloud, HOST)
    assert svc.status == "disabled" and re.fullmatch(OURS % ("host_drain", "CHG-7 kernel upgrade"), svc.disabled_reason)

    records = by_id(result["instances"])
    assert sorted(records) == sorted([active.id, shutoff.id, paused.id])
    expected = {active.id: ("live", "ACTIVE"), shutoff.id: ("cold", "SHUTOFF"), paused.id: ("live", "PAUSED")}
    for server_id, (method, status) in expected.items():
        record = records[server_id]
        now = cloud.compute.get_server(server_id)
        assert (record["method"], record["result"], record["origin"], record["error"]) == (method, "moved", HOST, None)
        assert record["destination"] == now.compute_host != HOST
        assert now.status == record["status"] == status
        assert record["seconds"] > 0
    assert result["summary"]["moved"] == result["summary"]["total"] == 3
    assert result["diff"]["before"]["service"]["status"] == "enabled"
    assert result["diff"]["after"] == {"service": {"status": "disabled", "disabled_reason": svc.disabled_reason},
                                       "instances": []}

    again = ansible(tasks=[task("host_drain", **drain)])
    assert again.rc == 0, again.output
    assert again.task()["changed"] is False and again.task()["summary"]["total"] == 0

    send_home = [task("compute_service", host=HOST, status="enabled"),
                 task("host_return", host=HOST, instances=result["instances"], **FAST)]
    home = ansible(tasks=send_home)
    assert home.rc == 0, home.output
    returned = home.task()
    assert returned["changed"] is True and returned["summary"]["moved"] == 3
    assert servers_on(cloud, HOST) == sorted(records)
    for server_id, (_method, status) in expected.items():
        assert cloud.compute.get_server(server_id).status == status

    home_again = ansible(tasks=send_home)
    assert home_again.rc == 0, home_again.output
    assert home_again.task()["changed"] is False
    assert home_again.task()["summary"]["already_home"] == 3


def test_check_mode_returns_the_plan_and_changes_nothing(ansible, cloud, boot):
    active, shutoff = boot([("fake-compute-2", "ACTIVE"), ("fake-compute-2", "SHUTOFF")])
    run = ansible(tasks=[task("host_drain", host="fake-compute-2")], check=True, diff=True)
    assert run.rc == 0, run.output
    result = run.task()
    assert result["changed"] is True
    records = by_id(result["instances"])
    assert (records[active.id]["method"], records[active.id]["result"]) == ("live", "planned")
    assert (records[shutoff.id]["method"], records[shutoff.id]["result"]) == ("cold", "planned")
    assert result["service"]["status"] == "disabled"          # what it would be
    assert servers_on(cloud, "fake-compute-2") == sorted([active.id, shutoff.id])
    assert service(cloud, "fake-compute-2").status == "enabled"


def test_capacity_precheck_fails_before_anything_changes(server_host, ansible, cloud, boot):
    [server] = boot([("fake-compute-2", "ACTIVE")])
    for svc in cloud.compute.services(binary="nova-compute"):
        if svc.host != "fake-compute-2":
            cloud.compute.update_service(svc, status="disabled", disabled_reason="capacity test")
    run = ansible(tasks=[task("host_drain", host="fake-compute-2")])
    assert run.rc != 0
    result = run.task()
    assert "Capacity pre-check" in result["msg"] and "capacity_check=false" in result["msg"]
    assert result["instances"][0]["result"] == "not_started"
    assert server_host(server.id) == "fake-compute-2"
    assert service(cloud, "fake-compute-2").status == "enabled"


@pytest.fixture
def pinned_flavor(cloud):
    """A flavor that needs a trait only fake-compute-2 has: its instances can go nowhere else."""
    placement = cloud.placement
    [hv] = [h for h in cloud.compute.hypervisors(details=True) if h.service_details["host"] == "fake-compute-2"]

    def set_trait(present):
        for _attempt in range(20):   # nova may update the provider's traits at the same moment
            current = placement.get("/resource_providers/%s/traits" % hv.id, microversion="1.6").json()
            traits = set(current["traits"]) - {PINNED_TRAIT}
            if present:
                traits.add(PINNED_TRAIT)
            response = placement.put("/resource_providers/%s/traits" % hv.id, microversion="1.6",
                                     json={"traits": sorted(traits),
                                           "resource_provider_generation": current["resource_provider_generation"]})
            if response.status_code == 200:
                return
            time.sleep(0.5)
        raise AssertionError("could not set the traits of %s: %s" % (hv.id, response.text))

    placement.put("/traits/%s" % PINNED_TRAIT, microversion="1.6")
    set_trait(True)
    flavor = cloud.compute.create_flavor(name="osops.it.pinned", ram=64, vcpus=1, disk=1)
    cloud.compute.create_flavor_extra_specs(flavor, {"trait:%s" % PINNED_TRAIT: "required"})
    yield flavor.name
    cloud.compute.delete_flavor(flavor)
    set_trait(False)


def test_a_failed_migration_is_reported_and_the_rest_still_move(server_host, ansible, cloud, pinned_flavor, boot):
    [pinned] = boot([("fake-compute-2", "ACTIVE")], flavor=pinned_flavor)
    movable = boot([("fake-compute-2", "ACTIVE"), ("fake-compute-2", "SHUTOFF")])
    run = ansible(tasks=[task("host_drain", host="fake-compute-2", concurrency=3, **FAST)])
    assert run.rc != 0
    result = run.task()
    records = by_id(result["instances"])
    assert records[pinned.id]["result"] == "failed"
    assert records[pinned.id]["error"] == "live-migration ended in status error: No valid host was found."
    assert pinned.name in result["msg"] and "stays disabled" in result["msg"]
    for server in movable:
        assert records[server.id]["result"] == "moved"
        assert server_host(server.id) != "fake-compute-2"
    assert servers_on(cloud, "fake-compute-2") == [pinned.id]
    assert service(cloud, "fake-compute-2").status == "disabled"
    assert result["summary"]["failed"] == 1 and result["summary"]["moved"] == 2


def test_states_nova_cannot_move_are_reported_not_skipped(ansible, cloud, boot):
    suspended, active = boot([("fake-compute-3", "SUSPENDED"), ("fake-compute-3", "ACTIVE")])
    run = ansible(tasks=[task("host_drain", host="fake-compute-3", **FAST)])
    assert run.rc != 0
    records = by_id(run.task()["instances"])
    assert (records[suspended.id]["result"], records[suspended.id]["method"]) == ("not_moved", None)
    assert "SUSPENDED" in records[suspended.id]["error"]
    assert records[active.id]["result"] == "moved"
    assert servers_on(cloud, "fake-compute-3") == [suspended.id]

    accepted = ansible(tasks=[task("host_drain", host="fake-compute-3", other_states="leave", **FAST)])
    assert accepted.rc == 0, accepted.output
    assert accepted.task()["changed"] is False
    assert accepted.task()["instances"][0]["result"] == "left"
    assert "other_states=leave" in accepted.output


def test_unknown_host_is_a_clear_error(ansible):
    run = ansible(tasks=[task("host_drain", host="fake-compute")])
    assert run.rc != 0
    assert "No nova-compute service runs on host 'fake-compute'" in run.task()["msg"]


def test_evacuate_refuses_a_live_host_and_works_once_it_is_forced_down(ansible, cloud, boot):
    active, shutoff = boot([("fake-compute-3", "ACTIVE"), ("fake-compute-3", "SHUTOFF")])
    refused = ansible(tasks=[task("host_evacuate", host="fake-compute-3", **FAST)])
    assert refused.rc != 0
    assert "is up" in refused.task()["msg"] and "forced down" in refused.task()["msg"]
    assert servers_on(cloud, "fake-compute-3") == sorted([active.id, shutoff.id])
    assert service(cloud, "fake-compute-3").status == "enabled"

    evacuate = dict(host="fake-compute-3", force_down=True, fenced=True, disabled_reason="INC-9 fenced", **FAST)
    run = ansible(tasks=[task("host_evacuate", **evacuate)])
    assert run.rc == 0, run.output
    records = by_id(run.task()["instances"])
    for server in (active, shutoff):
        now = cloud.compute.get_server(server.id)
        assert (records[server.id]["method"], records[server.id]["result"]) == ("evacuate", "moved")
        assert records[server.id]["destination"] == now.compute_host != "fake-compute-3"
        assert now.status == server.status    # running ones run again, shut-off ones stay off
    svc = service(cloud, "fake-compute-3")
    assert (svc.status, svc.is_forced_down) == ("disabled", True)
    assert re.fullmatch(OURS % ("host_evacuate", "INC-9 fenced"), svc.disabled_reason)

    again = ansible(tasks=[task("host_evacuate", **evacuate)])
    assert again.rc == 0, again.output
    assert again.task()["changed"] is False


def test_force_down_of_a_host_with_a_recent_heartbeat_needs_fenced(ansible, cloud):
    """A live fake compute (heartbeats every few seconds): force_down alone is refused, nothing changes."""
    host = NEIGHBOUR   # not the host the evacuation test above really evacuates
    for check in (True, False):
        refused = ansible(tasks=[task("host_evacuate", host=host, force_down=True, **FAST)], check=check)
        assert refused.rc != 0, refused.output
        result = refused.task()
        assert result["msg"].startswith("The nova-compute service of %s was last heard from " % host), result["msg"]
        assert result["msg"].endswith("Power it off or fence it, then run again with fenced=true.")
        assert "instances" not in result    # refused before a record was made, let alone a move
        svc = service(cloud, host)
        assert (svc.status, svc.disabled_reason, svc.is_forced_down) == ("enabled", None, False)
    fenced = ansible(tasks=[task("host_evacuate", host=host, force_down=True, fenced=True, **FAST)], check=True)
    assert fenced.rc == 0, fenced.output
    assert fenced.task()["service"]["forced_down"] is True
    assert fenced.task()["service"]["disabled_reason"].startswith("osops:host_evacuate ")
    svc = service(cloud, host)
    assert (svc.status, svc.is_forced_down) == ("enabled", False)


def test_destination_host_takes_everything(server_host, ansible, cloud, boot):
    servers = boot([("fake-compute-3", "ACTIVE"), ("fake-compute-3", "SHUTOFF")])
    run = ansible(tasks=[task("host_drain", host="fake-compute-3", destination_host=NEIGHBOUR, **FAST)])
    assert run.rc == 0, run.output
    for server in servers:
        assert server_host(server.id) == NEIGHBOUR


@pytest.fixture
def spare_aggregate(cloud):
    aggregate = cloud.compute.create_aggregate(name="osops-it-spares")
    cloud.compute.add_host_to_aggregate(aggregate, "fake-compute-2")
    cloud.compute.add_host_to_aggregate(aggregate, NEIGHBOUR)
    yield aggregate.name
    for host in ("fake-compute-2", NEIGHBOUR):
        cloud.compute.remove_host_from_aggregate(aggregate, host)
    cloud.compute.delete_aggregate(aggregate)


def test_destination_aggregate_spreads_over_its_hosts(server_host, ansible, cloud, spare_aggregate, boot):
    servers = boot([("fake-compute-3", "ACTIVE")] * 4)
    run = ansible(tasks=[task("host_drain", host="fake-compute-3", destination_aggregate=spare_aggregate,
                              concurrency=4, **FAST)])
    assert run.rc == 0, run.output
    hosts = [server_host(s.id) for s in servers]
    assert set(hosts) == {"fake-compute-2", NEIGHBOUR}, hosts
    assert sorted(r["destination"] for r in run.task()["instances"]) == sorted(hosts)


def test_bad_destinations_are_refused_before_anything_changes(ansible, cloud):
    run = ansible(tasks=[task("host_drain", host=HOST, destination_host="fake-compute")])
    assert run.rc != 0 and "destination_host 'fake-compute' has no nova-compute service" in run.task()["msg"]
    run = ansible(tasks=[task("host_drain", host=HOST, destination_aggregate="no-such-aggregate")])
    assert run.rc != 0 and "destination_aggregate 'no-such-aggregate' does not exist" in run.task()["msg"]
    assert service(cloud, HOST).status == "enabled"
