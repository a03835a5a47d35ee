# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""Galera state as an operator reads it: wsrep status variables, grastate.dat, the position
that ``mysqld --wsrep-recover`` finds, and the grading of one node and of the whole cluster.

Plain functions, no database access: the module ``galera_status`` and the filter
``galera_bootstrap_node`` feed them what they read.
"""

from __future__ import annotations

import re

# wsrep status variables the module returns, and how each one is typed
_BOOL = ("wsrep_ready", "wsrep_connected")
_INT = ("wsrep_cluster_size", "wsrep_local_state", "wsrep_local_recv_queue", "wsrep_local_send_queue",
        "wsrep_last_committed", "wsrep_cluster_conf_id")
_FLOAT = ("wsrep_flow_control_paused", "wsrep_local_recv_queue_avg", "wsrep_local_send_queue_avg")
_STR = ("wsrep_local_state_comment", "wsrep_cluster_status", "wsrep_cluster_state_uuid",
        "wsrep_local_state_uuid", "wsrep_provider_version", "wsrep_incoming_addresses")
WSREP_KEYS = _BOOL + _INT + _FLOAT + _STR

# local states in which a node serves consistent reads and writes
SYNCED = "Synced"
DONOR_STATES = ("Donor/Desynced", "Donor", "Desynced")

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_POSITION_PATTERNS = (
    re.compile(r"--wsrep[_-]start[_-]position=(" + _UUID + r"):(-?\d+)"),
    re.compile(r"WSREP: Recovered position:?\s+(" + _UUID + r"):(-?\d+)"),
)


def parse_grastate(text):
    """grastate.dat as a dict: uuid, seqno (int, -1 when unknown), safe_to_bootstrap (bool).

    Missing or unreadable values give None (uuid) / -1 (seqno) / False (safe_to_bootstrap).
    """
    values = {}
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        values[key.strip()] = value.strip()
    uuid = values.get("uuid") or None
    try:
        seqno = int(values.get("seqno", "-1"))
    except ValueError:
        seqno = -1
    return {
        "uuid": uuid,
        "seqno": seqno,
        "safe_to_bootstrap": values.get("safe_to_bootstrap", "0") == "1",
        "version": values.get("version"),
    }


def parse_recovered_position(text):
    """The position ``galera_recovery`` prints or ``mysqld --wsrep-recover`` logs, as (uuid, seqno).

    Returns None when the output holds no position (recovery failed). The last one wins.
    """
    found = None
    for pattern in _POSITION_PATTERNS:
        for match in pattern.finditer(text or ""):
            found = (match.group(1), int(match.group(2)))
        if found:
            return found
    return None


def _to_bool(value):
    return str(value).strip().upper() in ("ON", "1", "YES", "TRUE")


def _to_number(value, kind):
    try:
        return kind(value)
    except (TypeError, ValueError):
        return None


def wsrep_from_rows(rows):
    """``SHOW GLOBAL STATUS LIKE 'wsrep_%'`` rows (name, value) as a typed dict of WSREP_KEYS.

    A key the server did not report is None (wsrep off, or provider not loaded).
    """
    raw = {}
    for name, value in rows:
        raw[str(name).lower()] = value
    status = {}
    for key in WSREP_KEYS:
        value = raw.get(key)
        if value is None:
            status[key] = None
        elif key in _BOOL:
            status[key] = _to_bool(value)
        elif key in _INT:
            status[key] = _to_number(value, int)
        elif key in _FLOAT:
            status[key] = _to_number(value, float)
        else:
            status[key] = str(value)
    return status


def node_problems(status, expected_size=None, allow_donor=False, max_flow_control_paused=None,
                  max_recv_queue=None, max_send_queue=None):
    """What is wrong with one running node, as short sentences (empty list: healthy)."""
    if status.get("wsrep_ready") is None and status.get("wsrep_cluster_status") is None:
        return ["wsrep is not enabled (no wsrep status variables; is wsrep_on=ON with a provider?)"]
    problems = []
    state = status.get("wsrep_local_state_comment")
    if state != SYNCED and not (allow_donor and state in DONOR_STATES):
        problems.append("local state is %s, not Synced" % (state or "unknown"))
    if status.get("wsrep_cluster_status") != "Primary":
        problems.append("cluster status is %s, not Primary" % (status.get("wsrep_cluster_status") or "unknown"))
    if not status.get("wsrep_ready"):
        problems.append("wsrep_ready is OFF")
    if not status.get("wsrep_connected"):
        problems.append("wsrep_connected is OFF")
    size = status.get("wsrep_cluster_size")
    if expected_size is not None and size != expected_size:
        problems.append("cluster size is %s, expected %s" % (size, expected_size))
    paused = status.get("wsrep_flow_control_paused")
    if max_flow_control_paused is not None and paused is not None and paused > max_flow_control_paused:
        problems.append("flow control paused %.3f of the time (threshold %s)" % (paused, max_flow_control_paused))
    recv = status.get("wsrep_local_recv_queue_avg")
    if max_recv_queue is not None and recv is not None and recv > max_recv_queue:
        problems.append("receive queue average %.2f (threshold %s)" % (recv, max_recv_queue))
    send = status.get("wsrep_local_send_queue_avg")
    if max_send_queue is not None and send is not None and send > max_send_queue:
        problems.append("send queue average %.2f (threshold %s)" % (send, max_send_queue))
    return problems


def cluster_problems(nodes):
    """Problems across nodes: ``nodes`` maps a node name to the result of galera_status.

    Every line names the node. Adds a cluster UUID mismatch line when running nodes disagree.
    """
    lines = []
    uuids = {}
    for name in sorted(nodes):
        node = nodes[name] or {}
        if not node.get("up", False):
            lines.append("%s: mariadb is not running or not reachable (%s)" % (name, node.get("error") or "down"))
            continue
        for problem in node.get("problems") or []:
            lines.append("%s: %s" % (name, problem))
        if node.get("wsrep_cluster_state_uuid"):
            uuids.setdefault(node["wsrep_cluster_state_uuid"], []).append(name)
    if len(uuids) > 1:
        lines.append("cluster UUID mismatch: " + "; ".join(
            "%s on %s" % (uuid, ", ".join(names)) for uuid, names in sorted(uuids.items())))
    return lines


def bootstrap_candidate(nodes):
    """Which node of a cluster that is entirely down to bootstrap, and why.

    ``nodes`` maps a node name to a dict with ``safe_to_bootstrap`` (bool), ``seqno`` (from
    grastate.dat, -1 when unknown) and optionally ``recovered_seqno`` (from --wsrep-recover) and
    ``uuid``. Returns (name, reason). Raises ValueError when no node can be chosen safely:
    nodes of different cluster UUIDs, or no position known anywhere.
    """
    if not nodes:
        raise ValueError("no nodes given")
    uuids = set(n.get("uuid") for n in nodes.values() if n.get("uuid") and n.get("uuid") != "00000000-0000-0000-0000-000000000000")
    if len(uuids) > 1:
        raise ValueError("the nodes belong to different clusters (UUIDs %s); refusing to choose" % ", ".join(sorted(uuids)))
    safe = sorted(name for name, n in nodes.items() if n.get("safe_to_bootstrap"))
    if len(safe) == 1:
        return safe[0], "%s has safe_to_bootstrap: 1 in grastate.dat" % safe[0]
    unknown = unknown_positions(nodes)
    if unknown:
        # the node whose position is unknown may be the most advanced one: never guess
        raise ValueError("the position of %s is unknown (seqno -1 in grastate.dat and no recovered "
                         "position); run galera_recovery there" % ", ".join(unknown))
    best = None
    for name in sorted(nodes):
        seqno = effective_seqno(nodes[name])
        if seqno < 0:
            continue
        if best is None or seqno > best[1]:
            best = (name, seqno)
    return best[0], "%s has the highest seqno (%d)" % best


def recovery_refusal(members, in_play, answered, gone=()):
    """Why a recovery must not decide, as one sentence; an empty string when it may.

    A recovery compares the positions of every member of the cluster, or it does nothing: a
    member that did not report may hold the most recent commits, or still run a Primary
    component of its own. ``members`` are the cluster's nodes (the inventory group),
    ``in_play`` the hosts the play started with (``ansible_play_hosts_all``: --limit and the
    host pattern leave members out of it), ``answered`` the hosts that reported their state
    or position, ``gone`` the members the operator declared lost for good.
    """
    members = [str(name) for name in members or []]
    in_play = set(str(name) for name in in_play or [])
    answered = set(str(name) for name in answered or [])
    gone = [str(name) for name in gone or []]
    if not members:
        return ("the cluster has no members: set galera_health_group to the inventory group of the "
                "Galera nodes, or list them in galera_health_members")
    strangers = sorted(set(gone) - set(members))
    if strangers:
        return ("galera_health_members_gone names %s, which %s not a member of the cluster (%s); "
                "correct the list" % (", ".join(strangers), "is" if len(strangers) == 1 else "are",
                                      ", ".join(members)))
    back = sorted(set(gone) & answered)
    if back:
        pronoun, possessive = ("it", "its") if len(back) == 1 else ("them", "their")
        return ("%s answered although galera_health_members_gone names %s; remove %s from that list "
                "so that %s position is compared too" % (", ".join(back), pronoun, pronoun, possessive))
    outsiders = sorted(answered - set(members))
    if outsiders:
        return ("%s %s in the play but not a member of the cluster (%s); run the recovery on the "
                "cluster's members only" % (", ".join(outsiders), "is" if len(outsiders) == 1 else "are",
                                            ", ".join(members)))
    left_out = [name for name in members if name not in in_play and name not in gone]
    silent = [name for name in members if name in in_play and name not in answered and name not in gone]
    if not left_out and not silent:
        if len(gone) == len(members):
            return "every member is named in galera_health_members_gone: there is nothing to recover from"
        return ""
    reasons = []
    if silent:
        reasons.append("%s did not report (unreachable, or a task failed there)" % ", ".join(silent))
    if left_out:
        reasons.append("%s %s not in the play (--limit or the host pattern left %s out)" % (
            ", ".join(left_out), "is" if len(left_out) == 1 else "are", "it" if len(left_out) == 1 else "them"))
    missing = silent + left_out
    return ("recovery refused, nothing was started: the position of %s is unknown - %s. A member that "
            "did not report may hold the latest commits or still run a Primary component. Bring %s back "
            "and run on every member, or, if %s gone for good, name %s in galera_health_members_gone"
            % (", ".join(missing), "; ".join(reasons), "it" if len(missing) == 1 else "them",
               "it is" if len(missing) == 1 else "they are", "it" if len(missing) == 1 else "them"))


def gone_warning(gone, node, seqno):
    """What may be lost when ``node`` (at ``seqno``) is bootstrapped without the ``gone`` members."""
    if not gone:
        return ""
    gone = sorted(str(name) for name in gone)
    one = len(gone) == 1
    position = ("seqno %s (the position of %s)" % (seqno, node)) if seqno is not None and int(seqno) >= 0 \
        else "the position of %s" % node
    return ("%s %s not consulted (galera_health_members_gone): whatever %s committed after %s is lost. "
            "Keep MariaDB stopped on %s until %s rejoins this cluster and receives a full state transfer"
            % (", ".join(gone), "was" if one else "were", "it" if one else "they", position,
               "it" if one else "them", "it" if one else "each"))


def effective_seqno(node):
    """grastate's seqno, or the recovered one when grastate says -1."""
    seqno = node.get("seqno")
    if seqno is None or seqno < 0:
        seqno = node.get("recovered_seqno")
    return -1 if seqno is None else int(seqno)


def unknown_positions(nodes):
    """Names of the nodes whose position is unknown (seqno -1 and nothing recovered)."""
    return sorted(name for name, node in nodes.items() if effective_seqno(node) < 0)
