"""Galera parsing and grading: grastate.dat, recovered positions, wsrep status, the bootstrap choice."""
import pytest

from ansible_collections.osops.toolkit.plugins.module_utils._galera import (
    bootstrap_candidate,
    cluster_problems,
    effective_seqno,
    node_problems,
    parse_grastate,
    gone_warning,
    parse_recovered_position,
    recovery_refusal,
    unknown_positions,
    wsrep_from_rows,
)

UUID = "5ef7f8d1-c8a8-11f0-a7c6-23bc1c1c3e5d"
OTHER = "0a1b2c3d-c8a8-11f0-a7c6-23bc1c1c3e5d"

GRASTATE = """# GALERA saved state
version: 2.1
uuid:    %s
seqno:   1234
safe_to_bootstrap: 1
""" % UUID


def test_grastate_after_a_clean_stop():
    assert parse_grastate(GRASTATE) == {"uuid": UUID, "seqno": 1234, "safe_to_bootstrap": True, "version": "2.1"}


def test_grastate_of_a_running_or_crashed_node():
    text = GRASTATE.replace("1234", "-1").replace("safe_to_bootstrap: 1", "safe_to_bootstrap: 0")
    state = parse_grastate(text)
    assert state["seqno"] == -1
    assert state["safe_to_bootstrap"] is False


@pytest.mark.parametrize("text", ["", None, "garbage", "seqno: x\n"])
def test_grastate_missing_or_broken(text):
    state = parse_grastate(text)
    assert state["uuid"] is None and state["seqno"] == -1 and state["safe_to_bootstrap"] is False


def test_position_printed_by_galera_recovery():
    assert parse_recovered_position("--wsrep_start_position=%s:42\n" % UUID) == (UUID, 42)


def test_position_logged_by_wsrep_recover():
    log = ("2026-11-22  8:00:00 0 [Note] InnoDB: Starting recovery\n"
           "2026-11-22  8:00:01 0 [Note] WSREP: Recovered position: %s:1240\n" % UUID)
    assert parse_recovered_position(log) == (UUID, 1240)


def test_no_position_when_recovery_failed():
    assert parse_recovered_position("[ERROR] Aborting\n") is None
    assert parse_recovered_position(None) is None


ROWS = [
    ("wsrep_ready", "ON"), ("wsrep_connected", "ON"), ("wsrep_local_state_comment", "Synced"),
    ("wsrep_local_state", "4"), ("wsrep_cluster_status", "Primary"), ("wsrep_cluster_size", "3"),
    ("wsrep_cluster_state_uuid", UUID), ("wsrep_flow_control_paused", "0.000123"),
    ("wsrep_local_recv_queue", "0"), ("wsrep_local_recv_queue_avg", "0.5"),
    ("wsrep_local_send_queue", "1"), ("wsrep_local_send_queue_avg", "0"), ("wsrep_last_committed", "77"),
    ("wsrep_unrelated_thing", "x"),
]


def test_status_rows_are_typed():
    status = wsrep_from_rows(ROWS)
    assert status["wsrep_ready"] is True
    assert status["wsrep_cluster_size"] == 3
    assert status["wsrep_flow_control_paused"] == pytest.approx(0.000123)
    assert status["wsrep_local_recv_queue_avg"] == 0.5
    assert status["wsrep_last_committed"] == 77
    assert status["wsrep_provider_version"] is None
    assert "wsrep_unrelated_thing" not in status


def test_status_names_are_case_insensitive_and_bytes_tolerated():
    status = wsrep_from_rows([("WSREP_READY", "OFF"), ("wsrep_cluster_size", b"2".decode())])
    assert status["wsrep_ready"] is False
    assert status["wsrep_cluster_size"] == 2


def test_healthy_node_has_no_problems():
    assert node_problems(wsrep_from_rows(ROWS), expected_size=3, max_flow_control_paused=0.1,
                         max_recv_queue=10, max_send_queue=10) == []


def test_every_problem_of_a_bad_node():
    bad = dict(wsrep_from_rows(ROWS), wsrep_local_state_comment="Joining", wsrep_cluster_status="non-Primary",
               wsrep_ready=False, wsrep_connected=False, wsrep_cluster_size=1, wsrep_flow_control_paused=0.5,
               wsrep_local_recv_queue_avg=20.0, wsrep_local_send_queue_avg=30.0)
    problems = node_problems(bad, expected_size=3, max_flow_control_paused=0.1, max_recv_queue=10, max_send_queue=10)
    assert problems == [
        "local state is Joining, not Synced",
        "cluster status is non-Primary, not Primary",
        "wsrep_ready is OFF",
        "wsrep_connected is OFF",
        "cluster size is 1, expected 3",
        "flow control paused 0.500 of the time (threshold 0.1)",
        "receive queue average 20.00 (threshold 10)",
        "send queue average 30.00 (threshold 10)",
    ]


@pytest.mark.parametrize("allow_donor, expected", [(False, ["local state is Donor/Desynced, not Synced"]), (True, [])])
def test_donor_only_when_allowed(allow_donor, expected):
    donor = dict(wsrep_from_rows(ROWS), wsrep_local_state_comment="Donor/Desynced")
    assert node_problems(donor, allow_donor=allow_donor) == expected


def test_size_not_checked_without_expectation():
    assert node_problems(dict(wsrep_from_rows(ROWS), wsrep_cluster_size=2)) == []


def test_standalone_server_without_wsrep():
    assert node_problems(wsrep_from_rows([])) == [
        "wsrep is not enabled (no wsrep status variables; is wsrep_on=ON with a provider?)"]


def _up(uuid=UUID, problems=()):
    return {"up": True, "problems": list(problems), "wsrep_cluster_state_uuid": uuid}


def test_cluster_problems_name_the_node():
    nodes = {"db1": _up(), "db2": {"up": False, "error": "(2002, 'no socket')"},
             "db3": _up(problems=["cluster size is 2, expected 3"])}
    assert cluster_problems(nodes) == [
        "db2: mariadb is not running or not reachable ((2002, 'no socket'))",
        "db3: cluster size is 2, expected 3",
    ]


def test_cluster_uuid_mismatch():
    lines = cluster_problems({"db1": _up(), "db2": _up(), "db3": _up(OTHER)})
    assert lines == ["cluster UUID mismatch: %s on db3; %s on db1, db2" % (OTHER, UUID)]


def test_healthy_cluster():
    assert cluster_problems({"db1": _up(), "db2": _up(), "db3": _up()}) == []


def test_missing_result_is_a_down_node():
    assert cluster_problems({"db1": None}) == ["db1: mariadb is not running or not reachable (down)"]


def _pos(seqno, safe=False, recovered=None, uuid=UUID):
    node = {"uuid": uuid, "seqno": seqno, "safe_to_bootstrap": safe}
    if recovered is not None:
        node["recovered_seqno"] = recovered
    return node


def test_safe_to_bootstrap_wins():
    assert bootstrap_candidate({"db1": _pos(10), "db2": _pos(9, safe=True), "db3": _pos(8)}) == (
        "db2", "db2 has safe_to_bootstrap: 1 in grastate.dat")


def test_highest_seqno_when_nobody_is_safe():
    assert bootstrap_candidate({"db1": _pos(10), "db2": _pos(12), "db3": _pos(8)})[0] == "db2"


def test_recovered_seqno_replaces_minus_one():
    nodes = {"db1": _pos(-1, recovered=15), "db2": _pos(12), "db3": _pos(8)}
    assert bootstrap_candidate(nodes) == ("db1", "db1 has the highest seqno (15)")


def test_ties_go_to_the_first_name():
    assert bootstrap_candidate({"db2": _pos(5), "db1": _pos(5)})[0] == "db1"


def test_two_safe_nodes_fall_back_to_seqno():
    assert bootstrap_candidate({"db1": _pos(3, safe=True), "db2": _pos(4, safe=True)})[0] == "db2"


def test_refuses_different_clusters():
    with pytest.raises(ValueError, match="different clusters"):
        bootstrap_candidate({"db1": _pos(3), "db2": _pos(4, uuid=OTHER)})


def test_refuses_when_no_position_is_known():
    with pytest.raises(ValueError, match="position of db1, db2 is unknown"):
        bootstrap_candidate({"db1": _pos(-1), "db2": _pos(-1)})


def test_refuses_to_guess_when_one_position_is_unknown():
    # db1 crashed and was not recovered: it may hold the most recent commits
    with pytest.raises(ValueError, match="position of db1 is unknown"):
        bootstrap_candidate({"db1": _pos(-1), "db2": _pos(12), "db3": _pos(8)})


def test_safe_node_needs_no_other_position():
    assert bootstrap_candidate({"db1": _pos(-1), "db2": _pos(12, safe=True)})[0] == "db2"


def test_unknown_positions():
    assert unknown_positions({"db2": _pos(-1), "db1": _pos(-1, recovered=3), "db3": _pos(-1)}) == ["db2", "db3"]


def test_refuses_empty():
    with pytest.raises(ValueError):
        bootstrap_candidate({})


@pytest.mark.parametrize("node, expected", [
    (_pos(7), 7), (_pos(-1, recovered=9), 9), (_pos(-1), -1), ({"seqno": None}, -1)])
def test_effective_seqno(node, expected):
    assert effective_seqno(node) == expected


MEMBERS = ["db1", "db2", "db3"]


def test_every_member_answered():
    assert recovery_refusal(MEMBERS, MEMBERS, MEMBERS) == ""


def test_unreachable_member_is_named_and_nothing_decided():
    # db3 is in the play but did not answer: it may be the most advanced node
    refusal = recovery_refusal(MEMBERS, MEMBERS, ["db1", "db2"])
    assert refusal.startswith("recovery refused, nothing was started: the position of db3 is unknown - "
                              "db3 did not report (unreachable, or a task failed there).")
    assert "name it in galera_health_members_gone" in refusal


def test_member_left_out_by_limit_is_named():
    refusal = recovery_refusal(MEMBERS, ["db1", "db2"], ["db1", "db2"])
    assert "the position of db3 is unknown - db3 is not in the play (--limit or the host pattern left it out)" in refusal


def test_both_kinds_of_missing_members_in_one_sentence():
    refusal = recovery_refusal(MEMBERS, ["db1", "db2"], ["db1"])
    assert "the position of db2, db3 is unknown - db2 did not report" in refusal
    assert "; db3 is not in the play" in refusal
    assert "Bring them back" in refusal and "if they are gone for good, name them" in refusal


def test_gone_member_lets_the_recovery_go_on():
    assert recovery_refusal(MEMBERS, ["db1", "db2"], ["db1", "db2"], gone=["db3"]) == ""
    assert recovery_refusal(MEMBERS, MEMBERS, ["db1", "db2"], gone=["db3"]) == ""


def test_gone_names_only_members():
    assert recovery_refusal(MEMBERS, MEMBERS, MEMBERS[:2], gone=["db4"]) == (
        "galera_health_members_gone names db4, which is not a member of the cluster (db1, db2, db3); correct the list")


def test_a_gone_member_that_answered_is_refused():
    assert recovery_refusal(MEMBERS, MEMBERS, MEMBERS, gone=["db3"]).startswith(
        "db3 answered although galera_health_members_gone names it; remove it from that list")


def test_hosts_that_are_not_members_are_refused():
    assert recovery_refusal(MEMBERS, MEMBERS + ["db9"], MEMBERS + ["db9"]).startswith(
        "db9 is in the play but not a member of the cluster (db1, db2, db3)")


def test_no_members():
    assert "set galera_health_group" in recovery_refusal([], ["db1"], ["db1"])


def test_all_members_gone():
    assert "nothing to recover from" in recovery_refusal(["db1"], [], [], gone=["db1"])


def test_gone_warning_says_what_may_be_lost():
    assert gone_warning([], "db1", 12) == ""
    assert gone_warning(["db3"], "db1", 12) == (
        "db3 was not consulted (galera_health_members_gone): whatever it committed after seqno 12 (the "
        "position of db1) is lost. Keep MariaDB stopped on it until it rejoins this cluster and receives "
        "a full state transfer")
    assert "after the position of db1 is lost" in gone_warning(["db3", "db2"], "db1", -1)
