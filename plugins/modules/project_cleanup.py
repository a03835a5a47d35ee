#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: project_cleanup
short_description: Delete everything a project owns, also after the project was deleted
version_added: 0.1.0
description:
  - Lists what a project owns and, only with O(confirm=true), deletes it in dependency order -
    servers, floating IPs, ports, routers (gateway cleared and interfaces removed first),
    networks (with their subnets), volume snapshots, backups and volumes (when Cinder is in
    the catalog), images, security groups.
  - Works after the project itself was deleted from Keystone - give its id in O(project_id).
  - Without O(confirm=true), and in check mode, the module only reports what it would delete.
  - One resource that cannot be deleted does not stop the others; the module fails at the end
    and reports each resource's result.
options:
  project:
    description:
      - Name or id of a project that still exists in Keystone.
    type: str
  project_id:
    description:
      - Id of the project, which may already be deleted from Keystone (see the C(orphans) of
        M(osops.toolkit.drift_report)).
    type: str
  confirm:
    description:
      - V(true) deletes. V(false) (default) only reports what would be deleted.
    type: bool
    default: false
  resource_types:
    description:
      - The resource types to clean up.
    type: list
    elements: str
    choices: [servers, floating_ips, ports, routers, networks, snapshots, backups, volumes, images, security_groups]
    default: [servers, floating_ips, ports, routers, networks, snapshots, backups, volumes, images, security_groups]
  created_before:
    description:
      - Only resources created before this time (ISO 8601, for example C(2026-01-31) or
        C(2026-01-31T12:00:00Z)). Resources that do not say when they were created are kept.
    type: str
  timeout:
    description:
      - Seconds to wait for the servers, snapshots and volumes to be gone before going on with
        what depends on them.
    type: int
    default: 600
extends_documentation_fragment:
  - osops.toolkit.cloud
  - osops.toolkit.attributes
  - osops.toolkit.attributes.cloud_group
attributes:
  check_mode:
    support: full
    details: Check mode, like O(confirm=false), reports and deletes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Once cleaned up, the project owns nothing and a second run changes nothing.
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: osops.toolkit.drift_report
"""

EXAMPLES = r"""
- name: What does the deleted project 8e0b... still own?
  osops.toolkit.project_cleanup:
    cloud: prod
    project_id: 8e0b2a3c44c94d5e9a7f0d5e3b2a1c0d
  register: leftovers

- name: Delete it
  osops.toolkit.project_cleanup:
    cloud: prod
    project_id: 8e0b2a3c44c94d5e9a7f0d5e3b2a1c0d
    confirm: true

- name: Only the old servers and ports of a live project
  osops.toolkit.project_cleanup:
    cloud: prod
    project: ci-scratch
    resource_types: [servers, ports]
    created_before: "2026-10-01"
    confirm: true
"""

RETURN = r"""
project_id:
  description: The project cleaned up.
  returned: always
  type: str
resources:
  description: One entry per resource, in deletion order.
  returned: always
  type: list
  elements: dict
  contains:
    type:
      description: Resource type, as in O(resource_types).
      type: str
      sample: servers
    id:
      description: Resource id.
      type: str
    name:
      description: Resource name (the address, for a floating IP).
      type: str
    result:
      description: V(deleted), V(would_delete) (report only), or V(failed).
      type: str
      sample: deleted
    error:
      description: Why it could not be deleted.
      type: str
counts:
  description: Per resource type, how many were found.
  returned: always
  type: dict
  sample: {"servers": 2, "ports": 3, "total": 5}
unavailable:
  description: Resource types that could not be looked at, with the reason.
  returned: always
  type: dict
"""

import time

try:
    from openstack import exceptions as sdk_exceptions
except ImportError:  # reported by CloudModule._check_sdk
    sdk_exceptions = None

from ansible_collections.osops.toolkit.plugins.module_utils._cleanup import cleanup_plan, plan_counts
from ansible_collections.osops.toolkit.plugins.module_utils._cloud import CloudModule, sdk_error_message
from ansible_collections.osops.toolkit.plugins.module_utils._cloud_resources import list_resources
from ansible_collections.osops.toolkit.plugins.module_utils._drift import RESOURCE_TYPES, parse_time


class ProjectCleanupModule(CloudModule):
    argument_spec = dict(
        project=dict(type="str"),
        project_id=dict(type="str"),
        confirm=dict(type="bool", default=False),
        resource_types=dict(type="list", elements="str", choices=list(RESOURCE_TYPES), default=list(RESOURCE_TYPES)),
        created_before=dict(type="str"),
        timeout=dict(type="int", default=600),
    )
    module_kwargs = dict(
        required_one_of=[("project", "project_id")],
        mutually_exclusive=[("project", "project_id")],
        supports_check_mode=True,
    )

    def run(self):
        p = self.params
        before = None
        if p["created_before"]:
            try:
                before = parse_time(p["created_before"])
            except ValueError:
                self.fail("created_before must be an ISO 8601 date or time, not %r." % p["created_before"])
        project_id = p["project_id"] or self.find_project(p["project"])
        kinds = [k for k in RESOURCE_TYPES if k in p["resource_types"]]
        listed = list_resources(self.conn, kinds, project_id=project_id)
        skipped = dict((k, "the cloud has no block-storage service") for k in kinds if k not in listed)
        plan = cleanup_plan(kinds, listed, project_id, created_before=before)
        self.results.update(project_id=project_id, unavailable=skipped, counts=plan_counts(plan))
        deleting = p["confirm"] and not self.check_mode
        records = []
        for kind in kinds:
            these = []
            for item in (item for k, item in plan if k == kind):
                record = {"type": kind, "id": item["id"], "name": item.get("name"),
                          "result": "would_delete", "error": None}
                these.append(record)
                if not deleting:
                    continue
                try:
                    getattr(self, "delete_" + kind)(item)
                    record["result"] = "deleted"
                except sdk_exceptions.SDKException as error:
                    record.update(result="failed", error=sdk_error_message(error))
            gone = [r for r in these if r["result"] == "deleted"]
            if gone and kind in ("servers", "snapshots", "volumes"):
                self.wait_gone(kind, gone)
            records += these
        self.results["resources"] = records
        self.results["changed"] = any(r["result"] == "deleted" for r in records)
        failed = [r for r in records if r["result"] == "failed"]
        if failed:
            self.fail("Could not delete %d of %d resource(s) of project %s: %s."
                      % (len(failed), len(records), project_id,
                         "; ".join("%s %s: %s" % (r["type"], r["id"], r["error"]) for r in failed[:10])))

    def find_project(self, name_or_id):
        project = self.conn.identity.find_project(name_or_id, ignore_missing=True)
        if project is None:
            self.fail("Project %r does not exist in Keystone. A deleted project can only be cleaned up by "
                      "its id (project_id); drift_report lists the ids of the orphans." % name_or_id)
        return project.id

    # one method per resource type, in the order of RESOURCE_TYPES
    def delete_servers(self, item):
        self.conn.compute.delete_server(item["id"], ignore_missing=True)

    def delete_floating_ips(self, item):
        self.conn.network.delete_ip(item["id"], ignore_missing=True)

    def delete_ports(self, item):
        self.conn.network.delete_port(item["id"], ignore_missing=True)

    def delete_routers(self, item):
        net = self.conn.network
        router = net.get_router(item["id"])
        if router.external_gateway_info:
            net.update_router(router, external_gateway_info={})
        for port in net.ports(device_id=router.id):
            if port.device_owner in ("network:router_interface", "network:router_interface_distributed"):
                net.remove_interface_from_router(router, port_id=port.id)
        net.delete_router(router, ignore_missing=True)

    def delete_networks(self, item):
        self.conn.network.delete_network(item["id"], ignore_missing=True)

    def delete_snapshots(self, item):
        self.conn.block_storage.delete_snapshot(item["id"], ignore_missing=True)

    def delete_backups(self, item):
        self.conn.block_storage.delete_backup(item["id"], ignore_missing=True)

    def delete_volumes(self, item):
        self.conn.block_storage.delete_volume(item["id"], ignore_missing=True)

    def delete_images(self, item):
        if item.get("protected"):
            self.conn.image.update_image(item["id"], is_protected=False)
        self.conn.image.delete_image(item["id"], ignore_missing=True)

    def delete_security_groups(self, item):
        self.conn.network.delete_security_group(item["id"], ignore_missing=True)

    def wait_gone(self, kind, records):
        """What depends on these goes only once they are really gone (servers hold ports and
        volumes, snapshots hold their volume), and deletes are asynchronous."""
        getter = {"servers": self.conn.compute.find_server, "snapshots": self.conn.block_storage.find_snapshot,
                  "volumes": self.conn.block_storage.find_volume}[kind]
        deadline = time.monotonic() + self.params["timeout"]
        pending = list(records)
        while pending and time.monotonic() < deadline:
            pending = [r for r in pending if getter(r["id"], ignore_missing=True) is not None]
            if pending:
                time.sleep(1)
        for record in pending:
            record.update(result="failed", error="still there after %ss" % self.params["timeout"])


def main():
    ProjectCleanupModule()()


if __name__ == "__main__":
    main()
