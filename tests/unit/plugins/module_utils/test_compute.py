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
