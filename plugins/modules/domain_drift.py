#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: domain_drift
short_description: Compare a hypervisor's libvirt domains with the instances nova places there
version_added: 0.1.0
description:
  - Runs on the hypervisor. Lists every libvirt domain (running or not) with C(virsh) and
    compares their UUIDs with the instance UUIDs nova has for this host (nova names a domain
    by the instance's UUID).
  - Reports the domains nova does not know (left behind by a failed delete or migration, or
    started by hand) and the instances libvirt does not have (nova believes they are here).
  - Changes nothing.
options:
  nova_instances:
    description:
      - The UUIDs of the instances nova places on this host, for example from the
        C(osops.toolkit.infra) inventory with C(include_servers) (the C(osops_server_id) of the
        hosts in group C(servers_on_<hypervisor>)).
    type: list
    elements: str
    required: true
  uri:
    description:
      - The libvirt connection URI.
    type: str
    default: qemu:///system
requirements:
  - virsh (libvirt-clients) on the hypervisor
extends_documentation_fragment:
  - osops.toolkit.attributes
  - osops.toolkit.attributes.info_module
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: osops.toolkit.drift_report
"""

EXAMPLES = r"""
# inventory: plugin osops.toolkit.infra with include_servers: true
- name: Compare libvirt with nova on every hypervisor
  hosts: nova_enabled
  become: true
  tasks:
    - name: Domains nova forgot, instances libvirt lost
      osops.toolkit.domain_drift:
        nova_instances: >-
          {{ groups['servers_on_' ~ inventory_hostname] | default([])
             | map('extract', hostvars, 'osops_server_id') | list }}
      register: drift
"""

RETURN = r"""
unknown_domains:
  description: Domains libvirt has and nova does not place on this host.
  returned: always
  type: list
  elements: dict
  contains:
    uuid:
      description: Domain UUID.
      type: str
    name:
      description: Domain name.
      type: str
      sample: instance-0000002a
    state:
      description: Domain state as virsh reports it.
      type: str
      sample: shut off
missing_domains:
  description: UUIDs of the instances nova places here that libvirt does not have.
  returned: always
  type: list
  elements: str
counts:
  description: How many domains libvirt has, how many instances nova lists, and the two differences.
  returned: always
  type: dict
  sample: {"domains": 12, "nova_instances": 11, "unknown_domains": 1, "missing_domains": 0}
"""

from ansible.module_utils.basic import AnsibleModule


def _lines(text):
    return [line.strip() for line in text.splitlines() if line.strip()]


def compare(domains, nova_instances):
    """(unknown domain UUIDs, missing instance UUIDs), case-insensitive, both sorted."""
    libvirt = set(d.lower() for d in domains)
    nova = set(i.lower() for i in nova_instances)
    return sorted(libvirt - nova), sorted(nova - libvirt)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nova_instances=dict(type="list", elements="str", required=True),
            uri=dict(type="str", default="qemu:///system"),
        ),
        supports_check_mode=True,
    )
    virsh = module.get_bin_path("virsh", required=True)
    uri = module.params["uri"]

    def run(*args):
        rc, out, err = module.run_command([virsh, "-q", "-c", uri] + list(args))
        if rc != 0:
            module.fail_json(msg="virsh %s failed on %s: %s" % (" ".join(args), uri, (err or out).strip()))
        return out

    domains = _lines(run("list", "--all", "--uuid"))
    unknown, missing = compare(domains, module.params["nova_instances"])
    found = []
    for uuid in unknown:
        found.append({"uuid": uuid, "name": run("domname", uuid).strip(), "state": run("domstate", uuid).strip()})
    module.exit_json(changed=False, unknown_domains=found, missing_domains=missing,
                     counts={"domains": len(domains), "nova_instances": len(set(module.params["nova_instances"])),
                             "unknown_domains": len(found), "missing_domains": len(missing)})


if __name__ == "__main__":
    main()
