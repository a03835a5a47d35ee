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
