"""host_drain, host_return and host_evacuate through ansible-playbook against the sandbox cloud.

What moved is read back from Nova (openstacksdk), not taken from what the module said.
"""
import datetime
import json
import os
import re
import subprocess
import threading
import time

import pytest


pytestmark = pytest.mark.usefixtures("computes_enabled")

HOST = "fake-compute-1"
NEIGHBOUR = "fake-compute-10"   # HOST is a prefix of its name
FAST = dict(poll_interval=0.5)
OSBOX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "sandbox", "osbox.sh")
OURS = r"osops:%s \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ %s"   # _compute.owned_reason


def task(module, register=None, **args):
    entry = {"name": module, "osops.toolkit." + module: args}
    if register:
        entry["register"] = register
    return entry


def service(cloud, host):
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == host]
    return svc


def servers_on(cloud, host):
    return sorted(s.id for s in cloud.compute.servers(all_projects=True, compute_host=host) if s.compute_host == host)


def by_id(records):
    return dict((r["id"], r) for r in records)


def test_drain_moves_every_state_it_can_then_return_sends_them_home(server_host, ansible, cloud, boot):
    specs = [(HOST, "ACTIVE"), (HOST, "SHUTOFF"), (HOST, "PAUSED"), (NEIGHBOUR, "ACTIVE")]
    active, shutoff, paused, neighbour = boot(specs)
    drain = dict(host=HOST, disabled_reason="CHG-7 kernel upgrade", concurrency=2, **FAST)

    began = time.monotonic()
    first = ansible(tasks=[task("host_drain", **drain)], diff=True)
    took = time.monotonic() - began
    assert first.rc == 0, first.output
    result = first.task()
    assert result["changed"] is True
    assert servers_on(cloud, HOST) == []
    assert server_host(neighbour.id) == NEIGHBOUR
    svc = service(cloud, HOST)
    assert svc.status == "disabled" and re.fullmatch(OURS % ("host_drain", "CHG-7 kernel upgrade"), svc.disabled_reason)

    records = by_id(result["instances"])
    assert sorted(records) == sorted([active.id, shutoff.id, paused.id])
    expected = {active.id: ("live", "ACTIVE"), shutoff.id: ("cold", "SHUTOFF"), paused.id: ("live", "PAUSED")}
    for server_id, (method, status) in expected.items():
        record = records[server_id]
        now = cloud.compute.get_server(server_id)
        assert (record["method"], record["result"], record["origin"], record["error"]) == (method, "moved", HOST, None)
        assert record["destination"] == now.compute_host != HOST
        assert now.status == record["status"] == status
        assert 0 < record["seconds"] < took     # each move took part of the run, not nothing or more
    assert result["summary"]["moved"] == result["summary"]["total"] == 3
    assert result["diff"]["before"]["service"]["status"] == "enabled"
    assert result["diff"]["after"] == {"service": {"status": "disabled", "disabled_reason": svc.disabled_reason},
                                       "instances": []}

    again = ansible(tasks=[task("host_drain", **drain)])
    assert again.rc == 0, again.output
    assert again.task()["changed"] is False and again.task()["summary"]["total"] == 0

    send_home = [task("compute_service", host=HOST, status="enabled"),
                 task("host_return", host=HOST, instances=result["instances"], **FAST)]
    home = ansible(tasks=send_home)
    assert home.rc == 0, home.output
    returned = home.task()
    assert returned["changed"] is True and returned["summary"]["moved"] == 3
    assert servers_on(cloud, HOST) == sorted(records)
    for server_id, (_method, status) in expected.items():
        assert cloud.compute.get_server(server_id).status == status

    home_again = ansible(tasks=send_home)
    assert home_again.rc == 0, home_again.output
    assert home_again.task()["changed"] is False
    assert home_again.task()["summary"]["already_home"] == 3


def test_check_mode_returns_the_plan_and_changes_nothing(ansible, cloud, boot):
    active, shutoff = boot([("fake-compute-2", "ACTIVE"), ("fake-compute-2", "SHUTOFF")])
    run = ansible(tasks=[task("host_drain", host="fake-compute-2")], check=True, diff=True)
    assert run.rc == 0, run.output
    result = run.task()
    assert result["changed"] is True
    records = by_id(result["instances"])
    assert (records[active.id]["method"], records[active.id]["result"]) == ("live", "planned")
    assert (records[shutoff.id]["method"], records[shutoff.id]["result"]) == ("cold", "planned")
    assert result["service"]["status"] == "disabled"          # what it would be
    assert servers_on(cloud, "fake-compute-2") == sorted([active.id, shutoff.id])
    assert service(cloud, "fake-compute-2").status == "enabled"


def test_capacity_precheck_fails_before_anything_changes(server_host, ansible, cloud, boot):
    [server] = boot([("fake-compute-2", "ACTIVE")])
    for svc in cloud.compute.services(binary="nova-compute"):
        if svc.host != "fake-compute-2":
            cloud.compute.update_service(svc, status="disabled", disabled_reason="capacity test")
    run = ansible(tasks=[task("host_drain", host="fake-compute-2")])
    assert run.rc != 0
    result = run.task()
    assert "Capacity pre-check" in result["msg"] and "capacity_check=false" in result["msg"]
    assert result["instances"][0]["result"] == "not_started"
    assert server_host(server.id) == "fake-compute-2"
    assert service(cloud, "fake-compute-2").status == "enabled"


def test_a_failed_migration_is_reported_and_the_rest_still_move(server_host, ansible, cloud, pinned_flavor, boot):
    [pinned] = boot([("fake-compute-2", "ACTIVE")], flavor=pinned_flavor)
    movable = boot([("fake-compute-2", "ACTIVE"), ("fake-compute-2", "SHUTOFF")])
    run = ansible(tasks=[task("host_drain", host="fake-compute-2", concurrency=3, **FAST)])
    assert run.rc != 0
    result = run.task()
    records = by_id(result["instances"])
    assert records[pinned.id]["result"] == "failed"
    assert records[pinned.id]["error"] == "live-migration ended in status error: No valid host was found."
    assert pinned.name in result["msg"] and "stays disabled" in result["msg"]
    for server in movable:
        assert records[server.id]["result"] == "moved"
        assert server_host(server.id) != "fake-compute-2"
    assert servers_on(cloud, "fake-compute-2") == [pinned.id]
    assert service(cloud, "fake-compute-2").status == "disabled"
    assert result["summary"]["failed"] == 1 and result["summary"]["moved"] == 2


def test_states_nova_cannot_move_are_reported_not_skipped(ansible, cloud, boot):
    suspended, active = boot([("fake-compute-3", "SUSPENDED"), ("fake-compute-3", "ACTIVE")])
    run = ansible(tasks=[task("host_drain", host="fake-compute-3", **FAST)])
    assert run.rc != 0
    records = by_id(run.task()["instances"])
    assert (records[suspended.id]["result"], records[suspended.id]["method"]) == ("not_moved", None)
    assert "SUSPENDED" in records[suspended.id]["error"]
    assert records[active.id]["result"] == "moved"
    assert servers_on(cloud, "fake-compute-3") == [suspended.id]

    accepted = ansible(tasks=[task("host_drain", host="fake-compute-3", other_states="leave", **FAST)])
    assert accepted.rc == 0, accepted.output
    assert accepted.task()["changed"] is False
    assert accepted.task()["instances"][0]["result"] == "left"
    assert "other_states=leave" in accepted.output


def test_a_drain_keeps_the_reason_someone_else_disabled_the_host_with_and_says_so(ansible, cloud, disable_service):
    disable_service(HOST, "RMA-77 bad DIMM")
    run = ansible(tasks=[task("host_drain", host=HOST, **FAST)])
    assert run.rc == 0, run.output
    result = run.task()
    assert result["service"]["disabled_reason"] == "RMA-77 bad DIMM"
    assert any(w.startswith("%s stays disabled by someone else (reason 'RMA-77 bad DIMM'): that reason is kept"
                            % HOST) for w in result["warnings"]), result["warnings"]
    svc = service(cloud, HOST)
    assert (svc.status, svc.disabled_reason) == ("disabled", "RMA-77 bad DIMM")


def test_unknown_host_is_a_clear_error(ansible):
    run = ansible(tasks=[task("host_drain", host="fake-compute")])
    assert run.rc != 0
    assert "No nova-compute service runs on host 'fake-compute'" in run.task()["msg"]


def test_evacuate_refuses_a_live_host_and_works_once_it_is_forced_down(ansible, cloud, boot):
    active, shutoff = boot([("fake-compute-3", "ACTIVE"), ("fake-compute-3", "SHUTOFF")])
    refused = ansible(tasks=[task("host_evacuate", host="fake-compute-3", **FAST)])
    assert refused.rc != 0
    assert "is up" in refused.task()["msg"] and "forced down" in refused.task()["msg"]
    assert servers_on(cloud, "fake-compute-3") == sorted([active.id, shutoff.id])
    assert service(cloud, "fake-compute-3").status == "enabled"

    evacuate = dict(host="fake-compute-3", force_down=True, fenced=True, disabled_reason="INC-9 fenced", **FAST)
    run = ansible(tasks=[task("host_evacuate", **evacuate)])
    assert run.rc == 0, run.output
    records = by_id(run.task()["instances"])
    for server in (active, shutoff):
        now = cloud.compute.get_server(server.id)
        assert (records[server.id]["method"], records[server.id]["result"]) == ("evacuate", "moved")
        assert records[server.id]["destination"] == now.compute_host != "fake-compute-3"
        assert now.status == server.status    # running ones run again, shut-off ones stay off
    svc = service(cloud, "fake-compute-3")
    assert (svc.status, svc.is_forced_down) == ("disabled", True)
    assert re.fullmatch(OURS % ("host_evacuate", "INC-9 fenced"), svc.disabled_reason)

    again = ansible(tasks=[task("host_evacuate", **evacuate)])
    assert again.rc == 0, again.output
    assert again.task()["changed"] is False


def test_force_down_of_a_host_with_a_recent_heartbeat_needs_fenced(ansible, cloud):
    """A live fake compute (heartbeats every few seconds): force_down alone is refused, nothing changes."""
    host = NEIGHBOUR   # not the host the evacuation test above really evacuates
    for check in (True, False):
        refused = ansible(tasks=[task("host_evacuate", host=host, force_down=True, **FAST)], check=check)
        assert refused.rc != 0, refused.output
        result = refused.task()
        assert result["msg"].startswith("The nova-compute service of %s was last heard from " % host), result["msg"]
        assert result["msg"].endswith("Power it off or fence it, then run again with fenced=true.")
        assert "instances" not in result    # refused before a record was made, let alone a move
        svc = service(cloud, host)
        assert (svc.status, svc.disabled_reason, svc.is_forced_down) == ("enabled", None, False)
    fenced = ansible(tasks=[task("host_evacuate", host=host, force_down=True, fenced=True, **FAST)], check=True)
    assert fenced.rc == 0, fenced.output
    assert fenced.task()["service"]["forced_down"] is True
    assert fenced.task()["service"]["disabled_reason"].startswith("osops:host_evacuate ")
    svc = service(cloud, host)
    assert (svc.status, svc.is_forced_down) == ("enabled", False)


def test_force_down_of_a_host_silent_for_service_down_time_goes_ahead_without_fenced(ansible, cloud, frozen):
    host = NEIGHBOUR

    def silent_for():
        updated = datetime.datetime.fromisoformat(service(cloud, host).updated_at.rstrip("Z"))
        return (datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - updated).total_seconds()
    with frozen("nova-compute-%s" % host):          # no heartbeat any more, as a dead host
        wait_until(lambda: silent_for() > 12, "the heartbeat to age", timeout=60)
        run = ansible(tasks=[task("host_evacuate", host=host, force_down=True, service_down_time=10, **FAST)],
                      check=True)
    assert run.rc == 0, run.output
    assert run.task()["service"]["forced_down"] is True
    svc = service(cloud, host)
    assert (svc.status, svc.is_forced_down) == ("enabled", False)     # check mode


def test_destination_host_takes_everything(server_host, ansible, cloud, boot):
    servers = boot([("fake-compute-3", "ACTIVE"), ("fake-compute-3", "SHUTOFF")])
    run = ansible(tasks=[task("host_drain", host="fake-compute-3", destination_host=NEIGHBOUR, **FAST)])
    assert run.rc == 0, run.output
    for server in servers:
        assert server_host(server.id) == NEIGHBOUR


@pytest.fixture
def spare_aggregate(cloud):
    aggregate = cloud.compute.create_aggregate(name="osops-it-spares")
    cloud.compute.add_host_to_aggregate(aggregate, "fake-compute-2")
    cloud.compute.add_host_to_aggregate(aggregate, NEIGHBOUR)
    yield aggregate.name
    for host in ("fake-compute-2", NEIGHBOUR):
        cloud.compute.remove_host_from_aggregate(aggregate, host)
    cloud.compute.delete_aggregate(aggregate)


def test_destination_aggregate_spreads_over_its_hosts(server_host, ansible, cloud, spare_aggregate, boot):
    servers = boot([("fake-compute-3", "ACTIVE")] * 4)
    run = ansible(tasks=[task("host_drain", host="fake-compute-3", destination_aggregate=spare_aggregate,
                              concurrency=4, **FAST)])
    assert run.rc == 0, run.output
    hosts = [server_host(s.id) for s in servers]
    assert set(hosts) == {"fake-compute-2", NEIGHBOUR}, hosts
    assert sorted(r["destination"] for r in run.task()["instances"]) == sorted(hosts)


def test_bad_destinations_are_refused_before_anything_changes(ansible, cloud):
    run = ansible(tasks=[task("host_drain", host=HOST, destination_host="fake-compute")])
    assert run.rc != 0 and "destination_host 'fake-compute' has no nova-compute service" in run.task()["msg"]
    run = ansible(tasks=[task("host_drain", host=HOST, destination_aggregate="no-such-aggregate")])
    assert run.rc != 0 and "destination_aggregate 'no-such-aggregate' does not exist" in run.task()["msg"]
    assert service(cloud, HOST).status == "enabled"


# ---------------------------------------------------------------- drains that survive faults

def wait_until(condition, what, timeout=180):
    """Wait for a condition of the cloud (not a timed assert: the limit only ends a hung test)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("gave up waiting for " + what)


def in_background(run, **kwargs):
    """Start an ansible run in a thread; returns (thread, holder) with holder['run'] once done."""
    holder = {}
    thread = threading.Thread(target=lambda: holder.setdefault("run", run(**kwargs)))
    thread.start()
    return thread, holder


def progress_lines(path):
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        return []


def pause_nova_api(seconds):
    """Stop nova-api, wait, start it again: a real outage of the compute API."""
    return subprocess.Popen([OSBOX, "pause", "nova-api", str(seconds)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def test_a_nova_api_outage_mid_drain_and_mid_return_is_ridden_out(ansible, cloud, boot, tmp_path):
    servers = boot([(HOST, "ACTIVE")] * 3)
    progress = tmp_path / "progress.jsonl"
    thread, out = in_background(ansible, tasks=[task("host_drain", host=HOST, concurrency=1,
                                                     progress_file=str(progress), **FAST)])
    try:
        wait_until(lambda: len(progress_lines(progress)) >= 2, "the first move to end")
        done_when_it_stopped = len(progress_lines(progress)) - 1
        outage = pause_nova_api(10)
        output = outage.communicate(timeout=300)[0]
    finally:
        thread.join()
    assert outage.returncode == 0, output
    assert done_when_it_stopped < 3            # the API went away with moves still to do
    run = out["run"]
    records = by_id(run.task()["instances"])
    mine = [records[s.id] for s in servers]         # other tests may have servers on HOST too
    assert all(r["result"] == "moved" for r in mine), mine
    assert not set(s.id for s in servers) & set(servers_on(cloud, HOST))
    # it may fail only for servers of other tests that nova cannot move
    assert run.rc == 0 or not any(s.id in run.task()["msg"] for s in servers), run.output
    assert [line["done"] for line in progress_lines(progress)] == list(range(len(records) + 1))

    # the same outage in the middle of the return
    enabled = ansible(tasks=[task("compute_service", host=HOST, status="enabled")])
    assert enabled.rc == 0, enabled.output
    back_progress = tmp_path / "back.jsonl"
    thread, out = in_background(ansible, tasks=[task("host_return", host=HOST, instances=mine, concurrency=1,
                                                     progress_file=str(back_progress), **FAST)])
    try:
        wait_until(lambda: len(progress_lines(back_progress)) >= 2, "the first move home to end")
        assert len(progress_lines(back_progress)) - 1 < 3
        outage = pause_nova_api(10)
        output = outage.communicate(timeout=300)[0]
    finally:
        thread.join()
    assert outage.returncode == 0, output
    back = out["run"]
    assert back.rc == 0, back.output
    assert all(r["result"] == "moved" for r in back.task()["instances"]), back.task()["instances"]
    assert set(s.id for s in servers) <= set(servers_on(cloud, HOST))


def test_an_api_that_stays_away_fails_with_every_record_and_the_moves_still_running(ansible, cloud, boot, tmp_path):
    servers = boot([(HOST, "ACTIVE")] * 3)
    progress = tmp_path / "progress.jsonl"
    thread, out = in_background(ansible, tasks=[task("host_drain", host=HOST, concurrency=1, api_retry_timeout=3,
                                                     progress_file=str(progress), **FAST)])
    outage = None
    try:
        wait_until(lambda: len(progress_lines(progress)) >= 2, "the first move to end")
        outage = pause_nova_api(15)            # longer than api_retry_timeout, then back
        thread.join()
    finally:
        thread.join()
        if outage is not None:
            output = outage.communicate(timeout=300)[0]
    assert outage.returncode == 0, output
    run = out["run"]
    assert run.rc != 0
    result = run.task()
    # the module's own failure with the reason, not a crash
    assert result["msg"].startswith("Could not move off") and "did not answer" in result["msg"], result["msg"]
    records = by_id(result["instances"])
    assert set(s.id for s in servers) <= set(records)              # every record, none lost
    results = sorted(records[s.id]["result"] for s in servers)
    assert set(results) <= {"moved", "still_running", "not_started"}, results
    assert set(results) & {"still_running", "not_started"}
    for record in records.values():
        if record["result"] == "still_running":
            assert record["name"] in result["msg"] and "Still moving in nova" in result["msg"]
    lines = progress_lines(progress)
    assert sorted(line["id"] for line in lines[1:]) == sorted(records)   # a line for each
    assert result["summary"]["total"] == len(records)


def test_an_instance_moved_by_hand_while_queued_is_not_moved_again(ansible, cloud, boot, server_host):
    servers = boot([(HOST, "ACTIVE")] * 3)
    mine = set(s.id for s in servers)
    # the order the drain takes them in: nova's listing order
    queue = [s.id for s in cloud.compute.servers(all_projects=True, compute_host=HOST) if s.id in mine]
    assert sorted(queue) == sorted(mine)
    by_hand = queue[-1]
    thread, out = in_background(ansible, tasks=[task("host_drain", host=HOST, concurrency=1, **FAST)])
    try:
        first = queue[0]
        wait_until(lambda: cloud.compute.get_server(first).task_state or server_host(first) != HOST,
                   "the drain to start its first move")
        cloud.compute.live_migrate_server(by_hand, host="fake-compute-3", block_migration="auto")
    finally:
        thread.join()
    run = out["run"]
    assert run.rc == 0, run.output
    records = by_id(run.task()["instances"])
    assert records[by_hand]["result"] == "moved_elsewhere", records[by_hand]
    assert records[by_hand]["destination"] == "fake-compute-3" == server_host(by_hand)
    migrations = cloud.compute.get("/os-migrations", params={"instance_uuid": by_hand},
                                   microversion="2.59").json()["migrations"]
    assert len(migrations) == 1                # only the move by hand
    assert [records[i]["result"] for i in queue[:2]] == ["moved", "moved"]
    assert servers_on(cloud, HOST) == []


def test_an_unwritable_progress_file_is_reported_before_anything_changes(ansible, cloud):
    run = ansible(tasks=[task("host_drain", host=HOST, progress_file="/etc/hostname/progress.jsonl")])
    assert run.rc != 0
    assert run.task()["msg"].startswith("progress_file /etc/hostname/progress.jsonl cannot be written")
    assert service(cloud, HOST).status == "enabled"


def test_an_instance_that_arrives_during_the_drain_is_reported_not_drained(ansible, cloud, boot, server_host):
    """After the moves the host is listed once more: what is there then fails the drain, named."""
    # four moves one at a time: the intruder's one move, started with the drain's first, lands
    # while the drain still has three to go (started any later, it could land after the relisting)
    servers = boot([(HOST, "ACTIVE")] * 4)
    [intruder] = boot([("fake-compute-3", "ACTIVE")])
    thread, out = in_background(ansible, tasks=[task("host_drain", host=HOST, concurrency=1, **FAST)])
    try:
        # the first move starting means the drain has listed the host already
        wait_until(lambda: any(cloud.compute.get_server(s.id).task_state or server_host(s.id) != HOST
                               for s in servers), "the drain to start its first move")
        # someone forces an instance onto the disabled host (force skips the scheduler, as an
        # operator's `openstack server migrate --live-migration --host ... ` with force does)
        cloud.compute.live_migrate_server(intruder, host=HOST, force=True, block_migration="auto")
        wait_until(lambda: server_host(intruder.id) == HOST, "the forced move to land", timeout=120)
    finally:
        thread.join()
    run = out["run"]
    assert run.rc != 0
    result = run.task()
    records = by_id(result["instances"])
    assert records[intruder.id]["result"] == "still_on_host", records[intruder.id]
    assert intruder.id in result["msg"] and "still_on_host" in result["msg"], result["msg"]
    assert all(records[s.id]["result"] == "moved" for s in servers)


def test_a_drain_killed_mid_move_keeps_its_records_and_a_rerun_and_return_bring_every_instance_home(
        ansible, cloud, boot, server_host, tmp_path, kill_module):
    servers = boot([(HOST, "ACTIVE")] * 3)
    mine = dict((s.id, s) for s in servers)
    records_file = tmp_path / "records.json"
    drain = dict(host=HOST, concurrency=1, records_file=str(records_file), **FAST)

    def results_kept():
        try:
            return [r["result"] for r in json.loads(records_file.read_text())]
        except (OSError, ValueError):
            return []

    thread, out = in_background(ansible, tasks=[task("host_drain", **drain)])
    try:
        # kill it with the second move in flight, as its records file says: one moved, one moving
        wait_until(lambda: "moved" in results_kept() and "still_running" in results_kept(),
                   "the second move to start")
        kill_module("host_drain")
    finally:
        thread.join()
    assert out["run"].rc != 0
    kept = by_id(json.loads(records_file.read_text()))
    assert sorted(kept) == sorted(mine) and oct(records_file.stat().st_mode & 0o777) == "0o600"
    assert [r["result"] for r in kept.values()].count("still_running") == 1, kept
    for record in kept.values():                      # a waiting one has no result yet and is still there
        assert record["result"] in ("moved", "still_running") or server_host(record["id"]) == HOST, record
    wait_until(lambda: not any(cloud.compute.get_server(i).task_state for i in mine), "nova to end the move")
    service_now = service(cloud, HOST)
    assert service_now.status == "disabled"          # the killed run left it disabled: not drained yet

    again = ansible(tasks=[task("host_drain", **drain)])
    assert again.rc == 0, again.output
    records = by_id(again.task()["instances"])
    assert sorted(records) == sorted(mine)            # this run moved one, the earlier two are kept
    assert all(records[i]["result"] == "moved" and records[i]["origin"] == HOST for i in mine), records
    assert by_id(json.loads(records_file.read_text())) == records
    assert servers_on(cloud, HOST) == []

    home = ansible(tasks=[task("compute_service", host=HOST, status="enabled"),
                          task("host_return", host=HOST, instances=list(records.values()), **FAST)])
    assert home.rc == 0, home.output
    assert servers_on(cloud, HOST) == sorted(mine)


def killed_drain_record(server):
    """The record a drain killed while nova moved ``server`` off HOST leaves behind."""
    return {"id": server.id, "name": server.name, "status": "ACTIVE", "origin": HOST, "destination": None,
            "method": "live", "seconds": None, "result": "still_running", "error": None}


def start_move(cloud, server, host):
    """Ask nova to live-migrate ``server`` to ``host`` (asynchronous from 2.25 on) and wait until it took it."""
    answer = cloud.compute.post("/servers/%s/action" % server.id, microversion="2.65", json={
        "os-migrateLive": {"host": host, "block_migration": "auto"}})
    assert answer.status_code == 202, answer.text
    wait_until(lambda: cloud.compute.get_server(server.id).task_state, "nova to take the move")


def run_while_moving(ansible, cloud, server, frozen, module_processes, module, **args):
    """Run ``module`` while nova moves ``server`` from HOST to fake-compute-2, whose nova-compute
    answers nothing until the module has read the instance on HOST, moving; then the move ends."""
    with frozen("nova-compute-fake-compute-2"):
        start_move(cloud, server, "fake-compute-2")
        thread, out = in_background(ansible, tasks=[task(module, **args)])
        wait_until(lambda: module_processes(module), "the module to start")
        time.sleep(3)
        moving = cloud.compute.get_server(server.id)
        assert (moving.compute_host, bool(moving.task_state)) == (HOST, True)
    thread.join()
    return out["run"]


def test_a_return_waits_for_a_move_nova_has_not_finished_and_then_brings_the_instance_home(
        ansible, cloud, boot, server_host, frozen, module_processes):
    [server] = boot([(HOST, "ACTIVE")])
    run = run_while_moving(ansible, cloud, server, frozen, module_processes, "host_return", host=HOST,
                           instances=[killed_drain_record(server)], **FAST)
    assert run.rc == 0, run.output
    [back] = run.task()["instances"]
    assert (back["result"], back["origin"], back["destination"]) == ("moved", "fake-compute-2", HOST), back
    assert server_host(server.id) == HOST and not cloud.compute.get_server(server.id).task_state


def test_a_rerun_of_a_killed_drain_counts_the_move_nova_finishes_meanwhile_as_its_own(
        ansible, cloud, boot, tmp_path, frozen, module_processes):
    [server] = boot([(HOST, "ACTIVE")])
    records_file = tmp_path / "records.json"
    records_file.write_text(json.dumps([killed_drain_record(server)]))
    run = run_while_moving(ansible, cloud, server, frozen, module_processes, "host_drain", host=HOST,
                           records_file=str(records_file), **FAST)
    assert run.rc == 0, run.output
    # moved by this drain, not someone else's move or an unmovable MIGRATING one: the return sends it home
    [record] = run.task()["instances"]
    assert (record["result"], record["origin"]) == ("moved", HOST), record
    assert json.loads(records_file.read_text()) == [record]


def test_an_unreadable_records_file_is_refused_before_anything_changes(ansible, cloud, boot, tmp_path):
    boot([(HOST, "ACTIVE")])
    records_file = tmp_path / "records.json"
    records_file.write_text('{"not": "a list"}')
    run = ansible(tasks=[task("host_drain", host=HOST, records_file=str(records_file))])
    assert run.rc != 0
    assert run.task()["msg"].startswith("records_file %s cannot be read" % records_file)
    assert "Nothing was changed" in run.task()["msg"]
    assert service(cloud, HOST).status == "enabled"
