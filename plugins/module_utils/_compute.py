# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""Nova compute services: exact lookup, plain-dict views and the state machine of an update."""

from __future__ import annotations

try:
    from openstack import exceptions as sdk_exceptions
except ImportError:  # reported by CloudModule._check_sdk
    sdk_exceptions = None

SERVICE_FIELDS = ("status", "disabled_reason", "forced_down")


def find_compute_service(compute, host, binary="nova-compute"):
    """The service of ``binary`` on ``host``, matched exactly (never a prefix), or None."""
    matches = [s for s in compute.services(host=host, binary=binary)
               if s.host == host and s.binary == binary]
    return matches[0] if matches else None


def update_compute_service(compute, service, body):
    """PUT exactly ``body`` (from wanted_service_state) at microversion 2.53; the service after.

    The SDK's update_service only sends fields that differ from what it holds, but Nova wants
    ``status`` in the same request as a new ``disabled_reason``.
    """
    response = compute.put("/os-services/%s" % service.id, json=body, microversion="2.53")
    sdk_exceptions.raise_from_response(response)
    return response.json()["service"]


def service_to_dict(service):
    """A plain dict of an SDK compute Service."""
    return {
        "id": service.id,
        "host": service.host,
        "binary": service.binary,
        "availability_zone": service.availability_zone,
        "status": service.status,
        "state": service.state,
        "disabled_reason": service.disabled_reason,
        "forced_down": bool(service.is_forced_down),
        "updated_at": service.updated_at,
    }


def service_from_json(body):
    """The same plain dict from the JSON of an os-services answer."""
    return {
        "id": body.get("id"),
        "host": body.get("host"),
        "binary": body.get("binary"),
        "availability_zone": body.get("zone"),
        "status": body.get("status"),
        "state": body.get("state"),
        "disabled_reason": body.get("disabled_reason"),
        "forced_down": bool(body.get("forced_down")),
        "updated_at": body.get("updated_at"),
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
            # nova rejects a null reason; leaving it out keeps the one the service has
            if disabled_reason is not None:
                changes["disabled_reason"] = disabled_reason
    if forced_down is not None and bool(forced_down) != bool(current["forced_down"]):
        changes["forced_down"] = bool(forced_down)
    return changes


def service_after(current, changes):
    """The service as it will be once ``changes`` (from wanted_service_state) are applied."""
    after = dict(current, **changes)
    # nova sets the reason with every status change: absent means none
    if "status" in changes and "disabled_reason" not in changes:
        after["disabled_reason"] = None
    return after
