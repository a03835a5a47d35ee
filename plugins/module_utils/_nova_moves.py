# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""The Nova and Placement calls of host_drain, host_return and host_evacuate.

Everything is raw JSON at one compute microversion, so the behaviour does not depend on how
a given openstacksdk release models migrations. Every call goes through a RetryingApi, which
rides out a short outage of the API (a restart, a load balancer without a backend).
"""

from __future__ import annotations

import datetime
import email.utils
import time

try:
    from keystoneauth1 import exceptions as ksa_exceptions
    from openstack import exceptions as sdk_exceptions
    from openstack import utils as sdk_utils
    _SDKException = sdk_exceptions.SDKException
except ImportError:  # reported by CloudModule._check_sdk
    ksa_exceptions = sdk_exceptions = sdk_utils = None
    _SDKException = Exception

from ansible_collections.osops.toolkit.plugins.module_utils import _api as api
from ansible_collections.osops.toolkit.plugins.module_utils._compute import service_from_json
from ansible_collections.osops.toolkit.plugins.module_utils._drain import (
    BUSY,
    GONE,
    MOVED_ELSEWHERE,
    drain_method,
)


_RUNNING, _CONFIRM, _DONE, _FAILED = "running", "confirm", "done", "failed"
_PHASES = {
    "live-migration": {"completed": _DONE, "error": _FAILED, "failed": _FAILED, "cancelled": _FAILED},
    "migration": {"finished": _CONFIRM, "confirmed": _DONE, "error": _FAILED, "failed": _FAILED,
                  "reverted": _FAILED},
    "evacuation": {"done": _DONE, "completed": _DONE, "error": _FAILED, "failed": _FAILED},
}
_MIGRATION_TYPES = {"live": "live-migration", "cold": "migration", "evacuate": "evacuation"}


class MoveError(Exception):
    """A move nova accepted but did not carry out as asked."""


class ApiUnavailable(_SDKException):
    """An API did not answer (transport errors, 502/503/504) for the whole retry time."""


# answers of a load balancer or of an API that is (re)starting: nothing was done, ask again
_RETRY_STATUSES = {"GET": (502, 503, 504), "DELETE": (502, 503, 504), "PUT": (502, 503, 504),
                   # a 504 may come after the API acted on it: not sent twice
                   "POST": (502, 503)}


def _retriable_errors(method):
    """The transport errors after which ``method`` can be sent again."""
    if ksa_exceptions is None:
        return ()
    if method == "POST":
        # the request never reached the API (refused, or no connection within the timeout)
        return (ksa_exceptions.RetriableConnectionFailure,)
    return (ksa_exceptions.RetriableConnectionFailure, ksa_exceptions.UnknownConnectionError)


class RetryingApi(object):
    """A service proxy (conn.compute, conn.placement) whose requests ride out an outage.

    A transport error or a 502/503/504 is retried with exponential backoff (``first_delay``
    doubling up to ``max_delay``) for at most ``retry_timeout`` seconds from the first failure
    of that request; then ApiUnavailable names the API, the time and the last error. Anything
    else is the proxy's own (``proxy`` is the wrapped one).
    """

    def __init__(self, proxy, retry_timeout=120, clock=time.monotonic, sleep=time.sleep,
                 first_delay=0.5, max_delay=10.0):
        self.proxy = proxy
        self.retry_timeout = retry_timeout
        self.clock = clock
        self.sleep = sleep
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.retries = 0

    def __getattr__(self, name):
        return getattr(self.proxy, name)

    def get(self, url, **kwargs):
        return self._request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self._request("POST", url, **kwargs)

    def put(self, url, **kwargs):
        return self._request("PUT", url, **kwargs)

    def delete(self, url, **kwargs):
        return self._request("DELETE", url, **kwargs)

    def _request(self, method, url, **kwargs):
        deadline, delay, attempts = None, self.first_delay, 0
        while True:
            attempts += 1
            try:
                response = getattr(self.proxy, method.lower())(url, **kwargs)
            except _retriable_errors(method) as error:  # pylint: disable=catching-non-exception
                problem = "%s: %s" % (error.__class__.__name__, error)
            else:
                if response.status_code not in _RETRY_STATUSES[method]:
                    return response
                problem = "HTTP %s" % response.status_code
            now = self.clock()
            if deadline is None:
                deadline = now + self.retry_timeout
            if now + delay > deadline:
                raise ApiUnavailable(
                    "The %s API did not answer %s %s for %ss (api_retry_timeout; %d attempt(s), last: %s). "
                    "Check that it runs and is reachable, then run the module again."
                    % (getattr(self.proxy, "service_type", "OpenStack"), method, url.split("?")[0],
                       self.retry_timeout, attempts, problem))
            self.retries += 1
            self.sleep(delay)
            delay = min(delay * 2, self.max_delay)


def _pages(compute, path, key, params=None):
    return api.paged(compute, path, key, params, api.NOVA_MOVES)


def _get(compute, path, params=None, microversion=api.NOVA_MOVES):
    return api.get(compute, path, params, microversion)


def _action(compute, server_id, body, microversion=api.NOVA_MOVES):
    response = compute.post("/servers/%s/action" % server_id, json=body, microversion=microversion)
    sdk_exceptions.raise_from_response(response)


def event_error(events):
    """': <message>' of the first failed instance action event, or ''."""
    for event in events:
        if event.get("result") != "Error":
            continue
        if event.get("details"):
            return ": " + event["details"].strip()
        # the exception line of a Python traceback is its last unindented one
        lines = [line for line in (event.get("traceback") or "").splitlines()
                 if line.strip() and not line[0].isspace() and not line.startswith("Traceback")]
        if lines:
            return ": " + lines[-1].strip()
    return ""


def compute_services(compute):
    """Every nova-compute service as a dict (see _compute.service_from_json)."""
    body = _get(compute, "/os-services", params={"binary": "nova-compute"}).json()
    return [service_from_json(s) for s in body["services"]]


def servers_on_host(compute, host, page_size=None):
    """Every instance nova places on ``host`` (all projects), matched exactly, as dicts.

    ``page_size``: the limit asked per page (nova's max_limit when None); every page is read.
    """
    params = {"all_tenants": "1", "host": host}
    if page_size:
        params["limit"] = page_size
    servers = [server_view(s) for s in _pages(compute, "/servers/detail", "servers", params)]
    return [s for s in servers if s["host"] == host]


def _instance_migrations(compute, server_id):
    """The uuids of every migration nova has of one instance."""
    migrations = _pages(compute, "/os-migrations", "migrations", {"instance_uuid": server_id})
    return set(m.get("uuid") for m in migrations)


def server_view(body):
    flavor = body.get("flavor") or {}
    return {
        "id": body["id"],
        "name": body.get("name"),
        "status": body.get("status"),
        "task_state": body.get("OS-EXT-STS:task_state"),
        "host": body.get("OS-EXT-SRV-ATTR:host"),
        "fault": (body.get("fault") or {}).get("message"),
        "flavor": {"vcpus": flavor.get("vcpus"), "ram": flavor.get("ram"),
                   "disk": (flavor.get("disk") or 0) + (flavor.get("ephemeral") or 0)},
    }


def get_server(compute, server_id):
    """The server as a dict, or None when it no longer exists."""
    response = compute.get("/servers/%s" % server_id, microversion=api.NOVA_MOVES)
    if response.status_code == 404:
        return None
    sdk_exceptions.raise_from_response(response)
    return server_view(response.json()["server"])


def servers_at_rest(compute, server_ids, timeout, poll_interval, clock=time.monotonic, sleep=time.sleep):
    """The servers of ``server_ids`` (None: deleted) once nova has no task running on any of them.

    A move still running (one a killed drain started) ends on another host: where the server is
    now says nothing until it ends. Those still busy after ``timeout`` seconds keep their task_state.
    """
    deadline = clock() + timeout
    servers = dict((server_id, get_server(compute, server_id)) for server_id in server_ids)
    while True:
        busy = [i for i, server in servers.items() if server is not None and server["task_state"]]
        if not busy or clock() >= deadline:
            return servers
        sleep(poll_interval)
        servers.update((server_id, get_server(compute, server_id)) for server_id in busy)


def aggregate_hosts(compute, aggregate):
    """The hosts of the aggregate named (or with the id or UUID) ``aggregate``; None if unknown."""
    for agg in _get(compute, "/os-aggregates").json()["aggregates"]:
        if aggregate in (agg.get("name"), str(agg.get("id")), agg.get("uuid")):
            return list(agg.get("hosts") or [])
    return None


def free_capacity(compute, placement, hosts):
    """{host: {resource class: free}} for the compute nodes of ``hosts``, from placement.

    One allocation-candidates call returns capacity and usage of every enabled compute
    provider that can hold at least a minimal instance; a full host is absent (no room).
    """
    hypervisors = list(_pages(compute, "/os-hypervisors/detail", "hypervisors"))
    provider_host = dict((hv["id"], hv["service"]["host"]) for hv in hypervisors
                         if hv.get("service", {}).get("host") in hosts)
    response = placement.get(
        "/allocation_candidates", params={"resources": "VCPU:1,MEMORY_MB:1",
                                          "required": "!COMPUTE_STATUS_DISABLED"},
        microversion=api.PLACEMENT_CANDIDATES)
    sdk_exceptions.raise_from_response(response)
    free = {}
    for provider, summary in response.json()["provider_summaries"].items():
        host = provider_host.get(provider)
        if host is None:
            continue
        room = free.setdefault(host, {})
        for rc, amounts in summary["resources"].items():
            room[rc] = room.get(rc, 0) + amounts["capacity"] - amounts["used"]
    return free


def instance_demands(compute, placement, host, servers):
    """[(server id, {resource class: amount})] from placement's allocations on ``host``'s nodes.

    An instance without an allocation there (nova has not healed it) counts its flavor.
    """
    hypervisors = list(_pages(compute, "/os-hypervisors/detail", "hypervisors"))
    allocations = {}
    for hv in hypervisors:
        if hv.get("service", {}).get("host") != host:
            continue
        response = placement.get("/resource_providers/%s/allocations" % hv["id"],
                                 microversion=api.PLACEMENT)
        if response.status_code == 404:
            continue
        sdk_exceptions.raise_from_response(response)
        for consumer, alloc in response.json()["allocations"].items():
            mine = allocations.setdefault(consumer, {})
            for rc, amount in alloc["resources"].items():
                mine[rc] = mine.get(rc, 0) + amount
    demands = []
    for server in servers:
        wants = allocations.get(server["id"])
        if not wants:
            flavor = server["flavor"]
            wants = {"VCPU": flavor["vcpus"] or 0, "MEMORY_MB": flavor["ram"] or 0,
                     "DISK_GB": flavor["disk"] or 0}
        demands.append((server["id"], dict((rc, wants.get(rc, 0)) for rc in ("VCPU", "MEMORY_MB", "DISK_GB"))))
    return demands


class NovaMoves(object):
    """The driver of _drain.MoveRunner for live/cold migrations and evacuations.

    Before each move the instance is read once more: one that someone else moved meanwhile is
    not moved again (moved_elsewhere), one deleted meanwhile is gone, one busy with another
    operation is asked about again later. The migrations of an instance that existed before its
    move are remembered, so polling takes the one this move made, matched by instance UUID
    (migration ids are counted per cell and say nothing across cells). Polling reads the
    migration list once per origin host and round, not once per instance.
    """

    def __init__(self, compute, block_migration="auto"):
        self.compute = compute
        self.block_migration = block_migration
        self.migrations = {}
        self.before = {}
        response = _get(self.compute, "/os-migrations", params={"limit": 1})
        # the cloud's own clock, so a workstation clock that is off does not hide migrations
        now = email.utils.parsedate_to_datetime(response.headers["Date"]) \
            if response.headers.get("Date") else datetime.datetime.now(datetime.timezone.utc)
        self.since = (now - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def start(self, record):
        server = get_server(self.compute, record["id"])
        if server is None:
            record["error"] = "deleted before its move started"
            return GONE
        if server["host"] != record["origin"]:
            record["destination"], record["status"] = server["host"], server["status"]
            record["error"] = "someone else moved it from %s to %s before this run got to it; not moved again" % (
                record["origin"], server["host"])
            return MOVED_ELSEWHERE
        if server["task_state"]:
            record["error"] = "task_state %s" % server["task_state"]
            return BUSY
        record["error"] = None
        if record["method"] in ("live", "cold") and drain_method(server["status"]):
            # stopped or started since it was listed
            record["method"], record["status"] = drain_method(server["status"]), server["status"]
        self.before[record["id"]] = _instance_migrations(self.compute, record["id"])
        dest = record.get("destination")
        if record["method"] == "live":
            body = {"os-migrateLive": {"host": dest, "block_migration": self.block_migration}}
        elif record["method"] == "cold":
            body = {"migrate": {"host": dest} if dest else None}
        else:
            # below 2.95 an evacuated instance comes back in the state it had, not always stopped
            body = {"evacuate": {"host": dest} if dest else {}}
        try:
            _action(self.compute, record["id"], body)
        except ksa_exceptions.UnknownConnectionError:
            # the answer was lost (a connection reset while the API restarts): send it again only
            # when nova did not take it
            if not self._taken(record):
                self._send_again(record, body)
        except sdk_exceptions.ConflictException:
            if not self._taken(record):
                raise
        return None

    def _send_again(self, record, body):
        try:
            _action(self.compute, record["id"], body)
        except sdk_exceptions.ConflictException:
            if not self._taken(record):
                raise

    def _taken(self, record):
        """Whether nova took a move request of this run (its task_state set, or a new migration)."""
        server = get_server(self.compute, record["id"])
        if server is not None and (server["task_state"] or server["host"] != record["origin"]):
            return True
        return bool(_instance_migrations(self.compute, record["id"]) - self.before[record["id"]])

    def poll(self, records):
        wanted = dict((r["id"], _MIGRATION_TYPES[r["method"]]) for r in records)
        for origin in sorted(set(r["origin"] for r in records)):
            params = {"source_compute": origin, "changes-since": self.since}
            for migration in _pages(self.compute, "/os-migrations", "migrations", params):
                uuid = migration["instance_uuid"]
                if wanted.get(uuid) != migration["migration_type"] \
                        or migration.get("uuid") in self.before.get(uuid, ()):
                    continue
                # the ids of one instance's migrations come from its own cell
                known = self.migrations.get(uuid)
                if known is None or migration["id"] >= known["id"]:
                    self.migrations[uuid] = migration
        phases = {}
        for record in records:
            migration = self.migrations.get(record["id"])
            if migration is None:
                continue
            phase = _PHASES[wanted[record["id"]]].get(migration["status"], _RUNNING)
            detail = "%s %s %s" % (migration["migration_type"], migration["id"], migration["status"])
            if phase == _FAILED:
                detail = "%s ended in status %s%s" % (
                    migration["migration_type"], migration["status"], self._reason(record))
            phases[record["id"]] = (phase, detail)
        return phases

    def confirm(self, record):
        # nova marks the migration finished a moment before the instance reaches VERIFY_RESIZE;
        # a confirmation in between is refused (409)
        server = get_server(self.compute, record["id"])
        if server is not None and server["status"] != "VERIFY_RESIZE":
            return False
        _action(self.compute, record["id"], {"confirmResize": None})
        return True

    def abort(self, record):
        migration = self.migrations.get(record["id"])
        if record["method"] != "live":
            return "; nova cannot abort a %s, it may still finish" % _MIGRATION_TYPES[record["method"]]
        if migration is None:
            return "; nova had not started it yet"
        response = self.compute.delete("/servers/%s/migrations/%s" % (record["id"], migration["id"]),
                                       microversion=api.NOVA_MOVES)
        sdk_exceptions.raise_from_response(response)
        return "; nova was asked to abort live migration %s" % migration["id"]

    def finish(self, record):
        server = get_server(self.compute, record["id"])
        # nova marks a cold migration confirmed a moment before the instance leaves VERIFY_RESIZE
        for _attempt in range(40):
            if server is None or server["status"] != "VERIFY_RESIZE":
                break
            time.sleep(0.25)
            server = get_server(self.compute, record["id"])
        if server is None:
            raise MoveError("the instance was deleted while it moved")
        record["destination"] = server["host"]
        record["status"] = server["status"]
        if server["host"] == record["origin"]:
            raise MoveError("nova reports the move done but the instance is still on %s" % record["origin"])
        if server["status"] == "ERROR":
            raise MoveError("the instance is in ERROR on %s: %s" % (server["host"], server["fault"]))

    def _reason(self, record):
        """The error nova recorded in the instance's newest action, when it shows one."""
        microversion = api.NOVA_ACTION_DETAILS \
            if sdk_utils.supports_microversion(self.compute, api.NOVA_ACTION_DETAILS) else api.NOVA_MOVES
        try:
            actions = _get(self.compute, "/servers/%s/os-instance-actions" % record["id"],
                           params={"limit": 1}, microversion=microversion).json()["instanceActions"]
            if not actions:
                return ""
            action = _get(self.compute, "/servers/%s/os-instance-actions/%s"
                          % (record["id"], actions[0]["request_id"]), microversion=microversion).json()
        except sdk_exceptions.SDKException:
            return ""
        return event_error(action["instanceAction"].get("events") or [])
