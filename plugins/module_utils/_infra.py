# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""The operator inventory: bulk listings of Nova and Ironic, and the hosts and groups made of them.

``fetch_cloud`` makes only bulk, paginated list calls (a fixed number per cloud and page,
never one per host) and returns plain JSON. ``compose_hosts`` turns that into host records.
Both are plain functions: the inventory plugin adds caching, parallelism and Ansible.
"""

from __future__ import annotations

import concurrent.futures
from urllib.parse import parse_qs, urlparse

# Before 2.88 the hypervisor listing carries the compute node's own vcpus/memory/disk
# figures; from 2.88 on they are only in placement, which has no bulk call for them.
HYPERVISOR_MICROVERSION = "2.87"
SERVICE_MICROVERSION = "2.53"
SERVER_MICROVERSION = "2.47"
IRONIC_MICROVERSION = "1.50"   # conductor_group (1.46) and owner (1.50) in node listings
PAGE_SIZE = 1000

NODE_FIELDS = (
    "uuid", "name", "provision_state", "power_state", "maintenance", "maintenance_reason",
    "resource_class", "conductor_group", "driver", "properties", "instance_uuid", "driver_info",
    "extra", "last_error", "owner",
)

# driver_info keys whose values are never returned as they are
_SECRET_MARKERS = ("password", "secret", "token", "key", "credential", "community", "passphrase")
REDACTED = "******"


class RequestCounter(object):
    """Counts the API requests a fetch made (for reports and the benchmark)."""

    def __init__(self):
        self.requests = 0


def _get_json(proxy, path, microversion, counter, params=None):
    from openstack import exceptions as sdk_exceptions
    response = proxy.get(path, params=params, microversion=microversion)
    counter.requests += 1
    sdk_exceptions.raise_from_response(response)
    return response.json()


def _paged(proxy, path, key, microversion, counter, params=None):
    """All items of a marker-paginated listing (Nova ``*_links``, Ironic ``next``)."""
    params = dict(params or {}, limit=PAGE_SIZE)
    items = []
    while True:
        body = _get_json(proxy, path, microversion, counter, params)
        page = body.get(key) or []
        items.extend(page)
        next_marker = _next_marker(body, key)
        if not page or next_marker is None:
            return items
        params = dict(params, marker=next_marker)


def _next_marker(body, key):
    links = body.get(key + "_links") or []
    next_url = body.get("next") or next((link["href"] for link in links if link.get("rel") == "next"), None)
    if not next_url:
        return None
    markers = parse_qs(urlparse(next_url).query).get("marker")
    return markers[0] if markers else None


def fetch_cloud(conn, system_conn, sources, include_servers, counter, max_workers=None):
    """Everything the inventory needs from one cloud, as plain JSON.

    A fixed number of bulk calls. Nova's and Ironic's run side by side, each service's one
    after the other: concurrent first requests with a fresh token would each make the
    service validate it with Keystone. ``conn`` and ``system_conn`` may be callables that
    open the connection, so the two logins overlap too.
    """
    chains = []
    if "nova" in sources:
        chains.append(lambda: _nova_listings(_opened(conn).compute, include_servers, counter))
    if "ironic" in sources:
        chains.append(lambda: {"nodes": _paged(_opened(system_conn).baremetal, "/nodes", "nodes",
                                               IRONIC_MICROVERSION, counter,
                                               {"fields": ",".join(NODE_FIELDS)})})
    data = {"hypervisors": [], "services": [], "aggregates": [], "nodes": [], "servers": []}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max_workers or max(1, len(chains))) as pool:
        for part in pool.map(lambda chain: chain(), chains):
            data.update(part)
    return data


def _opened(conn):
    return conn() if callable(conn) else conn


def _nova_listings(compute, include_servers, counter):
    listed = {
        "services": _get_json(compute, "/os-services", SERVICE_MICROVERSION, counter,
                              {"binary": "nova-compute"})["services"],
        "hypervisors": _paged(compute, "/os-hypervisors/detail", "hypervisors", HYPERVISOR_MICROVERSION,
                              counter, {"with_servers": "true"}),
        "aggregates": _get_json(compute, "/os-aggregates", SERVICE_MICROVERSION, counter)["aggregates"],
    }
    if include_servers:
        listed["servers"] = _paged(compute, "/servers/detail", "servers", SERVER_MICROVERSION, counter,
                                   {"all_tenants": "1"})
    return listed


def redact(driver_info):
    """driver_info with every secret-looking value replaced (Ironic already masks some)."""
    clean = {}
    for key, value in (driver_info or {}).items():
        if any(marker in key.lower() for marker in _SECRET_MARKERS):
            clean[key] = REDACTED
        else:
            clean[key] = value
    return clean


def _node_vars(node):
    return {
        "uuid": node.get("uuid"),
        "name": node.get("name"),
        "provision_state": node.get("provision_state"),
        "power_state": node.get("power_state"),
        "maintenance": bool(node.get("maintenance")),
        "maintenance_reason": node.get("maintenance_reason"),
        "resource_class": node.get("resource_class"),
        "conductor_group": node.get("conductor_group") or "",
        "driver": node.get("driver"),
        "properties": node.get("properties") or {},
        "instance_uuid": node.get("instance_uuid"),
        "driver_info": redact(node.get("driver_info")),
        "extra": node.get("extra") or {},
        "last_error": node.get("last_error"),
        "owner": node.get("owner"),
    }


def _hypervisor_vars(hv, service, aggregates):
    service_host = (hv.get("service") or {}).get("host") or hv.get("hypervisor_hostname")
    servers = hv.get("servers") or []
    return {
        "hypervisor_id": hv.get("id"),
        "hypervisor_hostname": hv.get("hypervisor_hostname"),
        "hypervisor_type": hv.get("hypervisor_type"),
        "hypervisor_version": hv.get("hypervisor_version"),
        "host_ip": hv.get("host_ip"),
        "service_host": service_host,
        "service_id": service.get("id"),
        "service_state": service.get("state", hv.get("state")),
        "service_status": service.get("status", hv.get("status")),
        "disabled_reason": service.get("disabled_reason"),
        "forced_down": bool(service.get("forced_down", False)),
        "availability_zone": service.get("zone"),
        "aggregates": [a["name"] for a in aggregates],
        "aggregate_metadata": dict((a["name"], a.get("metadata") or {}) for a in aggregates),
        "vcpus": hv.get("vcpus"),
        "vcpus_used": hv.get("vcpus_used"),
        "memory_mb": hv.get("memory_mb"),
        "memory_mb_used": hv.get("memory_mb_used"),
        "local_gb": hv.get("local_gb"),
        "local_gb_used": hv.get("local_gb_used"),
        "instance_count": len(servers),
        "instances": sorted(s.get("uuid") for s in servers),
    }


def compose_hosts(data, prefix="", filters=None):
    """Host name -> vars for one cloud's data (from fetch_cloud).

    Hypervisors are named by their compute service host, Ironic nodes by name (else UUID).
    An Ironic node that Nova lists as a hypervisor (hypervisor_hostname = node UUID) is one
    host carrying both. Vars are unprefixed here; the plugin adds its prefix.
    """
    filters = filters or {}
    services = dict((s["host"], s) for s in data.get("services") or [])
    aggs_by_host = {}
    for agg in sorted(data.get("aggregates") or [], key=lambda a: a["name"]):
        for host in agg.get("hosts") or []:
            aggs_by_host.setdefault(host, []).append(agg)

    hosts = {}
    nodes_by_uuid = dict((n["uuid"], n) for n in data.get("nodes") or [])
    for hv in data.get("hypervisors") or []:
        service_host = (hv.get("service") or {}).get("host") or hv.get("hypervisor_hostname")
        hv_vars = _hypervisor_vars(hv, services.get(service_host, {}), aggs_by_host.get(service_host, []))
        node = nodes_by_uuid.pop(hv.get("hypervisor_hostname"), None)
        if node is not None:
            name = node.get("name") or node["uuid"]
            hv_vars["ironic"] = _node_vars(node)
        else:
            name = service_host
        hv_vars["kind"] = "baremetal_hypervisor" if node is not None else "hypervisor"
        hv_vars["ansible_host"] = hv_vars["host_ip"]
        hosts[prefix + name] = hv_vars
    for node in nodes_by_uuid.values():
        name = node.get("name") or node["uuid"]
        hosts[prefix + name] = {"kind": "baremetal", "ironic": _node_vars(node)}
    return dict((name, hvars) for name, hvars in hosts.items() if _wanted(hvars, filters))


def _wanted(hvars, filters):
    node = hvars.get("ironic") or {}
    checks = (
        ("availability_zone", hvars.get("availability_zone")),
        ("service_status", hvars.get("service_status")),
        ("service_state", hvars.get("service_state")),
        ("provision_state", node.get("provision_state")),
        ("resource_class", node.get("resource_class")),
        ("conductor_group", node.get("conductor_group")),
    )
    for key, value in checks:
        wanted = filters.get(key)
        if wanted and value not in (wanted if isinstance(wanted, list) else [wanted]):
            return False
    aggregate = filters.get("aggregate")
    if aggregate and aggregate not in hvars.get("aggregates", []):
        return False
    if filters.get("maintenance") is not None and bool(node.get("maintenance")) != filters["maintenance"]:
        return False
    return True


def host_groups(hvars):
    """The default groups of one host: (group name, ...) before sanitising."""
    groups = []
    kind = hvars.get("kind")
    if kind in ("hypervisor", "baremetal_hypervisor"):
        groups.append("hypervisors")
        if hvars.get("availability_zone"):
            groups.append("az_" + hvars["availability_zone"])
        groups.extend("aggregate_" + a for a in hvars.get("aggregates", []))
        if hvars.get("service_state"):
            groups.append("service_" + hvars["service_state"])
        if hvars.get("service_status"):
            groups.append("service_" + hvars["service_status"])
    node = hvars.get("ironic")
    if node:
        groups.append("baremetal")
        if node.get("provision_state"):
            groups.append("provision_state_" + node["provision_state"])
        if node.get("resource_class"):
            groups.append("resource_class_" + node["resource_class"])
        groups.append("conductor_group_" + (node.get("conductor_group") or "default"))
        if node.get("maintenance"):
            groups.append("maintenance")
    return groups


def compose_servers(data, hypervisor_hosts, prefix=""):
    """Tenant servers as hosts, each in the group of its hypervisor's host name.

    ``hypervisor_hosts`` maps a nova service host to the inventory name of that hypervisor.
    Returns (host name -> vars, host name -> group name).
    """
    servers = data.get("servers") or []
    names = [s.get("name") or s["id"] for s in servers]
    duplicated = set(n for n in names if names.count(n) > 1)
    hosts, groups = {}, {}
    for server, name in zip(servers, names):
        if name in duplicated:
            name = "%s-%s" % (name, server["id"][:8])
        compute_host = server.get("OS-EXT-SRV-ATTR:host")
        address = _first_address(server.get("addresses") or {})
        hosts[prefix + name] = {
            "kind": "server",
            "server_id": server["id"],
            "server_status": server.get("status"),
            "project_id": server.get("tenant_id"),
            "compute_host": compute_host,
            "hypervisor_hostname": server.get("OS-EXT-SRV-ATTR:hypervisor_hostname"),
            "flavor": (server.get("flavor") or {}).get("original_name"),
            "ansible_host": address,
        }
        if compute_host and compute_host in hypervisor_hosts:
            groups[prefix + name] = "servers_on_" + hypervisor_hosts[compute_host]
    return hosts, groups


def _first_address(addresses):
    for entries in addresses.values():
        for entry in entries:
            if entry.get("version") == 4:
                return entry.get("addr")
    for entries in addresses.values():
        for entry in entries:
            return entry.get("addr")
    return None
