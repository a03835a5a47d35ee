#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: quota_karma
short_description: Grow project quotas by tiers - start small, grow with trust
version_added: 0.1.0
description:
  - A policy of tiers, each with compute, network and volume quotas. A project without karma
    starts in the first tier. It moves up one tier when it has spent the next tier's
    C(after_days) in its current tier, uses at least the next tier's C(min_usage_percent) of
    its compute quotas (the highest share of cores, RAM and instances), and carries none of the
    O(abuse_tags); an abuse tag keeps it where it is and restarts its clock.
  - Keystone does not record when a project was created, so the tier and the day the project
    entered it are kept as project tags C(osops-karma:<tier>) and C(osops-karma-since:<date>).
    Set the since tag yourself to count earlier days.
  - Applies the tier's quotas, but never below what the project uses (the limit stays at the
    usage, and the result says so).
  - Volume quotas are applied only when Cinder is in the catalog.
options:
  policy:
    description:
      - The tiers, lowest first. Each has C(name), C(after_days) (days in the tier below before
        moving up; the first tier's is ignored), C(min_usage_percent), and C(quotas) - a mapping
        of V(compute), V(network) and V(volume) to limits as the services name them (for example
        C(cores), C(ram), C(instances); C(port), C(floatingip), C(network); C(gigabytes),
        C(volumes)); -1 means unlimited.
    type: dict
    required: true
  projects:
    description:
      - Names or ids of the projects to grade. When not set, every project except O(exclude).
    type: list
    elements: str
  exclude:
    description:
      - Project names never graded when O(projects) is not set.
    type: list
    elements: str
    default: [admin, service]
  abuse_tags:
    description:
      - Project tags that stop a project from moving up.
    type: list
    elements: str
    default: [abuse]
extends_documentation_fragment:
  - osops.toolkit.cloud
  - osops.toolkit.attributes
  - osops.toolkit.attributes.cloud_group
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
    details: On the same day and with the same usage, a second run changes nothing.
author:
  - osops.toolkit maintainers (@osops)
"""

EXAMPLES = r"""
- name: Grade every project
  osops.toolkit.quota_karma:
    cloud: prod
    policy:
      tiers:
        - name: seed
          quotas:
            compute: {cores: 4, ram: 8192, instances: 2}
            network: {port: 10, floatingip: 1}
        - name: sprout
          after_days: 30
          min_usage_percent: 50
          quotas:
            compute: {cores: 16, ram: 32768, instances: 8}
            network: {port: 40, floatingip: 3}
        - name: tree
          after_days: 90
          min_usage_percent: 60
          quotas:
            compute: {cores: 64, ram: 131072, instances: 32}
            network: {port: 150, floatingip: 10}
"""

RETURN = r"""
projects:
  description: One entry per graded project.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Project id.
      type: str
    name:
      description: Project name.
      type: str
    tier_before:
      description: Tier before this run.
      type: str
      sample: seed
    tier:
      description: Tier after this run.
      type: str
      sample: sprout
    reason:
      description: Why it stays or moves.
      type: str
      sample: promoted to sprout after 41 days at 62% usage
    usage_percent:
      description: The highest used/limit share of cores, RAM and instances.
      type: float
    changes:
      description: The quotas set, per service.
      type: dict
      sample: {"compute": {"cores": 16, "instances": 8}}
    raised:
      description: Quotas kept at the usage because the tier's limit is lower.
      type: list
      elements: str
diff:
  description: Tiers and quotas before and after, per project.
  returned: in diff mode, when changed
  type: dict
"""

import datetime

from ansible_collections.osops.toolkit.plugins.module_utils import _api as api
from ansible_collections.osops.toolkit.plugins.module_utils._cloud import CloudModule
from ansible_collections.osops.toolkit.plugins.module_utils._cloud_resources import has_block_storage
from ansible_collections.osops.toolkit.plugins.module_utils._karma import (
    decide,
    policy_errors,
    quota_changes,
    read_tags,
    target_quotas,
    usage_percent,
    write_tags,
)


class QuotaKarmaModule(CloudModule):
    argument_spec = dict(
        policy=dict(type="dict", required=True),
        projects=dict(type="list", elements="str"),
        exclude=dict(type="list", elements="str", default=["admin", "service"]),
        abuse_tags=dict(type="list", elements="str", default=["abuse"]),
    )

    def run(self):
        p = self.params
        errors = policy_errors(p["policy"])
        if errors:
            self.fail("The quota_karma policy is not valid: %s." % "; ".join(errors))
        tiers = p["policy"]["tiers"]
        today = datetime.datetime.now(datetime.timezone.utc).date()
        services = [s for s in ("compute", "network", "volume") if s != "volume" or has_block_storage(self.conn)]
        graded, before, after = [], {}, {}
        for project in self.projects():
            entry, old, new = self.grade(project, tiers, today, services)
            graded.append(entry)
            if old != new:
                before[project.name], after[project.name] = old, new
        self.results["projects"] = graded
        self.results["changed"] = bool(after)
        if after and self.ansible._diff:
            self.results["diff"] = {"before": before, "after": after}

    def projects(self):
        identity = self.conn.identity
        if self.params["projects"]:
            found = []
            for wanted in self.params["projects"]:
                project = identity.find_project(wanted, ignore_missing=True)
                if project is None:
                    self.fail("Project %r does not exist." % wanted)
                found.append(project)
            return found
        return [pr for pr in identity.projects() if pr.name not in self.params["exclude"]]

    def grade(self, project, tiers, today, services):
        index, since = read_tags(project.tags, tiers, today)
        usage = self.usage(project.id, services)
        abuse = set(project.tags or []) & set(self.params["abuse_tags"])
        share = usage_percent(usage["compute"])
        new_index, new_since, reason = decide(tiers, index, since, today, share, abuse)
        target, raised = target_quotas(tiers[new_index], usage)
        target = dict((s, limits) for s, limits in target.items() if s in services)
        current = dict((s, dict((k, v["limit"]) for k, v in usage[s].items())) for s in services)
        changes = quota_changes(current, target)
        tags = write_tags(project.tags, tiers[new_index]["name"], new_since)
        if not self.check_mode:
            for service, limits in changes.items():
                self.set_quotas(service, project.id, limits)
            if tags != sorted(project.tags or []):
                self.conn.identity.update_project(project, tags=tags)
        entry = {"id": project.id, "name": project.name, "tier_before": tiers[index]["name"],
                 "tier": tiers[new_index]["name"], "reason": reason, "usage_percent": round(share, 1),
                 "changes": changes, "raised": raised}
        old = {"tags": sorted(project.tags or []), "quotas": dict((s, dict((k, current[s].get(k)) for k in c))
                                                                  for s, c in changes.items())}
        new = {"tags": tags, "quotas": changes}
        return entry, old, new

    def usage(self, project_id, services):
        """{service: {key: {"limit": n, "in_use": n}}} for the services asked."""
        found = {}
        compute = api.get_json(self.conn.compute, "/os-quota-sets/%s/detail" % project_id)["quota_set"]
        found["compute"] = dict((k, {"limit": v["limit"], "in_use": v["in_use"]})
                                for k, v in compute.items() if isinstance(v, dict))
        network = api.get_json(self.conn.network, "/quotas/%s/details.json" % project_id)["quota"]
        found["network"] = dict((k, {"limit": v["limit"], "in_use": v["used"]}) for k, v in network.items())
        if "volume" in services:
            volume = api.get_json(self.conn.block_storage, "/os-quota-sets/%s" % project_id,
                                  {"usage": "true"})["quota_set"]
            found["volume"] = dict((k, {"limit": v["limit"], "in_use": v["in_use"]})
                                   for k, v in volume.items() if isinstance(v, dict))
        return found

    def set_quotas(self, service, project_id, limits):
        if service == "compute":
            api.put(self.conn.compute, "/os-quota-sets/%s" % project_id, {"quota_set": limits})
        elif service == "network":
            api.put(self.conn.network, "/quotas/%s.json" % project_id, {"quota": limits})
        else:
            api.put(self.conn.block_storage, "/os-quota-sets/%s" % project_id, {"quota_set": limits})


def main():
    QuotaKarmaModule()()


if __name__ == "__main__":
    main()
