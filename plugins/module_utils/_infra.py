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

import collections
import concurrent.futures
import hashlib
import re

from ansible_collections.osops.toolkit.plugins.module_utils import _api as api

PAGE_SIZE = 1000

NODE_FIELDS = (
    "uuid", "name", "provision_state", "power_state", "maintenance", "maintenance_reason",
    "resource_class", "conductor_group", "driver", "properties", "instance_uuid", "driver_info",
    "instance_info", "extra", "last_error", "owner",
)
# the node fields that may hold secrets: redacted before anything is cached or shown
NODE_SECRET_FIELDS = ("driver_info", "instance_info", "properties", "extra")
# the server fields the inventory uses; nothing else is kept (nor cached): user_data, metadata...
_SERVER_FIELDS = ("id", "name", "status", "tenant_id", "OS-EXT-SRV-ATTR:host",
                  "OS-EXT-SRV-ATTR:hypervisor_hostname", "addresses")

REDACTED = "******"
# a key, or the name in a name=value text, containing one of these holds a secret
_SECRET_NAME = re.compile(r"pass|pwd|secret|token|key|kek|credential|community|signature|_sig$", re.I)
# name=value in a text (kernel arguments, query strings): rootpwd=..., temp_url_sig=...
_SECRET_ASSIGNMENT = re.compile(
    r"""(?P<name>[\w.-]*(?:pass|pwd|secret|token|key|kek|credential|community|signature|_sig(?![\w.-]))[\w.-]*)"""
    r"""=(?:"[^"]*"|'[^']*'|[^\s&;,"']+)""", re.I)
# the user information of a URL: https://user:password@bmc/ (up to the last @ of the authority)
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s]+@")

SERVER_HOST_PREFIX = "server-"
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_UNSAFE_DOTS = re.compile(r"^\.|\.(?=\.)|(?<=\.)\.")


class RequestCounter(object):
    """Counts the API requests a fetch made (for reports and the benchmark)."""

    def __init__(self):
        self.requests = 0


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
        chains.append(lambda: {"nodes": _listed(_opened(system_conn).baremetal, "/nodes", "nodes", api.IRONIC_NODES,
                                                counter, {"fields": ",".join(NODE_FIELDS)})})
    data = {"hypervisors": [], "services": [], "aggregates": [], "nodes": [], "servers": []}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max_workers or max(1, len(chains))) as pool:
        for part in pool.map(lambda chain: chain(), chains):
            data.update(part)
    return without_secrets(data)


def without_secrets(data):
    """One cloud's listings as they may be cached: node secrets redacted, servers reduced to
    the fields the inventory uses (no user data, no metadata), marked ``redacted``."""
    if data.get("redacted"):
        return data
    clean = dict(data, redacted=True)
    clean["nodes"] = [_redacted_node(node) for node in data.get("nodes") or []]
    clean["servers"] = [_slim_server(server) for server in data.get("servers") or []]
    return clean


def _redacted_node(node):
    node = dict(node)
    for field in NODE_SECRET_FIELDS:
        if field in node:
            node[field] = redact(node[field])
    return node


def _slim_server(server):
    slim = dict((key, server[key]) for key in _SERVER_FIELDS if key in server)
    slim["flavor"] = {"original_name": (server.get("flavor") or {}).get("original_name")}
    return slim


def _opened(conn):
    return conn() if callable(conn) else conn


def _nova_listings(compute, include_servers, counter):
    listed = {
        "services": api.get_json(compute, "/os-services", {"binary": "nova-compute"}, api.NOVA_SERVICES,
                                 counter=counter)["services"],
        "hypervisors": _listed(compute, "/os-hypervisors/detail", "hypervisors", api.NOVA_HYPERVISOR_SERVERS,
                               counter, {"with_servers": "true"}),
        "aggregates": api.get_json(compute, "/os-aggregates", microversion=api.NOVA_SERVICES,
                                   counter=counter)["aggregates"],
    }
    if include_servers:
        listed["servers"] = _listed(compute, "/servers/detail", "servers", api.NOVA_SERVER_LIST, counter,
                                    {"all_tenants": "1"})
    return listed


def _listed(proxy, path, key, microversion, counter, params):
    return list(api.paged(proxy, path, key, params, microversion, page_size=PAGE_SIZE, counter=counter))


def redact(value):
    """``value`` (any JSON) with every secret replaced by ``******``, at any depth.

    Ironic masks some secrets itself, not all (and not for every role). Replaced are: the
    value of every key whose name contains pass, pwd, secret, token, key, kek, credential,
    community or signature, or ends in ``_sig`` (unless empty); in every string, the user
    information of a URL (``https://user:pass@bmc`` -> ``https://******@bmc``) and the value
    of every such ``name=value`` (``rootpwd=...`` in kernel arguments, ``temp_url_sig=...``).
    """
    if isinstance(value, dict):
        return dict((key, REDACTED if _SECRET_NAME.search(str(key)) and value[key] not in (None, "")
                     else redact(value[key])) for key in value)
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str):
        if "=" in value:
            value = _SECRET_ASSIGNMENT.sub(lambda m: m.group("name") + "=" + REDACTED, value)
        if "@" in value:
            value = _URL_USERINFO.sub(lambda m: m.group("scheme") + REDACTED + "@", value)
    return value


def safe_host_name(name):
    """A host name that is safe as an inventory name and as a file name under host_vars/.

    A name of letters, digits, ``.``, ``_`` and ``-`` with no leading dot and no ``..`` is kept.
    Any other name has each other character (``/``, whitespace, control and non-ASCII
    characters...), each leading dot and each dot next to a dot replaced by ``_``, and gets
    ``-`` and the first 8 hex digits of the SHA-256 of the original name appended, so two
    different names never become the same one: ``../../x y`` -> ``______x_y-<8 hex digits>``.
    """
    name = "" if name is None else str(name)
    safe = _UNSAFE_DOTS.sub("_", _UNSAFE_NAME_CHARS.sub("_", name))
    if safe == name and name:
        return name
    return "%s-%s" % (safe, hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8])


def _node_vars(node, redacted):
    if not redacted:
        node = _redacted_node(node)
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
        "driver_info": node.get("driver_info") or {},
        "instance_info": node.get("instance_info") or {},
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


def compose_hosts(data, prefix="", filters=None, warnings=None):
    """Host name -> vars for one cloud's data (from fetch_cloud).

    Hypervisors are named by their compute service host (by their hypervisor hostname when
    one service host has several, as the Ironic or VMware drivers do), Ironic nodes by name
    (else UUID), every name made safe by ``safe_host_name``. An Ironic node that Nova lists as
    a hypervisor (hypervisor_hostname = node UUID) is one host carrying both. A node whose
    name is already a host's name (the owner of a node may rename it) never changes that
    host: it is named by its UUID, and a warning naming both is added to ``warnings``.
    Vars are unprefixed here; the plugin adds its prefix.
    """
    filters = filters or {}
    warnings = [] if warnings is None else warnings
    redacted = bool(data.get("redacted"))  # from without_secrets; else (tests, old caches) redact here
    services = dict((s["host"], s) for s in data.get("services") or [])
    aggs_by_host = {}
    for agg in sorted(data.get("aggregates") or [], key=lambda a: a["name"]):
        for host in agg.get("hosts") or []:
            aggs_by_host.setdefault(host, []).append(agg)

    nodes_by_uuid = dict((n["uuid"], n) for n in data.get("nodes") or [])
    plain, on_nodes = [], []
    for hv in data.get("hypervisors") or []:
        service_host = (hv.get("service") or {}).get("host") or hv.get("hypervisor_hostname")
        hv_vars = _hypervisor_vars(hv, services.get(service_host, {}), aggs_by_host.get(service_host, []))
        hv_vars["ansible_host"] = hv_vars["host_ip"]
        node = nodes_by_uuid.pop(hv.get("hypervisor_hostname"), None)
        if node is None:
            hv_vars["kind"] = "hypervisor"
            plain.append(hv_vars)
        else:
            hv_vars["kind"] = "baremetal_hypervisor"
            hv_vars["ironic"] = _node_vars(node, redacted)
            on_nodes.append(hv_vars)
    per_service_host = collections.Counter(h["service_host"] for h in plain)
    shared = set(host for host, count in per_service_host.items() if count > 1)

    hosts = {}
    # hypervisors first: their names come from the operator's nova.conf, node names may not
    for hv_vars in plain:
        if hv_vars["service_host"] in shared:
            _claim(hosts, prefix, hv_vars["hypervisor_hostname"], None, hv_vars, warnings)
        else:
            _claim(hosts, prefix, hv_vars["service_host"], hv_vars["hypervisor_hostname"], hv_vars, warnings)
    for hv_vars in on_nodes:
        node = hv_vars["ironic"]
        _claim(hosts, prefix, node.get("name") or node["uuid"], node["uuid"], hv_vars, warnings)
    for node in nodes_by_uuid.values():
        hvars = {"kind": "baremetal", "ironic": _node_vars(node, redacted)}
        _claim(hosts, prefix, node.get("name") or node["uuid"], node["uuid"], hvars, warnings)
    return dict((name, hvars) for name, hvars in hosts.items() if _wanted(hvars, filters))


def _claim(hosts, prefix, name, fallback, hvars, warnings):
    """Add a host under its safe name, else under its fallback name; never over another host."""
    wanted = prefix + safe_host_name(name)
    if wanted not in hosts:
        hosts[wanted] = hvars
        return
    other = _describe(wanted, hosts[wanted])
    if fallback is not None and fallback != name and prefix + safe_host_name(fallback) not in hosts:
        hosts[prefix + safe_host_name(fallback)] = hvars
        warnings.append("%s has the name of %s; it is host %r instead"
                        % (_describe(name, hvars), other, prefix + safe_host_name(fallback)))
    else:
        warnings.append("%s has the name of %s; it is left out" % (_describe(name, hvars), other))


def _describe(name, hvars):
    node = hvars.get("ironic")
    if hvars.get("kind") == "server":
        return "tenant server %r (id %s, project %s)" % (name, hvars.get("server_id"), hvars.get("project_id"))
    if node and hvars.get("kind") == "baremetal":
        return "Ironic node %r (UUID %s)" % (name, node.get("uuid"))
    if node:
        return "bare-metal hypervisor %r (node UUID %s)" % (name, node.get("uuid"))
    return "hypervisor %r (hypervisor hostname %s)" % (name, hvars.get("hypervisor_hostname"))


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


def compose_servers(data, infra_hosts, prefix="", warnings=None):
    """Tenant servers as hosts, each in the group of its hypervisor's host name
    (``servers_on_<host>``, found by hypervisor hostname, else by compute service host).

    A server is named ``server-<server UUID>`` (with the cloud's prefix): nothing a tenant
    chooses is part of the name, so a server can never be, nor change, an infrastructure host.
    Its display name is the var ``server_name``. A server whose display name equals the name
    of an infrastructure host (``infra_hosts``, from compose_hosts, or any hypervisor or node
    of the cloud) adds a warning naming both to ``warnings``.
    Returns (host name -> vars, host name -> group name).
    """
    warnings = [] if warnings is None else warnings
    by_hostname = dict((hv["hypervisor_hostname"], name) for name, hv in infra_hosts.items()
                       if hv.get("hypervisor_hostname"))
    service_hosts = collections.Counter(hv.get("service_host") for hv in infra_hosts.values())
    by_service_host = dict((hv["service_host"], name) for name, hv in infra_hosts.items()
                           if hv.get("service_host") and service_hosts[hv["service_host"]] == 1)
    infra_names = _infra_names(data, infra_hosts, prefix)
    hosts, groups = {}, {}
    for server in data.get("servers") or []:
        name = prefix + SERVER_HOST_PREFIX + safe_host_name(server["id"])
        compute_host = server.get("OS-EXT-SRV-ATTR:host")
        address = _first_address(server.get("addresses") or {})
        hvars = {
            "kind": "server",
            "server_id": server["id"],
            "server_name": server.get("name"),
            "server_status": server.get("status"),
            "project_id": server.get("tenant_id"),
            "compute_host": compute_host,
            "hypervisor_hostname": server.get("OS-EXT-SRV-ATTR:hypervisor_hostname"),
            "flavor": (server.get("flavor") or {}).get("original_name"),
            "ansible_host": address,
        }
        twin = infra_names.get(str(server.get("name") or "").casefold())
        if twin is not None:
            warnings.append("%s has the name of infrastructure host %r; it is host %r, and %r is unchanged"
                            % (_describe(server.get("name"), hvars), twin, name, twin))
        hosts[name] = hvars
        hypervisor = by_hostname.get(hvars["hypervisor_hostname"]) or by_service_host.get(compute_host)
        if hypervisor:
            groups[name] = "servers_on_" + hypervisor
    return hosts, groups


def _infra_names(data, infra_hosts, prefix):
    """Every name an infrastructure host of this cloud goes by (case-folded) -> its host name."""
    names = {}
    for hv in data.get("hypervisors") or []:
        for name in ((hv.get("service") or {}).get("host"), hv.get("hypervisor_hostname")):
            names[name] = name
    for node in data.get("nodes") or []:
        names[node.get("name")] = node.get("name") or node.get("uuid")
        names[node.get("uuid")] = node.get("name") or node.get("uuid")
    for host, hvars in infra_hosts.items():
        node = hvars.get("ironic") or {}
        own = [hvars.get("service_host")] if hvars.get("kind") == "hypervisor" else [node.get("name"), node.get("uuid")]
        for name in [host, host[len(prefix):], hvars.get("hypervisor_hostname")] + own:
            names[name] = host
    return dict((str(name).casefold(), host) for name, host in names.items() if name)


def _first_address(addresses):
    for entries in addresses.values():
        for entry in entries:
            if entry.get("version") == 4:
                return entry.get("addr")
    for entries in addresses.values():
        for entry in entries:
            return entry.get("addr")
    return None
