"""Shared by every test: make ansible_collections.osops.toolkit importable from the tree."""
import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _collections_dir():
    """tests/lib/toolchain.sh links the tree as ansible_collections/osops/toolkit there."""
    path = os.environ.get("OSOPS_COLLECTIONS")
    if path:
        return path
    # outside tests/run.sh: a private link next to the pytest cache
    path = os.path.join(_ROOT, "tests", "output", "collections")
    link = os.path.join(path, "ansible_collections", "osops", "toolkit")
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(_ROOT, link)
    return path


COLLECTIONS = _collections_dir()
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)


# ---------------------------------------------------------------------- where the time goes
# tests/run.sh prints a table of the parts of the test command; this collects the pytest parts:
# the seconds of every test's setup, call and teardown, summed per part, appended to OSOPS_TIMINGS.
_PART_OF_TEST = {
    "quality/test_sanity.py::test_ansible_test_sanity": "ansible-test sanity",
    "quality/test_sanity.py::test_ansible_lint_production_profile": "ansible-lint",
}
_PART_SECONDS = {}


def timing_part(nodeid):
    """The part of the test command a test belongs to (one line of tests/run.sh's table)."""
    path, _sep, name = nodeid.partition("::")
    path = path[len("tests/"):] if path.startswith("tests/") else path
    test = "%s::%s" % (path, name.split("[")[0])
    if test in _PART_OF_TEST:
        return _PART_OF_TEST[test]
    directory, _sep, filename = path.partition("/")
    stem = filename.split("/")[-1][len("test_"):-len(".py")]
    if directory == "roles":
        return "role " + stem
    if directory == "quality":
        return "docs" if stem in ("sanity", "docs") else "quality " + stem
    return directory


def pytest_runtest_logreport(report):
    part = timing_part(report.nodeid)
    _PART_SECONDS[part] = _PART_SECONDS.get(part, 0.0) + report.duration


def pytest_sessionfinish(session):
    path = os.environ.get("OSOPS_TIMINGS")
    if not path or not _PART_SECONDS:
        return
    with open(path, "a") as handle:
        for part, seconds in sorted(_PART_SECONDS.items()):
            handle.write("%s\t%d\n" % (part, round(seconds)))
