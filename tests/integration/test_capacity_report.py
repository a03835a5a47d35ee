"""capacity_report and the capacity_report playbook against the sandbox cloud.

Every number is checked against placement read directly here (inventories and usages of each
provider), the "how many more fit" against the arithmetic on those numbers, and the HTML page
is opened in a real headless browser (Debian's chromium, installed by tests/lib/browser.sh).
Other test sessions may boot servers meanwhile: a comparison is retried when placement
changed while the module ran.
"""
import csv
import json
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("OSOPS_CACHE", "/var/cache/osops")
SCREENSHOT = os.path.join(CACHE, "capacity-report.png")
HOST = "fake-compute-3"
SMALL = "osops.cap.small"
HUGE = "osops.cap.huge"      # more VCPUs than max_unit: never fits, whatever the room
NO_TRAIT = "osops.cap.no-trait"          # requires a trait placement does not know: fits nowhere
NOT_DISABLED = "osops.cap.not-disabled"  # forbids the trait nova puts on disabled computes
FLAVORS = [SMALL, HUGE, NO_TRAIT, NOT_DISABLED, "m1.tiny"]


def placement_json_at(cloud, path, microversion):
    response = cloud.placement.get(path, microversion=microversion)
    assert response.status_code == 200, response.text
    return response.json()


def placement_json(cloud, path):
    return placement_json_at(cloud, path, "1.14")


def placement_snapshot(cloud):
    """provider name -> {rc: inventory + used + placement's own capacity}, read straight from placement.

    The capacity is what placement itself reports for each provider that can hold a minimal
    instance (allocation candidates' provider summaries), never the test's own arithmetic.
    """
    summaries = placement_candidates(cloud, "VCPU:1,MEMORY_MB:1")
    snapshot = {}
    for rp in placement_json(cloud, "/resource_providers")["resource_providers"]:
        inventories = placement_json(cloud, "/resource_providers/%s/inventories" % rp["uuid"])["inventories"]
        usages = placement_json(cloud, "/resource_providers/%s/usages" % rp["uuid"])["usages"]
        capacity = dict((rc, amounts["capacity"]) for rc, amounts in
                        summaries.get(rp["uuid"], {}).get("resources", {}).items())
        snapshot[rp["name"]] = dict((rc, dict(inv, used=usages.get(rc, 0), capacity=capacity.get(rc)))
                                    for rc, inv in inventories.items())
    return snapshot


def placement_candidates(cloud, resources):
    """provider uuid -> summary of every provider placement would give ``resources`` to now."""
    return placement_json_at(cloud, "/allocation_candidates?resources=%s" % resources, "1.27")["provider_summaries"]


def expected_fits(inventories, resources):
    """Placement's own rule, spelled out: every class fits, within min/max_unit and step_size."""
    counts = []
    for rc, amount in resources.items():
        inv = inventories.get(rc)
        if inv is None or amount < inv["min_unit"] or amount > inv["max_unit"] or amount % inv["step_size"]:
            return 0
        capacity = (inv["total"] - inv["reserved"]) * inv["allocation_ratio"]
        counts.append(max(0, int((capacity - inv["used"]) // amount)))
    return min(counts)


def task(register="report", **args):
    return {"name": "capacity report", "osops.toolkit.capacity_report": args, "register": register}


def stable_run(ansible, cloud, attempts=4, fresh=(), **kwargs):
    """Run the module; retry while placement changed during the run. Returns (run, snapshot).

    The files in ``fresh`` are removed before each attempt.
    """
    for _attempt in range(attempts):
        for path in fresh:
            if os.path.exists(path):
                os.unlink(path)
        before = placement_snapshot(cloud)
        run = ansible(**kwargs)
        if placement_snapshot(cloud) == before:
            return run, before
    raise AssertionError("placement kept changing while the report ran")


@pytest.fixture
def cap_flavors(cloud):
    created = [
        cloud.compute.create_flavor(name=SMALL, vcpus=3, ram=5000, disk=7),
        cloud.compute.create_flavor(name=HUGE, vcpus=1001, ram=64, disk=1),
        cloud.compute.create_flavor(name=NO_TRAIT, vcpus=1, ram=64, disk=1),
        cloud.compute.create_flavor(name=NOT_DISABLED, vcpus=3, ram=5000, disk=7),
    ]
    cloud.compute.create_flavor_extra_specs(created[2], {"trait:CUSTOM_OSOPS_CAP_NONE": "required"})
    cloud.compute.create_flavor_extra_specs(created[3], {"trait:COMPUTE_STATUS_DISABLED": "forbidden"})
    yield dict((f.name, f) for f in created)
    for flavor in created:
        cloud.compute.delete_flavor(flavor, ignore_missing=True)


@pytest.fixture
def cap_server(cloud, cap_flavors):
    """One osops-cap- server of the small flavor on HOST, so that usage is not all zero."""
    image = cloud.image.find_image("tiny", ignore_missing=False)
    server = cloud.compute.create_server(name="osops-cap-0", image_id=image.id, flavor_id=cap_flavors[SMALL].id,
                                         networks="none", availability_zone="nova:%s" % HOST)
    try:
        yield cloud.compute.wait_for_server(server, wait=120, interval=1)
    finally:
        cloud.compute.delete_server(server, ignore_missing=True)
        cloud.compute.wait_for_delete(server, wait=120, interval=1)


@pytest.fixture(scope="session")
def browser():
    proc = subprocess.run(["bash", os.path.join(ROOT, "tests", "lib", "browser.sh")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return shutil.which("chromium")


def test_report_equals_placement_fits_are_right_and_files_are_idempotent(ansible, cloud, cap_server, tmp_path):
    paths = dict((fmt, str(tmp_path / ("capacity." + fmt))) for fmt in ("json", "csv", "html"))
    args = dict(flavors=FLAVORS, json_path=paths["json"], csv_path=paths["csv"], html_path=paths["html"])
    run, snapshot = stable_run(ansible, cloud, fresh=paths.values(), tasks=[task(**args)])
    assert run.rc == 0, run.output
    result = run.task()
    assert result["changed"] is True
    assert [f["written"] for f in result["files"]] == [True, True, True]

    hypervisors = dict((hv["name"], hv) for hv in result["hypervisors"])
    services = dict((s.host, s) for s in cloud.compute.services(binary="nova-compute"))
    compute_nodes = dict((hv.name, hv) for hv in cloud.compute.hypervisors(details=True))
    assert sorted(hypervisors) == sorted(compute_nodes)
    totals = {}
    for name, hv in hypervisors.items():
        assert hv["id"] == compute_nodes[name].id
        svc = services[hv["host"]]
        assert hv["available"] == (svc.status == "enabled" and svc.state == "up" and not svc.is_forced_down)
        assert hv["availability_zone"] == svc.availability_zone
        placement = snapshot[name]
        assert sorted(hv["resources"]) == sorted(placement)
        for rc, inv in placement.items():
            mine = hv["resources"][rc]
            capacity = inv["capacity"]
            assert capacity is not None, "placement has no room for a minimal instance on %s" % name
            assert (mine["total"], mine["reserved"], mine["allocation_ratio"], mine["max_unit"], mine["min_unit"],
                    mine["step_size"]) == (inv["total"], inv["reserved"], inv["allocation_ratio"], inv["max_unit"],
                                           inv["min_unit"], inv["step_size"]), (name, rc)
            assert (mine["capacity"], mine["used"], mine["free"]) == (capacity, inv["used"], capacity - inv["used"]), (name, rc)
            level = totals.setdefault(rc, {"capacity": 0, "used": 0})
            level["capacity"] += capacity
            level["used"] += inv["used"]
    for rc, level in totals.items():
        assert result["summary"]["resources"][rc]["capacity"] == level["capacity"]
        assert result["summary"]["resources"][rc]["used"] == level["used"]
    [zone] = [z for z in result["availability_zones"] if z["name"] == "nova"]
    assert zone["resources"]["VCPU"] == result["summary"]["resources"]["VCPU"]

    # the server is counted where it runs
    assert snapshot[HOST]["VCPU"]["used"] >= 3 and hypervisors[HOST]["resources"]["MEMORY_MB"]["used"] >= 5000

    # how many more fit, from placement's numbers
    wants = {SMALL: {"VCPU": 3, "MEMORY_MB": 5000, "DISK_GB": 7}, HUGE: {"VCPU": 1001, "MEMORY_MB": 64, "DISK_GB": 1}}
    flavors = dict((f["name"], f) for f in result["flavors"])
    assert flavors[SMALL]["resources"] == wants[SMALL]
    for name, resources in wants.items():
        per_host = dict((hv, expected_fits(snapshot[hv], resources)) for hv in hypervisors)
        assert dict((hv, rec["flavors"][name]) for hv, rec in hypervisors.items()) == per_host, name
        available = sum(n for hv, n in per_host.items() if hypervisors[hv]["available"])
        assert (flavors[name]["fits"], result["summary"]["flavors"][name]["fits"]) == (available, available)
        # and placement agrees on where at least one more fits
        candidates = placement_candidates(cloud, ",".join("%s:%d" % item for item in sorted(resources.items())))
        assert sorted(hv for hv, n in per_host.items() if n) == sorted(
            hv["name"] for hv in hypervisors.values() if hv["id"] in candidates), name
    assert flavors[SMALL]["fits"] > 0
    # VCPU room alone would take a huge instance; max_unit says no
    vcpu = snapshot[HOST]["VCPU"]
    assert (vcpu["total"] * vcpu["allocation_ratio"] - vcpu["used"]) // 1001 >= 1 and vcpu["max_unit"] < 1001
    assert flavors[HUGE]["fits"] == 0 and hypervisors[HOST]["limited_by"][HUGE] == ["VCPU"]

    # traits: an unknown required one fits nowhere; a forbidden one leaves out the hosts that have it
    assert flavors[NO_TRAIT]["required_traits"] == ["CUSTOM_OSOPS_CAP_NONE"]
    assert flavors[NO_TRAIT]["fits"] == flavors[NO_TRAIT]["fits_unavailable"] == 0
    assert set(hv["limited_by"][NO_TRAIT][0] for hv in hypervisors.values()) == {"traits"}
    disabled = placement_json_at(cloud, "/resource_providers?required=COMPUTE_STATUS_DISABLED", "1.22")
    flagged = set(rp["name"] for rp in disabled["resource_providers"])
    for name, hv in hypervisors.items():
        assert hv["flavors"][NOT_DISABLED] == (0 if name in flagged else hv["flavors"][SMALL]), name

    # the files say the same
    with open(paths["json"]) as handle:
        data = json.load(handle)
    assert data["summary"] == result["summary"] and data["hypervisors"] == result["hypervisors"]
    with open(paths["csv"]) as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == sum(len(hv["resources"]) for hv in hypervisors.values())
    [row] = [r for r in rows if r["hypervisor"] == HOST and r["resource_class"] == "MEMORY_MB"]
    assert int(row["used"]) == snapshot[HOST]["MEMORY_MB"]["used"]
    with open(paths["html"]) as handle:
        assert "<svg" in handle.read()

    # the same cloud again: nothing to rewrite
    mtimes = dict((fmt, os.stat(path).st_mtime_ns) for fmt, path in paths.items())
    for _attempt in range(3):
        again, snapshot_again = stable_run(ansible, cloud, tasks=[task(**args)])
        if snapshot_again == snapshot:
            break
        snapshot, mtimes = snapshot_again, dict((fmt, os.stat(path).st_mtime_ns) for fmt, path in paths.items())
    assert again.rc == 0, again.output
    assert again.task()["changed"] is False
    assert [f["changed"] for f in again.task()["files"]] == [False, False, False]
    assert dict((fmt, os.stat(path).st_mtime_ns) for fmt, path in paths.items()) == mtimes


def test_check_mode_computes_but_writes_nothing(ansible, tmp_path):
    paths = dict((fmt, str(tmp_path / "out" / ("capacity." + fmt))) for fmt in ("json", "csv", "html"))
    (tmp_path / "out").mkdir()
    run = ansible(tasks=[task(json_path=paths["json"], csv_path=paths["csv"], html_path=paths["html"])],
                  check=True, diff=True)
    assert run.rc == 0, run.output
    result = run.task()
    assert result["changed"] is True
    assert [(f["changed"], f["written"]) for f in result["files"]] == [(True, False)] * 3
    assert result["summary"]["resources"]["VCPU"]["capacity"] > 0
    assert os.listdir(str(tmp_path / "out")) == []
    assert [d["after_header"] for d in result["diff"]] == [paths["json"], paths["csv"], paths["html"]]


def test_bad_input_is_refused_before_anything(ansible, tmp_path):
    run = ansible(tasks=[task(flavors=["osops.cap.no-such-flavor"], json_path=str(tmp_path / "x.json"))])
    assert run.rc != 0
    assert "No flavor named osops.cap.no-such-flavor" in run.task()["msg"]
    run = ansible(tasks=[task(json_path=str(tmp_path / "missing" / "x.json"))])
    assert run.rc != 0 and "does not exist" in run.task()["msg"]
    assert not os.path.exists(str(tmp_path / "x.json"))


def _colours(png):
    """Distinct colours of a screenshot, counted by Debian's Pillow in the system python3."""
    proc = subprocess.run(["/usr/bin/python3", "-c",
                           "import sys; from PIL import Image; "
                           "print(len(Image.open(sys.argv[1]).convert('RGB').getcolors(1 << 24)))", png],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_html_renders_in_a_headless_browser(ansible, browser, cap_server, tmp_path):
    page = str(tmp_path / "capacity.html")
    run = ansible(tasks=[task(flavors=FLAVORS, html_path=page, label="sandbox")])
    assert run.rc == 0, run.output
    names = [hv["name"] for hv in run.task()["hypervisors"]]

    chrome = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1280,2000"]
    dom = subprocess.run(chrome + ["--dump-dom", "file://" + page], capture_output=True, text=True, check=False, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<svg") == 8       # cloud, fits, then VCPU/MEMORY_MB/DISK_GB for the AZs and hypervisors
    for text in ("<title>Whole cloud: used of capacity per resource class</title>", "<rect", SMALL, HUGE, NO_TRAIT, "sandbox"):
        assert text in dom.stdout, text
    for name in names:
        assert ">%s</text>" % name in dom.stdout, name

    shot = str(tmp_path / "capacity.png")
    proc = subprocess.run(chrome + ["--screenshot=" + shot, "file://" + page], capture_output=True, text=True,
                          check=False, timeout=120)
    assert proc.returncode == 0 and os.path.getsize(shot) > 0, proc.stderr[-2000:]
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    subprocess.run(chrome + ["--screenshot=" + str(tmp_path / "blank.png"), "file://%s" % blank],
                   capture_output=True, text=True, check=True, timeout=120)
    assert _colours(str(tmp_path / "blank.png")) == 1
    assert _colours(shot) > 20        # text, bars in several colours, table lines: not a blank page
    assert os.path.getsize(shot) > 10 * os.path.getsize(str(tmp_path / "blank.png"))
    os.makedirs(CACHE, exist_ok=True)
    shutil.copy(shot, SCREENSHOT)     # to look at


def test_playbook_validates_and_writes_the_three_files(ansible, tmp_path):
    out = tmp_path / "reports"
    run = ansible(playbook="osops.toolkit.capacity_report",
                  extra_vars={"capacity_report_dir": str(out), "capacity_report_flavors": ["m1.tiny"]})
    assert run.rc == 0, run.output
    assert sorted(os.listdir(str(out))) == ["capacity.csv", "capacity.html", "capacity.json"]
    with open(str(out / "capacity.json")) as handle:
        assert [f["name"] for f in json.load(handle)["flavors"]] == ["m1.tiny"]

    bad = ansible(playbook="osops.toolkit.capacity_report",
                  extra_vars={"capacity_report_dir": str(tmp_path / "other"), "capacity_report_disabled_hosts": "sometimes"})
    assert bad.rc != 0
    [error] = bad.argument_errors()
    assert "capacity_report_disabled_hosts" in error and "sometimes" in error, error
    assert not os.path.exists(str(tmp_path / "other"))
