#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: drift_report
short_description: Report what the cloud has forgotten
version_added: 0.1.0
description:
  - Reads the cloud and reports, with counts, what no longer belongs to anybody or is stuck;
    changes nothing.
  - C(orphans) - servers, ports, floating IPs, networks, routers, security groups, images, and
    volumes, snapshots and backups when Cinder is in the catalog, whose project no longer
    exists in Keystone (see M(osops.toolkit.project_cleanup) to remove them).
  - C(ghost_ports) - ports owned by a server (C(device_owner) C(compute:*)) that no longer
    exists, and ports bound to a host whose network agent is dead or missing.
  - C(stuck_servers) - servers in C(BUILD) or C(ERROR), or being deleted, for longer than
    O(stuck_after_minutes) (by their last update).
  - C(orphan_allocations) - placement allocations whose consumer is neither a server nor a
    migration in progress (what C(nova-manage placement audit) looks for).
  - C(disabled_hosts) - compute services disabled for longer than O(disabled_after_days). Nova
    does not record when a service was disabled; the date is read from the disabled reason
    (C(YYYY-MM-DD)), and a disabled service whose reason carries no date is reported with
    C(days=null).
  - Every listing is one paginated bulk call per resource type; placement allocations need one
    call per resource provider (there is no bulk call), made O(max_workers) at a time.
options:
  checks:
    description:
      - The sections of the report to compute.
    type: list
    elements: str
    choices: [orphans, ghost_ports, stuck_servers, orphan_allocations, disabled_hosts]
    default: [orphans, ghost_ports, stuck_servers, orphan_allocations, disabled_hosts]
  resource_types:
    description:
      - The resource types the C(orphans) check looks at. Block storage types are skipped when
        the cloud has no Cinder.
    type: list
    elements: str
    choices: [servers, floating_ips, ports, routers, networks, snapshots, backups, volumes, images, security_groups]
    default: [servers, floating_ips, ports, routers, networks, snapshots, backups, volumes, images, security_groups]
  stuck_after_minutes:
    description:
      - How long a server may stay in C(BUILD), C(ERROR) or deleting before it is reported.
    type: int
    default: 60
  disabled_after_days:
    description:
      - How many days a compute service may stay disabled before it is reported.
    type: int
    default: 7
  max_workers:
    description:
      - How many placement requests run at the same time.
    type: int
    default: 4
extends_documentation_fragment:
  - osops.toolkit.cloud
  - osops.toolkit.attributes
  - osops.toolkit.attributes.info_module
  - osops.toolkit.attributes.cloud_group
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: osops.toolkit.project_cleanup
"""

EXAMPLES = r"""
- name: What has the cloud forgotten?
  osops.toolkit.drift_report:
    cloud: prod
    stuck_after_minutes: 120
  register: drift

- name: Keep the report
  ansible.builtin.copy:
    content: "{{ drift.report | to_nice_yaml }}"
    dest: /var/tmp/drift-prod.yml
    mode: "0640"
"""

RETURN = r"""
report:
  description: The findings, per section.
  returned: always
  type: dict
  contains:
    orphans:
      description: Per resource type, the resources whose project is gone (C(id), C(name), C(project_id), C(created_at), ...).
      type: dict
      sample: {"servers": [{"id": "5c4f2d7e-8a5e-4a5b-9d0c-0e6f3b1a2c44", "name": "web-1",
                            "project_id": "8e0b2a3c44c94d5e9a7f0d5e3b2a1c0d"}], "ports": []}
    ghost_ports:
      description: Ports with the reason they are ghosts.
      type: list
      elements: dict
      sample: [{"id": "0b8c...", "device_owner": "compute:nova", "device_id": "9d1e...",
                "reason": "its server 9d1e... no longer exists"}]
    stuck_servers:
      description: Servers stuck, with C(minutes) since their last update.
      type: list
      elements: dict
    orphan_allocations:
      description: Allocations without a live consumer (C(consumer), C(provider), C(provider_name), C(resources)).
      type: list
      elements: dict
    disabled_hosts:
      description:
        - Long-disabled compute services (C(host), C(disabled_reason), C(since), C(days)), and
          C(disabled_by), who disabled each one - V(osops) (an osops.toolkit job, named in C(job);
          C(since) exact to the second), V(nova) (build failures), V(libvirt) (C(AUTO:)) or
          V(other) - as M(osops.toolkit.hypervisor_info) returns it.
        - Nova keeps no time of disabling; for reasons not written by osops.toolkit, C(since) is a
          C(YYYY-MM-DD) found in the reason, else null, and C(disabled_by.since) the service's
          C(updated_at), the time by which it was disabled at the latest.
      type: list
      elements: dict
counts:
  description: The number of findings per section (per type for orphans), and C(total).
  returned: always
  type: dict
  sample: {"orphans": {"servers": 1, "ports": 2, "total": 3}, "ghost_ports": 1, "stuck_servers": 0,
           "orphan_allocations": 0, "disabled_hosts": 1, "total": 5}
unavailable:
  description: Resource types that could not be looked at, with the reason (for example no Cinder).
  returned: always
  type: dict
  sample: {"volumes": "the cloud has no block-storage service"}
"""

import concurrent.futures
import datetime

from ansible_collections.osops.toolkit.plugins.module_utils._cloud import CloudModule
from ansible_collections.osops.toolkit.plugins.module_utils._cloud_resources import (
    list_projects,
    list_resources,
    list_servers,
)
from ansible_collections.osops.toolkit.plugins.module_utils._compute import service_from_json
from ansible_collections.osops.toolkit.plugins.module_utils._drift import (
    RESOURCE_TYPES,
    counts,
    disabled_hosts,
    ghost_ports,
    live_consumers,
    orphan_allocations,
    orphans,
    stuck_servers,
)
from ansible_collections.osops.toolkit.plugins.module_utils import _api as api

CHECKS = ["orphans", "ghost_ports", "stuck_servers", "orphan_allocations", "disabled_hosts"]


class DriftReportModule(CloudModule):
    argument_spec = dict(
        checks=dict(type="list", elements="str", choices=CHECKS, default=CHECKS),
        resource_types=dict(type="list", elements="str", choices=list(RESOURCE_TYPES), default=list(RESOURCE_TYPES)),
        stuck_after_minutes=dict(type="int", default=60),
        disabled_after_days=dict(type="int", default=7),
        max_workers=dict(type="int", default=4),
    )

    def run(self):
        p = self.params
        checks = set(p["checks"])
        now = datetime.datetime.now(datetime.timezone.utc)
        report, skipped = {}, {}
        servers = list_servers(self.conn.compute)
        server_ids = set(s["id"] for s in servers)

        if "orphans" in checks:
            kinds = [k for k in RESOURCE_TYPES if k in p["resource_types"]]
            listed = list_resources(self.conn, [k for k in kinds if k != "servers"])
            listed["servers"] = servers
            for kind in kinds:
                if kind not in listed:
                    skipped[kind] = "the cloud has no block-storage service"
            project_ids = [project["id"] for project in list_projects(self.conn)]
            found = orphans(dict((k, v) for k, v in listed.items() if k in kinds), project_ids)
            report["orphans"] = dict((k, found[k]) for k in kinds if k in found)
        if "ghost_ports" in checks:
            ports = list_resources(self.conn, ["ports"])["ports"]
            agents = [{"host": a.host, "is_alive": a.is_alive} for a in self.conn.network.agents()]
            report["ghost_ports"] = ghost_ports(ports, server_ids, agents)
        if "stuck_servers" in checks:
            report["stuck_servers"] = stuck_servers(servers, now, p["stuck_after_minutes"])
        if "orphan_allocations" in checks:
            report["orphan_allocations"] = self.orphan_allocations(server_ids)
        if "disabled_hosts" in checks:
            services = [service_from_json(s) for s in api.get_json(
                self.conn.compute, "/os-services", {"binary": "nova-compute"}, api.NOVA_SERVICES)["services"]]
            report["disabled_hosts"] = disabled_hosts(services, now, p["disabled_after_days"])

        self.results.update(report=report, counts=counts(report), unavailable=skipped)

    def orphan_allocations(self, server_ids):
        migrations = list(api.paged(self.conn.compute, "/os-migrations", "migrations", microversion=api.NOVA_MIGRATIONS))
        consumers = live_consumers(server_ids, migrations)
        providers = api.get_json(self.conn.placement, "/resource_providers",
                                 microversion=api.PLACEMENT)["resource_providers"]

        def allocations(provider):
            found = api.get_json(self.conn.placement, "/resource_providers/%s/allocations" % provider["uuid"],
                                 microversion=api.PLACEMENT, missing_ok=True)
            return provider["uuid"], (found or {}).get("allocations", {})
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, self.params["max_workers"])) as pool:
            by_provider = dict(pool.map(allocations, providers))
        return orphan_allocations(by_provider, providers, consumers)


def main():
    DriftReportModule()()


if __name__ == "__main__":
    main()
