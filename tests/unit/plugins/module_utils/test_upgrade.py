"""The pure logic of upgrade_facts: microversion order, the skew of Nova service versions, the gates."""
import datetime

import pytest

from ansible_collections.osops.toolkit.plugins.module_utils._upgrade import (
    drop_down_services,
    format_version,
    microversion_at_least,
    microversion_problems,
    parse_microversion,
    service_row,
    service_versions,
    skew_message,
    version_skew,
)


def _row(host, binary="nova-compute", version=74):
    return service_row({"host": host, "binary": binary, "version": version, "disabled": 0, "forced_down": 0,
                        "last_seen_up": None, "updated_at": None})


CONTROL = [_row("ctl-1", "nova-conductor"), _row("ctl-1", "nova-scheduler"), _row("ctl-1", "nova-osapi_compute")]


def test_microversions_compare_part_by_part():
    assert parse_microversion("2.104") == (2, 104)
    assert microversion_at_least("2.100", "2.95")
    assert not microversion_at_least("2.95", "2.100")
    assert microversion_at_least("2.95", "2.95")
    assert microversion_at_least((1, 39), "1.39")
    assert not microversion_at_least("1.39", "2.1")
    assert not microversion_at_least(None, "2.1")


@pytest.mark.parametrize("bad", ["2", "2.x", "latest", "2.1.3", "v2.1"])
def test_a_microversion_that_is_not_major_minor_is_refused(bad):
    with pytest.raises(ValueError):
        parse_microversion(bad)


def test_versions_are_formatted_from_discovery_tuples():
    assert format_version((2, 104)) == "2.104"
    assert format_version(None) is None


def _api(max_mv, error=None):
    return {"max_microversion": max_mv, "error": error, "endpoint": "http://x/"}


def test_microversion_requirements_name_each_unmet_one():
    apis = {"compute": _api("2.104"), "placement": _api("1.39"), "network": _api(None),
            "baremetal": _api(None, error="Connection refused")}
    assert microversion_problems(apis, {"compute": "2.100", "placement": "1.39"}) == []
    problems = microversion_problems(apis, {"compute": "2.105", "network": "2.1", "baremetal": "1.1",
                                            "orchestration": "1.0"})
    assert problems == [
        "baremetal needs microversion 1.1 but its version discovery failed: Connection refused",
        "compute needs microversion 2.105 but the cloud's maximum is 2.104",
        "network needs microversion 2.1 but its API (http://x/) has no microversions",
        "orchestration needs microversion 1.0 but the catalog has no orchestration service",
    ]


def test_rows_from_the_database_are_plain():
    row = service_row(("c1", "nova-compute", 74, 1, 0, datetime.datetime(2026, 1, 5, 10, 0), None))
    assert row == {"host": "c1", "binary": "nova-compute", "version": 74, "disabled": True, "forced_down": False,
                   "last_seen_up": "2026-01-05T10:00:00", "updated_at": None}


def test_one_version_everywhere_is_no_skew():
    versions = service_versions(CONTROL + [_row("c1"), _row("c2")])
    assert versions["nova-compute"] == {"min": 74, "max": 74, "hosts": {"c1": 74, "c2": 74}}
    assert version_skew(versions) == {"has_skew": False, "min": 74, "max": 74, "binaries": [], "lagging": [],
                                      "compute_behind_control": False}


def test_an_old_compute_is_behind_the_control_plane_and_named():
    skew = version_skew(service_versions(CONTROL + [_row("c1"), _row("c2", version=72)]))
    assert skew["has_skew"] and skew["compute_behind_control"]
    assert (skew["min"], skew["max"], skew["binaries"]) == (72, 74, ["nova-compute"])
    assert skew["lagging"] == [{"binary": "nova-compute", "host": "c2", "version": 72}]
    assert skew_message(skew) == ("Nova service versions differ (72 to 74): behind the newest are "
                                  "nova-compute on c2 at 72.")


def test_computes_ahead_of_an_old_conductor_are_not_behind_control():
    # all computes at one version, the conductor not yet upgraded: skew, but not compute behind control
    rows = [_row("ctl-1", "nova-conductor", 73), _row("ctl-1", "nova-scheduler", 73), _row("c1"), _row("c2")]
    skew = version_skew(service_versions(rows))
    assert skew["has_skew"] and not skew["compute_behind_control"]
    assert skew["binaries"] == []
    assert [(s["binary"], s["version"]) for s in skew["lagging"]] == [("nova-conductor", 73), ("nova-scheduler", 73)]


def test_computes_behind_only_the_api_count_as_behind_control():
    rows = [_row("ctl-1", "nova-osapi_compute", 75), _row("c1")]
    assert version_skew(service_versions(rows))["compute_behind_control"]


def test_no_service_and_no_compute():
    assert version_skew({})["has_skew"] is False
    assert version_skew(service_versions(CONTROL))["compute_behind_control"] is False
    assert service_versions([_row("c1", version=None)]) == {}


def test_services_down_in_the_api_are_dropped_unlisted_ones_kept():
    rows = CONTROL + [_row("c1"), _row("c2", version=60)]
    api = [{"binary": "nova-compute", "host": "c1", "state": "up"},
           {"binary": "nova-compute", "host": "c2", "state": "down"},
           {"binary": "nova-conductor", "host": "ctl-1", "state": "up"}]
    kept = drop_down_services(rows, api)
    assert sorted((r["binary"], r["host"]) for r in kept) == [
        ("nova-compute", "c1"), ("nova-conductor", "ctl-1"), ("nova-osapi_compute", "ctl-1"),
        ("nova-scheduler", "ctl-1")]
