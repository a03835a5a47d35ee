# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""Planning and running the migrations of a drain, a return home or an evacuation.

Pure logic over plain dicts: which method moves an instance, whether the remaining hosts can
hold what has to move, and a runner that keeps up to N moves in flight with timeouts. The
cloud calls live behind a small driver object (see _nova_moves.py), so the runner is
unit-tested with a fake driver and a fake clock.
"""

from __future__ import annotations

import collections
import time

LIVE_STATES = ("ACTIVE", "PAUSED")
COLD_STATES = ("SHUTOFF",)
# what nova's evacuate API accepts (vm_states active, stopped, error)
EVACUATE_STATES = ("ACTIVE", "SHUTOFF", "ERROR")

# results a record can end with
MOVED = "moved"
FAILED = "failed"
TIMEOUT = "timeout"
NOT_MOVED = "not_moved"      # its state has no safe move and nobody said what to do
LEFT = "left"                # its state has no safe move and the caller accepted leaving it
NOT_STARTED = "not_started"  # the run stopped (a failure with stop_on_failure, or the overall timeout)
PLANNED = "planned"          # check mode
ALREADY_HOME = "already_home"
GONE = "gone"                # deleted meanwhile
MOVED_ELSEWHERE = "moved_elsewhere"  # someone else moved it off its origin before the run got to it
STILL_RUNNING = "still_running"      # nova was moving it when the API stopped answering; it may finish
STILL_ON_HOST = "still_on_host"      # listed on the host once more after the drain
# what driver.start returns when another operation keeps the instance busy: ask again later
BUSY = "busy"

# results that leave the host not empty and fail the module
UNSUCCESSFUL = (FAILED, TIMEOUT, NOT_MOVED, NOT_STARTED, STILL_RUNNING, STILL_ON_HOST)
RESULTS = (MOVED, FAILED, TIMEOUT, NOT_MOVED, LEFT, NOT_STARTED, PLANNED, ALREADY_HOME, GONE,
           MOVED_ELSEWHERE, STILL_RUNNING, STILL_ON_HOST)

# resource classes that decide whether an instance fits on a host
FIT_CLASSES = ("VCPU", "MEMORY_MB", "DISK_GB")


def drain_method(status):
    """How an instance in ``status`` leaves its host: 'live', 'cold', or None (no safe move)."""
    if status in LIVE_STATES:
        return "live"
    if status in COLD_STATES:
        return "cold"
    return None


def new_record(server, origin, method, destination=None):
    """The record of one instance, as the modules return it."""
    return {
        "id": server["id"],
        "name": server.get("name"),
        "status": server.get("status"),
        "origin": origin,
        "destination": destination,
        "method": method,
        "seconds": None,
        "result": None,
        "error": None,
    }


def unmovable_error(status, verb="migrate"):
    return ("nova cannot %s an instance in state %s; move it by hand or set other_states=leave "
            "to accept that it stays" % (verb, status))


def summarize(records):
    """Counts per result, plus the total."""
    counts = dict((result, 0) for result in RESULTS)
    for record in records:
        counts[record["result"]] = counts.get(record["result"], 0) + 1
    counts["total"] = len(records)
    return counts


def unsuccessful(records, also=()):
    """The records that leave the run unfinished (``also``: results that count as such here)."""
    return [r for r in records if r["result"] in UNSUCCESSFUL or r["result"] in also]


def merge_records(previous, current, host):
    """This run's records of ``host`` merged with an earlier run's.

    An instance an earlier run moved off ``host`` and that this run did not find there any more
    keeps its earlier record, so that sending the instances home also brings it back. An
    instance both runs saw gets this run's record, with the origin of its first move. Earlier
    records of other hosts, or of instances that did not move then and are gone from ``host``
    now, are left out. Returns a new list: this run's records, then the kept earlier ones.
    An earlier record with result still_running (that run stopped while nova moved it) whose
    instance is not on ``host`` any more is kept as moved: nova finished that move. So is one
    this run found still on ``host`` while nova moved it, and saw leave (moved_elsewhere).
    """
    earlier = collections.OrderedDict()
    for r in previous or []:
        if r.get("id") and r.get("origin") == host and r.get("result") in (MOVED, STILL_RUNNING):
            earlier[r["id"]] = r      # a later entry for the same instance wins
    merged = []
    for record in current:
        first = earlier.pop(record["id"], None)
        if first is not None:
            record["origin"] = first["origin"]
            if record["result"] == MOVED_ELSEWHERE and first["result"] == STILL_RUNNING:
                record["result"] = MOVED
                record["error"] = "moved by an earlier run that stopped while nova was moving it"
        merged.append(record)
    for r in earlier.values():
        kept = dict(new_record(r, r["origin"], r.get("method"), r.get("destination")),
                    **dict((k, r.get(k)) for k in ("seconds", "result", "error")))
        if kept["result"] == STILL_RUNNING:
            kept["result"] = MOVED
            kept["error"] = "moved by an earlier run that stopped while nova was moving it"
        merged.append(kept)
    return merged


def records_as_of_now(records):
    """Copies of ``records`` as a run that stops right now would leave them: a move in flight
    (started, no result yet) reads still_running, so what nova finishes later is not lost."""
    snapshot = []
    for record in records:
        copy = dict((k, v) for k, v in record.items() if not k.startswith("_"))
        if record["result"] is None and "_started" in record and "_waiting" not in record:
            copy["result"] = STILL_RUNNING
            copy["error"] = "the run stopped while nova was moving it; it may have finished"
        snapshot.append(copy)
    return snapshot


def left_on_host(records, listed, host):
    """After a drain: the records that claim the instance left ``host`` but it is still listed
    there get result still_on_host; instances listed there with no record at all are returned
    (as server dicts) for the caller to report."""
    known = dict((r["id"], r) for r in records)
    newcomers = []
    for server in listed:
        record = known.get(server["id"])
        if record is None:
            newcomers.append(server)
        elif record["result"] not in UNSUCCESSFUL and record["result"] != LEFT:
            record["error"] = "nova still lists it on %s after the drain (result was %s)" % (
                host, record["result"])
            record["result"] = STILL_ON_HOST
            record["destination"] = host
    return newcomers


def fit_instances(demands, free):
    """Place every demand on a host with room, largest first, on the host with most room left.

    ``demands``: list of (instance id, {resource class: amount}); ``free``: {host: {resource
    class: amount}}. Returns ({instance id: host}, [instance ids that fit nowhere]). A class a
    host does not offer counts as zero room. Worst-fit spreads like nova's default weighers.
    """
    room = dict((host, dict(amounts)) for host, amounts in free.items())
    placed, unfit = {}, []

    def size(item):
        return tuple(item[1].get(rc, 0) for rc in ("MEMORY_MB", "VCPU", "DISK_GB"))

    for instance_id, wants in sorted(demands, key=size, reverse=True):
        fitting = [host for host, left in room.items()
                   if all(left.get(rc, 0) >= amount for rc, amount in wants.items() if amount)]
        if not fitting:
            unfit.append(instance_id)
            continue
        host = max(fitting, key=lambda h: (room[h].get("MEMORY_MB", 0), room[h].get("VCPU", 0), h))
        for rc, amount in wants.items():
            room[host][rc] = room[host].get(rc, 0) - amount
        placed[instance_id] = host
    return placed, unfit


def capacity_message(unfit_records, free, demands):
    """One sentence for a failed capacity pre-check."""
    wanted = dict((rc, sum(d.get(rc, 0) for _id, d in demands)) for rc in FIT_CLASSES)
    offered = dict((rc, sum(f.get(rc, 0) for f in free.values())) for rc in FIT_CLASSES)
    names = ", ".join(r["name"] or r["id"] for r in unfit_records[:10])
    if len(unfit_records) > 10:
        names += ", ..."
    return ("Capacity pre-check: the %d enabled and up destination host(s) cannot hold %d of the %d "
            "instance(s) to move (%s). Needed %s; free %s. Nothing was moved. Free capacity (enable "
            "hosts, widen the destination) or set capacity_check=false to go ahead anyway."
            % (len(free), len(unfit_records), len(demands), names,
               _amounts(wanted), _amounts(offered)))


def _amounts(amounts):
    return " ".join("%s=%s" % (rc, amounts[rc]) for rc in FIT_CLASSES)


class MoveRunner(object):
    """Keeps up to ``concurrency`` moves in flight until every record has a result.

    ``driver`` does the cloud calls:
      - ``start(record)``: ask nova to move it (raises on refusal). It may instead return a
        result for a record it did not start (for example moved_elsewhere or gone, after
        reading the instance once more), or BUSY when another operation keeps the instance
        busy: then it is asked again a round later, until the per-instance timeout.
      - ``poll(records)``: {id: (phase, detail)} for the records in flight, in as few calls as it
        can; phase is 'running', 'confirm' (a cold migration waits for confirmation), 'done'
        or 'failed' (detail: why). A record missing from the answer is still running.
      - ``confirm(record)``: confirm a cold migration; returns False when nova cannot take the
        confirmation yet (it is asked again next round),
      - ``abort(record)`` (best effort, on timeout),
      - ``finish(record)``: read where the instance is now; sets record['destination'].
    Errors from ``start``/``confirm``/``finish`` fail that record only; ``error_message`` turns
    them into text. A failed poll is tried again next round. An error of ``outage_types`` (the
    API stays away) ends the run at once: moves in flight get still_running, the others
    not_started, and every record is returned. ``on_progress(done, total, record)`` is called
    when a record gets its result, ``on_start(record)`` when its move is in flight.
    """

    def __init__(self, driver, concurrency=1, instance_timeout=1800, overall_timeout=None,
                 stop_on_failure=False, poll_interval=2.0, min_poll=None, error_types=(Exception,),
                 error_message=str, on_progress=None, clock=time.monotonic, sleep=time.sleep,
                 outage_types=(), on_start=None):
        self.driver = driver
        self.concurrency = max(1, int(concurrency))
        self.instance_timeout = instance_timeout
        self.overall_timeout = overall_timeout
        self.stop_on_failure = stop_on_failure
        self.poll_interval = poll_interval
        self.min_poll = min_poll
        self.error_types = error_types
        self.outage_types = tuple(outage_types)
        self.error_message = error_message
        self.on_progress = on_progress
        self.on_start = on_start
        self.clock = clock
        self.sleep = sleep
        self._done = 0
        self._total = 0
        self._last_poll_error = None
        self.outage = None

    def run(self, records):
        """Move every record (those already having a result are left alone); returns them."""
        todo = [r for r in records if r["result"] is None]
        self._total = len(todo)
        pending = collections.deque(todo)
        in_flight = collections.OrderedDict()
        try:
            self._run(todo, pending, in_flight)
        except self.outage_types as error:  # pylint: disable=catching-non-exception
            self._outage(error, pending, in_flight)
        return records

    def _run(self, todo, pending, in_flight):
        began = self.clock()
        deadline = began + self.overall_timeout if self.overall_timeout else None
        stopping = None
        while pending or in_flight:
            now = self.clock()
            if deadline is not None and now >= deadline and not stopping:
                stopping = "the overall timeout (%ss) ran out before it started" % self.overall_timeout
            busy = []
            try:
                while pending and not stopping and len(in_flight) < self.concurrency:
                    record = pending.popleft()
                    try:
                        started = self._start(record)
                    except self.outage_types:  # pylint: disable=catching-non-exception
                        record.pop("_started", None)
                        pending.appendleft(record)
                        raise
                    if started == BUSY:
                        busy.append(record)
                    elif started:
                        in_flight[record["id"]] = record
                        if self.on_start:
                            self.on_start(record)
                    elif self.stop_on_failure and record["result"] in UNSUCCESSFUL:
                        stopping = "not started: stop_on_failure is set and an earlier move failed"
            finally:
                # asked again next round, before the others
                pending.extendleft(reversed(busy))
            if stopping:
                while pending:
                    self._finish(pending.popleft(), NOT_STARTED, stopping)
            if not in_flight:
                if busy:
                    self.sleep(self.poll_interval)
                continue
            self.sleep(self._interval(in_flight))
            self._poll(in_flight, deadline)
            if self.stop_on_failure and not stopping and any(
                    r["result"] in UNSUCCESSFUL for r in todo):
                stopping = "not started: stop_on_failure is set and an earlier move failed"

    def _outage(self, error, pending, in_flight):
        message = self.outage = self.error_message(error)
        for record in list(in_flight.values()):
            self._finish(record, STILL_RUNNING, "nova was still moving it when the run stopped (%s); it may "
                         "still finish: look at 'openstack server migration list --server %s'"
                         % (message, record["id"]))
        in_flight.clear()
        while pending:
            record = pending.popleft()
            if record["result"] is None:
                self._finish(record, NOT_STARTED, "not started: %s" % message)

    def _interval(self, in_flight):
        """poll_interval; with min_poll, a tenth of the youngest move's age in between.

        A move that may end any moment is looked at soon, a long one every poll_interval, so
        the time between nova finishing and the runner noticing stays a small share of either.
        """
        if not self.min_poll:
            return self.poll_interval
        youngest = min(self.clock() - r["_started"] for r in in_flight.values())
        return min(self.poll_interval, max(self.min_poll, youngest / 10.0))

    def _start(self, record):
        """True when the move is in flight, BUSY to ask again later, False when it ended."""
        now = self.clock()
        record.setdefault("_waiting", now)
        record["_started"] = now
        try:
            outcome = self.driver.start(record)
        except self.outage_types:  # pylint: disable=catching-non-exception
            raise
        except self.error_types as error:  # pylint: disable=catching-non-exception
            self._finish(record, FAILED, self.error_message(error))
            return False
        if outcome == BUSY:
            if now - record["_waiting"] >= self.instance_timeout:
                self._finish(record, TIMEOUT, "another operation kept it busy (%s) for %ss (per-instance timeout)"
                             % (record.get("error") or "task in progress", self.instance_timeout))
                return False
            return BUSY
        if outcome:
            self._finish(record, outcome, record.get("error"))
            return False
        record.pop("_waiting", None)
        return True

    def _poll(self, in_flight, deadline):
        try:
            phases = self.driver.poll(list(in_flight.values()))
            self._last_poll_error = None
        except self.outage_types:  # pylint: disable=catching-non-exception
            raise
        except self.error_types as error:  # pylint: disable=catching-non-exception
            # one failed poll is not a failed migration: try again next round
            phases = {}
            self._last_poll_error = self.error_message(error)
        now = self.clock()
        for record_id, record in list(in_flight.items()):
            phase, detail = phases.get(record_id, ("running", None))
            result = error = None
            try:
                if phase == "confirm":
                    if not record.get("_confirmed") and self.driver.confirm(record) is not False:
                        record["_confirmed"] = True
                elif phase == "done":
                    self.driver.finish(record)
                    result = MOVED
                elif phase == "failed":
                    result, error = FAILED, detail
            except self.outage_types:  # pylint: disable=catching-non-exception
                raise
            except self.error_types as exc:  # pylint: disable=catching-non-exception
                result, error = FAILED, self.error_message(exc)
            if result is None:
                if now - record["_started"] >= self.instance_timeout:
                    result, error = TIMEOUT, "still %s after %ss (per-instance timeout)" % (
                        detail or "in progress", self.instance_timeout)
                elif deadline is not None and now >= deadline:
                    result, error = TIMEOUT, "still %s when the overall timeout (%ss) ran out" % (
                        detail or "in progress", self.overall_timeout)
                if result == TIMEOUT:
                    if self._last_poll_error:
                        error += "; the last look at nova failed: %s" % self._last_poll_error
                    error += self._abort(record)
            if result is not None:
                del in_flight[record_id]
                self._finish(record, result, error)

    def _abort(self, record):
        try:
            return self.driver.abort(record) or ""
        except self.outage_types:  # pylint: disable=catching-non-exception
            raise
        except self.error_types as exc:  # pylint: disable=catching-non-exception
            return "; abort failed: %s" % self.error_message(exc)

    def _finish(self, record, result, error=None):
        started = record.pop("_started", None)
        record.pop("_confirmed", None)
        record.pop("_waiting", None)
        if started is not None:
            record["seconds"] = round(self.clock() - started, 1)
        record["result"] = result
        record["error"] = error
        self._done += 1
        if self.on_progress:
            self.on_progress(self._done, self._total, record)
