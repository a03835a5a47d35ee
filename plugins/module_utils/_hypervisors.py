# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""Join Nova hypervisors with their compute service, aggregates and placement resources.

Plain functions over plain dicts so the join and the filters are unit-tested without a cloud.
"""

from __future__ import annotations

from ansible_collections.osops.toolkit.plugins.module_utils._compute import disabled_by


def resource_view(inventories, usages):
    """Per resource class: total, reserved, allocation_ratio, capacity, used, free.

    capacity = (total - reserved) * allocation_ratio, as placement computes it.
    """
    view = {}
    for rc, inv in sorted(inventories.items()):
        total = int(inv.get("total", 0))
        reserved = int(inv.get("reserved", 0))
        ratio = float(inv.get("allocation_ratio", 1.0))
        capacity = int((total - reserved) * ratio)
        used = int(usages.get(rc, 0))
        view[rc] = {
            "total": total,
            "reserved": reserved,
            "allocation_ratio": ratio,
            "min_unit": int(inv.get("min_unit", 1)),
            "max_unit": int(inv.get("max_unit", total)),
            "step_size": int(inv.get("step_size", 1)),
            "capacity": capacity,
            "used": used,
            "free": capacity - used,
        }
    return view


def aggregates_by_host(aggregates):
    """host -> list of {name, id, availability_zone, metadata}, sorted by name."""
    by_host = {}
    for agg in aggregates:
        entry = {
            "name": agg["name"],
            "id": agg["id"],
            "availability_zone": agg.get("availability_zone"),
            "metadata": dict(agg.get("metadata") or {}),
        }
        for host in agg.get("hosts") or []:
            by_host.setdefault(host, []).append(entry)
    for entries in by_host.values():
        entries.sort(key=lambda e: e["name"])
    return by_host


def join_hypervisors(hypervisors, services, aggregates, resources=None):
    """One record per hypervisor.

    ``hypervisors``: dicts with id, name, host_ip, hypervisor_type, hypervisor_version, state,
    status, service_host, servers (list of server ids).
    ``services``: nova-compute service dicts (host, id, status, state, disabled_reason,
    forced_down, availability_zone, updated_at).
    ``aggregates``: dicts with name, id, availability_zone, metadata, hosts.
    ``resources``: hypervisor id -> resource_view(); absent ids get {}.
    """
    resources = resources or {}
    service_of = dict((s["host"], s) for s in services)
    aggs_of = aggregates_by_host(aggregates)
    records = []
    for hv in hypervisors:
        host = hv.get("service_host") or hv["name"]
        svc = service_of.get(host, {})
        aggs = aggs_of.get(host, [])
        records.append({
            "id": hv["id"],
            "name": hv["name"],
            "host": host,
            "host_ip": hv.get("host_ip"),
            "hypervisor_type": hv.get("hypervisor_type"),
            "hypervisor_version": hv.get("hypervisor_version"),
            "state": svc.get("state", hv.get("state")),
            "status": svc.get("status", hv.get("status")),
            "disabled_reason": svc.get("disabled_reason"),
            "disabled_by": disabled_by(svc) if svc else None,
            "forced_down": bool(svc.get("forced_down", False)),
            "service_id": svc.get("id"),
            "service_updated_at": svc.get("updated_at"),
            "availability_zone": svc.get("availability_zone"),
            "aggregates": [a["name"] for a in aggs],
            "aggregate_details": aggs,
            "servers": sorted(hv.get("servers") or []),
            "instance_count": len(hv.get("servers") or []),
            "resources": resources.get(hv["id"], {}),
        })
    records.sort(key=lambda r: r["name"])
    return records


def filter_hypervisors(records, hosts=None, availability_zone=None, aggregate=None,
                       status=None, state=None):
    """Keep the records that match every filter given. ``hosts`` match exactly, by
    service host or hypervisor name."""
    wanted_hosts = set(hosts or [])
    kept = []
    for rec in records:
        if wanted_hosts and rec["host"] not in wanted_hosts and rec["name"] not in wanted_hosts:
            continue
        if availability_zone and rec["availability_zone"] != availability_zone:
            continue
        if aggregate and aggregate not in rec["aggregates"]:
            continue
        if status and rec["status"] != status:
            continue
        if state and rec["state"] != state:
            continue
        kept.append(rec)
    return kept


def summarize(records):
    """Totals for a report header: hypervisors by status/state, instances, per-class capacity."""
    summary = {
        "hypervisors": len(records),
        "enabled": sum(1 for r in records if r["status"] == "enabled"),
        "disabled": sum(1 for r in records if r["status"] == "disabled"),
        "up": sum(1 for r in records if r["state"] == "up"),
        "down": sum(1 for r in records if r["state"] == "down"),
        "instances": sum(r["instance_count"] for r in records),
        "resources": {},
    }
    for rec in records:
        for rc, res in rec["resources"].items():
            agg = summary["resources"].setdefault(rc, {"capacity": 0, "used": 0, "free": 0})
            for key in agg:
                agg[key] += res[key]
    return summary
