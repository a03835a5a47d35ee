"""The collection the way AWX/AAP runs it, with ansible-runner (what AWX runs its jobs with):

- project update: the project's collections/requirements.yml names the built collection tarball,
  installed with ansible-galaxy into the project's collection path (offline here: the
  dependencies come from the ``ansible`` package, as in an execution environment);
- credential: a clouds.yaml with one cloud named ``devstack`` and OS_CLIENT_CONFIG_FILE, the way
  AWX's OpenStack credential injects it (no OS_CLOUD);
- inventory source: ``ansible-inventory --list --export`` over an osops.toolkit.infra file of the
  project, turned into the inventory script a job gets;
- job templates: drain_host with survey answers turned into extra vars the way AWX does; a
  workflow node after it sends the instances home with the artifact the drain published.
"""
import json
import os
import re
import stat
import subprocess

import ansible_runner
import openstack
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SURVEYS = os.path.join(ROOT, "extensions", "awx", "surveys")
HOST = "fake-compute-3"

pytestmark = pytest.mark.usefixtures("computes_enabled")


def survey_extra_vars(survey, answers):
    """The extra vars AWX makes of survey answers: defaults for questions not answered, numbers
    as numbers, multiselect as a list, optional questions left blank not passed at all. AWX
    refuses a launch that misses a required answer or breaks min/max or the choices."""
    extra = {}
    for question in survey["spec"]:
        var, kind = question["variable"], question["type"]
        value = answers.get(var, question.get("default", ""))
        if value in ("", None):
            assert not question["required"], "AWX refuses the launch: %s is required" % var
            continue
        if kind == "integer":
            value = int(value)
            assert question["min"] <= value <= question["max"], var
        elif kind == "float":
            value = float(value)
        elif kind == "multiselect":
            value = value.split("\n") if isinstance(value, str) else list(value)
            assert set(value) <= set(question["choices"]), var
        else:
            value = str(value)
            if kind == "multiplechoice":
                assert value in question["choices"], var
            else:
                assert question["min"] <= len(value) <= question["max"], var
        extra[var] = value
    return extra


@pytest.fixture(scope="module")
def node(sandbox):
    """One bare-metal node, for the inventory source to find."""
    system = openstack.connect(cloud="osbox-system")
    created = system.baremetal.create_node(driver="fake-hardware", name="osops-awx-node")
    yield created
    system.baremetal.delete_node(created, ignore_missing=True)


@pytest.fixture(scope="module")
def awx(tmp_path_factory, sandbox, node):
    """A project synced and an inventory source updated, as AWX does before a job."""
    base = tmp_path_factory.mktemp("awx")
    build = base / "build"
    proc = subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(build), ROOT],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [tarball] = [str(build / f) for f in os.listdir(build)]

    project = base / "project"
    (project / "collections").mkdir(parents=True)
    (project / "collections" / "requirements.yml").write_text(yaml.safe_dump(
        {"collections": [{"name": tarball, "type": "file"}]}))
    (project / "drain_host.yml").write_text("---\n- name: Drain a hypervisor\n  ansible.builtin.import_playbook: osops.toolkit.drain_host\n")
    (project / "inventory").mkdir()
    (project / "inventory" / "cloud.infra.yml").write_text("plugin: osops.toolkit.infra\nsources: [nova, ironic]\n")

    # the project update: only the project's collections, the ansible package's for the dependencies
    collections = base / "requirements_collections"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections))
    proc = subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "-r",
                           str(project / "collections" / "requirements.yml"), "-p", str(collections)],
                          capture_output=True, text=True, check=False, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "osops.toolkit:0.1.0 was installed successfully" in proc.stdout, proc.stdout

    # the OpenStack credential: one cloud named devstack, no OS_CLOUD
    with open(sandbox) as f:
        auth = yaml.safe_load(f)["clouds"]["osbox"]["auth"]
    credential = base / "credential.yml"
    credential.write_text(yaml.safe_dump({"clouds": {"devstack": {
        "auth": {"auth_url": auth["auth_url"], "username": auth["username"], "password": auth["password"],
                 "project_name": auth["project_name"], "project_domain_name": "Default", "domain_name": "Default"},
        "region_name": "RegionOne", "verify": False}}}))
    credential.chmod(0o600)
    job_env = {"OS_CLIENT_CONFIG_FILE": str(credential), "ANSIBLE_COLLECTIONS_PATH": str(collections)}

    # the inventory update
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(job_env)
    proc = subprocess.run(["ansible-inventory", "-i", str(project / "inventory" / "cloud.infra.yml"), "--list", "--export"],
                          capture_output=True, text=True, check=False, env=env, cwd=str(project))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"base": base, "project": project, "env": job_env, "inventory": json.loads(proc.stdout),
            "collections": str(collections)}


def launch(awx, monkeypatch, name, playbook, extra_vars):
    """One job: a private data dir as AWX writes it, run by ansible-runner."""
    data = awx["base"] / name
    (data / "inventory").mkdir(parents=True)
    script = data / "inventory" / "hosts"
    script.write_text("#!/usr/bin/env python3\nimport json, sys\n"
                      "print(json.dumps(%r if '--list' in sys.argv else {}))\n" % (awx["inventory"],))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    os.symlink(awx["project"], data / "project")
    for var in [k for k in os.environ if k.startswith("OS_")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(data))
    runner = ansible_runner.run(private_data_dir=str(data), playbook=playbook, envvars=awx["env"],
                                extravars=extra_vars, quiet=True, settings={"suppress_ansible_output": True})
    stdout = runner.stdout.read()
    artifacts = {}
    for event in runner.events:
        if event["event"] == "playbook_on_stats":
            artifacts = event["event_data"].get("artifact_data", {})
    return runner, stdout, artifacts


def test_the_inventory_source_exports_every_hypervisor_and_node(awx, cloud, node):
    inventory = awx["inventory"]
    hypervisors = {h.name for h in cloud.compute.hypervisors()}
    hostvars = inventory["_meta"]["hostvars"]
    assert {name for name in hostvars if hostvars[name].get("osops_hypervisor_hostname")} >= {
        h.split(".")[0] for h in hypervisors if h.startswith("fake-compute")} | {HOST}
    # API strings stay marked unsafe through the export, so AWX's copy is never templated either
    assert hostvars[HOST]["osops_service_status"] == {"__ansible_unsafe": "enabled"}
    assert HOST in inventory["hypervisors"]["hosts"] and HOST in inventory["service_enabled"]["hosts"]
    # Ironic through the plugin's own system-scoped login, from the same injected credential
    assert hostvars[node.name]["osops_ironic"]["uuid"] == {"__ansible_unsafe": node.id}


def test_a_drain_job_and_a_return_workflow_node_with_survey_answers(awx, monkeypatch, cloud, boot, server_host):
    with open(os.path.join(SURVEYS, "drain_host.json")) as f:
        survey = json.load(f)
    assert HOST in awx["inventory"]["_meta"]["hostvars"]
    servers = boot([(HOST, "ACTIVE"), (HOST, "SHUTOFF")])
    answers = survey_extra_vars(survey, {"drain_host": HOST, "drain_host_reason": "AWX job 4711",
                                         "drain_host_concurrency": "2"})
    assert answers["drain_host_concurrency"] == 2 and answers["drain_host_send_home"] == "false"

    runner, stdout, artifacts = launch(awx, monkeypatch, "job-drain", "drain_host.yml", answers)
    assert (runner.status, runner.rc) == ("successful", 0), stdout[-5000:]
    assert "1/2 done" in stdout and "2/2 done" in stdout
    for server in servers:
        assert server_host(server.id) != HOST
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == HOST]
    assert svc.status == "disabled"
    assert re.fullmatch(r"osops:host_drain \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ AWX job 4711", svc.disabled_reason)
    records = artifacts["drain_host_records"]
    assert sorted(r["id"] for r in records if r["result"] == "moved") == sorted(s.id for s in servers)
    # the module ran from the collection the project update installed, not from the work tree
    assert os.path.join(awx["collections"], "ansible_collections", "osops", "toolkit") in json.dumps(
        [e.get("event_data", {}).get("task_path", "") for e in runner.events])

    node = survey_extra_vars(survey, {"drain_host": HOST, "drain_host_action": "return"})
    node.update(artifacts)  # a workflow passes the artifacts of the job before as extra vars
    runner, stdout, _artifacts = launch(awx, monkeypatch, "job-return", "drain_host.yml", node)
    assert (runner.status, runner.rc) == ("successful", 0), stdout[-5000:]
    for server in servers:
        assert server_host(server.id) == HOST
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == HOST]
    assert svc.status == "enabled"


def test_a_drain_job_run_again_adds_to_the_artifact_of_the_failed_one_and_return_brings_all_home(
        awx, monkeypatch, cloud, boot, server_host, pinned_flavor, pinned_trait):
    """Each AWX job has a fresh home (no records file): the artifact is all a rerun has."""
    with open(os.path.join(SURVEYS, "drain_host.json")) as f:
        survey = json.load(f)
    pinned_trait("fake-compute-2", False)
    pinned_trait(HOST, True)
    try:
        [pinned] = boot([(HOST, "ACTIVE")], flavor=pinned_flavor)   # can go nowhere else at first
        [movable] = boot([(HOST, "ACTIVE")])
        answers = survey_extra_vars(survey, {"drain_host": HOST})
        runner, stdout, first = launch(awx, monkeypatch, "job-drain-fails", "drain_host.yml", answers)
        assert runner.rc != 0, stdout[-5000:]
        results = dict((r["id"], r["result"]) for r in first["drain_host_records"])
        assert (results[pinned.id], results[movable.id]) == ("failed", "moved")

        pinned_trait("fake-compute-1", True)                       # a host it fits on now
        runner, stdout, second = launch(awx, monkeypatch, "job-drain-again", "drain_host.yml",
                                        dict(answers, **first))
        assert runner.rc == 0, stdout[-5000:]
        results = dict((r["id"], r["result"]) for r in second["drain_host_records"])
        assert results == {pinned.id: "moved", movable.id: "moved"}   # the first job's move is kept

        node = dict(survey_extra_vars(survey, {"drain_host": HOST, "drain_host_action": "return"}), **second)
        runner, stdout, _artifacts = launch(awx, monkeypatch, "job-return-all", "drain_host.yml", node)
        assert runner.rc == 0, stdout[-5000:]
        assert server_host(pinned.id) == server_host(movable.id) == HOST
    finally:
        pinned_trait(HOST, False)
        pinned_trait("fake-compute-1", False)


@pytest.mark.parametrize("answers, argument_error", [
    ({"drain_host": HOST, "drain_host_concurrency": "many"}, "argument 'drain_host_concurrency' is of type str"),
    ({"drain_host": HOST, "drain_host_send_home": "perhaps"}, "argument 'drain_host_send_home' is of type str"),
    ({"drain_host_action": "drain"}, "missing required arguments: drain_host"),
])
def test_bad_answers_from_the_api_are_refused_by_the_argument_spec(awx, monkeypatch, cloud, answers, argument_error):
    """The API can launch with extra vars the survey would not allow; the playbook refuses them."""
    runner, stdout, _artifacts = launch(awx, monkeypatch, "job-bad-" + sorted(answers)[-1],
                                        "drain_host.yml", answers)
    assert runner.status == "failed" and runner.rc != 0
    # the failed validation's own errors (its result also lists every option of the spec)
    [error] = [error for event in runner.events if event.get("event") == "runner_on_failed"
               for error in event["event_data"]["res"].get("argument_errors") or []]
    assert argument_error in error, error
    assert all(s.status == "enabled" for s in cloud.compute.services(binary="nova-compute"))
