"""osops.toolkit.hypervisor_info against the sandbox: its records equal what Nova and placement say."""
import pytest

COMPUTES = ["fake-compute-1", "fake-compute-10", "fake-compute-2", "fake-compute-3"]

AGGREGATE = "osops-test-ssd"
ZONE = "osops-test-az"


def info_task(**args):
    return [{"name": "hypervisor_info", "osops.toolkit.hypervisor_info": args}]


@pytest.fixture
def aggregate(cloud):
    """fake-compute-2 in an aggregate that is also an AZ, with metadata; removed afterwards."""
    for old in cloud.compute.aggregates():
        if old.name == AGGREGATE:
            _delete_aggregate(cloud, old)
    agg = cloud.compute.create_aggregate(name=AGGREGATE, availability_zone=ZONE)
    cloud.compute.add_host_to_aggregate(agg, "fake-compute-2")
    cloud.compute.set_aggregate_metadata(agg, {"disk": "ssd"})
    yield agg
    _delete_aggregate(cloud, cloud.compute.get_aggregate(agg.id))


def _delete_aggregate(cloud, agg):
    for host in agg.hosts or []:
        cloud.compute.remove_host_from_aggregate(agg, host)
    cloud.compute.delete_aggregate(agg)


@pytest.fixture
def server_on_compute_3(cloud):
    image = cloud.image.find_image("tiny")
    flavor = cloud.compute.find_flavor("m1.tiny")
    server = cloud.compute.create_server(name="osops-test-hv", image_id=image.id, flavor_id=flavor.id,
                                         networks="none", host="fake-compute-3")
    server = cloud.compute.wait_for_server(server, wait=120)
    yield server
    cloud.compute.delete_server(server)
    cloud.compute.wait_for_delete(server, wait=120)


@pytest.mark.usefixtures("computes_enabled")
def test_every_hypervisor_with_its_service_and_placement_inventory(ansible, cloud):
    run = ansible(tasks=info_task())
    assert run.rc == 0, run.output
    records = {r["host"]: r for r in run.task()["hypervisors"]}
    assert sorted(records) == sorted(COMPUTES)

    hypervisors = {hv.name: hv for hv in cloud.compute.hypervisors(details=True)}
    # every empty, enabled compute can hold a minimal instance: placement lists its capacity and usage
    placement_capacity = dict((rp, summary["resources"]) for rp, summary in cloud.placement.get(
        "/allocation_candidates", params={"resources": "VCPU:1,MEMORY_MB:1"},
        microversion="1.27").json()["provider_summaries"].items())
    for host, rec in records.items():
        assert rec["id"] == hypervisors[host].id
        assert rec["host_ip"] == hypervisors[host].host_ip
        assert (rec["state"], rec["status"]) == ("up", "enabled")
        inventory = cloud.placement.get("/resource_providers/%s/inventories" % rec["id"]).json()["inventories"]
        assert sorted(rec["resources"]) == sorted(inventory)
        for rc, inv in inventory.items():
            assert rec["resources"][rc]["total"] == inv["total"]
            # placement's own figure, not the module's arithmetic done again
            assert rec["resources"][rc]["capacity"] == placement_capacity[rec["id"]][rc]["capacity"], (host, rc)
    summary = run.task()["summary"]
    assert summary["hypervisors"] == len(COMPUTES) and summary["enabled"] == len(COMPUTES)


def test_an_instance_is_counted_and_used_on_its_hypervisor(ansible, cloud, server_on_compute_3):
    def nova_and_placement():
        servers = sorted(s.id for s in cloud.compute.servers(all_projects=True, compute_host="fake-compute-3"))
        usages = cloud.placement.get("/resource_providers/%s/usages" % provider, microversion="1.9").json()["usages"]
        return servers, {"VCPU": usages["VCPU"], "MEMORY_MB": usages["MEMORY_MB"]}

    [provider] = [hv.id for hv in cloud.compute.hypervisors() if hv.name == "fake-compute-3"]
    before = nova_and_placement()
    run = ansible(tasks=info_task(hosts=["fake-compute-3"]))
    after = nova_and_placement()
    assert run.rc == 0, run.output
    [rec] = run.task()["hypervisors"]
    reported = (rec["servers"], {"VCPU": rec["resources"]["VCPU"]["used"], "MEMORY_MB": rec["resources"]["MEMORY_MB"]["used"]})
    # Nova may still be cleaning up an earlier test's instance: the record is what Nova and placement
    # said just before or just after the run
    assert reported in (before, after), (reported, before, after)
    assert rec["instance_count"] == len(rec["servers"])
    assert server_on_compute_3.id in rec["servers"]
    own = cloud.placement.get("/allocations/%s" % server_on_compute_3.id).json()["allocations"][provider]["resources"]
    assert rec["resources"]["VCPU"]["used"] >= own["VCPU"] == 1
    assert rec["resources"]["MEMORY_MB"]["used"] >= own["MEMORY_MB"] == 64


def test_filters_by_aggregate_and_zone_carry_the_metadata(ansible, aggregate):
    by_aggregate = ansible(tasks=info_task(aggregate=AGGREGATE, placement=False)).task()
    assert [r["host"] for r in by_aggregate["hypervisors"]] == ["fake-compute-2"]
    rec = by_aggregate["hypervisors"][0]
    assert rec["availability_zone"] == ZONE
    assert rec["aggregates"] == [AGGREGATE]
    assert rec["aggregate_details"][0]["metadata"] == {"disk": "ssd", "availability_zone": ZONE}
    assert rec["resources"] == {}
    by_zone = ansible(tasks=info_task(availability_zone=ZONE, placement=False)).task()
    assert [r["host"] for r in by_zone["hypervisors"]] == ["fake-compute-2"]


@pytest.mark.usefixtures("computes_enabled")
def test_filters_by_status_and_exact_host(ansible, cloud):
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == "fake-compute-10"]
    cloud.compute.update_service(svc, status="disabled", disabled_reason="disk swap")
    disabled = ansible(tasks=info_task(status="disabled", placement=False)).task()["hypervisors"]
    assert [(r["host"], r["disabled_reason"]) for r in disabled] == [("fake-compute-10", "disk swap")]
    exact = ansible(tasks=info_task(hosts=["fake-compute-1"], placement=False)).task()["hypervisors"]
    assert [r["host"] for r in exact] == ["fake-compute-1"]


@pytest.mark.usefixtures("computes_enabled")
def test_says_who_disabled_each_host_and_since_when(ansible, cloud, disable_service):
    """Two hosts at a time, so that the other tests sharing the sandbox still have computes."""
    ours = "osops:host_drain 2026-12-01T08:30:00Z CHG-7 kernel upgrade"
    rounds = [{"fake-compute-1": ("AUTO: Connection to libvirt lost: 1", "libvirt", None),
               "fake-compute-10": ("Auto-disabled due to 3 build failures", "nova", None)},
              {"fake-compute-1": (ours, "osops", "host_drain"),
               "fake-compute-10": ("RMA-77 bad DIMM", "other", None)}]
    for reasons in rounds:
        for host, (reason, _who, _job) in reasons.items():
            disable_service(host, reason)
        run = ansible(tasks=info_task(hosts=sorted(reasons), placement=False))
        assert run.rc == 0, run.output
        services = dict((s.host, s) for s in cloud.compute.services(binary="nova-compute"))  # read after
        for record in run.task()["hypervisors"]:
            reason, who, job = reasons[record["host"]]
            by = record["disabled_by"]
            assert (record["disabled_reason"], by["who"], by["job"]) == (reason, who, job)
            if who == "osops":
                assert (by["since"], by["since_source"], by["text"]) == (
                    "2026-12-01T08:30:00Z", "reason", "CHG-7 kernel upgrade")
            else:
                # Nova keeps no time of disabling: the service row's last write is all there is
                assert by["since_source"] == "updated_at"
                assert by["since"][:19] <= services[record["host"]].updated_at[:19]
    enabled = ansible(tasks=info_task(hosts=["fake-compute-2"], placement=False)).task()["hypervisors"]
    assert enabled[0]["status"] == "enabled" and enabled[0]["disabled_by"] is None


def test_check_mode_reads_the_same(ansible):
    run = ansible(tasks=info_task(hosts=["fake-compute-1"]), check=True)
    assert run.rc == 0 and run.task()["changed"] is False
    assert [r["host"] for r in run.task()["hypervisors"]] == ["fake-compute-1"]
