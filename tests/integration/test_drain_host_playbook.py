"""The osops.toolkit.drain_host playbook: validated input, progress while it runs, records, return."""
import json
import re
import threading
import time

import pytest


pytestmark = pytest.mark.usefixtures("computes_enabled")

HOST = "fake-compute-2"


def tasks_by_name(run):
    return {t["task"]["name"]: t["hosts"]["localhost"] for t in run.parsed["plays"][0]["tasks"]}


def test_drain_shows_progress_keeps_records_and_return_brings_them_back(server_host, ansible, cloud, boot, tmp_path):
    servers = boot([(HOST, "ACTIVE"), (HOST, "SHUTOFF")])
    variables = {"drain_host": HOST, "drain_host_reason": "CHG-99 OVS upgrade",
                 "drain_host_records_file": str(tmp_path / "records.json"),
                 "drain_host_progress_file": str(tmp_path / "progress.jsonl")}
    run = ansible(playbook="osops.toolkit.drain_host", extra_vars=variables)
    assert run.rc == 0, run.output
    tasks = tasks_by_name(run)
    progress = tasks["Progress"]["results"]
    assert [r["_ansible_item_label"] for r in progress] == ["1/2 done", "2/2 done"]
    for server in servers:
        assert server_host(server.id) != HOST
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == HOST]
    assert svc.status == "disabled"
    assert re.fullmatch(r"osops:host_drain \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ CHG-99 OVS upgrade", svc.disabled_reason)
    records = json.loads((tmp_path / "records.json").read_text())
    assert sorted(r["id"] for r in records if r["result"] == "moved") == sorted(s.id for s in servers)
    lines = [json.loads(line) for line in (tmp_path / "progress.jsonl").read_text().splitlines()]
    assert [line["done"] for line in lines] == [0, 1, 2] and lines[-1]["total"] == 2

    back = ansible(playbook="osops.toolkit.drain_host", extra_vars=dict(variables, drain_host_action="return"))
    assert back.rc == 0, back.output
    for server in servers:
        assert server_host(server.id) == HOST
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == HOST]
    assert svc.status == "enabled"


def test_return_leaves_a_host_someone_disabled_again_disabled_and_says_why(
        ansible, cloud, tmp_path, disable_service):
    """drain, someone re-disables the host for another reason, return: it stays disabled with that reason.

    The drain is stood in for by what it leaves (the host disabled with host_drain's reason, the
    records file), so that no instance of the other tests sharing the sandbox is moved; that the
    drain writes this reason is what test_drain_shows_progress_keeps_records_and_return_brings_them_back
    checks."""
    (tmp_path / "records.json").write_text("[]")
    variables = {"drain_host": HOST, "drain_host_action": "return",
                 "drain_host_records_file": str(tmp_path / "records.json"),
                 "drain_host_progress_file": str(tmp_path / "progress.jsonl")}
    drained = ansible(tasks=[{"osops.toolkit.compute_service": {
        "host": HOST, "status": "disabled", "disabled_reason": "CHG-100 BIOS update", "owner": "host_drain"}}])
    assert drained.rc == 0, drained.output
    disable_service(HOST, "RMA-77 bad DIMM")

    back = ansible(playbook="osops.toolkit.drain_host", extra_vars=variables)
    assert back.rc != 0
    tasks = tasks_by_name(back)
    assert tasks["Put the host back into scheduling"]["msg"] == (
        "%s stays disabled: it is disabled by someone else (reason 'RMA-77 bad DIMM'), not by host_drain; "
        "enable it once that is resolved, or run again with force=true to clear that reason." % HOST)
    assert "Move the instances back" not in tasks
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == HOST]
    assert (svc.status, svc.disabled_reason) == ("disabled", "RMA-77 bad DIMM")

    forced = ansible(playbook="osops.toolkit.drain_host", extra_vars=dict(variables, drain_host_force_enable=True))
    assert forced.rc == 0, forced.output
    enabled = tasks_by_name(forced)["Put the host back into scheduling"]
    assert enabled["changed"] is True and enabled["overridden_reason"] == "RMA-77 bad DIMM"
    assert any("RMA-77 bad DIMM" in w for w in enabled["warnings"])
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == HOST]
    assert (svc.status, svc.disabled_reason) == ("enabled", None)


@pytest.mark.parametrize("bad, argument_error", [
    ({"drain_host": HOST, "drain_host_concurrency": "many"}, "argument 'drain_host_concurrency' is of type str"),
    ({"drain_host": HOST, "drain_host_action": "evacuate"}, "value of drain_host_action must be one of"),
    ({}, "missing required arguments: drain_host"),
])
def test_bad_survey_answers_are_refused_before_anything_changes(ansible, cloud, bad, argument_error):
    run = ansible(playbook="osops.toolkit.drain_host", extra_vars=bad)
    assert run.rc != 0
    [error] = run.argument_errors()
    assert argument_error in error, error
    assert all(s.status == "enabled" for s in cloud.compute.services(binary="nova-compute"))


def test_a_host_name_that_is_not_one_name_is_refused_before_anything_changes(ansible, cloud):
    run = ansible(playbook="osops.toolkit.drain_host", extra_vars={"drain_host": "compute-1; reboot"})
    assert run.rc != 0
    assert run.argument_errors() == []
    assert run.task()["msg"].startswith("drain_host must be one host name")
    assert all(s.status == "enabled" for s in cloud.compute.services(binary="nova-compute"))


def test_a_drain_run_again_after_a_failed_move_keeps_the_records_and_return_brings_all_home(
        server_host, ansible, cloud, boot, tmp_path, pinned_flavor, pinned_trait):
    [pinned] = boot([(HOST, "ACTIVE")], flavor=pinned_flavor)     # can go nowhere but HOST at first
    [movable] = boot([(HOST, "ACTIVE")])
    records_file = tmp_path / "records.json"
    variables = {"drain_host": HOST, "drain_host_records_file": str(records_file),
                 "drain_host_progress_file": str(tmp_path / "progress.jsonl")}
    first = ansible(playbook="osops.toolkit.drain_host", extra_vars=variables)
    assert first.rc != 0, records_file.read_text()
    records = dict((r["id"], r) for r in json.loads(records_file.read_text()))
    assert (records[pinned.id]["result"], records[movable.id]["result"]) == ("failed", "moved")
    try:
        pinned_trait("fake-compute-3", True)
        second = ansible(playbook="osops.toolkit.drain_host", extra_vars=variables)
    finally:
        pinned_trait("fake-compute-3", False)
    assert second.rc == 0, second.output
    records = dict((r["id"], r) for r in json.loads(records_file.read_text()))
    assert (records[pinned.id]["result"], records[movable.id]["result"]) == ("moved", "moved")
    assert server_host(pinned.id) == "fake-compute-3"

    back = ansible(playbook="osops.toolkit.drain_host", extra_vars=dict(variables, drain_host_action="return"))
    assert back.rc == 0, back.output
    assert server_host(pinned.id) == server_host(movable.id) == HOST
    assert not records_file.exists()          # a later drain starts afresh

    # paging against the real API: pages of one instance, so only nova's next links reach the second
    from ansible_collections.osops.toolkit.plugins.module_utils._nova_moves import RetryingApi, servers_on_host
    listed = [s["id"] for s in servers_on_host(RetryingApi(cloud.compute), HOST, page_size=1)]
    assert {pinned.id, movable.id} <= set(listed) and len(listed) == len(set(listed))


def results_kept(records_file):
    try:
        return [r["result"] for r in json.loads(records_file.read_text())]
    except (OSError, ValueError):
        return []


def test_a_drain_job_that_dies_is_reported_at_once_with_its_records_and_return_brings_them_home(
        server_host, ansible, cloud, boot, tmp_path, kill_module):
    servers = boot([(HOST, "ACTIVE")] * 3)
    records_file = tmp_path / "records.json"
    variables = {"drain_host": HOST, "drain_host_concurrency": 1, "drain_host_progress_check": 3,
                 "drain_host_instance_timeout": 900, "drain_host_records_file": str(records_file),
                 "drain_host_progress_file": str(tmp_path / "progress.jsonl")}
    holder = {}
    thread = threading.Thread(target=lambda: holder.setdefault(
        "run", ansible(playbook="osops.toolkit.drain_host", extra_vars=variables)))
    thread.start()
    try:
        # the records file, not nova's host field: nova moves the host before the module sees the end.
        # Killed with the second move in flight, so the return starts while nova may still move it.
        deadline = time.monotonic() + 180
        while not {"moved", "still_running"} <= set(results_kept(records_file)):
            assert time.monotonic() < deadline, "the second move did not start"
            time.sleep(0.2)
        kill_module("host_drain")          # the drain job dies; the playbook goes on
    finally:
        thread.join()
    run = holder["run"]
    assert run.rc != 0
    tasks = tasks_by_name(run)
    # the waiting ends when the job is found dead, not after instance_timeout for each instance left
    progress = tasks["Progress"]["results"]
    assert progress[-1].get("skipped") is True, progress
    report = tasks["Report the drain"]["msg"]
    assert "The drain job ended without a result" in report and str(records_file) in report, report
    kept = dict((r["id"], r) for r in json.loads(records_file.read_text()))
    assert sorted(kept) == sorted(s.id for s in servers)
    assert [r["result"] for r in kept.values()].count("moved") >= 1
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == HOST]
    assert svc.status == "disabled"

    back = ansible(playbook="osops.toolkit.drain_host", extra_vars=dict(variables, drain_host_action="return"))
    assert back.rc == 0, back.output
    assert all(server_host(s.id) == HOST for s in servers)
