"""gunicorn entry point for cinder-api (tests/sandbox).

Cinder's WSGI application parses sys.argv for its configuration: give it the config file
from OS_CINDER_CONFIG_FILE instead of gunicorn's own arguments.
"""
import importlib
import os
import sys

sys.argv = sys.argv[:1] + ["--config-file", os.environ["OS_CINDER_CONFIG_FILE"]]
application = importlib.import_module("cinder.wsgi.api").application
