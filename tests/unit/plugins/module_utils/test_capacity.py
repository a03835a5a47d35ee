"""Capacity arithmetic, flavor requests, aggregation and the rendered files (no cloud needed)."""
import csv
import io
import json
import xml.etree.ElementTree as ET

from ansible_collections.osops.toolkit.plugins.module_utils._capacity import (
    CSV_FIELDS,
    build_report,
    fit_count,
    flavor_request,
    host_fit,
    hosts_from_nova,
    merge_views,
    select_flavors,
    svg_fit_chart,
    svg_usage_chart,
    to_csv,
    to_html,
    to_json,
    trait_query,
)
from ansible_collections.osops.toolkit.plugins.module_utils._hypervisors import resource_view


def inv(total, reserved=0, ratio=1.0, min_unit=1, max_unit=None, step_size=1):
    return {"total": total, "reserved": reserved, "allocation_ratio": ratio, "min_unit": min_unit,
            "max_unit": total if max_unit is None else max_unit, "step_size": step_size}


def compute_node(vcpu=16, ram=65536, disk=1000, used=None, vcpu_ratio=4.0, ram_reserved=512, max_vcpu=None):
    return resource_view({"VCPU": inv(vcpu, ratio=vcpu_ratio, max_unit=max_vcpu),
                          "MEMORY_MB": inv(ram, reserved=ram_reserved),
                          "DISK_GB": inv(disk)}, used or {})


def flavor(name, vcpus=2, ram=4096, disk=20, extra_specs=None, public=True, **more):
    body = {"id": "id-" + name, "name": name, "vcpus": vcpus, "ram": ram, "disk": disk, "swap": "",
            "OS-FLV-EXT-DATA:ephemeral": 0, "os-flavor-access:is_public": public, "extra_specs": extra_specs or {}}
    body.update(more)
    return body


def host(name, providers, zone="az1", aggregates=(), status="enabled", state="up", forced_down=False, hv_id=None):
    return {"id": hv_id or "uuid-" + name, "name": name, "host": name, "availability_zone": zone,
            "aggregates": list(aggregates), "status": status, "state": state, "forced_down": forced_down,
            "disabled_reason": "maintenance" if status == "disabled" else None, "providers": providers}


# --------------------------------------------------------------------------- fit arithmetic
def test_fit_count_uses_capacity_with_ratio_and_reserved():
    view = resource_view({"VCPU": inv(8, reserved=2, ratio=4.0)}, {"VCPU": 5})["VCPU"]
    assert view["capacity"] == 24
    assert fit_count(view, 2) == (24 - 5) // 2 == 9


def test_fractional_capacity_is_floored_as_placement_compares():
    # placement accepts while used + amount <= (total - reserved) * ratio = 4.5
    view = resource_view({"VCPU": inv(3, ratio=1.5)}, {"VCPU": 1})["VCPU"]
    assert fit_count(view, 1) == 3
    assert fit_count(view, 2) == 1


def test_max_unit_refuses_whatever_the_room():
    view = resource_view({"VCPU": inv(16, ratio=16.0, max_unit=16)}, {})["VCPU"]
    assert view["free"] == 256
    assert fit_count(view, 16) == 16
    assert fit_count(view, 17) == 0


def test_min_unit_and_step_size():
    view = resource_view({"MEMORY_MB": inv(65536, min_unit=1024, step_size=512)}, {})["MEMORY_MB"]
    assert fit_count(view, 512) == 0           # below min_unit
    assert fit_count(view, 1536) == 42         # a multiple of 512
    assert fit_count(view, 1500) == 0          # not a multiple of step_size


def test_full_or_overcommitted_provider_fits_nothing():
    view = resource_view({"VCPU": inv(4)}, {"VCPU": 6})["VCPU"]
    assert view["free"] == -2
    assert fit_count(view, 1) == 0


def test_zero_amount_does_not_limit():
    assert fit_count(resource_view({"VCPU": inv(1)}, {"VCPU": 1})["VCPU"], 0) is None


def test_host_takes_as_many_as_its_scarcest_class():
    node = compute_node(vcpu=16, ram=16896, used={"MEMORY_MB": 4096})  # 16384 usable, 4096 used
    count, limits = host_fit([node], {"VCPU": 2, "MEMORY_MB": 4096, "DISK_GB": 20})
    assert count == 3 and limits == ["MEMORY_MB"]


def test_a_class_the_host_lacks_means_none():
    assert host_fit([compute_node()], {"VCPU": 1, "CUSTOM_GPU": 1}) == (0, ["CUSTOM_GPU"])


def test_class_on_child_providers_counts_each_child():
    def gpu(used):
        return resource_view({"VGPU": inv(4, max_unit=4)}, {"VGPU": used})
    tree = [compute_node(), gpu(3), gpu(0)]
    # 1 more on the first GPU, 2 on the second when each instance takes 2: 0 + 2
    assert host_fit(tree, {"VCPU": 1, "VGPU": 2}) == (2, ["VGPU"])
    merged = merge_views(tree)["VGPU"]
    assert (merged["total"], merged["used"], merged["free"], merged["max_unit"]) == (8, 3, 5, 4)


def test_merge_views_keeps_a_setting_only_when_every_provider_agrees():
    a = resource_view({"VCPU": inv(4, ratio=2.0)}, {})
    b = resource_view({"VCPU": inv(4, ratio=4.0)}, {"VCPU": 4})
    merged = merge_views([a, b])["VCPU"]
    assert merged["allocation_ratio"] is None and merged["step_size"] == 1
    assert (merged["capacity"], merged["used"], merged["used_percent"]) == (24, 4, 16.7)


# --------------------------------------------------------------------------- flavors
def test_flavor_request_as_nova_builds_it():
    request = flavor_request(flavor("f", vcpus=4, ram=8192, disk=40, swap=1025, **{"OS-FLV-EXT-DATA:ephemeral": 10}))
    assert request == {"resources": {"VCPU": 4, "MEMORY_MB": 8192, "DISK_GB": 40 + 10 + 2},
                       "required_traits": [], "forbidden_traits": []}


def test_flavor_extra_specs_override_add_and_remove_classes_and_ask_for_traits():
    specs = {"resources:DISK_GB": "0", "resources:CUSTOM_BAREMETAL_GOLD": "1", "resources:VCPU": "0",
             "resources:MEMORY_MB": "0", "trait:CUSTOM_RAID": "required", "trait1:HW_GPU": "forbidden",
             "resources1:VGPU": "1", "hw:cpu_policy": "shared"}
    request = flavor_request(flavor("bm", extra_specs=specs))
    assert request == {"resources": {"CUSTOM_BAREMETAL_GOLD": 1, "VGPU": 1},
                       "required_traits": ["CUSTOM_RAID"], "forbidden_traits": ["HW_GPU"]}


def test_dedicated_cpus_are_pcpus():
    assert flavor_request(flavor("pinned", vcpus=8, extra_specs={"hw:cpu_policy": "dedicated"}))["resources"] == \
        {"PCPU": 8, "MEMORY_MB": 4096, "DISK_GB": 20}


def test_select_flavors_default_public_named_in_order_and_missing():
    flavors = [flavor("m1.large"), flavor("m1.small"), flavor("secret", public=False)]
    assert [f["name"] for f in select_flavors(flavors)[0]] == ["m1.large", "m1.small"]
    selected, missing = select_flavors(flavors, ["secret", "m1.small", "id-m1.large", "nope"])
    assert [f["name"] for f in selected] == ["secret", "m1.small", "m1.large"]
    assert missing == ["nope"]


def test_trait_query_for_known_and_unknown_traits():
    request = {"required_traits": ["CUSTOM_RAID"], "forbidden_traits": ["COMPUTE_STATUS_DISABLED", "CUSTOM_GONE"]}
    assert trait_query(request, {"CUSTOM_RAID", "COMPUTE_STATUS_DISABLED"}) == "CUSTOM_RAID,!COMPUTE_STATUS_DISABLED"
    assert trait_query(request, {"COMPUTE_STATUS_DISABLED"}) is None
    assert trait_query({"required_traits": [], "forbidden_traits": ["CUSTOM_GONE"]}, set()) == ""


def test_hosts_from_nova_joins_services_zones_and_aggregates():
    hypervisors = [{"id": "u1", "hypervisor_hostname": "c1.example.net", "service": {"host": "c1"}, "state": "up", "status": "enabled"},
                   {"id": "u2", "hypervisor_hostname": "node-2", "service": {"host": "ironic"}, "state": "up", "status": "enabled"}]
    services = [{"host": "c1", "zone": "az1", "status": "disabled", "state": "up", "forced_down": False, "disabled_reason": "x"},
                {"host": "ironic", "zone": "nova", "status": "enabled", "state": "down", "forced_down": True}]
    aggregates = [{"name": "ssd", "hosts": ["c1"]}, {"name": "gold", "hosts": ["c1", "other"]}]
    hosts = hosts_from_nova(hypervisors, services, aggregates, {"u1": ["view"]})
    assert [(h["name"], h["host"], h["availability_zone"], h["aggregates"], h["status"], h["state"], h["forced_down"],
             h["providers"]) for h in hosts] == [
        ("c1.example.net", "c1", "az1", ["ssd", "gold"], "disabled", "up", False, ["view"]),
        ("node-2", "ironic", "nova", [], "enabled", "down", True, [])]


# --------------------------------------------------------------------------- the report
def sample_report(disabled_hosts="separate"):
    hosts = [
        host("c1", [compute_node(used={"VCPU": 8, "MEMORY_MB": 8192, "DISK_GB": 100})], zone="az1", aggregates=["ssd", "gold"]),
        host("c2", [compute_node()], zone="az1", aggregates=["ssd"]),
        host("c3", [compute_node()], zone="az2", status="disabled"),
        host("c4", [], zone="az2"),   # no provider (yet)
    ]
    flavors = [flavor("m1.large", vcpus=4, ram=8192, disk=80),
               # "allowed": the providers with the traits, as the module finds them in placement
               flavor("pinned", vcpus=2, extra_specs={"trait:CUSTOM_PINNED": "required"}, allowed={"uuid-c2"})]
    return build_report(hosts, flavors, disabled_hosts=disabled_hosts, label="CHG-1")


def test_report_levels_sum_their_hosts():
    report = sample_report()
    summary = report["summary"]
    assert summary["hypervisors"] == ["c1", "c2", "c3", "c4"]
    assert (summary["available"], summary["unavailable"]) == (3, 1)
    vcpu = summary["resources"]["VCPU"]
    assert vcpu == {"total": 48, "reserved": 0, "capacity": 192, "used": 8, "free": 184, "used_percent": 4.2,
                    "allocation_ratios": [4.0]}
    assert [z["name"] for z in report["availability_zones"]] == ["az1", "az2"]
    az1 = report["availability_zones"][0]
    assert az1["hypervisors"] == ["c1", "c2"] and az1["resources"]["VCPU"]["used"] == 8
    assert [(a["name"], a["hypervisors"]) for a in report["aggregates"]] == [("gold", ["c1"]), ("ssd", ["c1", "c2"])]
    assert report["label"] == "CHG-1"


def test_report_flavor_fits_per_host_and_level_with_unavailable_apart():
    report = sample_report()
    by_name = dict((hv["name"], hv) for hv in report["hypervisors"])
    # 65536 - 512 = 65024 MB; c1 has 8192 used: 56832 // 8192 = 6, VCPU (64 - 8) // 4 = 14, disk 900 // 80 = 11
    assert by_name["c1"]["flavors"]["m1.large"] == 6 and by_name["c1"]["limited_by"]["m1.large"] == ["MEMORY_MB"]
    assert by_name["c2"]["flavors"]["m1.large"] == 7
    assert by_name["c3"]["flavors"]["m1.large"] == 7 and not by_name["c3"]["available"]
    assert by_name["c4"]["flavors"]["m1.large"] == 0 and by_name["c4"]["providers"] == 0
    assert by_name["c1"]["flavors"]["pinned"] == 0 and by_name["c1"]["limited_by"]["pinned"] == ["traits"]
    assert by_name["c2"]["flavors"]["pinned"] == 15   # 65024 // 4096
    assert report["summary"]["flavors"]["m1.large"] == {"fits": 13, "fits_unavailable": 7}
    large = [f for f in report["flavors"] if f["name"] == "m1.large"][0]
    assert (large["fits"], large["fits_unavailable"]) == (13, 7)
    assert report["availability_zones"][1]["flavors"]["m1.large"] == {"fits": 0, "fits_unavailable": 7}


def test_exclude_leaves_unavailable_hosts_out():
    report = sample_report("exclude")
    assert report["summary"]["hypervisors"] == ["c1", "c2", "c4"]
    assert report["summary"]["flavors"]["m1.large"] == {"fits": 13, "fits_unavailable": 0}
    assert report["summary"]["resources"]["VCPU"]["capacity"] == 128


def test_down_or_forced_down_hosts_are_unavailable():
    report = build_report([host("a", [compute_node()], state="down"), host("b", [compute_node()], forced_down=True)],
                          [flavor("x")])
    assert report["summary"]["available"] == 0
    assert report["summary"]["flavors"]["x"]["fits"] == 0 and report["summary"]["flavors"]["x"]["fits_unavailable"] > 0


# --------------------------------------------------------------------------- files
def test_json_is_stable_and_complete():
    assert to_json(sample_report()) == to_json(sample_report())
    data = json.loads(to_json(sample_report()))
    assert data["summary"]["resources"]["VCPU"]["used"] == 8


def test_csv_one_row_per_hypervisor_and_class():
    rows = list(csv.DictReader(io.StringIO(to_csv(sample_report()))))
    assert tuple(rows[0].keys()) == CSV_FIELDS
    assert len(rows) == 3 * 3   # c4 has no provider, so no rows
    row = [r for r in rows if r["hypervisor"] == "c1" and r["resource_class"] == "VCPU"][0]
    assert (row["capacity"], row["used"], row["free"], row["allocation_ratio"], row["aggregates"], row["available"]) == \
        ("64", "8", "56", "4.0", "gold;ssd", "yes")
    assert [r["available"] for r in rows if r["hypervisor"] == "c3"] == ["no"] * 3


def test_svg_charts_are_well_formed_with_titles():
    usage = ET.fromstring(svg_usage_chart("VCPU <used>", [("c1 & co", 8, 64, False), ("c2", 0, 0, True)]))
    ns = "{http://www.w3.org/2000/svg}"
    assert usage.find(ns + "title").text == "VCPU <used>"
    bars = usage.findall(ns + "g")
    assert bars[0].find(ns + "title").text.startswith("c1 & co: 8 used of 64 (12.5 %)")
    widths = [int(r.get("width")) for r in bars[0].findall(ns + "rect")]
    assert widths == [520, 65]
    fits = ET.fromstring(svg_fit_chart("fits", [("m1.large", 13, 7), ("none", 0, 0)]))
    rects = fits.findall(ns + "g")[0].findall(ns + "rect")
    assert [int(r.get("width")) for r in rects] == [520, 338, 182]


def test_html_is_self_contained_and_escaped():
    page = to_html(sample_report(), title="Cap <prod>")
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Cap &lt;prod&gt;</title>" in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert page.count("<svg") == 1 + 1 + 3 + 3 + 3   # cloud, fits, then per class: AZs, aggregates, hypervisors
    assert "CHG-1" in page and "c3" in page
    assert to_html(sample_report()) == to_html(sample_report())
