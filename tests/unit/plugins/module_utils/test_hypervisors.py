"""Joining hypervisors with services, aggregates and placement, and filtering the result."""
from ansible_collections.osops.toolkit.plugins.module_utils._hypervisors import (
    filter_hypervisors,
    join_hypervisors,
    resource_view,
    summarize,
)


def _hv(name, servers=()):
    return {"id": "id-" + name, "name": name + ".example.net", "service_host": name, "host_ip": "10.0.0.1",
            "hypervisor_type": "QEMU", "hypervisor_version": 7002000, "state": "up", "status": "enabled",
            "servers": list(servers)}


def _svc(host, status="enabled", state="up", reason=None, az="nova"):
    return {"id": "svc-" + host, "host": host, "status": status, "state": state, "disabled_reason": reason,
            "forced_down": False, "availability_zone": az, "updated_at": "2026-11-22T00:00:00"}


HYPERVISORS = [_hv("compute-2", ["s3"]), _hv("compute-1", ["s1", "s2"]), _hv("compute-10")]
SERVICES = [_svc("compute-1", az="az1"), _svc("compute-10", "disabled", "down", "dead PSU", az="az2"),
            _svc("compute-2", az="az1")]
AGGREGATES = [{"id": 1, "name": "ssd", "availability_zone": "az1", "metadata": {"disk": "ssd"},
               "hosts": ["compute-1", "compute-2"]},
              {"id": 2, "name": "gpu", "availability_zone": None, "metadata": {}, "hosts": ["compute-1"]}]


def test_resource_view_computes_capacity_like_placement():
    view = resource_view({"VCPU": {"total": 16, "reserved": 2, "allocation_ratio": 4.0},
                          "MEMORY_MB": {"total": 4096, "reserved": 512, "allocation_ratio": 1.5}},
                         {"VCPU": 10, "MEMORY_MB": 1000})
    assert view["VCPU"]["capacity"] == 56 and view["VCPU"]["free"] == 46
    assert view["MEMORY_MB"]["capacity"] == 5376 and view["MEMORY_MB"]["used"] == 1000
    assert view["VCPU"]["max_unit"] == 16  # placement's default when absent


def test_resource_view_counts_unused_classes_as_zero():
    assert resource_view({"DISK_GB": {"total": 100}}, {})["DISK_GB"]["used"] == 0


def test_join_carries_service_state_az_aggregates_and_instances():
    records = {r["host"]: r for r in join_hypervisors(HYPERVISORS, SERVICES, AGGREGATES)}
    one = records["compute-1"]
    assert one["availability_zone"] == "az1"
    assert one["aggregates"] == ["gpu", "ssd"]
    assert one["aggregate_details"][1]["metadata"] == {"disk": "ssd"}
    assert one["instance_count"] == 2 and one["servers"] == ["s1", "s2"]
    ten = records["compute-10"]
    assert (ten["status"], ten["state"], ten["disabled_reason"]) == ("disabled", "down", "dead PSU")
    assert ten["aggregates"] == [] and ten["instance_count"] == 0
    assert ten["disabled_by"] == {"who": "other", "job": None, "since": "2026-11-22T00:00:00",
                                  "since_source": "updated_at", "text": "dead PSU"}
    assert one["disabled_by"] is None


def test_join_attaches_resources_by_hypervisor_id():
    view = resource_view({"VCPU": {"total": 4}}, {"VCPU": 1})
    records = join_hypervisors(HYPERVISORS, SERVICES, AGGREGATES, {"id-compute-2": view})
    by_host = {r["host"]: r for r in records}
    assert by_host["compute-2"]["resources"]["VCPU"]["free"] == 3
    assert by_host["compute-1"]["resources"] == {}


def test_filters_match_hosts_exactly_and_combine():
    records = join_hypervisors(HYPERVISORS, SERVICES, AGGREGATES)
    assert [r["host"] for r in filter_hypervisors(records, hosts=["compute-1"])] == ["compute-1"]
    assert [r["host"] for r in filter_hypervisors(records, hosts=["compute-2.example.net"])] == ["compute-2"]
    assert [r["host"] for r in filter_hypervisors(records, availability_zone="az1")] == ["compute-1", "compute-2"]
    assert [r["host"] for r in filter_hypervisors(records, aggregate="gpu")] == ["compute-1"]
    assert [r["host"] for r in filter_hypervisors(records, status="disabled")] == ["compute-10"]
    assert filter_hypervisors(records, aggregate="ssd", state="down") == []


def test_summary_adds_up():
    view = resource_view({"VCPU": {"total": 4}}, {"VCPU": 1})
    records = join_hypervisors(HYPERVISORS, SERVICES, AGGREGATES, {"id-compute-1": view, "id-compute-2": view})
    summary = summarize(records)
    assert (summary["hypervisors"], summary["enabled"], summary["disabled"], summary["down"]) == (3, 2, 1, 1)
    assert summary["instances"] == 3
    assert summary["resources"]["VCPU"] == {"capacity": 8, "used": 2, "free": 6}
