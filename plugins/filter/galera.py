# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""Filters of the galera_health role: the cluster-wide diagnosis and the node to bootstrap."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.osops.toolkit.plugins.module_utils._galera import (
    bootstrap_candidate,
    cluster_problems,
    effective_seqno,
    gone_warning,
    recovery_refusal,
)


def _nodes(value):
    if not isinstance(value, dict):
        raise AnsibleFilterError("expected a dict of node name to galera_status result, got %s" % type(value).__name__)
    return dict((str(name), dict(node or {})) for name, node in value.items())


def galera_cluster_problems(value):
    return cluster_problems(_nodes(value))


def _names(value, what):
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise AnsibleFilterError("%s must be a list of node names, got %s" % (what, type(value).__name__))
    return [str(name) for name in value]


def galera_bootstrap_node(value, gone=None):
    nodes = _nodes(value)
    try:
        name, reason = bootstrap_candidate(nodes)
    except ValueError as exc:
        raise AnsibleFilterError("no node can be chosen to bootstrap the cluster: %s" % exc)
    return {"node": name, "reason": reason,
            "lost": gone_warning(_names(gone, "gone"), name, effective_seqno(nodes[name]))}


def galera_recovery_refusal(members, in_play=None, answered=None, gone=None):
    return recovery_refusal(_names(members, "members"), _names(in_play, "in_play"),
                            _names(answered, "answered"), _names(gone, "gone"))


class FilterModule(object):

    def filters(self):
        return {
            "galera_cluster_problems": galera_cluster_problems,
            "galera_bootstrap_node": galera_bootstrap_node,
            "galera_recovery_refusal": galera_recovery_refusal,
        }
