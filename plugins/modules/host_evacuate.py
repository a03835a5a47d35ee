#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_evacuate
short_description: Rebuild the instances of a hypervisor that is down on other hosts
version_added: 0.1.0
description:
  - For a host that is dead or fenced. Disables its nova-compute service with a reason, then
    rebuilds each of its instances on another host through nova's evacuate API,
    O(concurrency) at a time, and returns one record per instance.
  - Refuses while the host's compute service is up, because an instance rebuilt elsewhere while
    the host still runs it would run twice. Nova sees the service down once its heartbeats
    stop, or at once when it is marked forced down (O(force_down), or
    M(osops.toolkit.compute_service) with O(osops.toolkit.compute_service#module:forced_down=true)).
  - V(ACTIVE), V(SHUTOFF) and V(ERROR) instances are evacuated; instances in any other state
    follow O(other_states). Running instances are started again on their new host and shut-off
    ones stay shut off (nova's behaviour before compute API microversion 2.95, which stops all).
  - The host is matched exactly.
options:
  host:
    description:
      - The host that is down, as C(openstack compute service list) shows it.
    type: str
    required: true
  destination_host:
    description:
      - Rebuild every instance on this host; nova's scheduler still checks it. When not set,
        the scheduler chooses.
    type: str
  force_down:
    description:
      - Mark the host's compute service forced down before evacuating. Set it only when the
        host is fenced (powered off, or cut from storage and network).
      - Refused when the service's last heartbeat (its C(updated_at)) is less than
        O(service_down_time) seconds old, because the host may still be alive, and rebuilding
        the instances of a live host corrupts those on shared storage; unless O(fenced=true).
        Any write to the service row (for example someone disabling it) also counts as recent.
    type: bool
    default: false
  fenced:
    description:
      - The operator asserts that the host is fenced (powered off through its BMC, or cut from
        storage and network), so O(force_down=true) goes ahead even though the service's last
        heartbeat is recent.
    type: bool
    default: false
    version_added: 0.2.0
  service_down_time:
    description:
      - Seconds without a heartbeat after which O(force_down=true) is allowed without O(fenced);
        set it to nova's C([DEFAULT] service_down_time) (60 unless changed).
    type: int
    default: 60
    version_added: 0.2.0
  disabled_reason:
    description:
      - The reason set on the disabled compute service, written as
        C(osops:host_evacuate <UTC time> <disabled_reason>) (see M(osops.toolkit.compute_service)'s
        O(osops.toolkit.compute_service#module:owner)); a host already disabled for another reason keeps it.
    type: str
    default: evacuated by osops.toolkit.host_evacuate
extends_documentation_fragment:
  - osops.toolkit.cloud
  - osops.toolkit.moves
  - osops.toolkit.attributes
  - osops.toolkit.attributes.cloud_group
attributes:
  check_mode:
    support: full
    details: Returns what would be evacuated and the service change; changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Once evacuated, the host has no instance left and its service is already disabled.
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: osops.toolkit.host_drain
  - module: osops.toolkit.compute_service
"""

EXAMPLES = r"""
- name: compute-9 lost its power supply and is fenced; bring its instances up elsewhere
  osops.toolkit.host_evacuate:
    cloud: prod
    host: compute-9
    force_down: true
    fenced: true  # powered off through its BMC a minute ago
    disabled_reason: "INC-42 PSU failure, fenced"
    concurrency: 5
"""

RETURN = r"""
instances:
  description:
    - One record per instance that was on the host, with the keys of the
      M(osops.toolkit.host_drain) records; C(method) is V(evacuate).
  returned: always
  type: list
  elements: dict
  sample:
    - {"id": "5c4f2d7e-8a5e-4a5b-9d0c-0e6f3b1a2c44", "name": "web-1", "status": "ACTIVE",
       "origin": "compute-9", "destination": "compute-3", "method": "evacuate", "seconds": 25.0,
       "result": "moved", "error": null}
summary:
  description: How many instances ended with each result, and the total.
  returned: always
  type: dict
  sample: {"total": 1, "moved": 1, "failed": 0, "timeout": 0, "not_moved": 0, "left": 0,
           "not_started": 0, "planned": 0, "already_home": 0, "gone": 0,
           "moved_elsewhere": 0, "still_running": 0, "still_on_host": 0}
service:
  description: The host's compute service after the run (as it would be, in check mode).
  returned: always
  type: dict
"""

import datetime

from ansible_collections.osops.toolkit.plugins.module_utils._compute import (
    heartbeat_age,
    owned_service_change,
    wanted_service_state,
)
from ansible_collections.osops.toolkit.plugins.module_utils._drain import EVACUATE_STATES
from ansible_collections.osops.toolkit.plugins.module_utils._host_moves import MovesModule
from ansible_collections.osops.toolkit.plugins.module_utils._nova_moves import servers_on_host


def _evacuate_method(status):
    return "evacuate" if status in EVACUATE_STATES else None


# the owner of the disabled reason (see _compute.owned_reason)
SERVICE_OWNER = "host_evacuate"


class HostEvacuateModule(MovesModule):
    verb = "evacuate"
    argument_spec = dict(
        host=dict(type="str", required=True),
        destination_host=dict(type="str"),
        force_down=dict(type="bool", default=False),
        fenced=dict(type="bool", default=False),
        service_down_time=dict(type="int", default=60),
        disabled_reason=dict(type="str", default="evacuated by osops.toolkit.host_evacuate"),
    )

    def run(self):
        p = self.params
        host = p["host"]
        self.check_run_options()
        service, before = self.source_service(host)
        if before["state"] == "up" and not before["forced_down"] and not p["force_down"]:
            self.fail("The nova-compute service of %s is up: evacuating a host that may still run its "
                      "instances would run them twice. Fence the host, then mark the service forced down "
                      "(force_down=true here, or osops.toolkit.compute_service with forced_down=true)." % host,
                      service=before)
        if p["destination_host"] == host:
            self.fail("destination_host is the host being evacuated (%s)." % host)
        if p["force_down"] and not before["forced_down"] and not p["fenced"]:
            age = heartbeat_age(before, datetime.datetime.now(datetime.timezone.utc))
            if age is None or age < p["service_down_time"]:
                heard = "%d s ago" % age if age is not None else "at an unknown time"
                self.fail("The nova-compute service of %s was last heard from %s (updated_at %s, within "
                          "service_down_time=%s s): the host may be alive, and evacuating a live host "
                          "corrupts its instances on shared storage. Power it off or fence it, then run "
                          "again with fenced=true." % (host, heard, before["updated_at"], p["service_down_time"]),
                          service=before)

        servers = servers_on_host(self.compute, host)
        records = self.records = self.records_for(servers, host, _evacuate_method, "evacuate",
                                                  p["destination_host"])
        changes, _refusal, note = owned_service_change(before, "disabled", p["disabled_reason"], SERVICE_OWNER)
        if note:
            self.warn(note)
        changes.update(wanted_service_state(before, forced_down=True if p["force_down"] else None))
        self.set_service(service, before, changes)
        self.run_moves(records)
        self.report(records, "off %s" % host)


def main():
    HostEvacuateModule()()


if __name__ == "__main__":
    main()
