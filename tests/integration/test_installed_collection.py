"""The collection as users get it: built with ansible-galaxy, installed into a clean path, its
playbooks run by FQCN from there against the sandbox."""
import os
import subprocess
import tarfile

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    out = tmp_path_factory.mktemp("build")
    proc = subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(out), ROOT],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [tarball] = [str(out / f) for f in os.listdir(out) if f.endswith(".tar.gz")]
    path = tmp_path_factory.mktemp("collections")
    # offline: the dependencies galaxy.yml names must be met by the collections of the ansible package
    proc = subprocess.run(["ansible-galaxy", "collection", "install", "--offline", "--force", "-p", str(path), tarball],
                          capture_output=True, text=True, check=False, env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(path)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for dependency in ("ansible.posix", "community.crypto", "community.general", "community.mysql"):
        assert "'%s:" % dependency in proc.stdout, proc.stdout
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


def test_ansible_builder_makes_an_execution_environment_context_with_the_collection(installed, tmp_path):
    """No image can be built here (no registry): the build context and what it will install."""
    tarball, path = installed
    with open(os.path.join(ROOT, "extensions", "awx", "execution-environment.yml")) as f:
        definition = yaml.safe_load(f)
    with open(os.path.join(ROOT, "extensions", "awx", "requirements.yml")) as f:
        requirements = yaml.safe_load(f)
    # the published definition, with osops.toolkit from the tarball instead of Galaxy
    definition["additional_build_files"] = [{"src": tarball, "dest": "collections"}]
    (tmp_path / "requirements.yml").write_text(yaml.safe_dump({"collections": [
        {"name": "/build/collections/" + os.path.basename(tarball), "type": "file"} if c["name"] == "osops.toolkit" else c
        for c in requirements["collections"]]}))
    (tmp_path / "execution-environment.yml").write_text(yaml.safe_dump(definition))
    proc = subprocess.run(["ansible-builder", "create", "-f", "execution-environment.yml", "--context", "context"],
                          capture_output=True, text=True, check=False, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert "quay.io/fedora/fedora:41" in containerfile
    assert "ansible-galaxy collection install" in containerfile and "requirements.yml" in containerfile
    assert "introspect" in containerfile  # the builder stage reads the collections' requirements
    assert (tmp_path / "context" / "_build" / "collections" / os.path.basename(tarball)).exists()
    built = yaml.safe_load((tmp_path / "context" / "_build" / "requirements.yml").read_text())
    assert {c["name"].split("/")[-1] for c in built["collections"]} >= {os.path.basename(tarball), "community.general"}

    # what the builder stage will find in the installed collection: requirements.txt and bindep.txt
    proc = subprocess.run(["ansible-builder", "introspect", "--sanitize", path], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = yaml.safe_load(proc.stdout)
    assert any(line.startswith("openstacksdk>=4.18.0,<5.0.0") and "osops.toolkit" in line for line in found["python"]), found
    assert any(line.startswith("openssh-client [platform:dpkg]") for line in found["system"]), found
