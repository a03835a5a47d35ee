"""The osops.toolkit.drain_host playbook: validated input, progress while it runs, records, return."""
import json

import pytest

from test_host_drain import pinned_flavor, set_pinned_trait  # noqa: F401  pylint: disable=unused-import


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
    assert (svc.status, svc.disabled_reason) == ("disabled", "CHG-99 OVS upgrade")
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
        server_host, ansible, cloud, boot, tmp_path, request):
    flavor = request.getfixturevalue("pinned_flavor")   # from test_host_drain
    [pinned] = boot([(HOST, "ACTIVE")], flavor=flavor)     # can go nowhere but HOST at first
    [movable] = boot([(HOST, "ACTIVE")])
    records_file = tmp_path / "records.json"
    variables = {"drain_host": HOST, "drain_host_records_file": str(records_file),
                 "drain_host_progress_file": str(tmp_path / "progress.jsonl")}
    first = ansible(playbook="osops.toolkit.drain_host", extra_vars=variables)
    assert first.rc != 0, records_file.read_text()
    records = dict((r["id"], r) for r in json.loads(records_file.read_text()))
    assert (records[pinned.id]["result"], records[movable.id]["result"]) == ("failed", "moved")
    try:
        set_pinned_trait(cloud, "fake-compute-3", True)
        second = ansible(playbook="osops.toolkit.drain_host", extra_vars=variables)
    finally:
        set_pinned_trait(cloud, "fake-compute-3", False)
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
