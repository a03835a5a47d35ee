"""The Neutron agent grading of network_agent_info: exact host, binary filter, alive/dead/admin-down."""
from ansible_collections.osops.toolkit.plugins.module_utils._network_agents import agent_to_dict, grade_agents


def _agent(host, binary="neutron-openvswitch-agent", alive=True, admin=True, agent_id="a1"):
    return agent_to_dict({"id": agent_id, "host": host, "binary": binary, "agent_type": "Open vSwitch agent",
                          "alive": alive, "admin_state_up": admin, "last_heartbeat_at": "2026-01-05 10:00:00"})


def test_sdk_attribute_names_are_read():
    class Agent(object):
        id = "x"
        host = "compute-1"
        binary = "neutron-openvswitch-agent"
        agent_type = "Open vSwitch agent"
        is_alive = False
        is_admin_state_up = True
        last_heartbeat_at = None
    record = agent_to_dict(Agent())
    assert record["alive"] is False and record["admin_state_up"] is True and record["host"] == "compute-1"


def test_no_agent_registered_is_no_problem():
    assert grade_agents([], "compute-1", "neutron-openvswitch-agent") == ([], [])


def test_alive_agent_passes():
    agents, problems = grade_agents([_agent("compute-1")], "compute-1", "neutron-openvswitch-agent")
    assert len(agents) == 1 and problems == []


def test_dead_agent_is_named_with_its_last_heartbeat():
    _agents, problems = grade_agents([_agent("compute-1", alive=False)], "compute-1", "neutron-openvswitch-agent")
    assert problems == ["neutron-openvswitch-agent on compute-1 (a1) is not alive: its last heartbeat was at "
                        "2026-01-05 10:00:00"]


def test_admin_down_agent_is_a_problem():
    _agents, problems = grade_agents([_agent("compute-1", admin=False)], "compute-1", None)
    assert problems == ["neutron-openvswitch-agent on compute-1 (a1) is administratively down"]


def test_exact_host_and_binary_match():
    agents = [_agent("compute-10", alive=False, agent_id="a10"),
              _agent("compute-1", binary="neutron-dhcp-agent", alive=False, agent_id="d1"),
              _agent("compute-1", agent_id="o1")]
    kept, problems = grade_agents(agents, "compute-1", "neutron-openvswitch-agent")
    assert [a["id"] for a in kept] == ["o1"] and problems == []
    kept, problems = grade_agents(agents, "compute-1")
    assert [a["id"] for a in kept] == ["d1", "o1"] and len(problems) == 1


def test_an_agent_under_another_spelling_of_the_host_is_a_problem_never_a_pass():
    from ansible_collections.osops.toolkit.plugins.module_utils._network_agents import agents_under_other_names
    agents = [_agent("compute-1.example.org", agent_id="f1"), _agent("compute-10.example.org", agent_id="f10"),
              _agent("Compute-1", binary="neutron-dhcp-agent", agent_id="d1")]
    assert [a["id"] for a in agents_under_other_names(agents, "compute-1", "neutron-openvswitch-agent")] == ["f1"]
    assert [a["id"] for a in agents_under_other_names(agents, "compute-1")] == ["d1", "f1"]
    kept, problems = grade_agents(agents, "compute-1", "neutron-openvswitch-agent")
    assert kept == [] and problems == [
        "no neutron-openvswitch-agent is registered for host compute-1, but Neutron has one registered as "
        "compute-1.example.org (f1): the host names differ (FQDN or short name)"]
    # the reverse: Nova knows the FQDN, Neutron the short name
    kept, problems = grade_agents([_agent("compute-1")], "compute-1.example.org", "neutron-openvswitch-agent")
    assert kept == [] and "registered as compute-1 (a1)" in problems[0]
    # an exact match wins: no mismatch reported next to it
    kept, problems = grade_agents([_agent("compute-1", agent_id="o1"), _agent("compute-1.example.org")], "compute-1",
                                  "neutron-openvswitch-agent")
    assert [a["id"] for a in kept] == ["o1"] and problems == []
