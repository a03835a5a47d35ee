# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""The pure logic of upgrade_facts: microversions, Nova service-version skew, the gates."""

from __future__ import annotations

# Service types reported by default, as the service-types authority names them.
DEFAULT_SERVICE_TYPES = (
    "identity", "compute", "placement", "image", "network", "block-storage",
    "baremetal", "orchestration", "dashboard",
)

# The Nova services upgraded before the computes; a compute newer than none of them is fine,
# a compute older than the newest of them is what the upgrade order still has to do.
CONTROL_BINARIES = ("nova-conductor", "nova-scheduler", "nova-osapi_compute")
COMPUTE_BINARY = "nova-compute"

SERVICES_QUERY = ("SELECT `host`, `binary`, `version`, `disabled`, `forced_down`, `last_seen_up`, `updated_at` "
                  "FROM `services` WHERE `deleted` = 0")


def parse_microversion(text):
    """``"2.104"`` -> ``(2, 104)``; None for None or an empty string; ValueError otherwise.

    Each part is a number of its own: 2.100 is newer than 2.95.
    """
    if text is None or text == "":
        return None
    if isinstance(text, (tuple, list)):
        return tuple(int(part) for part in text)
    parts = str(text).strip().split(".")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise ValueError("%r is not a microversion of the form MAJOR.MINOR" % (text,))
    return int(parts[0]), int(parts[1])


def format_version(version):
    """``(2, 104)`` -> ``"2.104"``; None stays None."""
    if not version:
        return None
    return ".".join(str(part) for part in version)


def microversion_at_least(have, want):
    """Whether microversion ``have`` is ``want`` or newer (both strings or tuples)."""
    have_v = parse_microversion(have)
    want_v = parse_microversion(want)
    return have_v is not None and have_v >= want_v


def microversion_problems(apis, required):
    """One sentence per requirement of ``required`` (service type -> microversion) not met.

    ``apis`` is the ``apis`` result (service type -> record with max_microversion and error);
    the keys of ``required`` must already be official service types.
    """
    problems = []
    for service_type in sorted(required):
        want = required[service_type]
        api = apis.get(service_type)
        if api is None:
            problems.append("%s needs microversion %s but the catalog has no %s service"
                            % (service_type, want, service_type))
        elif api.get("error"):
            problems.append("%s needs microversion %s but its version discovery failed: %s"
                            % (service_type, want, api["error"]))
        elif not api.get("max_microversion"):
            problems.append("%s needs microversion %s but its API (%s) has no microversions"
                            % (service_type, want, api.get("endpoint")))
        elif not microversion_at_least(api["max_microversion"], want):
            problems.append("%s needs microversion %s but the cloud's maximum is %s"
                            % (service_type, want, api["max_microversion"]))
    return problems


def _text(value):
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def service_row(row):
    """A plain dict of one row of the nova ``services`` table (SERVICES_QUERY order or a dict)."""
    if not isinstance(row, dict):
        row = dict(zip(("host", "binary", "version", "disabled", "forced_down", "last_seen_up", "updated_at"), row))
    return {
        "host": row["host"],
        "binary": row["binary"],
        "version": None if row.get("version") is None else int(row["version"]),
        "disabled": bool(row.get("disabled")),
        "forced_down": bool(row.get("forced_down")),
        "last_seen_up": _text(row.get("last_seen_up")),
        "updated_at": _text(row.get("updated_at")),
    }


def drop_down_services(rows, api_services):
    """The rows whose (binary, host) the compute API does not report as down.

    Services the API does not list (nova-osapi_compute sends no heartbeat) are kept.
    """
    down = set((s["binary"], s["host"]) for s in api_services if s.get("state") == "down")
    return [r for r in rows if (r["binary"], r["host"]) not in down]


def service_versions(rows):
    """Per binary the min and max service version and the version of each host."""
    versions = {}
    for row in rows:
        if row["version"] is None:
            continue
        entry = versions.setdefault(row["binary"], {"min": row["version"], "max": row["version"], "hosts": {}})
        entry["min"] = min(entry["min"], row["version"])
        entry["max"] = max(entry["max"], row["version"])
        entry["hosts"][row["host"]] = row["version"]
    return versions


def version_skew(versions):
    """What differs between the service versions (from service_versions).

    ``lagging`` lists every service below the newest version of all; ``compute_behind_control``
    is true when the oldest nova-compute is older than the newest control service.
    """
    if not versions:
        return {"has_skew": False, "min": None, "max": None, "binaries": [], "lagging": [],
                "compute_behind_control": False}
    overall_min = min(v["min"] for v in versions.values())
    overall_max = max(v["max"] for v in versions.values())
    lagging = []
    for binary in sorted(versions):
        for host in sorted(versions[binary]["hosts"]):
            version = versions[binary]["hosts"][host]
            if version < overall_max:
                lagging.append({"binary": binary, "host": host, "version": version})
    control = [versions[b]["max"] for b in CONTROL_BINARIES if b in versions]
    compute = versions.get(COMPUTE_BINARY)
    return {
        "has_skew": overall_min != overall_max,
        "min": overall_min,
        "max": overall_max,
        "binaries": sorted(b for b, v in versions.items() if v["min"] != v["max"]),
        "lagging": lagging,
        "compute_behind_control": bool(compute and control and compute["min"] < max(control)),
    }


def skew_message(skew):
    """The failure message of fail_on_skew, naming every lagging service."""
    lagging = ", ".join("%s on %s at %s" % (s["binary"], s["host"], s["version"]) for s in skew["lagging"])
    return ("Nova service versions differ (%s to %s): behind the newest are %s."
            % (skew["min"], skew["max"], lagging or "none"))
