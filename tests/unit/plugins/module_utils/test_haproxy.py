"""haproxy runtime API: show stat parsing, states, and the socket exchange (on a real unix socket)."""
import os
import socket
import threading

import pytest

from ansible_collections.osops.toolkit.plugins.module_utils import _haproxy

STAT = (
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,"
    "weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,"
    "rate_lim,rate_max,check_status\n"
    "keystone,FRONTEND,,,0,1,262123,10,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,\n"
    "keystone,ctl1,0,0,2,3,,10,0,0,,0,,0,0,0,0,UP,1,1,0,0,0,10,0,,1,2,1,,10,,2,0,,1,L7OK\n"
    "keystone,ctl2,0,0,1,1,,4,0,0,,0,,0,0,0,0,DRAIN,1,1,0,0,0,10,0,,1,2,2,,4,,2,0,,1,L7OK\n"
    "keystone,ctl3,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0,0,0,10,0,,1,2,3,,0,,2,0,,0,\n"
    "keystone,BACKEND,0,0,3,4,,14,0,0,0,0,,0,0,0,0,UP,2,2,0,,0,10,0,,1,2,0,,14,,1,0,,2,\n"
    "\n"
)


def test_parse_stat_reads_every_row_by_column_name():
    rows = _haproxy.parse_stat(STAT)
    assert [(r["pxname"], r["svname"]) for r in rows][:3] == [("keystone", "FRONTEND"), ("keystone", "ctl1"),
                                                              ("keystone", "ctl2")]
    assert rows[1]["scur"] == "2" and rows[1]["check_status"] == "L7OK"


def test_parse_stat_refuses_an_answer_that_is_not_csv():
    with pytest.raises(_haproxy.RuntimeApiError, match="unexpected answer to show stat: Unknown command"):
        _haproxy.parse_stat("Unknown command. Please enter one of the following commands only :\n")


@pytest.mark.parametrize("status, state", [
    ("UP", "ready"), ("DOWN", "ready"), ("UP 1/3", "ready"), ("no check", "ready"),
    ("DRAIN", "drain"), ("NOLB", "drain"), ("MAINT", "maint"), ("MAINT (via keystone/ctl1)", "maint"),
])
def test_admin_state_from_status(status, state):
    assert _haproxy.admin_state(status) == state


def test_server_view_and_find_server():
    rows = _haproxy.parse_stat(STAT)
    assert _haproxy.server_view(_haproxy.find_server(rows, "keystone", "ctl2")) == {
        "state": "drain", "status": "DRAIN", "sessions": 1, "check": "L7OK"}
    assert _haproxy.find_server(rows, "keystone", "nope") is None
    assert _haproxy.find_server(rows, "nova", "ctl1") is None


@pytest.mark.parametrize("view, state, wait_up, expected", [
    ({"sessions": 1, "status": "DRAIN"}, "drain", True, False),
    ({"sessions": 0, "status": "DRAIN"}, "drain", True, True),
    ({"sessions": 0, "status": "MAINT"}, "maint", True, True),
    ({"sessions": 0, "status": "DOWN"}, "ready", True, False),
    ({"sessions": 0, "status": "DOWN"}, "ready", False, True),
    ({"sessions": 5, "status": "UP"}, "ready", True, True),
    ({"sessions": 0, "status": "no check"}, "ready", True, True),
])
def test_settled(view, state, wait_up, expected):
    assert _haproxy.settled(view, state, wait_up) is expected


@pytest.fixture
def fake_haproxy(tmp_path):
    """A unix socket that answers one command per connection, as haproxy's CLI does."""
    path = str(tmp_path / "admin.sock")
    answers = {"show stat": STAT, "set server keystone/ctl1 state drain": "\n",
               "set server keystone/ctl9 state drain": "No such server.\n"}
    received = []
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(5)
    stop = threading.Event()

    def serve():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _addr = server.accept()
            except socket.timeout:
                continue
            with conn:
                line = conn.recv(4096).decode().strip()
                received.append(line)
                conn.sendall(answers.get(line, "Unknown command.\n").encode())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, received
    stop.set()
    thread.join()
    server.close()


def test_read_and_set_over_the_socket(fake_haproxy):
    path, received = fake_haproxy
    assert _haproxy.read_server(path, "keystone", "ctl1")["sessions"] == 2
    _haproxy.set_state(path, "keystone", "ctl1", "drain")
    assert received == ["show stat", "set server keystone/ctl1 state drain"]


def test_a_refused_command_and_an_unknown_server_are_clear_errors(fake_haproxy):
    path, _received = fake_haproxy
    with pytest.raises(_haproxy.RuntimeApiError, match="set server keystone/ctl9 state drain: No such server."):
        _haproxy.set_state(path, "keystone", "ctl9", "drain")
    with pytest.raises(_haproxy.RuntimeApiError, match="no server keystone/nope; servers: keystone/ctl1, keystone/ctl2, keystone/ctl3"):
        _haproxy.read_server(path, "keystone", "nope")


def test_a_missing_socket_is_a_clear_error(tmp_path):
    with pytest.raises(_haproxy.RuntimeApiError, match="haproxy runtime API at .*missing.sock: "):
        _haproxy.command(os.path.join(str(tmp_path), "missing.sock"), "show stat")
