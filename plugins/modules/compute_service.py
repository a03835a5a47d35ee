#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: compute_service
short_description: Enable, disable (with a reason) or force down a Nova compute service
version_added: 0.1.0
description:
  - Takes a hypervisor out of scheduling with a reason an operator can read later
    (C(openstack compute service list --long) shows it), puts it back, or marks its
    service as forced down so that its instances can be evacuated.
  - The host is matched exactly; C(compute-1) never matches C(compute-10).
  - Uses the compute API at microversion 2.53 or newer (service updates by id).
options:
  host:
    description:
      - The host name of the service, as C(openstack compute service list) shows it.
    type: str
    required: true
  binary:
    description:
      - The service binary.
    type: str
    default: nova-compute
  status:
    description:
      - V(enabled) lets the scheduler place new instances on the host.
      - V(disabled) keeps new instances off it; running instances stay where they are.
      - When not set, the scheduling status is left as it is (useful with O(forced_down) alone).
    type: str
    choices: [enabled, disabled]
  disabled_reason:
    description:
      - Why the service is disabled. Only with O(status=disabled).
      - When omitted, a service that is already disabled keeps the reason it has; a service
        that gets disabled now has no reason.
      - With O(owner), this text is written after a mark that names the owner and the time, see O(owner).
    type: str
  owner:
    description:
      - The job (playbook, role or tool) that takes the host out and later puts it back, for
        example V(drain_host); letters, digits, C(.), C(_) and C(-).
      - With O(status=disabled), the reason written is C(osops:<owner> <UTC time> <disabled_reason>),
        for example C(osops:drain_host 2026-12-02T13:10:05Z CHG-99 kernel upgrade). A service that
        is already disabled with this owner's reason keeps its time. A service already disabled
        for any other reason (a person's C(RMA-77 bad DIMM), Nova's C(Auto-disabled due to 3 build
        failures), libvirt's C(AUTO:) ones, another job's) keeps that reason and the module warns,
        unless O(force=true).
      - With O(status=enabled), the service is enabled only when its reason is still this owner's.
        When someone disabled it again since, for another reason, the module fails, names the host
        and that reason, and leaves it disabled, unless O(force=true).
      - Without O(owner), the module does what it is told (the reason as given, enabling whatever
        the reason); that is for a person at the keyboard. Every osops.toolkit playbook and role
        sets an owner.
    type: str
    version_added: 0.2.0
  force:
    description:
      - With O(owner), replace (O(status=disabled)) or clear (O(status=enabled)) a reason that is not
        the owner's; the module warns and returns it in RV(overridden_reason).
    type: bool
    default: false
    version_added: 0.2.0
  forced_down:
    description:
      - V(true) marks the service down at once, without waiting for its heartbeats to stop.
        Do this only when the host is really down (fenced); it is what allows
        evacuating its instances.
      - V(false) clears the mark once the host is back.
      - When not set, the mark is left as it is.
    type: bool
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
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: osops.toolkit.hypervisor_info
"""

EXAMPLES = r"""
- name: Keep new instances off compute-7 during its kernel upgrade
  osops.toolkit.compute_service:
    cloud: prod
    host: compute-7
    status: disabled
    disabled_reason: "CHG-1234 kernel upgrade (alice)"

- name: Put compute-7 back into scheduling
  osops.toolkit.compute_service:
    cloud: prod
    host: compute-7
    status: enabled

- name: Take compute-7 out for a drain job, with a reason that says who and since when
  osops.toolkit.compute_service:
    cloud: prod
    host: compute-7
    status: disabled
    disabled_reason: "CHG-1234 kernel upgrade"
    owner: drain_host
  # reason: "osops:drain_host 2026-12-02T13:10:05Z CHG-1234 kernel upgrade"

- name: Put it back, unless someone disabled it for another reason meanwhile (then fail)
  osops.toolkit.compute_service:
    cloud: prod
    host: compute-7
    status: enabled
    owner: drain_host

- name: compute-9 is fenced and powered off; allow evacuating it
  osops.toolkit.compute_service:
    cloud: prod
    host: compute-9
    status: disabled
    disabled_reason: "hardware failure, fenced"
    forced_down: true
"""

RETURN = r"""
service:
  description: The service after the change (or as it would be, in check mode).
  returned: success
  type: dict
  contains:
    id:
      description: Service id (a UUID with microversion 2.53 and newer).
      type: str
      sample: 0b3c6e8d-54c4-4d6e-9f4a-6f7bd1c0f3e2
    host:
      description: Host name.
      type: str
      sample: compute-7
    binary:
      description: Service binary.
      type: str
      sample: nova-compute
    availability_zone:
      description: The availability zone of the host.
      type: str
      sample: nova
    status:
      description: V(enabled) or V(disabled).
      type: str
      sample: disabled
    state:
      description: V(up) or V(down), from heartbeats (or forced down).
      type: str
      sample: up
    disabled_reason:
      description: Reason given when it was disabled; null when enabled.
      type: str
      sample: CHG-1234 kernel upgrade (alice)
    forced_down:
      description: Whether it is marked forced down.
      type: bool
      sample: false
    updated_at:
      description: Last heartbeat or update.
      type: str
      sample: "2026-11-22T05:10:11.000000"
    disabled_by:
      description:
        - Who disabled it, null when enabled. C(who) is V(osops) (C(job) names the owner), V(nova)
          (build failures), V(libvirt) (C(AUTO:) reasons) or V(other).
        - C(since) is exact for our reasons (C(since_source=reason)); Nova keeps no time of
          disabling, so for the others it is the service's C(updated_at) (C(since_source=updated_at)),
          the time by which it was disabled at the latest.
      type: dict
      sample: {"who": "osops", "job": "drain_host", "since": "2026-12-02T13:10:05Z",
               "since_source": "reason", "text": "CHG-1234 kernel upgrade"}
overridden_reason:
  description: The reason of someone else that O(force=true) replaced or cleared; null when none.
  returned: success
  type: str
  sample: RMA-77 bad DIMM
diff:
  description: Status, reason and forced_down before and after.
  returned: when changed and in diff mode
  type: dict
  sample: {"before": {"status": "enabled", "disabled_reason": null, "forced_down": false},
           "after": {"status": "disabled", "disabled_reason": "maintenance", "forced_down": false}}
"""

from ansible_collections.osops.toolkit.plugins.module_utils import _api as api
from ansible_collections.osops.toolkit.plugins.module_utils._cloud import CloudModule
from ansible_collections.osops.toolkit.plugins.module_utils._compute import (
    OWNER_PATTERN,
    disabled_by,
    find_compute_service,
    owned_service_change,
    service_after,
    service_from_json,
    service_to_dict,
    update_compute_service,
    wanted_service_state,
)


class ComputeServiceModule(CloudModule):
    argument_spec = dict(
        host=dict(type="str", required=True),
        binary=dict(type="str", default="nova-compute"),
        status=dict(type="str", choices=["enabled", "disabled"]),
        disabled_reason=dict(type="str"),
        forced_down=dict(type="bool"),
        owner=dict(type="str"),
        force=dict(type="bool", default=False),
    )
    module_kwargs = dict(
        required_one_of=[("status", "forced_down")],
        supports_check_mode=True,
    )

    def run(self):
        p = self.params
        if p["disabled_reason"] is not None and p["status"] != "disabled":
            self.fail("disabled_reason goes with status=disabled; a service that is enabled has no reason.")
        if p["force"] and p["owner"] is None:
            self.fail("force goes with owner: it overrides a reason that is not the owner's.")
        if p["owner"] is not None and not OWNER_PATTERN.match(p["owner"]):
            self.fail("owner %r must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter "
                      "or digit." % p["owner"])
        compute = self.conn.compute
        self.require_microversion(compute, api.NOVA_SERVICES, "Updating a compute service by id")

        service = find_compute_service(compute, p["host"], p["binary"])
        if service is None:
            self.fail("No %s service runs on host %r. Check the exact name with "
                      "'openstack compute service list --service %s'."
                      % (p["binary"], p["host"], p["binary"]))

        before = service_to_dict(service)
        self.results["overridden_reason"] = None
        if p["owner"] is None:
            changes = wanted_service_state(before, p["status"], p["disabled_reason"], p["forced_down"])
        else:
            changes, refusal, note = owned_service_change(before, p["status"], p["disabled_reason"],
                                                          p["owner"], force=p["force"])
            if refusal:
                self.fail(refusal, service=dict(before, disabled_by=disabled_by(before)))
            if note:
                self.warn(note)
                if p["force"]:
                    self.results["overridden_reason"] = before["disabled_reason"]
            changes.update(wanted_service_state(before, forced_down=p["forced_down"]))
        after = service_after(before, changes)
        after["disabled_by"] = disabled_by(after)
        self.results["service"] = after
        if not changes:
            return
        self.results["changed"] = True
        if self.ansible._diff:
            keys = ("status", "disabled_reason", "forced_down")
            self.results["diff"] = {
                "before": dict((k, before[k]) for k in keys),
                "after": dict((k, after[k]) for k in keys),
            }
        if self.check_mode:
            return
        updated = service_from_json(update_compute_service(compute, service, changes))
        # the PUT answer of some releases omits the zone
        updated["availability_zone"] = updated["availability_zone"] or before["availability_zone"]
        updated["disabled_by"] = disabled_by(updated)
        self.results["service"] = updated


def main():
    ComputeServiceModule()()


if __name__ == "__main__":
    main()
