#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: hypervisor_info
short_description: Hypervisors joined with their compute service, aggregates, AZ and placement resources
version_added: 0.1.0
description:
  - One record per Nova hypervisor with what an operator looks up in four places before
    maintenance - the compute service (state, status, disabled reason, forced down), the
    availability zone, the aggregates with their metadata, the instances on it, and the
    placement inventory and usage of each resource class.
  - Nova is read with three list calls whatever the size of the cloud; placement costs two
    calls per hypervisor kept by the filters (O(placement=false) skips them).
options:
  hosts:
    description:
      - Only these hosts, matched exactly against the service host or the hypervisor name.
    type: list
    elements: str
  availability_zone:
    description:
      - Only hypervisors in this availability zone.
    type: str
  aggregate:
    description:
      - Only hypervisors in this host aggregate (by name).
    type: str
  status:
    description:
      - Only hypervisors whose compute service has this scheduling status.
    type: str
    choices: [enabled, disabled]
  state:
    description:
      - Only hypervisors whose compute service is up or down.
    type: str
    choices: [up, down]
  placement:
    description:
      - Whether to add the placement inventory and usage of each hypervisor.
    type: bool
    default: true
extends_documentation_fragment:
  - osops.toolkit.cloud
  - osops.toolkit.attributes
  - osops.toolkit.attributes.info_module
  - osops.toolkit.attributes.cloud_group
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: osops.toolkit.compute_service
"""

EXAMPLES = r"""
- name: Which hypervisors of az1 are disabled, and why
  osops.toolkit.hypervisor_info:
    cloud: prod
    availability_zone: az1
    status: disabled
  register: disabled

- name: Show them
  ansible.builtin.debug:
    msg: "{{ item.host }}: {{ item.disabled_reason }} ({{ item.instance_count }} instances)"
  loop: "{{ disabled.hypervisors }}"

- name: Free vCPUs on one host, as placement sees them
  osops.toolkit.hypervisor_info:
    cloud: prod
    hosts: [compute-7]
  register: hv

- name: Show them
  ansible.builtin.debug:
    msg: "{{ hv.hypervisors[0].resources.VCPU.free }}"
"""

RETURN = r"""
hypervisors:
  description: One record per hypervisor kept by the filters, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Hypervisor id (the compute node UUID, also its placement resource provider UUID).
      type: str
    name:
      description: Hypervisor host name.
      type: str
      sample: compute-7.example.net
    host:
      description: Host name of its compute service (what M(osops.toolkit.compute_service) takes as O(osops.toolkit.compute_service#module:host)).
      type: str
      sample: compute-7
    host_ip:
      description: The hypervisor's IP address as Nova knows it.
      type: str
    hypervisor_type:
      description: For example C(QEMU), C(ironic), C(fake).
      type: str
    hypervisor_version:
      description: Version number of the hypervisor.
      type: int
    state:
      description: V(up) or V(down).
      type: str
    status:
      description: V(enabled) or V(disabled).
      type: str
    disabled_reason:
      description: Why the service is disabled; null when enabled.
      type: str
    disabled_by:
      description:
        - Who disabled the compute service, and since when; null when it is enabled.
        - C(who) is V(osops) (an osops.toolkit job wrote the reason, C(osops:<job> <UTC time> <text>);
          C(job) names it), V(nova) (C(Auto-disabled due to N build failures), left by older
          releases), V(libvirt) (C(AUTO:) reasons; the driver enables the host again itself) or
          V(other) (a person or another tool). C(text) is the reason without our mark.
        - C(since) is exact for our reasons (C(since_source=reason)). Nova does not record when a
          service was disabled; for the others C(since) is the service's C(updated_at)
          (C(since_source=updated_at)), the last write of its row, so the time by which it was
          disabled at the latest; for a service that is up that is its last heartbeat, which says
          nothing about when it was disabled.
      type: dict
      sample: {"who": "other", "job": null, "since": "2026-12-02T13:10:05.000000",
               "since_source": "updated_at", "text": "RMA-77 bad DIMM"}
    forced_down:
      description: Whether the compute service is forced down.
      type: bool
    service_id:
      description: Id of the compute service.
      type: str
    service_updated_at:
      description: Last heartbeat of the compute service.
      type: str
    availability_zone:
      description: Availability zone of the host.
      type: str
    aggregates:
      description: Names of the host aggregates the host belongs to.
      type: list
      elements: str
    aggregate_details:
      description: The aggregates with id, availability zone and metadata.
      type: list
      elements: dict
    servers:
      description: UUIDs of the instances on the hypervisor.
      type: list
      elements: str
    instance_count:
      description: Number of instances on the hypervisor.
      type: int
    resources:
      description:
        - Per placement resource class (C(VCPU), C(MEMORY_MB), C(DISK_GB), ...) the total,
          reserved, allocation_ratio, min_unit, max_unit, step_size, capacity
          (C((total - reserved) * allocation_ratio)), used and free. Empty when O(placement=false).
      type: dict
      sample: {"VCPU": {"total": 8, "reserved": 0, "allocation_ratio": 4.0, "capacity": 32,
               "used": 3, "free": 29, "min_unit": 1, "max_unit": 8, "step_size": 1}}
summary:
  description: Counts over the returned hypervisors, and capacity/used/free per resource class.
  returned: always
  type: dict
  sample: {"hypervisors": 3, "enabled": 2, "disabled": 1, "up": 3, "down": 0, "instances": 12,
           "resources": {"VCPU": {"capacity": 96, "used": 12, "free": 84}}}
"""

from ansible_collections.osops.toolkit.plugins.module_utils._cloud import CloudModule
from ansible_collections.osops.toolkit.plugins.module_utils._compute import service_to_dict
from ansible_collections.osops.toolkit.plugins.module_utils._hypervisors import (
    filter_hypervisors,
    join_hypervisors,
    resource_view,
    summarize,
)
from ansible_collections.osops.toolkit.plugins.module_utils import _api as api


class HypervisorInfoModule(CloudModule):
    argument_spec = dict(
        hosts=dict(type="list", elements="str"),
        availability_zone=dict(type="str"),
        aggregate=dict(type="str"),
        status=dict(type="str", choices=["enabled", "disabled"]),
        state=dict(type="str", choices=["up", "down"]),
        placement=dict(type="bool", default=True),
    )
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        p = self.params
        compute = self.conn.compute
        self.require_microversion(compute, api.NOVA_SERVICES, "Listing hypervisors with their servers")
        hypervisors = [_hypervisor_dict(hv) for hv in compute.hypervisors(details=True, with_servers=True)]
        services = [service_to_dict(s) for s in compute.services(binary="nova-compute")]
        aggregates = [_aggregate_dict(a) for a in compute.aggregates()]

        records = join_hypervisors(hypervisors, services, aggregates)
        records = filter_hypervisors(records, hosts=p["hosts"], availability_zone=p["availability_zone"],
                                     aggregate=p["aggregate"], status=p["status"], state=p["state"])
        if p["placement"]:
            for rec in records:
                rec["resources"] = self._placement_resources(rec["id"])
        self.results["hypervisors"] = records
        self.results["summary"] = summarize(records)

    def _placement_resources(self, provider_id):
        inventories = api.get_json(self.conn.placement, "/resource_providers/%s/inventories" % provider_id,
                                   microversion=api.PLACEMENT, missing_ok=True)
        usages = api.get_json(self.conn.placement, "/resource_providers/%s/usages" % provider_id,
                              microversion=api.PLACEMENT, missing_ok=True)
        if inventories is None:
            return {}
        return resource_view(inventories.get("inventories", {}), (usages or {}).get("usages", {}))


def _hypervisor_dict(hv):
    service = hv.service_details or {}
    return {
        "id": hv.id,
        "name": hv.name,
        "service_host": service.get("host"),
        "host_ip": hv.host_ip,
        "hypervisor_type": hv.hypervisor_type,
        "hypervisor_version": hv.hypervisor_version,
        "state": hv.state,
        "status": hv.status,
        "servers": [s.get("uuid") for s in (hv.servers or [])],
    }


def _aggregate_dict(agg):
    return {
        "id": agg.id,
        "name": agg.name,
        "availability_zone": agg.availability_zone,
        "metadata": dict(agg.metadata or {}),
        "hosts": list(agg.hosts or []),
    }


def main():
    HypervisorInfoModule()()


if __name__ == "__main__":
    main()
