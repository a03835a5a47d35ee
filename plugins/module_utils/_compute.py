# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""Nova compute services: exact lookup, plain-dict views, the state machine of an update, and
who disabled a service.

Every osops.toolkit action that disables a compute service writes a reason built by
owned_reason(): ``osops:<owner> <UTC time> <text>``, for example
``osops:drain_host 2026-12-02T13:10:05Z CHG-99 kernel upgrade``. The owner names the job
(playbook, role or module); the time says since when. An action enables a service again only
when reason_is_ours() says the reason is still the one that owner wrote.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.osops.toolkit.plugins.module_utils import _api as api

SERVICE_FIELDS = ("status", "disabled_reason", "forced_down")

REASON_PREFIX = "osops:"
# nova's services.disabled_reason column
REASON_MAX_LENGTH = 255
OWNER_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_OURS = re.compile(r"^osops:(?P<owner>[A-Za-z0-9][A-Za-z0-9_.-]{0,63}) "
                   r"(?P<since>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)(?: (?P<text>.*))?$", re.DOTALL)
# nova/virt/libvirt/driver.py: the driver disables a host whose libvirt connection is lost with
# this prefix, and enables it again itself once the connection is back
_LIBVIRT = re.compile(r"^AUTO: ")
# nova/compute/manager.py (consecutive_build_service_disable_threshold), older releases
_BUILD_FAILURES = re.compile(r"^Auto-disabled due to \d+ build failures")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def owned_reason(text, owner, now=None):
    """The disabled reason ``owner`` writes: ``osops:<owner> <UTC time> <text>``, cut to nova's 255."""
    if not OWNER_PATTERN.match(owner or ""):
        raise ValueError("owner %r must be letters, digits, '.', '_' or '-' (at most 64)" % (owner,))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    head = "%s%s %s" % (REASON_PREFIX, owner, now.astimezone(datetime.timezone.utc).strftime(_TIME_FORMAT))
    if not text:
        return head
    return (head + " " + text)[:REASON_MAX_LENGTH]


def parse_reason(reason):
    """{owner, since, text} of a reason owned_reason() wrote, or None for any other reason."""
    match = _OURS.match(reason or "")
    if not match:
        return None
    return {"owner": match.group("owner"), "since": match.group("since"), "text": match.group("text") or ""}


def reason_is_ours(reason, owner):
    """Whether ``reason`` is one that ``owner`` wrote (another osops job's reason is not ours)."""
    parsed = parse_reason(reason)
    return parsed is not None and parsed["owner"] == owner


def disabled_by(service):
    """Who disabled a service and since when, from its status, reason and updated_at; None if enabled.

    ``who``: V(osops) (an osops.toolkit job, named in ``job``), V(nova) (``Auto-disabled due to N
    build failures``), V(libvirt) (``AUTO:``, the driver enables the host again by itself) or V(other)
    (a person or another tool). ``since`` is exact only for our reasons (``since_source`` V(reason));
    Nova does not record when a service was disabled, so for the others it is the service's
    updated_at (``since_source`` V(updated_at)): the last write of the service row, the time by which
    it was disabled at the latest (for a service that is up, that is its last heartbeat).
    """
    if service.get("status") != "disabled":
        return None
    reason = service.get("disabled_reason") or ""
    ours = parse_reason(reason)
    if ours:
        return {"who": "osops", "job": ours["owner"], "since": ours["since"], "since_source": "reason",
                "text": ours["text"]}
    if _LIBVIRT.match(reason):
        who = "libvirt"
    elif _BUILD_FAILURES.match(reason):
        who = "nova"
    else:
        who = "other"
    updated = service.get("updated_at")
    return {"who": who, "job": None, "since": updated, "since_source": "updated_at" if updated else None,
            "text": reason}


def describe_disabled(service):
    """One phrase for messages: who disabled the service, with the reason."""
    by = disabled_by(service)
    if by is None:
        return "enabled"
    names = {"osops": "by the osops.toolkit job %s" % by["job"], "nova": "by Nova after build failures",
             "libvirt": "by Nova's libvirt driver", "other": "by someone else"}
    return "disabled %s (reason %r)" % (names[by["who"]], service.get("disabled_reason"))


def owned_service_change(current, status, text, owner, force=False, now=None):
    """(changes, refusal, note) for ``owner`` taking or giving back a service; see wanted_service_state.

    - disabled: an enabled service gets owned_reason(text); our own reason keeps its time (its text
      is updated); a service disabled for any other reason keeps that reason (``note`` says so),
      unless ``force``.
    - enabled: only a service disabled with our reason is enabled; any other reason is a ``refusal``
      (one sentence) and nothing changes, unless ``force`` (then ``note`` names what was cleared).
    - None: no status change.
    """
    changes, refusal, note = {}, None, None
    reason = current.get("disabled_reason")
    ours = current["status"] == "disabled" and reason_is_ours(reason, owner)
    foreign = current["status"] == "disabled" and not ours
    if status == "disabled":
        if current["status"] != "disabled" or (foreign and force):
            changes = {"status": "disabled", "disabled_reason": owned_reason(text, owner, now)}
            if foreign:
                note = "%s was %s; that reason is replaced because force=true." % (
                    current.get("host"), describe_disabled(current))
        elif ours:
            since = _parse_time(parse_reason(reason)["since"])
            if text is not None and owned_reason(text, owner, since) != reason:
                changes = {"status": "disabled", "disabled_reason": owned_reason(text, owner, since)}
        else:
            note = ("%s stays %s: that reason is kept, so enabling it later as %s will refuse until "
                    "whoever set it enables it." % (current.get("host"), describe_disabled(current), owner))
    elif status == "enabled" and current["status"] != "enabled":
        if ours or force:
            changes = {"status": "enabled"}
            if foreign:
                note = "%s was %s; it is enabled anyway because force=true." % (
                    current.get("host"), describe_disabled(current))
        else:
            refusal = ("%s stays disabled: it is %s, not by %s; enable it once that is resolved, or "
                       "run again with force=true to clear that reason."
                       % (current.get("host"), describe_disabled(current), owner))
    return changes, refusal, note


def heartbeat_age(service, now):
    """Seconds since the service's last heartbeat (its updated_at, UTC), or None when unknown."""
    updated = _parse_time(service.get("updated_at"))
    if updated is None:
        return None
    return (now - updated).total_seconds()


def _parse_time(value):
    """A datetime (UTC) from nova's and our time strings, or None."""
    if not value:
        return None
    if isinstance(value, datetime.datetime):
        parsed = value
    else:
        text = str(value).strip().replace(" ", "T")
        if text.endswith("Z"):
            text = text[:-1]
        elif "+" in text[10:]:
            text = text[:10] + text[10:].split("+", maxsplit=1)[0]
        if "." in text:
            text = text.split(".")[0]
        try:
            parsed = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed


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
    return api.put(compute, "/os-services/%s" % service.id, body, api.NOVA_SERVICES).json()["service"]


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
