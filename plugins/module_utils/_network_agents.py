# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""Neutron agents of one host: the records network_agent_info returns, and their grading."""

from __future__ import annotations


def agent_to_dict(agent):
    """One Neutron agent (an openstacksdk Agent or a dict of the API's fields) as a plain dict."""
    def get(*names):
        for name in names:
            value = agent.get(name) if isinstance(agent, dict) else getattr(agent, name, None)
            if value is not None:
                return value
        return None
    return {
        "id": get("id"),
        "host": get("host"),
        "binary": get("binary"),
        "agent_type": get("agent_type"),
        "alive": bool(get("is_alive", "alive")),
        "admin_state_up": bool(get("is_admin_state_up", "admin_state_up")),
        "last_heartbeat_at": get("last_heartbeat_at"),
    }


def grade_agents(agents, host, binary=None):
    """The agents of exactly ``host`` (and ``binary`` when given), and what is wrong with them.

    Returns ``(kept, problems)``: the matching agents sorted by binary, and one sentence per
    agent that is dead or administratively down. A host without such an agent has no problem
    (the caller decides whether an agent must be registered), unless ``agents`` holds one under
    another spelling of the same host (see agents_under_other_names): that is a problem, never
    a pass.
    """
    kept = [a for a in agents if a["host"] == host and (binary is None or a["binary"] == binary)]
    kept.sort(key=lambda a: (a["binary"] or "", a["id"] or ""))
    problems = []
    if not kept:
        for agent in agents_under_other_names(agents, host, binary):
            problems.append("no %s is registered for host %s, but Neutron has one registered as %s (%s): the host "
                            "names differ (FQDN or short name)" % (agent["binary"], host, agent["host"], agent["id"]))
    for agent in kept:
        if not agent["alive"]:
            problems.append("%s on %s (%s) is not alive: its last heartbeat was at %s" % (
                agent["binary"], host, agent["id"], agent["last_heartbeat_at"] or "never"))
        elif not agent["admin_state_up"]:
            problems.append("%s on %s (%s) is administratively down" % (agent["binary"], host, agent["id"]))
    return kept, problems


def _short_name(name):
    return (name or "").split(".", 1)[0].lower()


def agents_under_other_names(agents, host, binary=None):
    """The agents (of ``binary``) registered under another spelling of ``host``: the FQDN for a
    short name or the reverse, another domain, other letter case. Sorted by host and id."""
    found = [a for a in agents if a["host"] != host and _short_name(a["host"]) == _short_name(host)
             and (binary is None or a["binary"] == binary)]
    return sorted(found, key=lambda a: (a["host"] or "", a["id"] or ""))
