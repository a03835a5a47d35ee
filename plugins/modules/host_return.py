#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_return
short_description: Send the instances a drain moved away back to their host
version_added: 0.1.0
description:
  - Takes the records that M(osops.toolkit.host_drain) returned and moves every instance
    it moved off O(host) back there, wherever it is now; live migration for V(ACTIVE) and
    V(PAUSED) instances, cold migration (confirmed) for V(SHUTOFF) ones.
  - Records of other hosts, and of instances the drain did not move, are ignored. A record with
    result V(still_running) (the drain stopped while nova was moving the instance) counts as
    moved.
  - An instance nova is still busy with (a move that a killed drain started) is waited for, up to
    O(instance_timeout) seconds, and then sent home from wherever that move ended; it is
    V(timeout) when nova is still busy with it on O(host) after that.
    An instance deleted meanwhile is reported as V(gone), one already back as V(already_home).
  - The host's compute service must be enabled and up again (see
    M(osops.toolkit.compute_service)); nova's scheduler checks every move.
options:
  host:
    description:
      - The host the instances go back to (the O(osops.toolkit.host_drain#module:host) of the drain).
    type: str
    required: true
  instances:
    description:
      - The RV(osops.toolkit.host_drain#module:instances) records of the drain.
    type: list
    elements: dict
    required: true
  block_migration:
    description:
      - V(auto) lets nova decide per instance (shared storage or not).
      - V(always) and V(never) force a block migration or a shared-storage one.
    type: str
    default: auto
    choices: [auto, always, never]
extends_documentation_fragment:
  - osops.toolkit.cloud
  - osops.toolkit.moves
  - osops.toolkit.attributes
  - osops.toolkit.attributes.cloud_group
attributes:
  check_mode:
    support: full
    details: Returns which instances would go back, and how; changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Instances already back are reported as V(already_home) and nothing changes.
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: osops.toolkit.host_drain
"""

EXAMPLES = r"""
- name: Empty compute-7
  osops.toolkit.host_drain:
    host: compute-7
  register: drain

# ... the maintenance ...

- name: Let the scheduler use compute-7 again
  osops.toolkit.compute_service:
    host: compute-7
    status: enabled

- name: Bring its instances back
  osops.toolkit.host_return:
    host: compute-7
    instances: "{{ drain.instances }}"
"""

RETURN = r"""
instances:
  description:
    - One record per instance the drain had moved off O(host), with the same keys as the records
      of M(osops.toolkit.host_drain); C(origin) is where the instance was before going home,
      C(destination) where it is now.
    - C(result) is V(moved), V(already_home), V(gone), V(failed), V(timeout),
      V(not_moved), V(left), V(not_started), V(planned) (check mode), V(moved_elsewhere)
      (someone moved it to another host than O(host) while it waited; the module fails) or
      V(still_running) (the API stopped answering while nova moved it).
  returned: always
  type: list
  elements: dict
  sample:
    - {"id": "5c4f2d7e-8a5e-4a5b-9d0c-0e6f3b1a2c44", "name": "web-1", "status": "ACTIVE",
       "origin": "compute-3", "destination": "compute-7", "method": "live", "seconds": 38.0,
       "result": "moved", "error": null}
summary:
  description: How many instances ended with each result, and the total.
  returned: always
  type: dict
  sample: {"total": 2, "moved": 1, "already_home": 1, "gone": 0, "failed": 0, "timeout": 0,
           "not_moved": 0, "left": 0, "not_started": 0, "planned": 0, "moved_elsewhere": 0,
           "still_running": 0, "still_on_host": 0}
"""

from ansible_collections.osops.toolkit.plugins.module_utils._drain import (
    ALREADY_HOME,
    GONE,
    MOVED,
    MOVED_ELSEWHERE,
    STILL_RUNNING,
    TIMEOUT,
    drain_method,
    new_record,
)
from ansible_collections.osops.toolkit.plugins.module_utils._host_moves import MovesModule
from ansible_collections.osops.toolkit.plugins.module_utils._nova_moves import servers_at_rest


class HostReturnModule(MovesModule):
    verb = "send home"
    argument_spec = dict(
        host=dict(type="str", required=True),
        instances=dict(type="list", elements="dict", required=True),
        block_migration=dict(type="str", default="auto", choices=["auto", "always", "never"]),
    )

    def run(self):
        home = self.params["host"]
        self.check_run_options()
        _service, service = self.source_service(home)
        if service["status"] != "enabled" or service["state"] != "up":
            self.fail("%s cannot take its instances back: its compute service is %s and %s. Enable it "
                      "first (osops.toolkit.compute_service with status=enabled)."
                      % (home, service["status"], service["state"]))

        drained_off = list(self._drained_off(home))
        servers = servers_at_rest(self.compute, [d["id"] for d in drained_off],
                                  self.params["instance_timeout"], self.params["poll_interval"])
        records = self.records = []
        for drained in drained_off:
            server = servers[drained["id"]]
            if server is None:
                record = new_record({"id": drained["id"], "name": drained.get("name")}, None, None, home)
                record["result"] = GONE
            elif server["task_state"] and server["host"] == home:
                record = new_record(server, home, None, home)
                record["result"] = TIMEOUT
                record["error"] = ("nova was still at task %s after instance_timeout (%d s): a move a drain "
                                   "started may still take it off %s; run the return again once it ends"
                                   % (server["task_state"], self.params["instance_timeout"], home))
            elif server["host"] == home:
                record = new_record(server, home, None, home)
                record["result"] = ALREADY_HOME
            else:
                record = self.records_for([server], server["host"], drain_method, "migrate", home)[0]
            records.append(record)
        self.run_moves(records)
        for record in records:
            if record["result"] == MOVED_ELSEWHERE and record["destination"] == home:
                # someone sent it home while it waited
                record["result"], record["error"] = ALREADY_HOME, None
        # one moved elsewhere meanwhile is not home: the return is not done
        self.report(records, "to %s" % home, also_unsuccessful=(MOVED_ELSEWHERE,))

    def _drained_off(self, home):
        for record in self.params["instances"]:
            if not record.get("id"):
                self.fail("Every entry of instances needs an id; pass the instances that host_drain returned.")
            if record.get("origin") == home and record.get("result") in (MOVED, STILL_RUNNING):
                yield record


def main():
    HostReturnModule()()


if __name__ == "__main__":
    main()
