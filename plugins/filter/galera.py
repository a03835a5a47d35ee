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
)


def _nodes(value):
    if not isinstance(value, dict):
        raise AnsibleFilterError("expected a dict of node name to galera_status result, got %s" % type(value).__name__)
    return dict((str(name), dict(node or {})) for name, node in value.items())


def galera_cluster_problems(value):
    return cluster_problems(_nodes(value))


def galera_bootstrap_node(value):
    try:
        name, reason = bootstrap_candidate(_nodes(value))
    except ValueError as exc:
        raise AnsibleFilterError("no node can be chosen to bootstrap the cluster: %s" % exc)
    return {"node": name, "reason": reason}


class FilterModule(object):

    def filters(self):
        return {
            "galera_cluster_problems": galera_cluster_problems,
            "galera_bootstrap_node": galera_bootstrap_node,
        }
