"""osops.toolkit.compute_service through ansible-playbook against the sandbox cloud.

Every assertion on state reads Nova directly (openstacksdk), not what the module said.
"""
import os
import re
import subprocess

import pytest
import yaml

pytestmark = pytest.mark.usefixtures("computes_enabled")

HOST = "fake-compute-1"
NEIGHBOUR = "fake-compute-10"   # HOST is a prefix of its name


def nova_service(cloud, host):
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == host]
    return svc


def service_task(**args):
    return [{"name": "compute_service", "osops.toolkit.compute_service": args}]


def test_disable_with_reason_is_what_nova_reports_then_second_run_is_unchanged(ansible, cloud):
    args = dict(host=HOST, status="disabled", disabled_reason="CHG-42 kernel upgrade")
    first = ansible(tasks=service_task(**args))
    assert first.rc == 0, first.output
    assert first.task()["changed"] is True
    svc = nova_service(cloud, HOST)
    assert (svc.status, svc.disabled_reason) == ("disabled", "CHG-42 kernel upgrade")

    second = ansible(tasks=service_task(**args))
    assert second.rc == 0, second.output
    assert second.task()["changed"] is False


def test_only_the_exact_host_is_touched(ansible, cloud):
    run = ansible(tasks=service_task(host=HOST, status="disabled", disabled_reason="exact match"))
    assert run.rc == 0, run.output
    assert nova_service(cloud, HOST).status == "disabled"
    neighbour = nova_service(cloud, NEIGHBOUR)
    assert (neighbour.status, neighbour.disabled_reason) == ("enabled", None)


def test_enable_clears_the_reason(ansible, cloud):
    cloud.compute.update_service(nova_service(cloud, HOST), status="disabled", disabled_reason="old")
    run = ansible(tasks=service_task(host=HOST, status="enabled"))
    assert run.rc == 0, run.output
    assert run.task()["changed"] is True
    svc = nova_service(cloud, HOST)
    assert (svc.status, svc.disabled_reason) == ("enabled", None)


def test_new_reason_on_a_disabled_service_replaces_the_old_one(ansible, cloud):
    cloud.compute.update_service(nova_service(cloud, HOST), status="disabled", disabled_reason="old")
    run = ansible(tasks=service_task(host=HOST, status="disabled", disabled_reason="new"))
    assert run.rc == 0 and run.task()["changed"] is True, run.output
    assert nova_service(cloud, HOST).disabled_reason == "new"


def test_check_mode_predicts_the_change_and_changes_nothing(ansible, cloud):
    run = ansible(tasks=service_task(host=HOST, status="disabled", disabled_reason="would"), check=True, diff=True)
    assert run.rc == 0, run.output
    result = run.task()
    assert result["changed"] is True
    assert result["service"]["status"] == "disabled"
    assert result["diff"]["before"]["status"] == "enabled"
    assert result["diff"]["after"] == {"status": "disabled", "disabled_reason": "would", "forced_down": False}
    svc = nova_service(cloud, HOST)
    assert (svc.status, svc.disabled_reason) == ("enabled", None)


def test_forced_down_marks_the_service_down_and_back(ansible, cloud):
    run = ansible(tasks=service_task(host=HOST, status="disabled", disabled_reason="fenced", forced_down=True))
    assert run.rc == 0, run.output
    svc = nova_service(cloud, HOST)
    assert svc.is_forced_down is True and svc.state == "down"
    run = ansible(tasks=service_task(host=HOST, forced_down=False))
    assert run.rc == 0 and run.task()["changed"] is True, run.output
    svc = nova_service(cloud, HOST)
    assert svc.is_forced_down is False and svc.status == "disabled"  # status left as it was


def test_owner_writes_a_reason_that_says_who_and_since_when_and_enables_only_that(ansible, cloud):
    args = dict(host=HOST, status="disabled", disabled_reason="CHG-42 kernel upgrade", owner="patching")
    first = ansible(tasks=service_task(**args), diff=True)
    assert first.rc == 0, first.output
    reason = nova_service(cloud, HOST).disabled_reason
    assert re.fullmatch(r"osops:patching \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ CHG-42 kernel upgrade", reason)
    result = first.task()
    assert result["diff"]["after"]["disabled_reason"] == reason
    assert result["service"]["disabled_by"]["who"] == "osops" and result["service"]["disabled_by"]["job"] == "patching"
    second = ansible(tasks=service_task(**args))
    assert second.rc == 0 and second.task()["changed"] is False, second.output
    assert nova_service(cloud, HOST).disabled_reason == reason

    check = ansible(tasks=service_task(host=HOST, status="enabled", owner="patching"), check=True, diff=True)
    assert check.rc == 0 and check.task()["changed"] is True, check.output
    assert check.task()["diff"]["after"] == {"status": "enabled", "disabled_reason": None, "forced_down": False}
    assert nova_service(cloud, HOST).disabled_reason == reason
    enable = ansible(tasks=service_task(host=HOST, status="enabled", owner="patching"))
    assert enable.rc == 0 and enable.task()["changed"] is True, enable.output
    assert nova_service(cloud, HOST).status == "enabled"


def test_owner_refuses_to_enable_a_host_someone_disabled_again_and_force_goes_on(ansible, cloud, disable_service):
    run = ansible(tasks=service_task(host=HOST, status="disabled", disabled_reason="CHG-43", owner="patching"))
    assert run.rc == 0, run.output
    disable_service(HOST, "RMA-77 bad DIMM")

    refused = ansible(tasks=service_task(host=HOST, status="enabled", owner="patching"))
    assert refused.rc != 0
    assert refused.task()["msg"] == (
        "fake-compute-1 stays disabled: it is disabled by someone else (reason 'RMA-77 bad DIMM'), not by "
        "patching; enable it once that is resolved, or run again with force=true to clear that reason.")
    svc = nova_service(cloud, HOST)
    assert (svc.status, svc.disabled_reason) == ("disabled", "RMA-77 bad DIMM")

    # disabling again as that owner keeps the other reason too
    kept = ansible(tasks=service_task(host=HOST, status="disabled", disabled_reason="CHG-44", owner="patching"))
    assert kept.rc == 0 and kept.task()["changed"] is False, kept.output
    assert any("RMA-77 bad DIMM" in w for w in kept.task()["warnings"])
    assert nova_service(cloud, HOST).disabled_reason == "RMA-77 bad DIMM"

    forced = ansible(tasks=service_task(host=HOST, status="enabled", owner="patching", force=True))
    assert forced.rc == 0, forced.output
    result = forced.task()
    assert result["changed"] is True and result["overridden_reason"] == "RMA-77 bad DIMM"
    assert any("RMA-77 bad DIMM" in w for w in result["warnings"])
    svc = nova_service(cloud, HOST)
    assert (svc.status, svc.disabled_reason) == ("enabled", None)


@pytest.mark.parametrize("reason, by", [
    ("AUTO: Connection to libvirt lost: 1", "by Nova's libvirt driver"),
    ("Auto-disabled due to 10 build failures", "by Nova after build failures"),
])
def test_nova_s_own_reasons_are_named_and_never_cleared_without_force(ansible, cloud, disable_service, reason, by):
    disable_service(HOST, reason)
    refused = ansible(tasks=service_task(host=HOST, status="enabled", owner="patching"))
    assert refused.rc != 0
    assert refused.task()["msg"].startswith("%s stays disabled: it is disabled %s (reason %r), not by patching"
                                            % (HOST, by, reason)), refused.task()["msg"]
    svc = nova_service(cloud, HOST)
    assert (svc.status, svc.disabled_reason) == ("disabled", reason)


def test_unknown_host_fails_with_a_clear_message(ansible):
    run = ansible(tasks=service_task(host="fake-compute-", status="disabled"))
    assert run.rc != 0
    result = run.task()
    assert result["failed"] is True
    assert result["msg"] == ("No nova-compute service runs on host 'fake-compute-'. Check the exact name with "
                             "'openstack compute service list --service nova-compute'.")


def test_reason_without_disabling_is_rejected_before_any_change(ansible, cloud):
    run = ansible(tasks=service_task(host=HOST, status="enabled", disabled_reason="nonsense"))
    assert run.rc != 0
    assert "disabled_reason goes with status=disabled" in run.task()["msg"]
    assert nova_service(cloud, HOST).status == "enabled"


def test_wrong_password_fails_clearly_and_the_password_is_never_printed(ansible, cloud):
    secret = "Wr0ng-Pa55word-xyzzy"
    tasks = service_task(host=HOST, status="disabled", disabled_reason="never",
                         auth={"password": secret})
    # the default output at the highest verbosity shows module arguments and results
    verbose = ansible(tasks=tasks, json_output=False, verbosity=4)
    assert verbose.rc != 0
    assert secret not in verbose.output
    assert "Could not log in to the cloud" in verbose.output
    run = ansible(tasks=tasks)
    assert run.rc != 0
    msg = run.task()["msg"]
    assert msg.startswith("Could not log in to the cloud: The request you have made requires authentication.")
    assert "401" in msg and "req-" in msg
    assert secret not in run.output
    assert nova_service(cloud, HOST).status == "enabled"


def test_the_only_cloud_of_an_awx_injected_clouds_yaml_is_used(ansible, cloud, tmp_path, sandbox):
    """AWX's OpenStack credential: OS_CLIENT_CONFIG_FILE with one cloud, no OS_CLOUD, no cloud option."""
    with open(sandbox) as handle:
        osbox = yaml.safe_load(handle)["clouds"]["osbox"]
    awx_clouds = tmp_path / "awx-clouds.yaml"
    awx_clouds.write_text(yaml.safe_dump({"clouds": {"devstack": osbox}}))
    run = ansible(tasks=service_task(host=HOST, status="disabled", disabled_reason="from AWX"),
                  env={"OS_CLIENT_CONFIG_FILE": str(awx_clouds), "OS_CLOUD": None})
    assert run.rc == 0, run.output
    assert nova_service(cloud, HOST).disabled_reason == "from AWX"


def test_module_defaults_group_sets_the_cloud_once(ansible, cloud, tmp_path):
    playbook = tmp_path / "group.yml"
    playbook.write_text(yaml.safe_dump([{
        "name": "group", "hosts": "localhost", "connection": "local", "gather_facts": False,
        "module_defaults": {"group/osops.toolkit.openstack": {"cloud": "osbox"}},
        "tasks": service_task(host=HOST, status="disabled", disabled_reason="via group")}]))
    run = ansible(playbook=playbook, env={"OS_CLOUD": None})
    assert run.rc == 0, run.output
    assert nova_service(cloud, HOST).disabled_reason == "via group"


def test_an_undefined_cloud_name_is_named_in_the_error(ansible):
    run = ansible(tasks=service_task(host=HOST, status="enabled", cloud="nope"))
    assert run.rc != 0
    assert run.task()["msg"].startswith("Cloud 'nope' is not defined in clouds.yaml")


def test_the_lowest_supported_openstacksdk_works(ansible, cloud):
    """requirements.txt's lower bound, 4.18.0, is what the sandbox's own venv pins: run the
    module with that interpreter."""
    python = os.path.join(os.environ.get("OSBOX_HOME", "/var/cache/osops/sandbox"), "venv", "bin", "python")
    version = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('openstacksdk'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "requirements.txt")) as handle:
        assert "openstacksdk>=%s," % version in handle.read()
    run = ansible(tasks=service_task(host=HOST, status="disabled", disabled_reason="sdk %s" % version),
                  extra_vars={"ansible_python_interpreter": python})
    assert run.rc == 0, run.output
    assert nova_service(cloud, HOST).disabled_reason == "sdk %s" % version
