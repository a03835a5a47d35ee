# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Nova compute services: exact lookup, plain-dict views and the state machine of an update."""

from __future__ import annotations

SERVICE_FIELDS = ("status", "disabled_reason", "forced_down")


def find_compute_service(compute, host, binary="nova-compute"):
    """The service of ``binary`` on ``host``, matched exactly (never a prefix), or None."""
    matches = [s for s in compute.services(host=host, binary=binary)
               if s.host == host and s.binary == binary]
    return matches[0] if matches else None


def service_to_dict(service, fallback=None):
    """A plain dict of an SDK compute Service; ``fallback`` fills what the API left out."""
    fallback = fallback or {}

    def pick(attr, key):
        value = getattr(service, attr, None)
        return fallback.get(key) if value is None else value

    return {
        "id": pick("id", "id"),
        "host": pick("host", "host"),
        "binary": pick("binary", "binary"),
        "availability_zone": pick("availability_zone", "availability_zone"),
        "status": pick("status", "status"),
        "state": pick("state", "state"),
        "disabled_reason": getattr(service, "disabled_reason", None),
        "forced_down": bool(pick("is_forced_down", "forced_down")),
        "updated_at": pick("updated_at", "updated_at"),
    }


def wanted_service_state(current, status=None, disabled_reason=None, forced_down=None):
    """The body of the service update that reaches what was asked; {} when nothing to do.

    ``current`` is a dict from service_to_dict. Nova accepts a disabled_reason only together
    with status=disabled, and clears the reason itself when a service is enabled.
    """
    changes = {}
    if status == "enabled" and current["status"] != "enabled":
        changes["status"] = "enabled"
    elif status == "disabled":
        reason_changes = disabled_reason is not None and disabled_reason != current["disabled_reason"]
        if current["status"] != "disabled" or reason_changes:
            changes["status"] = "disabled"
            changes["disabled_reason"] = disabled_reason if disabled_reason is not None \
                else current["disabled_reason"]
    if forced_down is not None and bool(forced_down) != bool(current["forced_down"]):
        changes["forced_down"] = bool(forced_down)
    return changes


def service_after(current, changes):
    """The service as it will be once ``changes`` (from wanted_service_state) are applied."""
    after = dict(current, **changes)
    if after["status"] == "enabled":
        after["disabled_reason"] = None
    return after
