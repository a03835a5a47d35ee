# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""What project_cleanup deletes, and in which order: pure logic over the listings of _cloud_resources."""

from __future__ import annotations

from ansible_collections.osops.toolkit.plugins.module_utils._drift import parse_time

# ports that go away with what owns them (router interfaces are removed from their router)
OWNED_PORTS = ("network:router_interface", "network:router_interface_distributed", "network:router_gateway",
               "network:floatingip", "network:dhcp", "network:ha_router_replicated_interface",
               "network:router_ha_interface", "network:router_centralized_snat")


def cleanup_plan(kinds, listed, project_id, created_before=None):
    """[(kind, item)] to delete, in the order of ``kinds`` (the dependency order).

    Only what the project owns (some APIs list shared resources along), no port that goes away
    with its owner, and with ``created_before`` (a datetime) only what was created before it;
    an item without a readable creation time is kept.
    """
    plan = []
    for kind in kinds:
        for item in listed.get(kind, []):
            if item.get("project_id") != project_id:
                continue
            if kind == "ports" and (item.get("device_owner") or "") in OWNED_PORTS:
                continue
            if created_before is not None:
                created = parse_time(item.get("created_at"))
                if created is None or created >= created_before:
                    continue
            plan.append((kind, item))
    return plan


def plan_counts(plan):
    """{kind: how many, 'total': all} of a cleanup plan."""
    found = {}
    for kind, _item in plan:
        found[kind] = found.get(kind, 0) + 1
    found["total"] = len(plan)
    return found
