"""The compute-service state machine: what an update must send, and what the service becomes."""
import pytest

from ansible_collections.osops.toolkit.plugins.module_utils._compute import (
    find_compute_service,
    service_after,
    wanted_service_state,
)

ENABLED = {"status": "enabled", "disabled_reason": None, "forced_down": False}
DISABLED = {"status": "disabled", "disabled_reason": "kernel upgrade", "forced_down": False}


@pytest.mark.parametrize("current, args, expected", [
    (ENABLED, dict(status="enabled"), {}),
    (ENABLED, dict(status="disabled"), {"status": "disabled"}),
    (ENABLED, dict(status="disabled", disabled_reason="why"), {"status": "disabled", "disabled_reason": "why"}),
    (DISABLED, dict(status="disabled"), {}),
    (DISABLED, dict(status="disabled", disabled_reason="kernel upgrade"), {}),
    # nova only takes a reason together with status=disabled
    (DISABLED, dict(status="disabled", disabled_reason="new"), {"status": "disabled", "disabled_reason": "new"}),
    # enabling sends no reason: nova clears it itself and rejects one
    (DISABLED, dict(status="enabled"), {"status": "enabled"}),
    (ENABLED, dict(forced_down=True), {"forced_down": True}),
    (dict(ENABLED, forced_down=True), dict(forced_down=True), {}),
    (dict(DISABLED, forced_down=True), dict(status="enabled", forced_down=False),
     {"status": "enabled", "forced_down": False}),
    (DISABLED, dict(), {}),
])
def test_wanted_service_state(current, args, expected):
    assert wanted_service_state(current, **args) == expected


def test_service_after_enabling_clears_the_reason():
    after = service_after(DISABLED, {"status": "enabled"})
    assert after == {"status": "enabled", "disabled_reason": None, "forced_down": False}


def test_service_after_disabling_carries_the_new_reason():
    assert service_after(ENABLED, wanted_service_state(ENABLED, status="disabled", disabled_reason="x")) == \
        {"status": "disabled", "disabled_reason": "x", "forced_down": False}


def test_service_after_forcing_down_keeps_the_reason():
    assert service_after(DISABLED, wanted_service_state(DISABLED, forced_down=True)) == \
        {"status": "disabled", "disabled_reason": "kernel upgrade", "forced_down": True}


class _Svc(object):
    def __init__(self, host, binary="nova-compute"):
        self.host, self.binary = host, binary


class _Compute(object):
    """Answers like a Nova whose host filter were a prefix match: the lookup must not trust it."""

    def __init__(self, hosts):
        self._services = [_Svc(h) for h in hosts] + [_Svc(hosts[0], "nova-conductor")]

    def services(self, host, binary):
        return [s for s in self._services if s.host.startswith(host)]


def test_find_compute_service_matches_the_host_exactly():
    compute = _Compute(["compute-10", "compute-1", "compute-100"])
    assert find_compute_service(compute, "compute-1").host == "compute-1"
    assert find_compute_service(compute, "compute-1").binary == "nova-compute"
    assert find_compute_service(compute, "compute-") is None


# --- who disabled a service: our reasons, Nova's, libvirt's, anyone else's ---------------------

import datetime  # noqa: E402

from ansible_collections.osops.toolkit.plugins.module_utils._compute import (  # noqa: E402
    disabled_by,
    heartbeat_age,
    owned_reason,
    owned_service_change,
    parse_reason,
    reason_is_ours,
)

NOW = datetime.datetime(2026, 12, 2, 13, 10, 5, tzinfo=datetime.timezone.utc)
OURS = "osops:host_drain 2026-12-02T13:10:05Z CHG-99 kernel upgrade"


def service(status, reason, updated_at="2026-12-02T13:20:00.000000"):
    return {"host": "compute-7", "status": status, "disabled_reason": reason, "forced_down": False,
            "updated_at": updated_at}


def test_owned_reason_names_the_owner_and_the_utc_time_before_the_text():
    assert owned_reason("CHG-99 kernel upgrade", "host_drain", NOW) == OURS
    assert owned_reason(None, "host_drain", NOW) == "osops:host_drain 2026-12-02T13:10:05Z"
    assert parse_reason(OURS) == {"owner": "host_drain", "since": "2026-12-02T13:10:05Z",
                                  "text": "CHG-99 kernel upgrade"}


def test_owned_reason_fits_novas_255_characters_and_rejects_odd_owners():
    assert len(owned_reason("x" * 400, "host_drain", NOW)) == 255
    with pytest.raises(ValueError):
        owned_reason("why", "drain host", NOW)


@pytest.mark.parametrize("reason, owner, ours", [
    (OURS, "host_drain", True),
    (OURS, "ovs_upgrade", False),                 # another job's reason is not ours
    ("RMA-77 bad DIMM", "host_drain", False),
    ("osops: someone typed this", "host_drain", False),
    (None, "host_drain", False),
])
def test_reason_is_ours(reason, owner, ours):
    assert reason_is_ours(reason, owner) is ours


@pytest.mark.parametrize("reason, who, job, since, source", [
    (OURS, "osops", "host_drain", "2026-12-02T13:10:05Z", "reason"),
    ("AUTO: Connection to libvirt lost: 1", "libvirt", None, "2026-12-02T13:20:00.000000", "updated_at"),
    ("Auto-disabled due to 3 build failures", "nova", None, "2026-12-02T13:20:00.000000", "updated_at"),
    ("RMA-77 bad DIMM", "other", None, "2026-12-02T13:20:00.000000", "updated_at"),
    (None, "other", None, "2026-12-02T13:20:00.000000", "updated_at"),
])
def test_disabled_by_classifies_the_reason(reason, who, job, since, source):
    by = disabled_by(service("disabled", reason))
    assert (by["who"], by["job"], by["since"], by["since_source"]) == (who, job, since, source)


def test_an_enabled_service_was_disabled_by_nobody():
    assert disabled_by(service("enabled", None)) is None


def test_disabling_writes_our_reason_and_a_second_time_changes_nothing():
    changes, refusal, note = owned_service_change(service("enabled", None), "disabled", "CHG-99 kernel upgrade",
                                                  "host_drain", now=NOW)
    assert (changes, refusal, note) == ({"status": "disabled", "disabled_reason": OURS}, None, None)
    later = NOW + datetime.timedelta(hours=1)
    assert owned_service_change(service("disabled", OURS), "disabled", "CHG-99 kernel upgrade",
                                "host_drain", now=later) == ({}, None, None)


def test_a_new_text_keeps_the_time_we_disabled_it():
    changes, _refusal, _note = owned_service_change(service("disabled", OURS), "disabled", "CHG-100",
                                                    "host_drain", now=NOW + datetime.timedelta(hours=1))
    assert changes == {"status": "disabled", "disabled_reason": "osops:host_drain 2026-12-02T13:10:05Z CHG-100"}


@pytest.mark.parametrize("reason", ["RMA-77 bad DIMM", "AUTO: Connection to libvirt lost: 1",
                                    "Auto-disabled due to 3 build failures",
                                    "osops:ovs_upgrade 2026-12-01T00:00:00Z OVS 3.3"])
def test_someone_elses_reason_is_kept_when_disabling_and_blocks_enabling(reason):
    current = service("disabled", reason)
    changes, refusal, note = owned_service_change(current, "disabled", "CHG-99", "host_drain", now=NOW)
    assert changes == {} and refusal is None and reason in note
    changes, refusal, note = owned_service_change(current, "enabled", None, "host_drain", now=NOW)
    assert changes == {} and note is None
    assert refusal.startswith("compute-7 stays disabled: it is disabled by ")
    assert repr(reason) in refusal and "force=true" in refusal


def test_force_goes_on_and_says_what_it_overrode():
    current = service("disabled", "RMA-77 bad DIMM")
    changes, refusal, note = owned_service_change(current, "enabled", None, "host_drain", force=True, now=NOW)
    assert changes == {"status": "enabled"} and refusal is None and "'RMA-77 bad DIMM'" in note
    changes, refusal, note = owned_service_change(current, "disabled", "CHG-99", "host_drain", force=True, now=NOW)
    assert changes["disabled_reason"] == "osops:host_drain 2026-12-02T13:10:05Z CHG-99" and "'RMA-77" in note


def test_our_own_reason_is_enabled_and_an_enabled_service_is_left_alone():
    assert owned_service_change(service("disabled", OURS), "enabled", None, "host_drain") == (
        {"status": "enabled"}, None, None)
    assert owned_service_change(service("enabled", None), "enabled", None, "host_drain") == ({}, None, None)


@pytest.mark.parametrize("updated_at, age", [
    ("2026-12-02T13:10:00.000000", 5.0),
    ("2026-12-02T13:09:05", 60.0),
    ("2026-12-02T13:10:00Z", 5.0),
    ("2026-12-02T13:10:00+00:00", 5.0),
    (None, None),
    ("yesterday", None),
])
def test_heartbeat_age(updated_at, age):
    assert heartbeat_age({"updated_at": updated_at}, NOW) == age
