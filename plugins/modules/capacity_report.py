#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: capacity_report
short_description: Capacity, usage and room for more instances, per AZ, aggregate, resource class and hypervisor
version_added: 0.1.0
description:
  - Reads placement's resource providers with their inventories (total, reserved, allocation
    ratio, min_unit, max_unit, step_size) and usages, joins them with Nova's hypervisors,
    compute services, availability zones, host aggregates and flavors, and reports capacity
    (C(total - reserved) times C(allocation_ratio), as placement computes it), used and free
    per availability zone, per aggregate, per resource class and per hypervisor.
  - Counts how many more instances of each flavor fit - per host as placement would allocate
    them (every resource class of the flavor must fit on the host, amounts outside
    C(min_unit)..C(max_unit) or not a multiple of C(step_size) never fit, required and
    forbidden traits respected), summed over the hosts.
  - Hosts nova does not schedule to (service disabled, down or forced down) are counted apart
    (O(disabled_hosts=separate)) or left out (O(disabled_hosts=exclude)).
  - Optionally writes the report as JSON, as CSV for a CMDB (one row per hypervisor and
    resource class) and as a self-contained HTML page with charts (inline SVG, no script, no
    external asset) on the host that runs the module. A file is only rewritten when its
    content changes; nothing in it changes from run to run unless the cloud does (no
    timestamp unless given as O(label)).
  - API calls - four Nova listings (paginated), one placement provider listing, two placement
    calls per flavor that requires or forbids traits, and two calls per compute node provider
    (its inventories and its usages; placement has no bulk call for either), made
    O(placement_concurrency) at a time.
options:
  flavors:
    description:
      - Names (or ids) of the flavors to count. Private flavors may be named.
      - Default is every public flavor.
    type: list
    elements: str
  disabled_hosts:
    description:
      - V(separate) reports the hosts nova does not schedule to (compute service disabled,
        down or forced down) with the others, but counts the instances that would fit on them
        apart (C(fits_unavailable)); their capacity and usage are in every total.
      - V(exclude) leaves those hosts out of the report altogether.
    type: str
    default: separate
    choices: [separate, exclude]
  json_path:
    description:
      - Write the report as JSON to this file (on the host that runs the module).
    type: path
  csv_path:
    description:
      - Write one CSV row per hypervisor and resource class to this file, for a CMDB. The
        columns are C(hypervisor), C(host), C(hypervisor_id), C(availability_zone),
        C(aggregates) (separated by C(;)), C(status), C(state), C(available),
        C(resource_class), C(total), C(reserved), C(allocation_ratio), C(min_unit),
        C(max_unit), C(step_size), C(capacity), C(used), C(free), C(used_percent).
    type: path
  html_path:
    description:
      - Write a self-contained HTML page with charts (inline SVG) and tables to this file.
    type: path
  html_title:
    description:
      - Title of the HTML page.
    type: str
    default: Capacity report
  label:
    description:
      - Free text put into the JSON report and the HTML page, for example the date or a change
        number. Files with a label that changes every run are rewritten every run.
    type: str
  mode:
    description:
      - Permissions of the files written, as for M(ansible.builtin.copy).
    type: raw
    default: "0644"
  placement_concurrency:
    description:
      - How many placement requests run at the same time (1 to 32) when the inventories and
        usages of the compute nodes are read.
    type: int
    default: 8
extends_documentation_fragment:
  - osops.toolkit.cloud
  - osops.toolkit.attributes
  - osops.toolkit.attributes.cloud_group
attributes:
  check_mode:
    support: full
    details:
      - Computes the whole report and says which files would change (RV(files)); writes nothing.
  diff_mode:
    support: full
    details:
      - Shows the old and new content of every file that changes.
  idempotent:
    support: full
    details:
      - A file is only rewritten when its content differs; the report has no timestamp.
author:
  - osops.toolkit maintainers (@osops)
notes:
  - Trait requirements are checked on the compute node's provider. Numbered request groups of
    a flavor (C(resources1:...)) are counted as part of the one request. Sharing providers
    (for example shared storage for C(DISK_GB)) are not counted; providers that are no Nova
    hypervisor's tree are listed in RV(other_providers).
  - Nova scheduler filters that placement does not know (aggregate metadata, affinity, NUMA
    topology, PCI devices) can place fewer instances than reported.
seealso:
  - module: osops.toolkit.hypervisor_info
"""

EXAMPLES = r"""
- name: Capacity report for the CMDB and the dashboard
  osops.toolkit.capacity_report:
    cloud: prod
    flavors: [m1.small, m1.large, gpu.a100]
    json_path: /srv/reports/capacity.json
    csv_path: /srv/reports/capacity.csv
    html_path: /srv/reports/capacity.html
  register: capacity

- name: How many more m1.large fit, and where the room is
  ansible.builtin.debug:
    msg: >-
      {{ capacity.summary.flavors['m1.large'].fits }} more m1.large fit;
      per AZ {{ capacity.availability_zones | items2dict(key_name='name', value_name='flavors') }}

- name: Room on schedulable hosts only
  osops.toolkit.capacity_report:
    cloud: prod
    disabled_hosts: exclude
  register: schedulable
"""

RETURN = r"""
summary:
  description:
    - The whole cloud (the hypervisors reported) - hypervisor names, how many are available
      and unavailable, per resource class C(total), C(reserved), C(capacity), C(used), C(free),
      C(used_percent) and the distinct C(allocation_ratios), and per flavor C(fits) (on
      available hosts) and C(fits_unavailable).
  returned: always
  type: dict
  sample: {"hypervisors": ["compute-1", "compute-2"], "available": 2, "unavailable": 0,
           "resources": {"VCPU": {"total": 128, "reserved": 0, "capacity": 512, "used": 40, "free": 472,
                                  "used_percent": 7.8, "allocation_ratios": [4.0]}},
           "flavors": {"m1.large": {"fits": 56, "fits_unavailable": 0}}}
availability_zones:
  description: The same as RV(summary) for each availability zone, with its C(name), sorted by name.
  returned: always
  type: list
  elements: dict
aggregates:
  description: The same as RV(summary) for each host aggregate, with its C(name), sorted by name.
  returned: always
  type: list
  elements: dict
hypervisors:
  description: One record per hypervisor, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Hypervisor id, the UUID of its compute node resource provider.
      type: str
    name:
      description: Hypervisor host name.
      type: str
    host:
      description: Host of its nova-compute service.
      type: str
    availability_zone:
      description: Availability zone of the host.
      type: str
    aggregates:
      description: Names of its host aggregates.
      type: list
      elements: str
    status:
      description: V(enabled) or V(disabled).
      type: str
    state:
      description: V(up) or V(down).
      type: str
    forced_down:
      description: Whether the service is forced down.
      type: bool
    disabled_reason:
      description: Why the service is disabled.
      type: str
    available:
      description: Whether nova schedules to it (enabled, up, not forced down).
      type: bool
    providers:
      description: Number of resource providers in its tree (0 when placement has none).
      type: int
    resources:
      description:
        - Per resource class C(total), C(reserved), C(allocation_ratio), C(min_unit),
          C(max_unit), C(step_size), C(capacity), C(used), C(free), C(used_percent); over a
          tree of providers the amounts are summed and a setting that differs is null.
      type: dict
      sample: {"VCPU": {"total": 64, "reserved": 0, "allocation_ratio": 4.0, "min_unit": 1, "max_unit": 64,
                        "step_size": 1, "capacity": 256, "used": 20, "free": 236, "used_percent": 7.8}}
    flavors:
      description: Flavor name -> how many more instances of it fit on this hypervisor.
      type: dict
      sample: {"m1.large": 28}
    limited_by:
      description: Flavor name -> the resource classes that limit that count (C(traits) when the host lacks a required trait or has a forbidden one).
      type: dict
      sample: {"m1.large": ["MEMORY_MB"]}
flavors:
  description: The flavors counted, with what they ask placement for and how many more fit in the cloud.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "3", "name": "m1.large", "public": true,
            "resources": {"VCPU": 4, "MEMORY_MB": 8192, "DISK_GB": 80},
            "required_traits": [], "forbidden_traits": [], "fits": 56, "fits_unavailable": 0}]
other_providers:
  description: Names of placement providers that belong to no Nova hypervisor (sharing providers, leftovers), not counted.
  returned: always
  type: list
  elements: str
files:
  description: The files asked for, whether each one changed (or would, in check mode) and whether it was written.
  returned: always
  type: list
  elements: dict
  sample: [{"format": "csv", "path": "/srv/reports/capacity.csv", "changed": true, "written": true}]
api_requests:
  description: How many API requests the report took.
  returned: always
  type: int
label:
  description: The O(label) given.
  returned: always
  type: str
disabled_hosts:
  description: The O(disabled_hosts) used.
  returned: always
  type: str
"""

import concurrent.futures
import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.osops.toolkit.plugins.module_utils._capacity import (
    build_report,
    flavor_request,
    hosts_from_nova,
    render,
    select_flavors,
    trait_query,
)
from ansible_collections.osops.toolkit.plugins.module_utils._cloud import CloudModule
from ansible_collections.osops.toolkit.plugins.module_utils._hypervisors import resource_view
from ansible_collections.osops.toolkit.plugins.module_utils._infra import RequestCounter
from ansible_collections.osops.toolkit.plugins.module_utils import _api as api

FORMATS = ("json", "csv", "html")


class CapacityReportModule(CloudModule):
    argument_spec = dict(
        flavors=dict(type="list", elements="str"),
        disabled_hosts=dict(type="str", default="separate", choices=["separate", "exclude"]),
        json_path=dict(type="path"),
        csv_path=dict(type="path"),
        html_path=dict(type="path"),
        html_title=dict(type="str", default="Capacity report"),
        label=dict(type="str"),
        mode=dict(type="raw", default="0644"),
        placement_concurrency=dict(type="int", default=8),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        p = self.params
        if not 1 <= p["placement_concurrency"] <= 32:
            self.fail("placement_concurrency must be 1 to 32, not %s." % p["placement_concurrency"])
        outputs = [(fmt, p[fmt + "_path"]) for fmt in FORMATS if p[fmt + "_path"]]
        for fmt, path in outputs:
            if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
                self.fail("The directory of %s_path %s does not exist; create it first." % (fmt, path))
        counter = RequestCounter()

        compute = self.conn.compute
        self.require_microversion(compute, api.NOVA_FLAVOR_EXTRA_SPECS, "Reading flavors with their extra specs")
        hypervisors = list(api.paged(compute, "/os-hypervisors/detail", "hypervisors", microversion=api.NOVA_SERVICES,
                                     counter=counter))
        services = api.get_json(compute, "/os-services", {"binary": "nova-compute"}, api.NOVA_SERVICES,
                                counter=counter)["services"]
        aggregates = api.get_json(compute, "/os-aggregates", microversion=api.NOVA_SERVICES, counter=counter)["aggregates"]
        flavors = list(api.paged(compute, "/flavors/detail", "flavors", {"is_public": "None"}, api.NOVA_FLAVOR_EXTRA_SPECS,
                                 counter=counter))
        selected, missing = select_flavors(flavors, p["flavors"])
        if missing:
            self.fail("No flavor named %s; known: %s." % (", ".join(missing), ", ".join(sorted(f["name"] for f in flavors))))

        placement = self.conn.placement
        providers = api.get_json(placement, "/resource_providers", microversion=api.PLACEMENT,
                                 counter=counter)["resource_providers"]
        hv_ids = set(hv["id"] for hv in hypervisors)
        tree = dict((hv_id, []) for hv_id in hv_ids)
        other = []
        for rp in sorted(providers, key=lambda rp: (rp["uuid"] != rp.get("root_provider_uuid"), rp["name"])):
            root = rp.get("root_provider_uuid") or rp["uuid"]
            if root in tree:
                tree[root].append(rp["uuid"])
            else:
                other.append(rp["name"])
        views = self.read_providers([uuid for uuids in tree.values() for uuid in uuids], counter)
        for flavor in selected:
            flavor["allowed"] = self.trait_filter(flavor, counter)

        provider_views = dict((hv_id, [views[u] for u in uuids if views.get(u) is not None]) for hv_id, uuids in tree.items())
        hosts = hosts_from_nova(hypervisors, services, aggregates, provider_views)
        report = build_report(hosts, selected, disabled_hosts=p["disabled_hosts"], label=p["label"])
        report["other_providers"] = sorted(other)
        self.results.update(report)
        self.results["api_requests"] = counter.requests
        self.results["files"] = self.write_files(report, outputs)

    def read_providers(self, uuids, counter):
        """uuid -> resource_view() (None for a provider deleted meanwhile), a few requests at a time."""
        placement = self.conn.placement

        def one(uuid):
            inventories = api.get_json(placement, "/resource_providers/%s/inventories" % uuid,
                                       microversion=api.PLACEMENT, missing_ok=True, counter=counter)
            usages = api.get_json(placement, "/resource_providers/%s/usages" % uuid, microversion=api.PLACEMENT,
                                  missing_ok=True, counter=counter)
            if inventories is None:
                return uuid, None
            return uuid, resource_view(inventories.get("inventories", {}), (usages or {}).get("usages", {}))

        with concurrent.futures.ThreadPoolExecutor(max_workers=self.params["placement_concurrency"]) as pool:
            return dict(pool.map(one, sorted(uuids)))

    def trait_filter(self, flavor, counter):
        """The providers with the traits a flavor requires and none it forbids; None when it has no such wish."""
        request = flavor_request(flavor)
        names = request["required_traits"] + request["forbidden_traits"]
        if not names:
            return None
        # placement refuses a query that names a trait it does not know
        known = set(api.get_json(self.conn.placement, "/traits", {"name": "in:" + ",".join(sorted(names))},
                                 api.PLACEMENT_TRAITS, counter=counter)["traits"])
        query = trait_query(request, known)
        if query is None:
            return set()   # a required trait no provider can have
        if not query:
            return None
        found = api.get_json(self.conn.placement, "/resource_providers", {"required": query}, api.PLACEMENT_TRAITS,
                             counter=counter)["resource_providers"]
        return set(rp["uuid"] for rp in found)

    def write_files(self, report, outputs):
        files, diffs = [], []
        for fmt, path in outputs:
            content = to_bytes(render(report, fmt, title=self.params["html_title"]))
            before = None
            if os.path.exists(path):
                with open(path, "rb") as handle:
                    before = handle.read()
            changed = before != content
            written = False
            if changed and not self.check_mode:
                self._atomic_write(path, content)
                written = True
            if os.path.exists(path):
                changed = self.ansible.set_mode_if_different(path, self.params["mode"], changed)
            files.append({"format": fmt, "path": path, "changed": changed, "written": written})
            if before != content:
                diffs.append({"before_header": path, "after_header": path,
                              "before": "" if before is None else before.decode("utf-8", "replace"),
                              "after": content.decode("utf-8")})
        self.results["changed"] = any(f["changed"] for f in files)
        if self.ansible._diff:
            self.results["diff"] = diffs
        return files

    def _atomic_write(self, path, content):
        handle, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".capacity_report.")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            self.ansible.atomic_move(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def main():
    CapacityReportModule()()


if __name__ == "__main__":
    main()
