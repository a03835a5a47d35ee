"""The README's demo job (playbooks/demo.yml) runs by FQCN and leaves the cloud as it found it."""
import pytest


@pytest.mark.usefixtures("computes_enabled")
def test_demo_takes_a_host_out_with_a_reason_and_back(ansible, cloud, tmp_path):
    run = ansible(playbook="osops.toolkit.demo", extra_vars={"demo_host": "fake-compute-2"})
    assert run.rc == 0, run.output
    tasks = {t["task"]["name"]: t["hosts"]["localhost"] for t in run.parsed["plays"][0]["tasks"]}
    assert tasks["Disable the compute service with a reason"]["changed"] is True
    assert tasks["Nova reports it disabled, with the reason"]["msg"] == \
        "fake-compute-2 is disabled: osops.toolkit demo: maintenance round trip"
    assert tasks["Put it back into service"]["changed"] is True
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == "fake-compute-2"]
    assert (svc.status, svc.disabled_reason) == ("enabled", None)
