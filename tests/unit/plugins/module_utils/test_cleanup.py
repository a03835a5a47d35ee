"""project_cleanup's plan: what of a project is deleted, in which order."""
import datetime

from ansible_collections.osops.toolkit.plugins.module_utils._cleanup import cleanup_plan, plan_counts
from ansible_collections.osops.toolkit.plugins.module_utils._drift import RESOURCE_TYPES

MINE, OTHER = "p-mine", "p-other"
UTC = datetime.timezone.utc


def item(id_, project=MINE, **extra):
    return dict({"id": id_, "name": id_, "project_id": project, "created_at": "2026-11-01T10:00:00Z"}, **extra)


def ids(plan):
    return [(kind, entry["id"]) for kind, entry in plan]


def test_the_plan_follows_the_dependency_order_whatever_the_listing_order():
    listed = {"security_groups": [item("sg")], "networks": [item("net")], "ports": [item("port")],
              "routers": [item("router")], "volumes": [item("vol")], "snapshots": [item("snap")],
              "servers": [item("vm")], "floating_ips": [item("fip")], "images": [item("img")]}
    plan = cleanup_plan(list(RESOURCE_TYPES), listed, MINE)
    assert ids(plan) == [("servers", "vm"), ("floating_ips", "fip"), ("ports", "port"), ("routers", "router"),
                         ("networks", "net"), ("snapshots", "snap"), ("volumes", "vol"), ("images", "img"),
                         ("security_groups", "sg")]


def test_only_the_kinds_asked_for_and_only_what_the_project_owns():
    listed = {"servers": [item("vm"), item("shared-vm", project=OTHER)], "networks": [item("net"),
              item("public", project=OTHER, is_router_external=True)], "ports": [item("port")]}
    plan = cleanup_plan(["servers", "networks"], listed, MINE)
    assert ids(plan) == [("servers", "vm"), ("networks", "net")]


def test_ports_that_go_away_with_their_owner_are_not_deleted_on_their_own():
    owners = ["network:router_interface", "network:router_gateway", "network:floatingip", "network:dhcp",
              "network:router_interface_distributed", "network:router_ha_interface"]
    listed = {"ports": [item("owned-%d" % n, device_owner=owner) for n, owner in enumerate(owners)]
              + [item("vm-port", device_owner="compute:nova"), item("loose", device_owner=None)]}
    assert ids(cleanup_plan(["ports"], listed, MINE)) == [("ports", "vm-port"), ("ports", "loose")]


def test_created_before_keeps_what_is_newer_and_what_has_no_time():
    listed = {"servers": [item("old", created_at="2026-10-31T23:59:59Z"),
                          item("edge", created_at="2026-11-01T00:00:00+00:00"),
                          item("new", created_at="2026-11-02 08:00:00"),
                          item("unknown", created_at=None)]}
    cutoff = datetime.datetime(2026, 11, 1, tzinfo=UTC)
    assert ids(cleanup_plan(["servers"], listed, MINE, created_before=cutoff)) == [("servers", "old")]
    assert len(cleanup_plan(["servers"], listed, MINE)) == 4


def test_counts_per_kind_and_total():
    plan = [("servers", item("a")), ("servers", item("b")), ("ports", item("c"))]
    assert plan_counts(plan) == {"servers": 2, "ports": 1, "total": 3}
    assert plan_counts([]) == {"total": 0}
