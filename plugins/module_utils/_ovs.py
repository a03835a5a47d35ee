# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""Open vSwitch as ovs_info reads it: parsing of ovs-vsctl / ovs-ofctl / ovs-appctl output."""

from __future__ import annotations

import json
import re

_VERSION = re.compile(r"\(Open vSwitch\)\s+(\S+)")


def parse_version(text):
    """``ovs-vsctl (Open vSwitch) 3.1.0`` (first line of --version or appctl version) -> ``3.1.0``."""
    match = _VERSION.search(text or "")
    return match.group(1) if match else None


def parse_vsctl_json(text):
    """``ovs-vsctl --format=json list TABLE`` -> a list of dicts, OVSDB atoms unwrapped."""
    data = json.loads(text)
    return [dict(zip(data["headings"], (_atom(value) for value in row))) for row in data["data"]]


def _atom(value):
    if isinstance(value, list) and len(value) == 2 and value[0] in ("set", "map", "uuid", "named-uuid"):
        kind, inner = value
        if kind == "set":
            return [_atom(v) for v in inner]
        if kind == "map":
            return dict((_atom(k), _atom(v)) for k, v in inner)
        return inner
    return value


def _one(value):
    """An optional OVSDB column: an empty set is None, a one-element set its element."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def parse_flows(text):
    """``ovs-ofctl dump-flows --no-stats --no-names`` -> the flows, one normalized string each, sorted."""
    flows = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith(("NXST_FLOW", "OFPST_FLOW")):
            continue
        line = re.sub(r"\b(idle_age|hard_age|duration|n_packets|n_bytes)=[^,\s]*,?\s*", "", line)
        flows.append(" ".join(line.split()))
    return sorted(flows)


def parse_datapaths(text):
    """``ovs-appctl dpif/show`` -> the datapaths, as ``type@name``."""
    return sorted(set(re.findall(r"^(\S+@\S+):", text or "", re.MULTILINE)))


def highest_protocol(protocols):
    """The OpenFlow version to talk to a bridge with (its highest enabled one), or None for the default."""
    versions = [p for p in (protocols or []) if re.match(r"^OpenFlow1\d$", p)]
    return sorted(versions, key=lambda p: int(p[len("OpenFlow"):]))[-1] if versions else None


def assemble_bridges(bridges, ports, interfaces):
    """Bridges with their ports and interfaces (rows of the three tables) keyed by name."""
    port_by_uuid = dict((p["_uuid"], p) for p in ports)
    iface_by_uuid = dict((i["_uuid"], i) for i in interfaces)
    result = {}
    for bridge in bridges:
        entry = {
            "datapath_type": bridge.get("datapath_type") or "system",
            "protocols": bridge.get("protocols") or [],
            "ports": [],
            "interfaces": {},
        }
        for port_uuid in _as_list(bridge.get("ports")):
            port = port_by_uuid.get(port_uuid)
            if port is None:
                continue
            entry["ports"].append(port["name"])
            for iface_uuid in _as_list(port.get("interfaces")):
                iface = iface_by_uuid.get(iface_uuid)
                if iface is None:
                    continue
                ofport = _one(iface.get("ofport"))
                entry["interfaces"][iface["name"]] = {
                    "type": iface.get("type") or "",
                    "ofport": ofport if ofport is not None else -1,
                    "error": _one(iface.get("error")),
                }
        entry["ports"].sort()
        result[bridge["name"]] = entry
    return result


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def interface_problems(bridges):
    """One sentence per interface without a valid OpenFlow port number."""
    problems = []
    for bridge_name in sorted(bridges):
        for name, iface in sorted(bridges[bridge_name]["interfaces"].items()):
            if not isinstance(iface["ofport"], int) or iface["ofport"] < 1:
                problems.append("%s on %s has no ofport (%s)%s" % (
                    name, bridge_name, iface["ofport"], ": %s" % iface["error"] if iface["error"] else ""))
    return problems
