"""The galera_health role's filters: the refusal and the bootstrap choice as the role calls them."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.osops.toolkit.plugins.filter.galera import galera_bootstrap_node, galera_recovery_refusal

UUID = "5ef7f8d1-c8a8-11f0-a7c6-23bc1c1c3e5d"


def test_refusal_from_play_host_lists():
    refusal = galera_recovery_refusal(["g1", "g2", "g3"], in_play=["g1", "g2", "g3"], answered=["g1", "g2"], gone=[])
    assert "the position of g3 is unknown" in refusal
    assert galera_recovery_refusal(["g1", "g2"], in_play=["g1", "g2"], answered=["g1", "g2"]) == ""


def test_refusal_rejects_a_string_for_a_list():
    with pytest.raises(AnsibleFilterError, match="gone must be a list of node names, got str"):
        galera_recovery_refusal(["g1"], in_play=["g1"], answered=["g1"], gone="g1")


def test_bootstrap_without_gone_members_loses_nothing():
    choice = galera_bootstrap_node({"g1": {"uuid": UUID, "seqno": 5}, "g2": {"uuid": UUID, "seqno": 7}})
    assert choice == {"node": "g2", "reason": "g2 has the highest seqno (7)", "lost": ""}


def test_bootstrap_with_a_gone_member_says_what_may_be_lost():
    choice = galera_bootstrap_node({"g1": {"uuid": UUID, "seqno": 5}, "g2": {"uuid": UUID, "seqno": -1,
                                                                             "recovered_seqno": 9}}, gone=["g3"])
    assert choice["node"] == "g2"
    assert choice["lost"].startswith("g3 was not consulted (galera_health_members_gone): whatever it committed "
                                     "after seqno 9 (the position of g2) is lost.")
