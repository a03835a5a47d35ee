#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_drain
short_description: Move every instance off one hypervisor so it can be worked on
version_added: 0.1.0
description:
  - Checks that the other hosts can hold the instances (placement), disables the host's
    nova-compute service with a reason so nothing new lands there, then moves its instances
    away, O(concurrency) at a time.
  - V(ACTIVE) and V(PAUSED) instances are live-migrated, V(SHUTOFF) ones cold-migrated and
    the migration confirmed (they stay shut off). Instances in any other state are never
    skipped silently; O(other_states) says what happens to them. An instance that an earlier,
    stopped run of the same host was still moving is waited for, up to O(instance_timeout)
    seconds, before the plan is made.
  - The host is matched exactly; draining C(compute-1) never touches C(compute-10).
  - One instance that cannot be moved does not stop the others (see O(stop_on_failure)); the
    module fails at the end when any instance is still on the host, returns every record and
    leaves the service disabled.
  - After the moves the host is listed once more; an instance still there (or one that arrived
    meanwhile) is reported with result V(still_on_host) and fails the module, the host is
    never reported drained while nova still lists an instance on it.
  - The records in RV(instances) are what M(osops.toolkit.host_return) takes to send the
    instances home after the maintenance. When a drain is run again (after a failed move, or
    a stopped run), pass the records of the earlier run in O(previous_instances) so that the
    records returned cover both runs and the instances the first run moved are sent home too.
options:
  host:
    description:
      - The host to drain, as C(openstack compute service list) shows it.
    type: str
    required: true
  disabled_reason:
    description:
      - The reason set on the disabled compute service; shown by
        C(openstack compute service list --long).
      - It is written as C(osops:host_drain <UTC time> <disabled_reason>), so that what puts the
        host back (M(osops.toolkit.compute_service) with O(osops.toolkit.compute_service#module:owner=host_drain))
        enables it only when nobody disabled it for another reason since.
      - A host that is already disabled for another reason (a person's, Nova's, another job's)
        keeps that reason, with a warning.
    type: str
    default: drained by osops.toolkit.host_drain
  destination_host:
    description:
      - Move every instance to this host. It must be an enabled and up compute host; nova's
        scheduler still checks that each instance fits.
      - When neither this nor O(destination_aggregate) is set, nova's scheduler chooses.
    type: str
  destination_aggregate:
    description:
      - Move the instances to hosts of this host aggregate (name, id or UUID). The module
        spreads them over the aggregate's enabled and up hosts by free capacity and names the
        host for each move; nova's scheduler still checks each one.
    type: str
  block_migration:
    description:
      - V(auto) lets nova decide per instance (shared storage or not).
      - V(always) and V(never) force a block migration or a shared-storage one.
    type: str
    default: auto
    choices: [auto, always, never]
  capacity_check:
    description:
      - Before changing anything, check in placement that the enabled and up destination hosts
        have room (VCPU, MEMORY_MB, DISK_GB with allocation ratios) for every instance to move,
        and fail with nothing changed when they have not.
      - V(false) goes ahead anyway; nova then refuses the instances that fit nowhere.
    type: bool
    default: true
  previous_instances:
    description:
      - The RV(instances) records of an earlier drain of the same O(host) (for example the
        records file of the C(osops.toolkit.drain_host) playbook, or its AWX artifact).
      - RV(instances) then holds this run's records plus the earlier records of instances that
        were moved off O(host) then and are not on it now, with their first origin, so that
        M(osops.toolkit.host_return) sends every one of them home. Records of other hosts and
        of instances that did not move are left out. C(changed) reflects this run only.
    type: list
    elements: dict
    default: []
  records_file:
    description:
      - A file on the host that runs the module where the records are kept while the drain runs,
        written (mode 0600, whole, by renaming a new file over it) before the first move, when
        each move starts and when each one ends, and at the end as RV(instances).
      - A run that is killed or crashes part way leaves in it every instance it moved, and those
        nova was moving then with result V(still_running); a later run of the same O(host) reads
        the file as O(previous_instances) (it adds to them) and keeps those of them that left
        O(host) as V(moved), so M(osops.toolkit.host_return) sends every one of them home.
      - Its directory must exist. Not written in check mode.
    type: path
extends_documentation_fragment:
  - osops.toolkit.cloud
  - osops.toolkit.moves
  - osops.toolkit.attributes
  - osops.toolkit.attributes.cloud_group
attributes:
  check_mode:
    support: full
    details: Returns the plan (what would move, how, and where when the module chooses) and changes nothing.
  diff_mode:
    support: full
  idempotent:
    support: full
    details: A drained host has no instance left to move and its service is already disabled.
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: osops.toolkit.host_return
  - module: osops.toolkit.host_evacuate
  - module: osops.toolkit.compute_service
"""

EXAMPLES = r"""
- name: Empty compute-7 before its kernel upgrade
  osops.toolkit.host_drain:
    cloud: prod
    host: compute-7
    disabled_reason: "CHG-1234 kernel upgrade (alice)"
    concurrency: 4
    progress_file: /tmp/drain-compute-7.jsonl
  register: drain

- name: What would move, and how
  osops.toolkit.host_drain:
    cloud: prod
    host: compute-7
  check_mode: true
  register: plan

- name: Drain into the spare aggregate, leaving suspended instances where they are
  osops.toolkit.host_drain:
    cloud: prod
    host: compute-7
    destination_aggregate: spares
    other_states: leave
"""

RETURN = r"""
instances:
  description: One record per instance that was on the host.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Instance UUID.
      type: str
    name:
      description: Instance name.
      type: str
    status:
      description: Instance status (after the move when it moved).
      type: str
      sample: ACTIVE
    origin:
      description: The host it was on.
      type: str
      sample: compute-7
    destination:
      description: The host it is on now; the planned host in check mode, null when the scheduler chooses.
      type: str
      sample: compute-3
    method:
      description: V(live), V(cold), or null when nova cannot move it.
      type: str
      sample: live
    seconds:
      description: How long the move took.
      type: float
      sample: 41.5
    result:
      description:
        - V(moved), V(failed), V(timeout), V(not_moved) (its state has no safe move),
          V(left) (O(other_states=leave)), V(not_started) (stopped early), V(planned) (check mode).
        - V(moved_elsewhere) (someone else moved it off the host before its turn; not moved
          again, not sent home by M(osops.toolkit.host_return)), V(gone) (deleted meanwhile).
        - V(still_running) (the API stopped answering while nova moved it; it may still
          finish), V(still_on_host) (nova still lists it on the host after the drain, or it
          arrived during the drain).
      type: str
      sample: moved
    error:
      description: Why it did not move, with nova's own error when it recorded one.
      type: str
      sample: "live-migration ended in status error: NoValidHost: No valid host was found."
  sample:
    - {"id": "5c4f2d7e-8a5e-4a5b-9d0c-0e6f3b1a2c44", "name": "web-1", "status": "ACTIVE",
       "origin": "compute-7", "destination": "compute-3", "method": "live", "seconds": 41.5,
       "result": "moved", "error": null}
summary:
  description: How many instances ended with each result, and the total.
  returned: always
  type: dict
  sample: {"total": 3, "moved": 2, "failed": 1, "timeout": 0, "not_moved": 0, "left": 0,
           "not_started": 0, "planned": 0, "already_home": 0, "gone": 0, "moved_elsewhere": 0,
           "still_running": 0, "still_on_host": 0}
service:
  description: The host's compute service after the run (as it would be, in check mode).
  returned: always
  type: dict
  sample: {"host": "compute-7", "status": "disabled", "state": "up",
           "disabled_reason": "CHG-1234 kernel upgrade (alice)", "forced_down": false}
diff:
  description: The service status and reason, and the instances on the host, before and after.
  returned: in diff mode
  type: dict
"""

from ansible_collections.osops.toolkit.plugins.module_utils._compute import owned_service_change
from ansible_collections.osops.toolkit.plugins.module_utils._drain import (
    NOT_STARTED,
    STILL_ON_HOST,
    STILL_RUNNING,
    capacity_message,
    drain_method,
    fit_instances,
    left_on_host,
    merge_records,
    summarize,
)
from ansible_collections.osops.toolkit.plugins.module_utils._host_moves import MovesModule, RecordsFile
from ansible_collections.osops.toolkit.plugins.module_utils._nova_moves import (
    aggregate_hosts,
    compute_services,
    free_capacity,
    instance_demands,
    servers_at_rest,
    servers_on_host,
)


# the owner of the disabled reason (see _compute.owned_reason); what enables the host again names it
SERVICE_OWNER = "host_drain"


class HostDrainModule(MovesModule):
    verb = "move off"
    argument_spec = dict(
        host=dict(type="str", required=True),
        disabled_reason=dict(type="str", default="drained by osops.toolkit.host_drain"),
        destination_host=dict(type="str"),
        destination_aggregate=dict(type="str"),
        block_migration=dict(type="str", default="auto", choices=["auto", "always", "never"]),
        capacity_check=dict(type="bool", default=True),
        previous_instances=dict(type="list", elements="dict", default=[]),
        records_file=dict(type="path"),
    )
    module_kwargs = dict(
        mutually_exclusive=[("destination_host", "destination_aggregate")],
        supports_check_mode=True,
    )

    def run(self):
        p = self.params
        host = p["host"]
        self.check_run_options()
        service, before = self.source_service(host)
        destinations = self.destination_hosts(host)

        for previous in p["previous_instances"]:
            if not previous.get("id"):
                self.fail("Every entry of previous_instances needs an id; pass the instances an earlier "
                          "host_drain returned.")
        previous = self.earlier_records() + p["previous_instances"]
        servers = self.at_rest_on(host, servers_on_host(self.compute, host), previous)
        records = self.records = self.records_for(servers, host, drain_method, "migrate", p["destination_host"])
        self.place(records, servers, destinations)

        changes, _refusal, note = owned_service_change(before, "disabled", p["disabled_reason"], SERVICE_OWNER)
        if note:
            self.warn(note)
        if p["records_file"] and not self.check_mode:
            self.records_file = RecordsFile(p["records_file"], previous, host, self.warn)
            self.records_file.save(records)
            if self.records_file.failed:
                self.fail("records_file %s cannot be written; point it at a writable file or leave it unset. "
                          "Nothing was changed." % p["records_file"])
        after = self.set_service(service, before, changes)
        if not self.check_mode:
            # what the scheduler placed here before the service was disabled
            known = set(r["id"] for r in records)
            late = [s for s in servers_on_host(self.compute, host) if s["id"] not in known]
            records += self.records_for(late, host, drain_method, "migrate", p["destination_host"])
        self.run_moves(records)
        if not self.check_mode and not self.outage:
            self.check_empty(records, host)

        if self.ansible._diff:
            gone = ("moved", "planned", "moved_elsewhere", "gone")
            self.results["diff"] = {
                "before": {"service": _service_diff(before), "instances": sorted(_names(records))},
                "after": {"service": _service_diff(after),
                          "instances": sorted(_names(r for r in records if r["result"] not in gone))},
            }
        # this run's moves (or plan) and the service change decide changed, not earlier runs' records
        changed = self.results["changed"] or any(r["result"] in ("moved", "planned") for r in records)
        records = self.records = merge_records(previous, records, host)
        self.results["changed"] = changed
        if self.records_file:
            self.records_file.write(records)
        self.report(records, "off %s" % host, " %s stays disabled." % host if not self.check_mode else "",
                    changed=changed)

    def at_rest_on(self, host, servers, previous):
        """``servers``, once nova is done with those an earlier run was still moving when it
        stopped (that move ends elsewhere); those that left ``host`` meanwhile are left out. Other
        busy instances are not waited for here: the moves ask again for them (BUSY)."""
        moving = set(r.get("id") for r in previous if r.get("result") == STILL_RUNNING and r.get("origin") == host)
        busy = [server["id"] for server in servers if server["task_state"] and server["id"] in moving]
        if not busy:
            return servers
        now = servers_at_rest(self.compute, busy, self.params["instance_timeout"], self.params["poll_interval"])
        return [server for server in servers if not server["task_state"]] + [
            now[i] for i in busy if now[i] is not None and now[i]["host"] == host]

    def earlier_records(self):
        """What records_file holds from an earlier run ([] without one)."""
        path = self.params["records_file"]
        if not path:
            return []
        try:
            return RecordsFile.read(path)
        except (IOError, OSError, ValueError) as error:
            self.fail("records_file %s cannot be read (%s). It holds the records of an earlier drain of %s: "
                      "fix or restore it, or move it away once every instance it names is home. Nothing was "
                      "changed." % (path, error, self.params["host"]))

    def check_empty(self, records, host):
        """List the host once more: what is still there is reported, never taken as drained."""
        newcomers = left_on_host(records, servers_on_host(self.compute, host), host)
        for record in self.records_for(newcomers, host, drain_method, "migrate"):
            record["result"] = STILL_ON_HOST
            record["error"] = "arrived on %s during the drain; drain it again" % host
            records.append(record)

    def destination_hosts(self, source):
        """The enabled, up compute hosts instances may go to, as the options narrow them."""
        p = self.params
        services = dict((s["host"], s) for s in compute_services(self.compute))
        eligible = set(h for h, s in services.items()
                       if h != source and s["status"] == "enabled" and s["state"] == "up" and not s["forced_down"])
        if p["destination_host"]:
            name = p["destination_host"]
            if name not in services:
                self.fail("destination_host %r has no nova-compute service (the name must match exactly)." % name)
            if name == source:
                self.fail("destination_host is the host being drained (%s)." % source)
            if name not in eligible:
                svc = services[name]
                self.fail("destination_host %s cannot take instances: its compute service is %s and %s."
                          % (name, svc["status"], "forced down" if svc["forced_down"] else svc["state"]))
            return set([name])
        if p["destination_aggregate"]:
            members = aggregate_hosts(self.compute, p["destination_aggregate"])
            if members is None:
                self.fail("destination_aggregate %r does not exist." % p["destination_aggregate"])
            eligible &= set(members)
            if not eligible:
                self.fail("destination_aggregate %s has no enabled and up compute host other than %s."
                          % (p["destination_aggregate"], source))
        return eligible

    def place(self, records, servers, destinations):
        """Capacity pre-check, and a host per instance when the module chooses it."""
        p = self.params
        movable = set(r["id"] for r in records if r["result"] is None)
        if not movable or not (p["capacity_check"] or p["destination_aggregate"]):
            return
        free = free_capacity(self.compute, self.placement, destinations)
        demands = instance_demands(self.compute, self.placement, p["host"],
                                   [s for s in servers if s["id"] in movable])
        placed, unfit = fit_instances(demands, free)
        if unfit and p["capacity_check"]:
            for record in records:
                if record["result"] is None:
                    record["result"] = NOT_STARTED
                    record["error"] = "capacity pre-check failed" + (
                        ": fits on no destination host" if record["id"] in unfit else "")
            self.results["instances"] = records
            self.results["summary"] = summarize(records)
            self.fail(capacity_message([r for r in records if r["id"] in unfit], free, demands))
        if p["destination_aggregate"]:
            spare = sorted(destinations)
            for index, record in enumerate(r for r in records if r["id"] in movable):
                record["destination"] = placed.get(record["id"]) or spare[index % len(spare)]


def _service_diff(service):
    return dict((k, service[k]) for k in ("status", "disabled_reason"))


def _names(records):
    return ["%s (%s)" % (r["name"], r["id"]) for r in records]


def main():
    HostDrainModule()()


if __name__ == "__main__":
    main()
