"""The collection's static gates: ansible-test sanity (no ignore entries), ansible-lint
--profile production, and the docs that ansible-doc renders."""
import glob
import os
import shutil
import subprocess

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.environ.get("OSOPS_CACHE", os.path.join(ROOT, "tests", "output"))


def _tracked_files():
    proc = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    return [f for f in proc.stdout.splitlines() if os.path.isfile(os.path.join(ROOT, f))]


@pytest.fixture(scope="module")
def collection_copy():
    """ansible-test wants a real ansible_collections/osops/toolkit directory (not a symlink)."""
    dest = os.path.join(CACHE, "sanity", "ansible_collections", "osops", "toolkit")
    shutil.rmtree(dest, ignore_errors=True)
    for rel in _tracked_files():
        target = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, rel), target)
    return dest


def test_no_sanity_ignore_files():
    assert glob.glob(os.path.join(ROOT, "tests", "sanity", "ignore-*.txt")) == []


def test_ansible_test_sanity(collection_copy):
    proc = subprocess.run(["ansible-test", "sanity", "--python", "3.11", "--requirements", "--color", "no"],
                          cwd=collection_copy, capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    failures = "\n".join(line for line in output.splitlines() if line.startswith(("ERROR", "FATAL")))
    assert proc.returncode == 0, failures or output[-5000:]
    # a sanity test whose program is missing is skipped with only a warning
    assert "Required program" not in output, output[-3000:]


def test_ansible_lint_production_profile():
    proc = subprocess.run(["ansible-lint", "--profile", "production", "--nocolor"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-5000:]
    assert "Profile 'production' was required, and it passed" in output


MODULES = sorted("osops.toolkit." + os.path.basename(path)[:-3]
                 for path in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))


def _is_cloud_module(fqcn):
    """A cloud module documents the shared connection options (doc fragment osops.toolkit.cloud)."""
    with open(os.path.join(ROOT, "plugins", "modules", fqcn.split(".")[-1] + ".py")) as handle:
        return "  - osops.toolkit.cloud\n" in handle.read()


CLOUD_MODULES = [m for m in MODULES if _is_cloud_module(m)]


def test_every_cloud_module_and_only_those_are_in_the_openstack_action_group():
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as handle:
        group = yaml.safe_load(handle)["action_groups"]["openstack"]
    assert sorted("osops.toolkit." + name for name in group) == CLOUD_MODULES


@pytest.mark.parametrize("plugin", MODULES)
def test_ansible_doc_renders(plugin):
    proc = subprocess.run(["ansible-doc", plugin], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    for section in ("OPTIONS", "ATTRIBUTES", "EXAMPLES", "RETURN VALUES", "check_mode"):
        assert section in proc.stdout, section
    if plugin in CLOUD_MODULES:
        assert "clouds.yaml" in proc.stdout
    assert "[WARNING]" not in proc.stderr, proc.stderr


def test_ansible_doc_renders_the_inventory_plugin():
    proc = subprocess.run(["ansible-doc", "-t", "inventory", "osops.toolkit.infra"],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    for text in ("OPTIONS", "fail_on_errors", "include_servers", "keyed_groups", "cache_plugin", "EXAMPLES"):
        assert text in proc.stdout, text


def test_galera_status_is_a_host_side_module():
    # runs on the database nodes, stays out of the openstack action group
    assert "osops.toolkit.galera_status" in MODULES and "osops.toolkit.galera_status" not in CLOUD_MODULES


@pytest.mark.parametrize("plugin", ["osops.toolkit.galera_cluster_problems", "osops.toolkit.galera_bootstrap_node",
                                    "osops.toolkit.galera_recovery_refusal"])
def test_ansible_doc_renders_the_filters(plugin):
    proc = subprocess.run(["ansible-doc", "-t", "filter", plugin], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    for text in ("_input", "EXAMPLES", "RETURN VALUES"):
        assert text in proc.stdout, text
