# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""quota_karma's policy: which tier a project is in, and the quotas that go with it."""

from __future__ import annotations

import datetime

SERVICES = ("compute", "network", "volume")
TIER_TAG = "osops-karma:"
SINCE_TAG = "osops-karma-since:"
# the compute quotas whose usage counts towards "usage above X %"
USAGE_KEYS = ("cores", "ram", "instances")


def policy_errors(policy):
    """What is wrong with a policy, as sentences; [] when it is fine."""
    errors = []
    tiers = policy.get("tiers") if isinstance(policy, dict) else None
    if not isinstance(tiers, list) or not tiers:
        return ["the policy needs a non-empty list 'tiers'"]
    names = set()
    for index, tier in enumerate(tiers):
        where = "tier %d" % (index + 1)
        if not isinstance(tier, dict) or not tier.get("name"):
            errors.append("%s needs a name" % where)
            continue
        where = "tier %r" % tier["name"]
        if tier["name"] in names:
            errors.append("%s is defined twice" % where)
        names.add(tier["name"])
        for key in ("after_days", "min_usage_percent"):
            value = tier.get(key, 0)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                errors.append("%s: %s must be a number of 0 or more" % (where, key))
        quotas = tier.get("quotas") or {}
        if not isinstance(quotas, dict):
            errors.append("%s: quotas must be a mapping of service to limits" % where)
            continue
        for service, limits in quotas.items():
            if service not in SERVICES:
                errors.append("%s: unknown service %r (one of %s)" % (where, service, ", ".join(SERVICES)))
            elif not isinstance(limits, dict) or not all(
                    isinstance(v, int) and not isinstance(v, bool) and v >= -1 for v in limits.values()):
                errors.append("%s: the %s quotas must be whole numbers (-1: unlimited)" % (where, service))
    return errors


def read_tags(tags, tiers, today):
    """(tier index, since date) from a project's tags; a project without them starts at tier 0 today."""
    names = [t["name"] for t in tiers]
    index, since = 0, today
    for tag in tags or []:
        if tag.startswith(TIER_TAG) and tag[len(TIER_TAG):] in names:
            index = names.index(tag[len(TIER_TAG):])
        elif tag.startswith(SINCE_TAG):
            try:
                since = datetime.date.fromisoformat(tag[len(SINCE_TAG):])
            except ValueError:
                since = today
    return index, since


def write_tags(tags, tier_name, since):
    """The project's tags with the karma tags replaced."""
    kept = [t for t in tags or [] if not t.startswith((TIER_TAG, SINCE_TAG))]
    return sorted(kept + [TIER_TAG + tier_name, SINCE_TAG + since.isoformat()])


def usage_percent(compute_usage):
    """The highest used/limit share, in percent, over cores, RAM and instances (unlimited ones skipped)."""
    shares = [100.0 * u["in_use"] / u["limit"] for key, u in compute_usage.items()
              if key in USAGE_KEYS and u.get("limit", -1) > 0]
    return max(shares) if shares else 0.0


def decide(tiers, index, since, today, usage, abuse_tags):
    """(new tier index, new since date, reason) for one project.

    A project moves up one tier at a time: when it has spent the next tier's ``after_days`` in
    its current tier, uses at least its ``min_usage_percent``, and carries no abuse tag. An abuse
    tag restarts the clock.
    """
    days = (today - since).days
    if abuse_tags:
        return index, today, "abuse flag %s: stays at %s, clock restarted" % (
            ", ".join(sorted(abuse_tags)), tiers[index]["name"])
    if index + 1 >= len(tiers):
        return index, since, "top tier %s" % tiers[index]["name"]
    nxt = tiers[index + 1]
    need_days, need_usage = nxt.get("after_days", 0), nxt.get("min_usage_percent", 0)
    if days < need_days:
        return index, since, "%d of %d days at %s" % (days, need_days, tiers[index]["name"])
    if usage < need_usage:
        return index, since, "usage %.0f%% below the %s%% %s needs" % (usage, need_usage, nxt["name"])
    return index + 1, today, "promoted to %s after %d days at %.0f%% usage" % (nxt["name"], days, usage)


def target_quotas(tier, usage_by_service):
    """The tier's quotas, raised to what is in use where the tier is lower; and the raises made."""
    target, raised = {}, []
    for service, limits in (tier.get("quotas") or {}).items():
        target[service] = {}
        for key, limit in limits.items():
            used = (usage_by_service.get(service) or {}).get(key, {}).get("in_use", 0)
            if limit != -1 and used > limit:
                raised.append("%s %s: %d in use, kept at %d instead of %d" % (service, key, used, used, limit))
                limit = used
            target[service][key] = limit
    return target, raised


def quota_changes(current, target):
    """{service: {key: new}} for the limits that differ from ``current`` ({service: {key: limit}})."""
    changes = {}
    for service, limits in target.items():
        diff = dict((k, v) for k, v in limits.items() if (current.get(service) or {}).get(k) != v)
        if diff:
            changes[service] = diff
    return changes
