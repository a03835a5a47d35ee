"""The collection as users get it: built with ansible-galaxy, installed into a clean path, its
playbooks run by FQCN from there against the sandbox."""
import os
import subprocess
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    proc = subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(out), ROOT],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [tarball] = [str(out / f) for f in os.listdir(out) if f.endswith(".tar.gz")]
    path = tmp_path_factory.mktemp("collections")
    proc = subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "--no-deps", "--force", "-p", str(path), tarball],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tarball, str(path)


def test_the_tarball_carries_what_an_execution_environment_needs_and_no_test_cloud(installed):
    tarball, _path = installed
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    for needed in ("requirements.txt", "bindep.txt", "meta/runtime.yml", "meta/execution-environment.yml",
                   "plugins/modules/host_drain.py", "plugins/inventory/infra.py", "playbooks/drain_host.yml",
                   "MANIFEST.json", "FILES.json"):
        assert needed in names, needed
    assert not [n for n in names if n.startswith(("tests/sandbox", "bench", ".ci", "tests/output"))]


def test_a_playbook_runs_by_fqcn_from_the_installed_collection(ansible, installed, tmp_path):
    _tarball, path = installed
    run = ansible(playbook="osops.toolkit.drift_report", extra_vars={"drift_report_dir": str(tmp_path)},
                  env={"ANSIBLE_COLLECTIONS_PATH": path})
    assert run.rc == 0, run.output
    origin = run.parsed["plays"][0]["tasks"][1]["task"]["path"]
    assert origin.startswith(path), origin
    assert (tmp_path / "drift-report.json").exists()
