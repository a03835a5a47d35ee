# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""What host_drain, host_return and host_evacuate share: run options, the run, the result."""

from __future__ import annotations

import datetime
import json
import os

try:
    from openstack import exceptions as sdk_exceptions
except ImportError:  # reported by CloudModule._check_sdk
    sdk_exceptions = None

from ansible_collections.osops.toolkit.plugins.module_utils import _api as api
from ansible_collections.osops.toolkit.plugins.module_utils._cloud import CloudModule, sdk_error_message
from ansible_collections.osops.toolkit.plugins.module_utils._compute import (
    find_compute_service,
    service_after,
    service_from_json,
    service_to_dict,
    update_compute_service,
)
from ansible_collections.osops.toolkit.plugins.module_utils._drain import (
    LEFT,
    NOT_MOVED,
    NOT_STARTED,
    PLANNED,
    STILL_RUNNING,
    MoveRunner,
    merge_records,
    new_record,
    records_as_of_now,
    summarize,
    unmovable_error,
    unsuccessful,
)
from ansible_collections.osops.toolkit.plugins.module_utils._nova_moves import (
    ApiUnavailable,
    MoveError,
    NovaMoves,
    RetryingApi,
)

# the block_migration option's words, as nova's os-migrateLive wants them
_BLOCK_MIGRATION = {"auto": "auto", "always": True, "never": False}


def moves_argument_spec():
    """The options of every module that moves instances (doc fragment osops.toolkit.moves)."""
    return dict(
        concurrency=dict(type="int", default=2),
        instance_timeout=dict(type="int", default=1800),
        timeout=dict(type="int", default=7200),
        stop_on_failure=dict(type="bool", default=False),
        poll_interval=dict(type="float", default=2.0),
        other_states=dict(type="str", default="report", choices=["report", "leave"]),
        progress_file=dict(type="path"),
        api_retry_timeout=dict(type="int", default=120),
    )


class MovesModule(CloudModule):
    """A CloudModule that moves instances off (or back to) one host and reports per instance."""

    verb = "move"

    def __init__(self):
        spec = moves_argument_spec()
        spec.update(self.argument_spec)
        self.argument_spec = spec
        super(MovesModule, self).__init__()
        self.records = None
        self.records_file = None
        self.outage = None
        self._compute = self._placement = None

    @property
    def compute(self):
        """conn.compute, retrying transport errors and 502/503/504 for api_retry_timeout."""
        if self._compute is None:
            self._compute = RetryingApi(self.conn.compute, self.params["api_retry_timeout"])
        return self._compute

    @property
    def placement(self):
        if self._placement is None:
            self._placement = RetryingApi(self.conn.placement, self.params["api_retry_timeout"])
        return self._placement

    def fail(self, msg, **kwargs):
        """Fail, returning every record known so far (those without a result: not_started)."""
        if self.records is not None:
            for record in self.records:
                if record["result"] is None:
                    record["result"] = NOT_STARTED
                    record["error"] = "not started: the run ended early"
            kwargs.setdefault("instances", self.records)
            kwargs.setdefault("summary", summarize(self.records))
        super(MovesModule, self).fail(msg, **kwargs)

    def check_run_options(self):
        p = self.params
        for option in ("concurrency", "instance_timeout", "timeout"):
            if p[option] < 1:
                self.fail("%s must be 1 or more, not %s." % (option, p[option]))
        if p["poll_interval"] <= 0:
            self.fail("poll_interval must be more than 0 seconds.")
        if p["api_retry_timeout"] < 0:
            self.fail("api_retry_timeout must be 0 or more seconds, not %s." % p["api_retry_timeout"])
        problem = _unwritable(p["progress_file"])
        if problem:
            self.fail("progress_file %s cannot be written (%s); point it at a writable file or leave it "
                      "unset. Nothing was changed." % (p["progress_file"], problem))
        self.require_microversion(self.conn.compute, api.NOVA_MOVES, "Moving instances between hosts")

    def source_service(self, host):
        """The nova-compute service of ``host`` as a dict; fails clearly when there is none."""
        service = find_compute_service(self.conn.compute, host)
        if service is None:
            self.fail("No nova-compute service runs on host %r (the name must match exactly). Check it "
                      "with 'openstack compute service list --service nova-compute'." % host)
        return service, service_to_dict(service)

    def records_for(self, servers, origin, method_of, verb, destination=None):
        """One record per server; those nova cannot move get their result now."""
        records = []
        for server in servers:
            method = method_of(server["status"])
            record = new_record(server, origin, method, destination)
            if method is None:
                record["result"] = LEFT if self.params["other_states"] == "leave" else NOT_MOVED
                record["error"] = unmovable_error(server["status"], verb)
            records.append(record)
        return records

    def set_service(self, service, before, changes):
        """Apply a compute service change (from wanted_service_state) unless in check mode."""
        after = service_after(before, changes)
        if changes:
            self.results["changed"] = True
            if not self.check_mode:
                after = service_from_json(update_compute_service(self.conn.compute, service, changes))
                after["availability_zone"] = after["availability_zone"] or before["availability_zone"]
        self.results["service"] = after
        return after

    def run_moves(self, records):
        """Move every record without a result yet; in check mode mark them planned."""
        todo = [r for r in records if r["result"] is None]
        if self.check_mode:
            for record in todo:
                record["result"] = PLANNED
            return records
        self.records = records
        progress = _Progress(self.params["progress_file"], self.warn)
        progress(0, len(todo), None)
        keep = self.records_file.save if self.records_file else (lambda records: None)

        def progressed(done, total, record):
            progress(done, total, record)
            keep(records)
        if not todo:
            return records
        block_migration = _BLOCK_MIGRATION[self.params.get("block_migration") or "auto"]
        runner = MoveRunner(
            None, concurrency=self.params["concurrency"], instance_timeout=self.params["instance_timeout"],
            overall_timeout=self.params["timeout"], stop_on_failure=self.params["stop_on_failure"],
            poll_interval=self.params["poll_interval"], min_poll=min(0.25, self.params["poll_interval"]),
            error_types=(sdk_exceptions.SDKException, MoveError), outage_types=(ApiUnavailable,),
            error_message=sdk_error_message, on_progress=progressed, on_start=lambda record: keep(records))
        try:
            runner.driver = NovaMoves(self.compute, block_migration=block_migration)
        except ApiUnavailable as error:
            runner.driver = _Unreachable(error)
        runner.run(records)
        self.outage = runner.outage
        return records

    def report(self, records, host, failure_note="", also_unsuccessful=(), changed=None):
        """Put the records and counts in the result; fail when an instance was not moved.

        ``changed``: whether this run changed something, when the records also hold earlier runs'.
        """
        summary = summarize(records)
        self.results["instances"] = records
        self.results["summary"] = summary
        if changed is not None:
            self.results["changed"] = changed
        elif summary["moved"] or summary["planned"]:
            self.results["changed"] = True
        if summary["left"]:
            self.warn("%d instance(s) stay on %s because other_states=leave: %s" % (
                summary["left"], host, ", ".join(_label(r) for r in records if r["result"] == LEFT)))
        running = [r for r in records if r["result"] == STILL_RUNNING]
        if running:
            failure_note += " Still moving in nova when the run stopped (they may finish; look at " \
                "'openstack server migration list --server ID'): %s." % ", ".join(_label(r) for r in running)
        bad = unsuccessful(records, also_unsuccessful)
        if bad:
            details = "; ".join("%s: %s (%s)" % (_label(r), r["result"], r["error"]) for r in bad[:20])
            self.fail("Could not %s %d of %d instance(s) %s: %s.%s"
                      % (self.verb, len(bad), len(records), host, details, failure_note))


def _label(record):
    return "%s (%s)" % (record["name"], record["id"]) if record["name"] else record["id"]


class _Unreachable(object):
    """The driver when nova did not answer before the first move: every call says so."""

    def __init__(self, error):
        self.error = error

    def __getattr__(self, name):
        raise self.error


def _unwritable(path):
    """Why ``path`` cannot be written (created or appended to), or None when it can."""
    if not path:
        return None
    if os.path.isdir(path):
        return "it is a directory"
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        return "directory %s does not exist" % parent
    target = path if os.path.exists(path) else parent
    if not os.access(target, os.W_OK):
        return "permission denied"
    return None


class _Progress(object):
    """Writes one JSON line per finished instance, so an operator can follow a long run.

    A write that fails (disk full, file removed with its directory) is warned about once and
    the run goes on: the records are still returned.
    """

    def __init__(self, path, warn):
        self.path = path
        self.warn = warn

    def __call__(self, done, total, record):
        if not self.path:
            return
        line = {"done": done, "total": total,
                "time": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if record is not None:
            line.update((k, record[k]) for k in ("id", "name", "result", "destination", "seconds", "error"))
        try:
            with open(self.path, "w" if record is None else "a") as handle:
                handle.write(json.dumps(line, sort_keys=True) + "\n")
        except (IOError, OSError) as error:
            self.warn("progress_file %s could not be written (%s); the run goes on and returns every "
                      "record." % (self.path, error))
            self.path = None


class RecordsFile(object):
    """The records of a drain on disk, kept current while it runs: written when a move starts and
    when one ends, so that a run killed at any point leaves every instance it moved (or was
    moving) in the file, for the next run and for the return.

    Written whole each time (a new file renamed over the old one, mode 0600), with the
    ``previous`` records merged in as the module merges them in its result.
    """

    def __init__(self, path, previous, host, warn):
        self.path = path
        self.previous = previous
        self.host = host
        self.warn = warn
        self.failed = False

    @staticmethod
    def read(path):
        """The records in ``path`` ([] when it does not exist); ValueError when it is not a list of records."""
        if not os.path.exists(path):
            return []
        with open(path) as handle:
            records = json.load(handle)
        if not isinstance(records, list) or not all(isinstance(r, dict) and r.get("id") for r in records):
            raise ValueError("not a JSON list of records with an id each")
        return records

    def save(self, records):
        """This run's ``records`` as they are now, merged with the earlier ones."""
        self.write(merge_records(self.previous, records_as_of_now(records), self.host))

    def write(self, records):
        """``records`` as they are (already merged)."""
        temporary = "%s.%d.tmp" % (self.path, os.getpid())
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                json.dump(records_as_of_now(records), handle, indent=1, sort_keys=True)
            os.replace(temporary, self.path)
        except (IOError, OSError) as error:
            if not self.failed:
                self.warn("records_file %s could not be written (%s); the run goes on and returns every "
                          "record: keep them from the result." % (self.path, error))
            self.failed = True
            try:
                os.unlink(temporary)
            except OSError:
                pass
