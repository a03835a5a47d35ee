"""Role tests on real hosts: molecule scenarios from extensions/molecule/ on podman test hosts.

The hosts come from tests/lib/testhosts.sh (ensure_testhosts: podman, its configuration, the
cached images); tests/run.sh calls it before pytest, and the fixture calls it again (a no-op
when warm) so that ``pytest tests/roles`` also works alone.
"""
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_ENV_KEYS = ("CONTAINERS_CONF", "CONTAINERS_STORAGE_CONF", "OSOPS_TESTHOSTS", "OSOPS_TESTHOSTS_SSH_KEY")
TIMINGS = []


def _timed(label, argv, **kwargs):
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    TIMINGS.append((label, time.monotonic() - start, proc.returncode))
    return proc


def pytest_terminal_summary(terminalreporter):
    if TIMINGS:
        terminalreporter.write_sep("-", "role test timings")
        for label, seconds, rc in TIMINGS:
            terminalreporter.write_line("%-60s %6.1fs rc=%s" % (label, seconds, rc))


@pytest.fixture(scope="session")
def testhosts():
    """podman configured and the images present; the env that podman and molecule need."""
    script = ". %s/tests/lib/testhosts.sh && ensure_testhosts >&2 && env -0" % ROOT
    proc = _timed("ensure_testhosts", ["bash", "-c", script])
    assert proc.returncode == 0, "ensure_testhosts failed:\n" + proc.stderr[-3000:]
    env = dict(line.split("=", 1) for line in proc.stdout.split("\0") if "=" in line)
    for key in _ENV_KEYS:
        os.environ[key] = env[key]
    return env


@pytest.fixture(scope="session")
def sslyze():
    """The sslyze command, from a venv of its own (its pinned cryptography and nassl stay out of the tools venv).

    Made from tests/lib/sslyze-requirements.txt at $OSOPS_CACHE/sslyze-venv/<sslyze version>-<hash of the
    file> the first time, reused afterwards; a venv whose install did not finish is made again.
    """
    requirements = os.path.join(ROOT, "tests", "lib", "sslyze-requirements.txt")
    with open(requirements, "rb") as handle:
        content = handle.read()
    version = re.search(rb"^sslyze==(\S+)$", content, re.M).group(1).decode()
    parent = os.path.join(os.environ.get("OSOPS_CACHE", os.path.join(ROOT, "tests", "output")), "sslyze-venv")
    venv = os.path.join(parent, "%s-%s" % (version, hashlib.sha256(content).hexdigest()[:8]))
    installed = os.path.join(venv, ".installed")
    os.makedirs(parent, exist_ok=True)
    with open(os.path.join(parent, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)    # another session making the same venv
        if not os.path.exists(installed):
            shutil.rmtree(venv, ignore_errors=True)
            for label, argv in (("venv", [sys.executable, "-m", "venv", venv]),
                                ("pip install", [os.path.join(venv, "bin", "pip"), "install", "-q",
                                                 "--disable-pip-version-check", "-r", requirements])):
                proc = _timed("sslyze %s %s" % (version, label), argv)
                assert proc.returncode == 0, "sslyze %s: %s failed:\n%s" % (version, label, proc.stderr[-3000:])
            open(installed, "w").close()
    return os.path.join(venv, "bin", "sslyze")


class Hosts(object):
    """The hosts of one molecule scenario, and ansible-playbook runs against them."""

    def __init__(self, scenario, names, group):
        self.scenario = scenario
        self.names = names
        self.group = group
        self.inventory = os.path.join(os.environ.get("OSOPS_CACHE", os.path.join(ROOT, "tests", "output")),
                                      "roles", scenario, "inventory.yml")

    def podman(self, *args, check=True):
        proc = subprocess.run(["podman"] + list(args), capture_output=True, text=True, check=False)
        if check:
            assert proc.returncode == 0, "podman %s: %s" % (" ".join(args), proc.stderr)
        return proc

    def sh(self, name, command, check=True):
        """Run a shell command on a host (podman exec); its stdout, stripped."""
        proc = self.podman("exec", name, "bash", "-c", command, check=check)
        return proc.stdout.strip() if check else proc

    def ip(self, name):
        data = json.loads(self.podman("container", "inspect", name).stdout)[0]
        return [net["IPAddress"] for net in data["NetworkSettings"]["Networks"].values()][0]

    def write_inventory(self):
        hosts = dict((name, {"ansible_host": self.ip(name)}) for name in self.names)
        inventory = {"all": {
            "vars": {"ansible_user": "root", "ansible_connection": "ssh",
                     "ansible_python_interpreter": "/usr/bin/python3",
                     "ansible_ssh_private_key_file": os.environ["OSOPS_TESTHOSTS_SSH_KEY"]},
            "children": {self.group: {"hosts": hosts}}}}
        os.makedirs(os.path.dirname(self.inventory), exist_ok=True)
        with open(self.inventory, "w") as handle:
            json.dump(inventory, handle)

    @staticmethod
    def _ansible_env(**extra):
        return dict(os.environ, ANSIBLE_PIPELINING="true", ANSIBLE_HOST_KEY_CHECKING="false", ANSIBLE_FORKS="10",
                    ANSIBLE_SSH_ARGS="-o ControlMaster=auto -o ControlPersist=120s -o StrictHostKeyChecking=no "
                                     "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR", **extra)

    def playbook(self, playbook, *args, label=None):
        self.write_inventory()
        return _timed(label or "ansible-playbook %s %s" % (playbook, " ".join(args)),
                      ["ansible-playbook", "-i", self.inventory, playbook] + list(args), env=self._ansible_env(), cwd=ROOT)

    @staticmethod
    def recap(stdout):
        """The PLAY RECAP of an ansible-playbook run: host -> {"ok": n, "changed": n, "unreachable": n, "failed": n, ...}.

        Assert on these numbers, never on "changed=1" in the output (which misses changed=3 and
        matches a task's own text).
        """
        at = stdout.rfind("PLAY RECAP")
        assert at >= 0, "no PLAY RECAP in the output:\n" + stdout[-3000:]
        hosts = {}
        for line in stdout[at:].splitlines()[1:]:
            match = re.match(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", line.strip())
            if match:
                hosts[match.group(1)] = dict((key, int(value)) for key, value in re.findall(r"(\w+)=(\d+)", match.group(2)))
        return hosts

    def molecule(self, *args):
        """A molecule command on this scenario (for example converge -- -e ...)."""
        return molecule(self.scenario, *args)

    def module(self, host, module, args, check=False):
        """One module run on one host (ad hoc); the return code and the host's result."""
        self.write_inventory()
        argv = ["ansible", host, "-i", self.inventory, "-m", module, "-a", json.dumps(args)]
        if check:
            argv.append("--check")
        env = self._ansible_env(ANSIBLE_LOAD_CALLBACK_PLUGINS="true", ANSIBLE_STDOUT_CALLBACK="ansible.posix.json")
        proc = _timed("ansible -m %s %s" % (module, host), argv, env=env, cwd=ROOT)
        try:
            result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"][host]
        except (ValueError, KeyError, IndexError):
            raise AssertionError("ansible -m %s printed no result:\n%s\n%s" % (module, proc.stdout[-3000:], proc.stderr[-3000:]))
        return proc.returncode, result


def molecule(scenario, *args):
    return _timed("molecule %s -s %s" % (args[0], scenario), ["molecule", args[0], "-s", scenario] + list(args[1:]),
                  cwd=ROOT)


@pytest.fixture(scope="module")
def molecule_scenario(testhosts, request):
    """Run a scenario's whole sequence but keep its hosts for the module's tests; destroy at the end."""
    scenario = request.module.SCENARIO
    if os.environ.get("OSOPS_REUSE_TESTHOSTS"):
        # development: keep the hosts of an earlier run (OSOPS_KEEP_TESTHOSTS=1) and reuse them
        yield None
        return
    molecule(scenario, "destroy")
    proc = molecule(scenario, "test", "--destroy", "never")
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        molecule(scenario, "destroy")
    assert proc.returncode == 0, "molecule test -s %s failed:\n%s" % (scenario, output[-8000:])
    yield output
    if not os.environ.get("OSOPS_KEEP_TESTHOSTS"):
        molecule(scenario, "destroy")


@pytest.fixture(scope="module")
def hosts(molecule_scenario, request):
    """The scenario's hosts: SCENARIO, NODES and GROUP of the test module."""
    module = request.module
    return Hosts(module.SCENARIO, module.NODES, module.GROUP)
