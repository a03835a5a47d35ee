"""Connection selection rules of the base class (no cloud needed)."""
import pytest

from ansible_collections.osops.toolkit.plugins.module_utils._cloud import (
    _version_tuple,
    resolve_cloud_name,
    sdk_error_message,
    system_scoped_auth,
)


def test_the_option_wins_over_os_cloud():
    assert resolve_cloud_name("prod", environ={"OS_CLOUD": "lab"}, cloud_names=["prod", "lab"]) == "prod"


def test_os_cloud_when_no_option():
    assert resolve_cloud_name(None, environ={"OS_CLOUD": "lab"}, cloud_names=["prod", "lab"]) == "lab"


def test_the_only_cloud_defined_as_awx_injects_it():
    assert resolve_cloud_name(None, environ={}, cloud_names=["devstack"]) == "devstack"


def test_no_guess_between_several_clouds():
    assert resolve_cloud_name(None, environ={}, cloud_names=["a", "b"]) is None


def test_system_scope_drops_every_project_and_domain_scope():
    auth = {"auth_url": "http://k:5000/v3", "username": "admin", "password": "p", "user_domain_name": "Default",
            "project_name": "admin", "project_domain_name": "Default", "domain_id": "x"}
    scoped = system_scoped_auth(auth)
    assert scoped == {"auth_url": "http://k:5000/v3", "username": "admin", "password": "p",
                      "user_domain_name": "Default", "system_scope": "all"}
    assert "project_name" in auth  # the original is left alone


class _HttpError(Exception):
    def __init__(self, text, status, request_id):
        super(_HttpError, self).__init__(text)
        self.details, self.status_code, self.request_id = text, status, request_id


def test_error_message_names_status_and_request_id_once():
    assert sdk_error_message(_HttpError("Service not found", 404, "req-1")) == \
        "Service not found (HTTP 404, request id req-1)"
    assert sdk_error_message(_HttpError("boom (HTTP 500) (Request-ID: req-2)", 500, "req-2")) == \
        "boom (HTTP 500) (Request-ID: req-2)"


@pytest.mark.parametrize("text, expected", [("4.22.0", (4, 22, 0)), ("5.0.0.0rc1", (5, 0, 0)), ("4", (4, 0, 0))])
def test_version_tuple(text, expected):
    assert _version_tuple(text) == expected
