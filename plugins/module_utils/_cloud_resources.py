# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""Project-owned resources of every service as plain dicts, for drift_report and project_cleanup.

Each listing is one paginated bulk call across all projects (or one project), never one call
per resource.
"""

from __future__ import annotations

from ansible_collections.osops.toolkit.plugins.module_utils import _api as api
from ansible_collections.osops.toolkit.plugins.module_utils._drift import BLOCK_STORAGE_TYPES


def has_block_storage(conn):
    return bool(conn.has_service("block-storage"))


def list_servers(compute, project_id=None):
    params = {"all_tenants": "1"}
    if project_id:
        params["project_id"] = project_id
    return [{
        "id": s["id"], "name": s.get("name"), "project_id": s.get("tenant_id"), "status": s.get("status"),
        "task_state": s.get("OS-EXT-STS:task_state"), "host": s.get("OS-EXT-SRV-ATTR:host"),
        "created_at": s.get("created"), "updated": s.get("updated"),
    } for s in api.paged(compute, "/servers/detail", "servers", params, api.NOVA_MOVES, page_size=1000)]


def _network(items, **extra):
    return [dict({"id": r.id, "name": r.name, "project_id": r.project_id, "created_at": r.created_at},
                 **dict((key, getattr(r, attr)) for key, attr in extra.items())) for r in items]


def list_resources(conn, kinds, project_id=None):
    """{kind: [dict]} for the asked kinds; block storage kinds only when Cinder is in the catalog."""
    query = {"project_id": project_id} if project_id else {}
    listed = {}
    net = conn.network
    for kind in kinds:
        if kind == "servers":
            listed[kind] = list_servers(conn.compute, project_id)
        elif kind == "floating_ips":
            listed[kind] = _network(net.ips(**query), address="floating_ip_address", port_id="port_id")
            for ip in listed[kind]:
                ip["name"] = ip["address"]
        elif kind == "ports":
            listed[kind] = _network(net.ports(**query), device_owner="device_owner", device_id="device_id",
                                    binding_host_id="binding_host_id", binding_vif_type="binding_vif_type",
                                    network_id="network_id")
        elif kind == "routers":
            listed[kind] = _network(net.routers(**query), external_gateway_info="external_gateway_info")
        elif kind == "networks":
            listed[kind] = _network(net.networks(**query), is_router_external="is_router_external")
        elif kind == "security_groups":
            # neutron creates a project's default group again whenever a listing filters on that
            # project, so list them all and filter here
            listed[kind] = [g for g in _network(net.security_groups())
                            if not project_id or g["project_id"] == project_id]
        elif kind == "images":
            listed[kind] = [{"id": i.id, "name": i.name, "project_id": i.owner, "created_at": i.created_at,
                             "protected": bool(i.is_protected)}
                            for i in conn.image.images(**({"owner": project_id} if project_id else {}))]
        elif kind in BLOCK_STORAGE_TYPES:
            if not has_block_storage(conn):
                continue
            lister = {"volumes": conn.block_storage.volumes, "snapshots": conn.block_storage.snapshots,
                      "backups": conn.block_storage.backups}[kind]
            items = lister(details=True, all_projects=True, **query)
            listed[kind] = [{"id": r.id, "name": r.name, "project_id": r.project_id, "created_at": r.created_at,
                             "status": r.status} for r in items]
    return listed


def list_projects(conn):
    return [{"id": p.id, "name": p.name, "domain_id": p.domain_id} for p in conn.identity.projects()]
