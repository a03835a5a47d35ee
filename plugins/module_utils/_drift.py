# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""What the cloud has forgotten: pure functions over plain dicts (see drift_report).

Every function takes what the APIs listed and returns findings; nothing here calls a cloud.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.osops.toolkit.plugins.module_utils._compute import disabled_by

# the resource types drift_report and project_cleanup know, in the order project_cleanup deletes them
RESOURCE_TYPES = ("servers", "floating_ips", "ports", "routers", "networks",
                  "snapshots", "backups", "volumes", "images", "security_groups")
BLOCK_STORAGE_TYPES = ("snapshots", "backups", "volumes")

STUCK_STATUSES = ("BUILD", "ERROR")
STUCK_TASK_STATES = ("deleting",)
# migrations that still hold allocations under their own uuid
_SETTLED_MIGRATIONS = ("completed", "confirmed", "reverted", "error", "failed", "cancelled", "done")

_DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")


def parse_time(text):
    """An API timestamp (with or without zone, fraction or 'T') as an aware UTC datetime; None if empty."""
    if not text:
        return None
    text = text.strip().replace(" ", "T").replace("Z", "+00:00")
    text = re.sub(r"\.\d+", "", text)
    when = datetime.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when


def orphans(resources, project_ids):
    """{type: [resource]} of the resources whose project is not among ``project_ids``.

    ``resources``: {type: [dict with id, name, project_id]}. A resource without a project
    (a shared image, a public network made by a service) is not an orphan.
    """
    known = set(project_ids)
    found = {}
    for kind, items in resources.items():
        found[kind] = [r for r in items if r.get("project_id") and r["project_id"] not in known]
    return found


def ghost_ports(ports, server_ids, agents):
    """Ports whose device is gone, and ports bound to a host without a live agent.

    ``ports``: dicts with id, device_owner, device_id, binding_host_id, binding_vif_type;
    ``agents``: dicts with host and is_alive.
    """
    servers = set(server_ids)
    alive, dead = set(), set()
    for agent in agents:
        (alive if agent.get("is_alive") else dead).add(agent.get("host"))
    found = []
    for port in ports:
        owner = port.get("device_owner") or ""
        host = port.get("binding_host_id")
        reason = None
        if owner.startswith("compute:") and port.get("device_id") and port["device_id"] not in servers:
            reason = "its server %s no longer exists" % port["device_id"]
        elif host and host not in alive:
            reason = ("bound to %s, whose agent is dead" % host) if host in dead else \
                ("bound to %s, which has no agent" % host)
        if reason:
            found.append(dict(port, reason=reason))
    return found


def stuck_servers(servers, now, minutes):
    """Servers in BUILD or ERROR, or being deleted, for longer than ``minutes``."""
    found = []
    for server in servers:
        if server.get("status") not in STUCK_STATUSES and server.get("task_state") not in STUCK_TASK_STATES:
            continue
        since = parse_time(server.get("updated"))
        age = (now - since).total_seconds() / 60.0 if since else None
        if age is None or age >= minutes:
            found.append(dict(server, minutes=int(age) if age is not None else None))
    return found


def live_consumers(server_ids, migrations):
    """The consumers placement may rightly hold allocations for: servers and unsettled migrations."""
    consumers = set(server_ids)
    consumers.update(m["uuid"] for m in migrations if m.get("uuid") and m.get("status") not in _SETTLED_MIGRATIONS)
    return consumers


def orphan_allocations(allocations_by_provider, providers, consumers):
    """Allocations whose consumer is neither a server nor a migration in progress.

    ``allocations_by_provider``: {provider uuid: {consumer uuid: {"resources": {...}}}}.
    """
    names = dict((p["uuid"], p.get("name")) for p in providers)
    found = []
    for provider, allocations in sorted(allocations_by_provider.items()):
        for consumer, allocation in sorted(allocations.items()):
            if consumer not in consumers:
                found.append({"consumer": consumer, "provider": provider, "provider_name": names.get(provider),
                              "resources": dict(allocation.get("resources") or {})})
    return found


def disabled_hosts(services, now, days):
    """Disabled compute services disabled for more than ``days``, or since a time nobody wrote down.

    Nova does not record when a service was disabled; the date is read from the reason when it
    holds one: the UTC time of osops.toolkit's own reasons (_compute.owned_reason), or a
    YYYY-MM-DD someone wrote. ``disabled_by`` says who disabled it (_compute.disabled_by), with
    the service's updated_at as the only time Nova gives for the others.
    """
    found = []
    for service in services:
        by = disabled_by(service)
        if by is None:
            continue
        if by["since_source"] == "reason":
            match = _DATE.search(by["since"])
        else:
            match = _DATE.search(service.get("disabled_reason") or "")
        since = None
        if match:
            try:
                since = datetime.datetime.strptime(match.group(1), "%Y-%m-%d").replace(tzinfo=datetime.timezone.utc)
            except ValueError:
                since = None
        age = (now - since).days if since else None
        if age is None or age > days:
            found.append({"host": service["host"], "disabled_reason": service.get("disabled_reason"),
                          "since": match.group(1) if since else None, "days": age, "disabled_by": by})
    return found


def counts(report):
    """The number of findings per section (and per resource type for orphans), and the total."""
    result = {}
    total = 0
    for section, findings in report.items():
        if isinstance(findings, dict):
            result[section] = dict((kind, len(items)) for kind, items in findings.items())
            result[section]["total"] = sum(len(items) for items in findings.values())
            total += result[section]["total"]
        else:
            result[section] = len(findings)
            total += len(findings)
    result["total"] = total
    return result
