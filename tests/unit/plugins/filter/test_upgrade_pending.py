"""What the rolling_upgrade role treats as left to do, and in which order."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.osops.toolkit.plugins.filter.upgrade_pending import upgrade_pending

SERVICES = [
    dict(name="keystone", stage="identity", group="keystone"),
    dict(name="heat", stage="orchestration", group="heat"),
    dict(name="nova_compute", stage="compute", group="nova_compute"),
]
GROUPS = {"keystone": ["ctl1", "ctl2"], "nova_compute": ["cmp1", "cmp2"]}


def test_everything_pending_in_upgrade_order_and_services_without_hosts_skipped():
    pending = upgrade_pending(SERVICES, GROUPS, {})
    assert [(p["service"], p["host"]) for p in pending] == [
        ("keystone", "ctl1"), ("keystone", "ctl2"), ("nova_compute", "cmp1"), ("nova_compute", "cmp2")]
    assert [p["index"] for p in pending] == [0, 0, 2, 2]


def test_only_the_done_step_counts():
    state = {"ctl1": ["keystone:db", "keystone:link:keystone=/old", "keystone:done"],
             "ctl2": ["keystone:link:keystone=/old"], "cmp1": ["nova_compute:done"]}
    pending = upgrade_pending(SERVICES, GROUPS, state)
    assert [(p["stage"], p["host"]) for p in pending] == [("identity", "ctl2"), ("compute", "cmp2")]


def test_all_done_is_empty():
    state = {h: ["keystone:done", "nova_compute:done"] for h in ("ctl1", "ctl2", "cmp1", "cmp2")}
    assert upgrade_pending(SERVICES, GROUPS, state) == []


@pytest.mark.parametrize("services", [[{"name": "x"}], "keystone", [None]])
def test_bad_service_lists_are_refused(services):
    with pytest.raises(AnsibleFilterError):
        upgrade_pending(services, GROUPS, {})
