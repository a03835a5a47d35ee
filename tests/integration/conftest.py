"""Integration fixtures: the sandbox cloud, and ansible-playbook runs whose results we can read."""
import contextlib
import json
import os
import signal
import subprocess
import time

import openstack
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OSBOX = os.path.join(ROOT, "tests", "sandbox", "osbox.sh")
OSBOX_HOME = os.environ.get("OSBOX_HOME", "/var/cache/osops/sandbox")
CLOUDS_YAML = os.path.join(OSBOX_HOME, "clouds.yaml")


@pytest.fixture(scope="session")
def sandbox():
    """Start the sandbox if it is not running (a no-op when tests/run.sh already did)."""
    proc = subprocess.run([OSBOX, "start"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, "sandbox did not start:\n" + proc.stdout[-3000:] + proc.stderr[-3000:]
    return CLOUDS_YAML


@pytest.fixture(scope="session")
def cloud(sandbox):
    """openstacksdk on the project-scoped admin: how tests check what the cloud now is."""
    os.environ["OS_CLIENT_CONFIG_FILE"] = sandbox
    return openstack.connect(cloud="osbox")


@pytest.fixture
def computes_enabled(cloud):
    """Every sandbox compute enabled, up and not forced down, before and after the test."""
    def reset():
        for svc in cloud.compute.services(binary="nova-compute"):
            if svc.status != "enabled" or svc.is_forced_down:
                cloud.compute.update_service(svc, status="enabled", forced_down=False)
    reset()
    yield
    reset()


@pytest.fixture
def disable_service(cloud):
    """Disable a compute service with a reason as a person would, also when it is already disabled
    (the SDK's update_service would send the reason alone, which nova refuses)."""
    def disable(host, reason):
        [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == host]
        response = cloud.compute.put("/os-services/%s" % svc.id, microversion="2.53",
                                     json={"status": "disabled", "disabled_reason": reason})
        assert response.status_code == 200, response.text
    return disable


class PlaybookRun(object):
    def __init__(self, proc, parsed):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.output = proc.stdout + proc.stderr
        self.parsed = parsed

    def task(self, index=-1, host="localhost"):
        """The result of one task (by position) on one host."""
        tasks = [t for play in self.parsed["plays"] for t in play["tasks"]]
        return tasks[index]["hosts"][host]

    def argument_errors(self):
        """The errors a failed validate_argument_spec reported, one per bad argument.

        Its result also lists every option of the spec, so an option's name in the output
        proves nothing; these are the errors alone.
        """
        return [error for play in self.parsed["plays"] for task in play["tasks"]
                for result in task["hosts"].values() for error in result.get("argument_errors") or []]


@pytest.fixture
def ansible(sandbox, tmp_path):
    """Run ansible-playbook on a playbook file or a list of tasks; JSON results unless asked."""
    def run(playbook=None, tasks=None, check=False, diff=False, extra_vars=None, env=None,
            verbosity=0, json_output=True, playbook_args=()):
        if tasks is not None:
            playbook = tmp_path / "play.yml"
            playbook.write_text(yaml.safe_dump([{
                "name": "test", "hosts": "localhost", "connection": "local", "gather_facts": False,
                "tasks": tasks}], sort_keys=False))
        cmd = ["ansible-playbook", str(playbook)] + list(playbook_args)
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        if extra_vars:
            cmd += ["-e", json.dumps(extra_vars)]
        run_env = dict(os.environ, OS_CLIENT_CONFIG_FILE=CLOUDS_YAML, OS_CLOUD="osbox",
                       ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
        if json_output:
            run_env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.posix.json"
        run_env.update(env or {})
        for key, value in list(run_env.items()):
            if value is None:
                del run_env[key]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, cwd=str(tmp_path), check=False)
        parsed = None
        if json_output:
            try:
                parsed = json.loads(proc.stdout)
            except ValueError:
                raise AssertionError("ansible-playbook printed no JSON (rc %s):\n%s\n%s"
                                     % (proc.returncode, proc.stdout[-4000:], proc.stderr[-4000:]))
        return PlaybookRun(proc, parsed)
    return run


@pytest.fixture
def server_host(cloud):
    """The compute host a server is on now."""
    return lambda server_id: cloud.compute.get_server(server_id).compute_host


@pytest.fixture
def boot(cloud, request):
    """Boot servers on given hosts and bring them to given states; all deleted after the test.

    ``boot([("fake-compute-1", "ACTIVE"), ("fake-compute-1", "SHUTOFF")], flavor=...)`` returns
    the servers in that order, with the states reached.
    """
    created = []
    image = cloud.image.find_image("tiny", ignore_missing=False)
    prefix = "osops-it-%s-" % request.node.name[:30].replace("[", "-").replace("]", "")

    def make(specs, flavor="m1.tiny"):
        flavor_id = cloud.compute.find_flavor(flavor, ignore_missing=False).id
        servers = []
        for index, (host, _state) in enumerate(specs):
            server = cloud.compute.create_server(
                name="%s%d" % (prefix, len(created) + index), image_id=image.id, flavor_id=flavor_id,
                networks="none", availability_zone="nova:%s" % host if host else None)
            servers.append(server)
        created.extend(servers)
        servers = [cloud.compute.wait_for_server(s, wait=120, interval=1) for s in servers]
        for server, (_host, state) in zip(servers, specs):
            if state == "SHUTOFF":
                cloud.compute.stop_server(server)
            elif state == "PAUSED":
                cloud.compute.pause_server(server)
            elif state == "SUSPENDED":
                cloud.compute.suspend_server(server)
        for server, (_host, state) in zip(servers, specs):
            cloud.compute.wait_for_server(server, status=state, wait=120, interval=1)
        return [cloud.compute.get_server(s.id) for s in servers]

    yield make
    for server in created:
        cloud.compute.delete_server(server, ignore_missing=True)
    for server in created:
        cloud.compute.wait_for_delete(server, wait=120, interval=1)


PINNED_TRAIT = "CUSTOM_OSOPS_PINNED"


def set_pinned_trait(cloud, host, present):
    """Give (or take away) the trait of pinned_flavor on ``host``'s resource provider."""
    placement = cloud.placement
    [hv] = [h for h in cloud.compute.hypervisors(details=True) if h.service_details["host"] == host]
    for _attempt in range(20):   # nova may update the provider's traits at the same moment
        current = placement.get("/resource_providers/%s/traits" % hv.id, microversion="1.6").json()
        traits = set(current["traits"]) - {PINNED_TRAIT}
        if present:
            traits.add(PINNED_TRAIT)
        response = placement.put("/resource_providers/%s/traits" % hv.id, microversion="1.6",
                                 json={"traits": sorted(traits),
                                       "resource_provider_generation": current["resource_provider_generation"]})
        if response.status_code == 200:
            return
        time.sleep(0.5)
    raise AssertionError("could not set the traits of %s: %s" % (hv.id, response.text))


@pytest.fixture
def pinned_flavor(cloud):
    """A flavor that needs a trait only fake-compute-2 has: its instances can go nowhere else."""
    cloud.placement.put("/traits/%s" % PINNED_TRAIT, microversion="1.6")
    set_pinned_trait(cloud, "fake-compute-2", True)
    flavor = cloud.compute.create_flavor(name="osops.it.pinned", ram=64, vcpus=1, disk=1)
    cloud.compute.create_flavor_extra_specs(flavor, {"trait:%s" % PINNED_TRAIT: "required"})
    yield flavor.name
    cloud.compute.delete_flavor(flavor)
    set_pinned_trait(cloud, "fake-compute-2", False)


@pytest.fixture
def pinned_trait(cloud):
    """set_pinned_trait for the sandbox: ``pinned_trait(host, present)``."""
    return lambda host, present: set_pinned_trait(cloud, host, present)


def _module_processes(name):
    """The pids of the processes running the module ``name`` now."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if any(arg.endswith(b"AnsiballZ_%s.py" % name.encode()) for arg in argv[1:2]):
            pids.append(int(pid))
    return pids


@pytest.fixture
def kill_module():
    """``kill_module(name)``: SIGKILL the process running the module ``name`` now (as the OOM killer
    or a lost session would); fails when there is none."""
    def kill(name):
        killed = _module_processes(name)
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        assert killed, "no %s module process to kill" % name
        return killed
    return kill


@pytest.fixture
def module_processes():
    """``module_processes(name)``: the pids of the processes running the module ``name`` now."""
    return _module_processes


@pytest.fixture
def frozen():
    """``with frozen(NAME):`` see _frozen."""
    return _frozen


@contextlib.contextmanager
def _frozen(process):
    """A sandbox process (``nova-compute-HOST``, ...) stopped with SIGSTOP inside the block: it
    holds its connections and answers nothing, as a hung host does."""
    with open(os.path.join(OSBOX_HOME, "run", process + ".pid")) as handle:
        group = os.getpgid(int(handle.read()))
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)
