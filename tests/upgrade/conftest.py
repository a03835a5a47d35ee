"""The rolling-upgrade lane. It moves the pytest process into the network namespace of the
upgrade cloud, so it runs in a pytest process of its own (tests/run.sh does that)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pytest_collection_modifyitems(config, items):
    here = os.path.dirname(os.path.abspath(__file__))
    others = [i.nodeid for i in items if not str(i.fspath).startswith(here)]
    if others and any(str(i.fspath).startswith(here) for i in items):
        raise pytest.UsageError("tests/upgrade must run in a pytest process of its own (it enters a network "
                                "namespace): pytest tests/upgrade")
