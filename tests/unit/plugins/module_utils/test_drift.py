"""drift_report's findings from plain listings."""
import datetime

from ansible_collections.osops.toolkit.plugins.module_utils import _drift as drift

NOW = datetime.datetime(2026, 11, 22, 12, 0, tzinfo=datetime.timezone.utc)


def test_orphans_are_resources_of_unknown_projects_only():
    resources = {"servers": [{"id": "a", "project_id": "p1"}, {"id": "b", "project_id": "gone"}],
                 "images": [{"id": "i", "project_id": None}, {"id": "j", "project_id": "gone"}]}
    found = drift.orphans(resources, ["p1"])
    assert [r["id"] for r in found["servers"]] == ["b"]
    assert [r["id"] for r in found["images"]] == ["j"]


def test_ghost_ports_device_gone_dead_or_missing_agent():
    ports = [
        {"id": "1", "device_owner": "compute:nova", "device_id": "srv-gone", "binding_host_id": None},
        {"id": "2", "device_owner": "compute:nova", "device_id": "srv-ok", "binding_host_id": "c1"},
        {"id": "3", "device_owner": "network:dhcp", "device_id": "dhcp", "binding_host_id": "c2"},
        {"id": "4", "device_owner": "", "device_id": "", "binding_host_id": "c3"},
        {"id": "5", "device_owner": "", "device_id": "", "binding_host_id": None},
    ]
    agents = [{"host": "c1", "is_alive": True}, {"host": "c2", "is_alive": False}]
    found = dict((p["id"], p["reason"]) for p in drift.ghost_ports(ports, ["srv-ok"], agents))
    assert found == {"1": "its server srv-gone no longer exists",
                     "3": "bound to c2, whose agent is dead",
                     "4": "bound to c3, which has no agent"}


def test_stuck_servers_by_state_task_state_and_age():
    servers = [
        {"id": "old-error", "status": "ERROR", "updated": "2026-11-22T10:00:00Z"},
        {"id": "new-error", "status": "ERROR", "updated": "2026-11-22T11:50:00Z"},
        {"id": "deleting", "status": "ACTIVE", "task_state": "deleting", "updated": "2026-11-21T12:00:00Z"},
        {"id": "fine", "status": "ACTIVE", "updated": "2026-01-01T00:00:00Z"},
        {"id": "build", "status": "BUILD", "updated": "2026-11-22T09:00:00.123456"},
    ]
    found = dict((s["id"], s["minutes"]) for s in drift.stuck_servers(servers, NOW, 60))
    assert found == {"old-error": 120, "deleting": 1440, "build": 180}


def test_orphan_allocations_spare_servers_and_unsettled_migrations():
    allocations = {"rp1": {"srv": {"resources": {"VCPU": 1}}, "mig": {"resources": {"VCPU": 1}},
                           "old-mig": {"resources": {"VCPU": 2}}, "ghost": {"resources": {"MEMORY_MB": 64}}}}
    migrations = [{"uuid": "mig", "status": "running"}, {"uuid": "old-mig", "status": "confirmed"}]
    consumers = drift.live_consumers(["srv"], migrations)
    found = drift.orphan_allocations(allocations, [{"uuid": "rp1", "name": "c1"}], consumers)
    assert [(f["consumer"], f["provider_name"]) for f in found] == [("ghost", "c1"), ("old-mig", "c1")]


def test_disabled_hosts_by_the_date_in_the_reason():
    services = [
        {"host": "c1", "status": "disabled", "disabled_reason": "2026-10-01 bad DIMM"},
        {"host": "c2", "status": "disabled", "disabled_reason": "CHG-1 since 2026-11-20"},
        {"host": "c3", "status": "disabled", "disabled_reason": None},
        {"host": "c4", "status": "enabled", "disabled_reason": None},
    ]
    found = dict((d["host"], (d["since"], d["days"])) for d in drift.disabled_hosts(services, NOW, 7))
    assert found == {"c1": ("2026-10-01", 52), "c3": (None, None)}


def test_disabled_hosts_say_who_disabled_them_and_our_reasons_carry_the_time():
    services = [
        {"host": "ours", "status": "disabled", "disabled_reason": "osops:host_drain 2026-11-01T08:00:00Z CHG-1",
         "updated_at": "2026-11-22T00:00:00"},
        {"host": "fresh", "status": "disabled", "disabled_reason": "osops:host_drain 2026-11-21T08:00:00Z CHG-2"},
        {"host": "auto", "status": "disabled", "disabled_reason": "AUTO: Connection to libvirt lost: 1",
         "updated_at": "2026-11-20T00:00:00"},
        {"host": "builds", "status": "disabled", "disabled_reason": "Auto-disabled due to 3 build failures"},
        {"host": "rma", "status": "disabled", "disabled_reason": "RMA-77 bad DIMM"},
    ]
    found = dict((d["host"], d) for d in drift.disabled_hosts(services, NOW, 7))
    assert sorted(found) == ["auto", "builds", "ours", "rma"]
    assert (found["ours"]["since"], found["ours"]["disabled_by"]["who"], found["ours"]["disabled_by"]["job"]) == (
        "2026-11-01", "osops", "host_drain")
    assert found["auto"]["disabled_by"]["who"] == "libvirt"
    assert found["auto"]["disabled_by"]["since"] == "2026-11-20T00:00:00"  # only updated_at, not a date of disabling
    assert found["auto"]["days"] is None
    assert found["builds"]["disabled_by"]["who"] == "nova"
    assert found["rma"]["disabled_by"]["who"] == "other"


def test_counts_per_section_and_total():
    report = {"orphans": {"servers": [1, 2], "ports": [3]}, "ghost_ports": [4], "stuck_servers": []}
    assert drift.counts(report) == {"orphans": {"servers": 2, "ports": 1, "total": 3}, "ghost_ports": 1,
                                    "stuck_servers": 0, "total": 4}


def test_parse_time_accepts_the_shapes_apis_use():
    assert drift.parse_time("2026-11-22T10:00:00Z") == drift.parse_time("2026-11-22 10:00:00.5")
    assert drift.parse_time("2026-11-22").year == 2026
    assert drift.parse_time(None) is None
