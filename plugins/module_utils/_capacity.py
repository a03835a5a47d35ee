# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""Capacity of a cloud from placement, and how many more of a flavor fit.

Plain functions over plain dicts (no cloud, no Ansible): what a flavor asks placement for,
how many times an amount fits into one inventory (min_unit, max_unit, step_size and the
allocation ratio respected), the totals per availability zone, aggregate and resource
class, the CSV rows for a CMDB and a self-contained HTML page with inline SVG charts.

Everything returned is sorted and free of timestamps, so the same cloud gives the same bytes.
"""

from __future__ import annotations

import csv
import html
import io
import json

# The usual classes first, the others (PCPU, CUSTOM_*, ...) after them by name.
_RC_ORDER = ("VCPU", "PCPU", "MEMORY_MB", "DISK_GB")
_LEVEL_FIELDS = ("total", "reserved", "capacity", "used", "free")

CSV_FIELDS = (
    "hypervisor", "host", "hypervisor_id", "availability_zone", "aggregates", "status", "state",
    "available", "resource_class", "total", "reserved", "allocation_ratio", "min_unit", "max_unit",
    "step_size", "capacity", "used", "free", "used_percent",
)


def rc_sort_key(rc):
    return (_RC_ORDER.index(rc), rc) if rc in _RC_ORDER else (len(_RC_ORDER), rc)


def sorted_rcs(rcs):
    return sorted(rcs, key=rc_sort_key)


def percent(used, capacity):
    """Used share of the capacity in percent, one decimal; 0.0 without capacity."""
    return round(100.0 * used / capacity, 1) if capacity > 0 else 0.0


# --------------------------------------------------------------------------- flavors
def _swap_gb(swap):
    swap = int(swap or 0)
    return (swap + 1023) // 1024


def flavor_request(flavor):
    """What nova asks placement for when it boots ``flavor`` (the JSON of GET /flavors/detail).

    Returns ``{"resources": {rc: amount}, "required_traits": [...], "forbidden_traits": [...]}``.
    As nova does: VCPU, MEMORY_MB and DISK_GB (root + ephemeral + swap rounded up to GiB),
    PCPU instead of VCPU for ``hw:cpu_policy=dedicated``, then ``resources[N]:RC=amount``
    extra specs override or add classes (0 removes one), ``trait[N]:NAME=required|forbidden``.
    Numbered groups are folded into one request (they may come from different providers).
    """
    specs = flavor.get("extra_specs") or {}
    vcpus = int(flavor.get("vcpus") or 0)
    disk = int(flavor.get("disk") or 0) + int(flavor.get("OS-FLV-EXT-DATA:ephemeral") or 0) + _swap_gb(flavor.get("swap"))
    resources = {"VCPU": vcpus, "MEMORY_MB": int(flavor.get("ram") or 0), "DISK_GB": disk}
    if specs.get("hw:cpu_policy") == "dedicated":
        resources["PCPU"] = resources.pop("VCPU")
    overrides, numbered = {}, {}
    required, forbidden = set(), set()
    for key, value in specs.items():
        prefix, _sep, name = key.partition(":")
        if not name:
            continue
        group = prefix.rstrip("0123456789")
        if group == "resources":
            try:
                amount = int(value)
            except (TypeError, ValueError):
                continue
            if prefix == "resources":
                overrides[name] = amount
            else:
                numbered[name] = numbered.get(name, 0) + amount
        elif group == "trait":
            if value == "required":
                required.add(name)
            elif value == "forbidden":
                forbidden.add(name)
    resources.update(overrides)
    for rc, amount in numbered.items():
        resources[rc] = resources.get(rc, 0) + amount
    return {
        "resources": dict((rc, n) for rc, n in resources.items() if n > 0),
        "required_traits": sorted(required),
        "forbidden_traits": sorted(forbidden),
    }


def select_flavors(flavors, names=None):
    """The flavors asked for by name or id (all of them, in that order), else every public one.

    Returns (selected, missing names).
    """
    if not names:
        public = [f for f in flavors if f.get("os-flavor-access:is_public", True)]
        return sorted(public, key=lambda f: (f.get("name") or "", f["id"])), []
    selected, missing = [], []
    for name in names:
        match = [f for f in flavors if f.get("name") == name] or [f for f in flavors if f["id"] == name]
        if match:
            if match[0] not in selected:
                selected.append(match[0])
        else:
            missing.append(name)
    return selected, missing


def trait_query(request, known):
    """The ``required`` query of GET /resource_providers for a flavor_request(), given the traits
    placement knows: '' when nothing is left to ask, None when a required trait is unknown (no
    provider can have it). Unknown forbidden traits are dropped (no provider has them)."""
    if any(name not in known for name in request["required_traits"]):
        return None
    wishes = request["required_traits"] + ["!" + name for name in request["forbidden_traits"] if name in known]
    return ",".join(wishes)


def hosts_from_nova(hypervisors, services, aggregates, providers):
    """The hosts build_report() takes, from Nova's JSON (os-hypervisors/detail at 2.53 or later,
    os-services, os-aggregates) and ``providers``: hypervisor id -> its provider views."""
    service_of = dict((s["host"], s) for s in services)
    aggs_of = {}
    for agg in aggregates:
        for host in agg.get("hosts") or []:
            aggs_of.setdefault(host, []).append(agg["name"])
    hosts = []
    for hv in hypervisors:
        host = (hv.get("service") or {}).get("host") or hv["hypervisor_hostname"]
        svc = service_of.get(host, {})
        hosts.append({
            "id": hv["id"],
            "name": hv["hypervisor_hostname"],
            "host": host,
            "availability_zone": svc.get("zone"),
            "aggregates": aggs_of.get(host, []),
            "status": svc.get("status", hv.get("status")),
            "state": svc.get("state", hv.get("state")),
            "forced_down": bool(svc.get("forced_down")),
            "disabled_reason": svc.get("disabled_reason"),
            "providers": providers.get(hv["id"], []),
        })
    return hosts


# --------------------------------------------------------------------------- fit arithmetic
def fit_count(inventory, amount):
    """How many more allocations of ``amount`` one provider's inventory of a class accepts.

    ``inventory`` is a resource_view() entry (capacity, used, min_unit, max_unit, step_size).
    Placement refuses an amount outside [min_unit, max_unit] or not a multiple of step_size
    whatever the free room, and accepts one while used + amount <= capacity.
    """
    if amount <= 0:
        return None
    if amount < inventory.get("min_unit", 1) or amount > inventory.get("max_unit", amount):
        return 0
    step = inventory.get("step_size", 1) or 1
    if amount % step:
        return 0
    free = inventory["capacity"] - inventory["used"]
    return max(0, free // amount)


def host_fit(providers, resources):
    """How many more instances asking ``resources`` fit on one host.

    ``providers``: the resource_view() of every provider of the host's tree (the compute node
    first). A class offered by several providers of the tree counts the fits on each of them
    (one allocation of a class comes from one provider). The host takes as many as its
    scarcest class allows; a class it does not offer at all means none.
    Returns (count, limiting resource classes).
    """
    if not resources:
        return 0, []
    per_rc = {}
    for rc, amount in resources.items():
        counts = [fit_count(view[rc], amount) for view in providers if rc in view]
        per_rc[rc] = sum(counts) if counts else 0
    count = min(per_rc.values())
    return count, sorted_rcs(rc for rc, n in per_rc.items() if n == count)


def merge_views(providers):
    """One view per resource class over the providers of a host's tree (totals summed;
    ratio and units kept when every provider has the same, else null)."""
    merged = {}
    for view in providers:
        for rc, inv in view.items():
            if rc not in merged:
                merged[rc] = dict(inv)
                continue
            entry = merged[rc]
            for key in _LEVEL_FIELDS:
                entry[key] += inv[key]
            for key in ("allocation_ratio", "min_unit", "max_unit", "step_size"):
                if entry.get(key) != inv.get(key):
                    entry[key] = None
    for entry in merged.values():
        entry["used_percent"] = percent(entry["used"], entry["capacity"])
    return dict((rc, merged[rc]) for rc in sorted_rcs(merged))


# --------------------------------------------------------------------------- the report
def is_available(host):
    """Whether nova would schedule to the host: service enabled, up and not forced down."""
    return host.get("status") == "enabled" and host.get("state") == "up" and not host.get("forced_down")


def _empty_level(name, flavor_names):
    return {"name": name, "hypervisors": [], "available": 0, "unavailable": 0, "resources": {},
            "flavors": dict((f, {"fits": 0, "fits_unavailable": 0}) for f in flavor_names)}


def _add_to_level(level, hv):
    level["hypervisors"].append(hv["name"])
    level["available" if hv["available"] else "unavailable"] += 1
    for rc, inv in hv["resources"].items():
        entry = level["resources"].setdefault(rc, dict((k, 0) for k in _LEVEL_FIELDS))
        for key in _LEVEL_FIELDS:
            entry[key] += inv[key]
        ratios = entry.setdefault("allocation_ratios", [])
        if inv.get("allocation_ratio") is not None and inv["allocation_ratio"] not in ratios:
            ratios.append(inv["allocation_ratio"])
            ratios.sort()
    for flavor, count in hv["flavors"].items():
        level["flavors"][flavor]["fits" if hv["available"] else "fits_unavailable"] += count


def _finish_level(level):
    level["hypervisors"].sort()
    level["resources"] = dict((rc, level["resources"][rc]) for rc in sorted_rcs(level["resources"]))
    for entry in level["resources"].values():
        entry["used_percent"] = percent(entry["used"], entry["capacity"])
    return level


def build_report(hosts, flavors, disabled_hosts="separate", label=None):
    """The capacity report.

    ``hosts``: one dict per hypervisor with id, name, host, availability_zone, aggregates
    (names), status, state, forced_down, disabled_reason, providers (the resource_view() of
    each provider of its tree, the compute node first; empty when placement has none) and
    traits (of the compute node's provider).
    ``flavors``: dicts with id, name, vcpus, ram, disk, swap, ephemeral, extra_specs (nova's
    JSON), plus ``allowed`` (a set of hypervisor ids whose traits suit the flavor, or None).
    ``disabled_hosts``: V(separate) counts the fits on hosts nova would not schedule to
    (disabled, down or forced down) apart; V(exclude) leaves those hosts out altogether.
    """
    requests = []
    for flavor in flavors:
        request = flavor_request(flavor)
        requests.append((flavor, request))
    flavor_names = [f["name"] for f, _r in requests]

    hypervisors = []
    for host in sorted(hosts, key=lambda h: h["name"]):
        available = is_available(host)
        if disabled_hosts == "exclude" and not available:
            continue
        fits, limits = {}, {}
        for flavor, request in requests:
            allowed = flavor.get("allowed")
            if allowed is not None and host["id"] not in allowed:
                count, limited = 0, ["traits"]
            else:
                count, limited = host_fit(host["providers"], request["resources"])
            fits[flavor["name"]] = count
            limits[flavor["name"]] = limited
        hypervisors.append({
            "id": host["id"],
            "name": host["name"],
            "host": host["host"],
            "availability_zone": host.get("availability_zone"),
            "aggregates": sorted(host.get("aggregates") or []),
            "status": host.get("status"),
            "state": host.get("state"),
            "forced_down": bool(host.get("forced_down")),
            "disabled_reason": host.get("disabled_reason"),
            "available": available,
            "providers": len(host["providers"]),
            "resources": merge_views(host["providers"]),
            "flavors": fits,
            "limited_by": limits,
        })

    cloud = _empty_level("cloud", flavor_names)
    zones, aggregates = {}, {}
    for hv in hypervisors:
        _add_to_level(cloud, hv)
        zone = hv["availability_zone"] or ""
        _add_to_level(zones.setdefault(zone, _empty_level(zone, flavor_names)), hv)
        for agg in hv["aggregates"]:
            _add_to_level(aggregates.setdefault(agg, _empty_level(agg, flavor_names)), hv)

    flavor_list = []
    for flavor, request in requests:
        flavor_list.append({
            "id": flavor["id"],
            "name": flavor["name"],
            "public": bool(flavor.get("os-flavor-access:is_public", True)),
            "resources": dict((rc, request["resources"][rc]) for rc in sorted_rcs(request["resources"])),
            "required_traits": request["required_traits"],
            "forbidden_traits": request["forbidden_traits"],
            "fits": cloud["flavors"][flavor["name"]]["fits"],
            "fits_unavailable": cloud["flavors"][flavor["name"]]["fits_unavailable"],
        })

    summary = _finish_level(cloud)
    summary.pop("name")
    report = {
        "label": label,
        "disabled_hosts": disabled_hosts,
        "summary": summary,
        "availability_zones": [_finish_level(zones[k]) for k in sorted(zones)],
        "aggregates": [_finish_level(aggregates[k]) for k in sorted(aggregates)],
        "flavors": flavor_list,
        "hypervisors": hypervisors,
    }
    return report


# --------------------------------------------------------------------------- files
def to_json(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def csv_rows(report):
    """One row per hypervisor and resource class (see CSV_FIELDS), for a CMDB."""
    rows = []
    for hv in report["hypervisors"]:
        for rc, inv in hv["resources"].items():
            rows.append({
                "hypervisor": hv["name"],
                "host": hv["host"],
                "hypervisor_id": hv["id"],
                "availability_zone": hv["availability_zone"] or "",
                "aggregates": ";".join(hv["aggregates"]),
                "status": hv["status"] or "",
                "state": hv["state"] or "",
                "available": "yes" if hv["available"] else "no",
                "resource_class": rc,
                "total": inv["total"],
                "reserved": inv["reserved"],
                "allocation_ratio": "" if inv.get("allocation_ratio") is None else inv["allocation_ratio"],
                "min_unit": "" if inv.get("min_unit") is None else inv["min_unit"],
                "max_unit": "" if inv.get("max_unit") is None else inv["max_unit"],
                "step_size": "" if inv.get("step_size") is None else inv["step_size"],
                "capacity": inv["capacity"],
                "used": inv["used"],
                "free": inv["free"],
                "used_percent": inv["used_percent"],
            })
    return rows


def to_csv(report):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(report):
        writer.writerow(row)
    return buf.getvalue()


# --------------------------------------------------------------------------- HTML and SVG
_E = html.escape
_USED, _FREE, _HIGH, _FULL, _MUTED, _FIT, _FIT_OFF = (
    "#3b6ea5", "#dfe8f1", "#e0a030", "#c0392b", "#9aa0a6", "#2e8b57", "#b8c4bc")
_BAR_W = 520
_LABEL_W = 230
_ROW_H = 26


def human(number):
    """1234567 -> '1,234,567'; floats keep one decimal."""
    if isinstance(number, float) and not number.is_integer():
        return "{:,.1f}".format(number)
    return "{:,}".format(int(number))


def _used_colour(share):
    return _FULL if share >= 90 else _HIGH if share >= 75 else _USED


def svg_usage_chart(title, rows):
    """Horizontal bars, one per row: used against capacity, with the numbers written out.

    ``rows``: (label, used, capacity, muted) tuples; a muted row (unavailable host) is grey.
    """
    height = 34 + _ROW_H * max(1, len(rows))
    width = _LABEL_W + _BAR_W + 250
    out = ['<svg xmlns="http://www.w3.org/2000/svg" class="chart usage" role="img" width="%d" height="%d" viewBox="0 0 %d %d">'
           % (width, height, width, height),
           "<title>%s</title>" % _E(title),
           '<text x="0" y="16" class="chart-title">%s</text>' % _E(title)]
    for index, (label, used, capacity, muted) in enumerate(rows):
        y = 26 + index * _ROW_H
        share = percent(used, capacity)
        used_w = 0 if capacity <= 0 else min(_BAR_W, int(round(_BAR_W * max(0, used) / float(capacity))))
        if used > 0 and used_w == 0:
            used_w = 1   # a little usage still shows
        colour = _MUTED if muted else _used_colour(share)
        tip = "%s: %s used of %s (%s %%), %s free" % (label, human(used), human(capacity), share, human(capacity - used))
        out.append('<g class="bar"><title>%s</title>' % _E(tip))
        out.append('<text x="%d" y="%d" text-anchor="end" class="label">%s</text>' % (_LABEL_W - 8, y + 14, _E(label)))
        out.append('<rect x="%d" y="%d" width="%d" height="18" fill="%s"/>' % (_LABEL_W, y, _BAR_W, _FREE))
        out.append('<rect x="%d" y="%d" width="%d" height="18" fill="%s"/>' % (_LABEL_W, y, used_w, colour))
        out.append('<text x="%d" y="%d" class="value">%s / %s (%s %%)</text></g>'
                   % (_LABEL_W + _BAR_W + 8, y + 14, human(used), human(capacity), share))
    out.append("</svg>")
    return "\n".join(out)


def svg_fit_chart(title, rows):
    """Horizontal bars of counts: how many more of each flavor fit.

    ``rows``: (label, fits on available hosts, fits on unavailable hosts) tuples.
    """
    height = 34 + _ROW_H * max(1, len(rows))
    width = _LABEL_W + _BAR_W + 250
    top = max([a + u for _l, a, u in rows] + [1])
    scale = _BAR_W / float(top)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" class="chart fits" role="img" width="%d" height="%d" viewBox="0 0 %d %d">'
           % (width, height, width, height),
           "<title>%s</title>" % _E(title),
           '<text x="0" y="16" class="chart-title">%s</text>' % _E(title)]
    for index, (label, fits, unavailable) in enumerate(rows):
        y = 26 + index * _ROW_H
        fit_w = int(round(fits * scale))
        off_w = int(round(unavailable * scale))
        tip = "%s: %s more fit on available hosts, %s more on unavailable ones" % (label, human(fits), human(unavailable))
        out.append('<g class="bar"><title>%s</title>' % _E(tip))
        out.append('<text x="%d" y="%d" text-anchor="end" class="label">%s</text>' % (_LABEL_W - 8, y + 14, _E(label)))
        out.append('<rect x="%d" y="%d" width="%d" height="18" fill="%s"/>' % (_LABEL_W, y, _BAR_W, "#f2f4f3"))
        out.append('<rect x="%d" y="%d" width="%d" height="18" fill="%s"/>' % (_LABEL_W, y, fit_w, _FIT))
        out.append('<rect x="%d" y="%d" width="%d" height="18" fill="%s"/>' % (_LABEL_W + fit_w, y, off_w, _FIT_OFF))
        extra = " (+%s unavailable)" % human(unavailable) if unavailable else ""
        out.append('<text x="%d" y="%d" class="value">%s%s</text></g>' % (_LABEL_W + _BAR_W + 8, y + 14, human(fits), extra))
    out.append("</svg>")
    return "\n".join(out)


_CSS = """
body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px 0; } h2 { font-size: 17px; margin: 28px 0 8px 0; border-bottom: 1px solid #ccc; }
p.meta { color: #555; margin: 0 0 16px 0; }
table { border-collapse: collapse; margin: 8px 0 16px 0; font-size: 13px; }
th, td { border: 1px solid #d0d0d0; padding: 3px 8px; text-align: right; } td { white-space: nowrap; }
th { background: #eef2f6; } td.name, th.name { text-align: left; }
tr.unavailable td { color: #888; }
svg.chart { display: block; margin: 6px 0 14px 0; font-size: 12px; }
svg .chart-title { font-weight: bold; font-size: 13px; }
.legend span { display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 12px; vertical-align: middle; }
"""


def _resource_table(levels, rcs):
    head = "".join("<th>%s capacity</th><th>used</th><th>free</th><th>%%</th>" % _E(rc) for rc in rcs)
    lines = ['<table><tr><th class="name">name</th><th>hypervisors</th><th>unavailable</th>%s</tr>' % head]
    for level in levels:
        cells = []
        for rc in rcs:
            inv = level["resources"].get(rc)
            if inv is None:
                cells.append("<td></td><td></td><td></td><td></td>")
            else:
                cells.append("<td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                             % (human(inv["capacity"]), human(inv["used"]), human(inv["free"]), inv["used_percent"]))
        lines.append('<tr><td class="name">%s</td><td>%d</td><td>%d</td>%s</tr>'
                     % (_E(level["name"] or "(none)"), len(level["hypervisors"]), level["unavailable"], "".join(cells)))
    lines.append("</table>")
    return "\n".join(lines)


def to_html(report, title="Capacity report"):
    """A self-contained page: no scripts, no external assets, charts as inline SVG."""
    summary = report["summary"]
    rcs = list(summary["resources"])
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             "<title>%s</title>" % _E(title), "<style>%s</style></head><body>" % _CSS,
             "<h1>%s</h1>" % _E(title)]
    meta = "%d hypervisors (%d available, %d unavailable: disabled, down or forced down)" % (
        len(summary["hypervisors"]), summary["available"], summary["unavailable"])
    if report["disabled_hosts"] == "exclude":
        meta += "; unavailable hosts excluded"
    if report.get("label"):
        meta = "%s. %s" % (_E(report["label"]), meta)
    parts.append('<p class="meta">%s</p>' % meta)
    legend = (("used", _USED), ("used, over 75 %", _HIGH), ("used, over 90 %", _FULL), ("free", _FREE),
              ("used on an unavailable host", _MUTED), ("more fit", _FIT), ("more fit on unavailable hosts", _FIT_OFF))
    swatches = ['<span style="background:%s"></span>%s' % (colour, _E(text)) for text, colour in legend]
    parts.append('<p class="legend">%s</p>' % "".join(swatches))

    parts.append("<h2>Resource classes</h2>")
    parts.append(svg_usage_chart("Whole cloud: used of capacity per resource class",
                                 [(rc, inv["used"], inv["capacity"], False) for rc, inv in summary["resources"].items()]))

    if report["flavors"]:
        parts.append("<h2>How many more instances fit</h2>")
        parts.append(svg_fit_chart("More instances of each flavor that fit (green: available hosts, grey: unavailable)",
                                   [(f["name"], f["fits"], f["fits_unavailable"]) for f in report["flavors"]]))
        lines = ['<table><tr><th class="name">flavor</th><th class="name">asks placement for</th>'
                 '<th>fit (available hosts)</th><th>fit (unavailable hosts)</th></tr>']
        for flavor in report["flavors"]:
            asks = ", ".join("%s %s" % (rc, human(n)) for rc, n in flavor["resources"].items())
            if flavor["required_traits"] or flavor["forbidden_traits"]:
                asks += "; traits " + ", ".join(flavor["required_traits"] + ["!" + t for t in flavor["forbidden_traits"]])
            lines.append('<tr><td class="name">%s</td><td class="name">%s</td><td>%s</td><td>%s</td></tr>'
                         % (_E(flavor["name"]), _E(asks), human(flavor["fits"]), human(flavor["fits_unavailable"])))
        lines.append("</table>")
        parts.append("\n".join(lines))

    for heading, levels in (("Availability zones", report["availability_zones"]), ("Aggregates", report["aggregates"])):
        if not levels:
            continue
        parts.append("<h2>%s</h2>" % heading)
        for rc in rcs:
            rows = [(level["name"] or "(none)", level["resources"][rc]["used"], level["resources"][rc]["capacity"], False)
                    for level in levels if rc in level["resources"]]
            parts.append(svg_usage_chart("%s: %s used of capacity" % (heading, rc), rows))
        parts.append(_resource_table(levels, rcs))

    parts.append("<h2>Hypervisors</h2>")
    for rc in rcs:
        rows = [(hv["name"], hv["resources"][rc]["used"], hv["resources"][rc]["capacity"], not hv["available"])
                for hv in report["hypervisors"] if rc in hv["resources"]]
        parts.append(svg_usage_chart("Hypervisors: %s used of capacity" % rc, rows))
    lines = ['<table class="hypervisors"><tr><th class="name">hypervisor</th><th class="name">zone</th>'
             '<th class="name">aggregates</th><th class="name">service</th>%s</tr>'
             % "".join("<th>%s used / capacity (ratio)</th>" % _E(rc) for rc in rcs)]
    for hv in report["hypervisors"]:
        cells = []
        for rc in rcs:
            inv = hv["resources"].get(rc)
            cells.append("<td></td>" if inv is None else "<td>%s / %s (%s)</td>" % (
                human(inv["used"]), human(inv["capacity"]), "-" if inv["allocation_ratio"] is None else inv["allocation_ratio"]))
        service = "%s, %s%s" % (hv["status"], hv["state"], ", forced down" if hv["forced_down"] else "")
        if hv["disabled_reason"]:
            service += ": " + hv["disabled_reason"]
        lines.append('<tr class="%s"><td class="name">%s</td><td class="name">%s</td><td class="name">%s</td><td class="name">%s</td>%s</tr>'
                     % ("available" if hv["available"] else "unavailable", _E(hv["name"]), _E(hv["availability_zone"] or ""),
                        _E(", ".join(hv["aggregates"])), _E(service), "".join(cells)))
    lines.append("</table>")
    parts.append("\n".join(lines))
    if report["flavors"]:
        lines = ['<table class="fits"><tr><th class="name">more fit on</th>%s</tr>'
                 % "".join("<th>%s</th>" % _E(f["name"]) for f in report["flavors"])]
        for hv in report["hypervisors"]:
            cells = "".join('<td title="limited by %s">%s</td>' % (_E(", ".join(hv["limited_by"][f["name"]])), human(hv["flavors"][f["name"]]))
                            for f in report["flavors"])
            lines.append('<tr class="%s"><td class="name">%s</td>%s</tr>'
                         % ("available" if hv["available"] else "unavailable", _E(hv["name"]), cells))
        lines.append("</table>")
        parts.append("\n".join(lines))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render(report, fmt, title="Capacity report"):
    """The text of one output file: V(json), V(csv) or V(html)."""
    if fmt == "json":
        return to_json(report)
    if fmt == "csv":
        return to_csv(report)
    return to_html(report, title=title)
