"""The API layer of the moves: retries while an API is away, paging by next links, and the
matching of migrations to instances; on fake proxies and a fake clock."""
import pytest
from keystoneauth1 import exceptions as ksa_exceptions

from ansible_collections.osops.toolkit.plugins.module_utils import _drain as drain
from ansible_collections.osops.toolkit.plugins.module_utils import _nova_moves as nova


class Clock(object):
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Response(object):
    def __init__(self, status_code=200, body=None, headers=None):
        self.status_code = status_code
        self._body = body or {}
        self.headers = headers or {}
        self.text = ""
        self.url = "http://nova/"
        self.reason = ""

    def json(self):
        return self._body


class ScriptedProxy(object):
    """Answers each request with the next item of ``script``: a Response or an exception."""
    service_type = "compute"

    def __init__(self, script):
        self.script = list(script)
        self.calls = []

    def _answer(self, method, url, **kwargs):
        self.calls.append((method, url))
        item = self.script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    def get(self, url, **kwargs):
        return self._answer("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self._answer("POST", url, **kwargs)


def _api(script, timeout=30):
    clock = Clock()
    proxy = ScriptedProxy(script)
    return nova.RetryingApi(proxy, retry_timeout=timeout, clock=clock, sleep=clock.sleep), proxy, clock


def test_transport_errors_and_gateway_answers_are_retried_with_backoff():
    api, proxy, clock = _api([ksa_exceptions.ConnectFailure("refused"), Response(503),
                              ksa_exceptions.ConnectTimeout("timed out"), Response(502), Response(504),
                              Response(200, {"ok": 1})])
    assert api.get("/servers").json() == {"ok": 1}
    assert len(proxy.calls) == 6 and clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_an_api_that_stays_away_is_one_clear_error_after_the_retry_time():
    api, proxy, clock = _api([ksa_exceptions.ConnectFailure("Connection refused")] * 100, timeout=30)
    with pytest.raises(nova.ApiUnavailable) as caught:
        api.get("/os-migrations?limit=1")
    message = str(caught.value)
    assert "The compute API did not answer GET /os-migrations for 30s" in message
    assert "ConnectFailure: Connection refused" in message
    assert clock.now <= 30 and sum(clock.sleeps) == clock.now
    assert max(clock.sleeps) == 10.0                        # backoff capped


def test_no_retry_time_fails_at_the_first_transport_error():
    api, proxy, clock = _api([ksa_exceptions.ConnectFailure("refused")], timeout=0)
    with pytest.raises(nova.ApiUnavailable):
        api.get("/servers")
    assert clock.sleeps == []


def test_a_move_request_is_not_sent_twice_when_nova_may_have_taken_it():
    api, proxy, _clock = _api([Response(504)])
    assert api.post("/servers/x/action").status_code == 504     # left to raise_from_response
    api, proxy, _clock = _api([ksa_exceptions.UnknownConnectionError("reset", None)])
    with pytest.raises(ksa_exceptions.UnknownConnectionError):
        api.post("/servers/x/action")
    api, proxy, _clock = _api([ksa_exceptions.ConnectFailure("refused"), Response(503), Response(202)])
    assert api.post("/servers/x/action").status_code == 202


def test_other_errors_are_not_retried():
    api, proxy, _clock = _api([Response(409), Response(500)])
    assert api.get("/a").status_code == 409 and api.get("/b").status_code == 500
    assert len(proxy.calls) == 2


def _server(server_id, host):
    return {"id": server_id, "name": server_id, "status": "ACTIVE", "OS-EXT-SRV-ATTR:host": host,
            "OS-EXT-STS:task_state": None, "flavor": {}}


def test_servers_on_host_follows_next_links_not_the_page_length():
    # a cloud with [api] max_limit = 2: pages of 2 whatever limit was asked
    link = "http://nova/v2.1/servers/detail?all_tenants=1&host=c1&limit=2&marker=%s"
    pages = [Response(200, {"servers": [_server("s1", "c1"), _server("s2", "c1")],
                            "servers_links": [{"rel": "next", "href": link % "s2"}]}),
             Response(200, {"servers": [_server("s3", "c1"), _server("s4", "c10")],
                            "servers_links": [{"rel": "next", "href": link % "s4"}]}),
             Response(200, {"servers": [_server("s5", "c1")]})]
    api, proxy, _clock = _api(pages)
    servers = nova.servers_on_host(api, "c1")
    assert [s["id"] for s in servers] == ["s1", "s2", "s3", "s5"]     # exact host, every page
    assert len(proxy.calls) == 3


def _migration(mid, uuid, instance, status, kind="live-migration"):
    return {"id": mid, "uuid": uuid, "instance_uuid": instance, "status": status, "migration_type": kind}


class MigrationsProxy(object):
    """A nova with two cells: ids of migrations repeat and say nothing about their order."""
    service_type = "compute"

    def __init__(self, migrations, servers):
        self.migrations = migrations
        self.servers = servers
        self.posted = []

    def get(self, url, params=None, microversion=None):
        params = params or {}
        if url == "/os-migrations":
            found = [m for m in self.migrations
                     if params.get("instance_uuid") in (None, m["instance_uuid"])]
            return Response(200, {"migrations": found[:params.get("limit") or None]},
                            headers={"Date": "Wed, 02 Dec 2026 12:00:00 GMT"})
        server_id = url.rsplit("/", 1)[-1]
        if server_id not in self.servers:
            return Response(404)
        return Response(200, {"server": self.servers[server_id]})

    def post(self, url, json=None, microversion=None):
        self.posted.append((url, json))
        return Response(202)


def _record(server_id, origin="c1"):
    return drain.new_record({"id": server_id, "name": server_id, "status": "ACTIVE"}, origin, "live")


def test_migrations_are_matched_by_instance_not_by_an_id_watermark_across_cells():
    proxy = MigrationsProxy(
        # cell2 already counts 90 migrations; vm-a's old one there has a high id
        [_migration(90, "old-a", "vm-a", "completed")],
        {"vm-a": _server("vm-a", "c1"), "vm-b": _server("vm-b", "c1")})
    moves = nova.NovaMoves(proxy)
    a, b = _record("vm-a"), _record("vm-b")
    assert moves.start(a) is None and moves.start(b) is None
    # the new migrations: vm-b's in cell1 with a low id, vm-a's new one in cell2
    proxy.migrations += [_migration(3, "new-b", "vm-b", "running"), _migration(91, "new-a", "vm-a", "running")]
    phases = moves.poll([a, b])
    assert phases["vm-b"][0] == "running" and "3" in phases["vm-b"][1]   # an id far below the others
    assert phases["vm-a"][0] == "running"                                # old-a (completed) not taken
    proxy.migrations[-2]["status"] = "completed"
    assert moves.poll([a, b])["vm-b"][0] == "done"


def test_start_reads_the_instance_again():
    busy = dict(_server("busy", "c1"), **{"OS-EXT-STS:task_state": "migrating"})
    proxy = MigrationsProxy([], {"moved": _server("moved", "c7"), "busy": busy})
    moves = nova.NovaMoves(proxy)
    moved, busy, deleted = _record("moved"), _record("busy"), _record("deleted")
    assert moves.start(moved) == drain.MOVED_ELSEWHERE
    assert moved["destination"] == "c7" and "not moved again" in moved["error"]
    assert moves.start(busy) == drain.BUSY
    assert moves.start(deleted) == drain.GONE
    assert proxy.posted == []


class LosingProxy(MigrationsProxy):
    """The answer to the first move request is lost; ``took`` says whether nova acted on it."""

    def __init__(self, took):
        super(LosingProxy, self).__init__([], {"vm": _server("vm", "c1")})
        self.took = took

    def post(self, url, json=None, microversion=None):
        self.posted.append((url, json))
        if len(self.posted) == 1:
            if self.took:
                self.servers["vm"] = dict(self.servers["vm"], **{"OS-EXT-STS:task_state": "migrating"})
            raise ksa_exceptions.UnknownConnectionError("Connection reset by peer", None)
        return Response(202)


@pytest.mark.parametrize("took, sent", [(True, 1), (False, 2)])
def test_a_move_request_whose_answer_was_lost_is_sent_again_only_when_nova_did_not_take_it(took, sent):
    proxy = LosingProxy(took)
    moves = nova.NovaMoves(nova.RetryingApi(proxy))
    assert moves.start(_record("vm")) is None
    assert len(proxy.posted) == sent


class ServersProxy(object):
    """Serves GET /servers/ID from a list of answers per server: a dict (server body) or None (404)."""
    service_type = "compute"

    def __init__(self, answers):
        self.answers = dict((i, list(a)) for i, a in answers.items())

    def get(self, url, **kwargs):
        server_id = url.rsplit("/", 1)[1]
        body = self.answers[server_id].pop(0) if len(self.answers[server_id]) > 1 else self.answers[server_id][0]
        return Response(404) if body is None else Response(200, {"server": dict(body, id=server_id)})


def _at(host, task_state=None):
    return {"OS-EXT-SRV-ATTR:host": host, "OS-EXT-STS:task_state": task_state, "status": "ACTIVE"}


def test_servers_in_motion_are_read_again_until_nova_is_done_with_them():
    clock = Clock()
    proxy = ServersProxy({
        "moving": [_at("cmp-1", "migrating"), _at("cmp-1", "migrating"), _at("cmp-2")],
        "still": [_at("cmp-1")],
        "deleted": [None],
    })
    servers = nova.servers_at_rest(nova.RetryingApi(proxy), ["moving", "still", "deleted"], timeout=60,
                                   poll_interval=2, clock=clock, sleep=clock.sleep)
    # the one that was on its host while moving ends where the move took it
    assert servers["moving"]["host"] == "cmp-2" and servers["moving"]["task_state"] is None
    assert servers["still"]["host"] == "cmp-1" and servers["deleted"] is None
    assert clock.sleeps == [2, 2]


def test_a_server_nova_never_finishes_with_is_given_back_busy_after_the_timeout():
    clock = Clock()
    proxy = ServersProxy({"stuck": [_at("cmp-1", "migrating")]})
    servers = nova.servers_at_rest(nova.RetryingApi(proxy), ["stuck"], timeout=10, poll_interval=3,
                                   clock=clock, sleep=clock.sleep)
    assert servers["stuck"]["task_state"] == "migrating" and clock.now == 12
