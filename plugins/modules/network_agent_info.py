#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: network_agent_info
short_description: The Neutron agents of one host, and whether they are alive
version_added: 0.1.0
description:
  - Lists the Neutron agents registered for one host (exact match, as C(openstack network agent
    list --host) shows it), optionally of one binary, with their liveness as the Neutron API
    reports it (heartbeats within C(agent_down_time)).
  - RV(problems) names every agent that is dead or administratively down. A host without a
    matching agent has no problem; O(fail_on_problems) only fails on agents that are there.
  - When no agent is registered under exactly O(host) but one is under another spelling of the
    same host (its FQDN for a short name or the reverse, another domain, other letter case),
    RV(other_names) names it and RV(problems) says so; a name mismatch is never taken for a host
    without an agent.
  - Changes nothing.
options:
  host:
    description:
      - The host whose agents to list, exactly as Neutron knows it (usually the nova-compute host name).
    type: str
    required: true
  binary:
    description:
      - Only agents of this binary, for example V(neutron-openvswitch-agent).
    type: str
  fail_on_problems:
    description:
      - Fail when an agent found is dead or administratively down.
    type: bool
    default: false
extends_documentation_fragment:
  - osops.toolkit.cloud
  - osops.toolkit.attributes
  - osops.toolkit.attributes.info_module
  - osops.toolkit.attributes.cloud_group
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: osops.toolkit.hypervisor_info
"""

EXAMPLES = r"""
- name: Is the Open vSwitch agent of compute-7 alive?
  osops.toolkit.network_agent_info:
    cloud: prod
    host: compute-7
    binary: neutron-openvswitch-agent
    fail_on_problems: true
  register: ovs_agent

- name: Say whether one is registered at all
  ansible.builtin.debug:
    msg: "{{ ovs_agent.agents | length }} agent(s), {{ ovs_agent.problems | length }} problem(s)"
"""

RETURN = r"""
agents:
  description: The agents of the host (and binary), sorted by binary.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Agent UUID.
      type: str
    host:
      description: The host it runs on.
      type: str
    binary:
      description: Its binary.
      type: str
      sample: neutron-openvswitch-agent
    agent_type:
      description: Its type.
      type: str
      sample: Open vSwitch agent
    alive:
      description: Whether Neutron had a heartbeat from it within C(agent_down_time).
      type: bool
    admin_state_up:
      description: Its administrative state.
      type: bool
    last_heartbeat_at:
      description: Its last heartbeat.
      type: str
other_names:
  description: The host names under which Neutron has agents (of O(binary)) for another spelling
    of O(host), when none is registered under O(host) exactly; empty otherwise.
  returned: always
  type: list
  elements: str
  sample: ["compute-7.example.org"]
problems:
  description: One sentence per agent that is dead or administratively down, and one per agent
    registered under another spelling of O(host) when none is under O(host) exactly.
  returned: always
  type: list
  elements: str
  sample: ["neutron-openvswitch-agent on compute-7 (3b1d...) is not alive: its last heartbeat was at 2026-01-05 10:00:00"]
"""

from ansible_collections.osops.toolkit.plugins.module_utils._cloud import CloudModule
from ansible_collections.osops.toolkit.plugins.module_utils._network_agents import (
    agent_to_dict, agents_under_other_names, grade_agents)


class NetworkAgentInfoModule(CloudModule):
    argument_spec = dict(
        host=dict(type="str", required=True),
        binary=dict(type="str"),
        fail_on_problems=dict(type="bool", default=False),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        p = self.params
        query = {"host": p["host"]}
        if p["binary"]:
            query["binary"] = p["binary"]
        found = [agent_to_dict(agent) for agent in self.conn.network.agents(**query)]
        others = []
        if not found:
            # none under this exact name: is the host registered under another spelling (FQDN, short name)?
            query.pop("host")
            others = agents_under_other_names([agent_to_dict(agent) for agent in self.conn.network.agents(**query)],
                                              p["host"], p["binary"])
        agents, problems = grade_agents(found + others, p["host"], p["binary"])
        self.results["agents"] = agents
        self.results["other_names"] = sorted(set(agent["host"] for agent in others))
        self.results["problems"] = problems
        if problems and p["fail_on_problems"]:
            self.fail("Neutron agent trouble: %s." % "; ".join(problems))


def main():
    NetworkAgentInfoModule()()


if __name__ == "__main__":
    main()
