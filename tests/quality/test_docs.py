"""The docs site (antsibull-docs + Sphinx), the changelog (antsibull-changelog) and Galaxy's own
import checks (galaxy-importer) on the collection as it is published."""
import glob
import json
import os
import shutil
import subprocess

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE = os.path.join(ROOT, "docs", "site")


def run(argv, **kwargs):
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    assert proc.returncode == 0, "%s\n%s\n%s" % (" ".join(argv), proc.stdout[-6000:], proc.stderr[-6000:])
    return proc


def test_antsibull_docs_lint():
    """Plugin and role docs render; every reference (also into other collections) and the
    guides' labels are valid (references to ansible.builtin and the dependencies too)."""
    run(["antsibull-docs", "lint-collection-docs", "--plugin-docs", "--validate-collection-refs", "dependent",
         "--disallow-unknown-collection-refs", "--check-extra-docs-refs", ROOT])


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    work = tmp_path_factory.mktemp("site")
    rst = work / "rst"
    rst.mkdir(mode=0o700)  # antsibull-docs writes only into a directory nobody else can write
    run(["antsibull-docs", "--config-file", os.path.join(SITE, "antsibull-docs.cfg"), "collection",
         "--use-current", "--cleanup", "everything", "--dest-dir", str(rst), "osops.toolkit"])
    shutil.copy(os.path.join(SITE, "index.rst"), str(rst / "index.rst"))
    proc = run(["sphinx-build", "-b", "html", "-W", "--keep-going", "-q", "-c", SITE, str(rst), str(work / "html")])
    assert "WARNING" not in proc.stderr, proc.stderr
    return work / "html"


def test_the_site_has_a_page_for_every_module_plugin_role_and_guide(site):
    pages = site / "collections" / "osops" / "toolkit"
    expected = ["%s_module.html" % os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py"))]
    expected += ["%s_inventory.html" % os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, "plugins", "inventory", "*.py"))]
    expected += ["%s_role.html" % os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "roles", "*"))]
    with open(os.path.join(ROOT, "docs", "docsite", "extra-docs.yml")) as f:
        guides = [page for section in yaml.safe_load(f)["sections"] for page in section["toctree"]]
    expected += ["docsite/%s.html" % guide for guide in guides]
    missing = [page for page in expected if not (pages / page).exists()]
    assert not missing
    assert len(guides) == len(glob.glob(os.path.join(ROOT, "docs", "docsite", "rst", "*.rst"))), "a guide is not in extra-docs.yml"
    drain = (pages / "docsite" / "drain.html").read_text()
    assert "capacity pre-check" in drain and "host_drain_module.html" in (pages / "index.html").read_text()


def test_the_changelog_is_generated_and_the_next_release_takes_every_fragment(tmp_path):
    run(["antsibull-changelog", "lint"], cwd=ROOT)
    copy = tmp_path / "ansible_collections" / "osops" / "toolkit"  # where it looks for the new plugins
    shutil.copytree(ROOT, str(copy), ignore=shutil.ignore_patterns(".git", "tests", "bench"))
    # CHANGELOG.rst is what antsibull-changelog makes of changelogs/changelog.yaml
    run(["antsibull-changelog", "generate"], cwd=str(copy))
    with open(os.path.join(ROOT, "CHANGELOG.rst")) as f:
        assert f.read() == (copy / "CHANGELOG.rst").read_text(), "CHANGELOG.rst was edited by hand or not regenerated"
    first = (copy / "CHANGELOG.rst").read_text()
    assert "New Modules" in first and "osops.toolkit.host_drain - " in first
    assert "New Roles" in first and "osops.toolkit.haproxy_tls - " in first
    assert "New Plugins" in first and "osops.toolkit.infra - " in first

    # the next release, made in the copy, takes every fragment waiting in the tree, and one of the test's
    waiting = sorted(glob.glob(os.path.join(ROOT, "changelogs", "fragments", "*.yml")))
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "changelogs/fragments"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert [os.path.relpath(f, ROOT) for f in waiting] == sorted(f for f in tracked if f.endswith(".yml"))
    (copy / "changelogs" / "fragments" / "zz-test.yml").write_text(
        "bugfixes:\n  - osops.toolkit test - a fragment written by tests/quality/test_docs.py.\n")
    entries = ["osops.toolkit test - a fragment written by tests/quality/test_docs.py."]
    for fragment in waiting:
        with open(fragment) as f:
            for section in yaml.safe_load(f).values():
                entries += section if isinstance(section, list) else [section]
    run(["antsibull-changelog", "release", "--version", "0.99.0", "--date", "2026-11-30"], cwd=str(copy))
    changelog = (copy / "CHANGELOG.rst").read_text()
    assert "v0.99.0" in changelog and first.split("v0.1.0", 1)[1] in changelog
    # each entry lands in the new release's section, not only somewhere in the file
    release = " ".join(changelog.split("v0.99.0", 1)[1].split("v0.1.0", 1)[0].split())
    for entry in entries:
        assert " ".join(entry.split()[:6]) in release, entry
    assert not glob.glob(str(copy / "changelogs" / "fragments" / "*.yml")), "the release left fragments behind"


def test_galaxy_importer_accepts_the_collection(tmp_path):
    """Galaxy's import checks (metadata, docs, ansible-doc, changelog, file sizes); ansible-lint
    runs in tests/quality/test_sanity.py already, with the stricter production profile."""
    run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), ROOT])
    [tarball] = glob.glob(str(tmp_path / "*.tar.gz"))
    env = dict(os.environ, GALAXY_IMPORTER_RUN_ANSIBLE_LINT="false", GALAXY_IMPORTER_CHECK_REQUIRED_TAGS="true",
               GALAXY_IMPORTER_ANSIBLE_LOCAL_TMP=str(tmp_path / "ansible-tmp"))
    proc = run(["python", "-m", "galaxy_importer.main", "--print-result", tarball], env=env, cwd=str(tmp_path))
    log = proc.stdout[:proc.stdout.index("{")] + proc.stderr
    result = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert result["metadata"]["name"] == "toolkit"
    # its log: one line per content item loaded, and a WARNING/ERROR line per problem found
    assert "Importer processing completed successfully" in log
    warnings = [line for line in log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert not warnings, "\n".join(warnings)
    contents = {(c["content_type"], c["name"]) for c in result["contents"]}
    assert ("module", "host_drain") in contents and ("role", "haproxy_tls") in contents
