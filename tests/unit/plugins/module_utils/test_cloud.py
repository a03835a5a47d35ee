"""Connection selection rules of the base class (no cloud needed)."""
import contextlib
import json
from unittest import mock

import pytest
from ansible.module_utils import basic

from ansible_collections.osops.toolkit.plugins.module_utils._cloud import (
    CloudModule,
    _version_tuple,
    connection_secrets,
    login_identity,
    mask_secrets,
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


# ---------------------------------------------------------------- secrets of the connection options

_INLINE = {
    "auth": {"auth_url": "http://keystone:5000/v3", "username": "ops", "user_domain_name": "Default",
             "project_name": "admin", "project_domain_name": "Default", "password": "pa'ss\"w0rd"},
    "auth_type": "password",
    "region_name": "RegionOne",
    "key_manager_api_version": "1",
    "verify": False,
    "key": "/etc/ssl/ops.key",
}


def test_an_inline_cloud_gives_its_password_and_client_key_and_nothing_public():
    # and the password as a dict's repr shows it, quote escaped, the way the invocation log does
    assert connection_secrets({"cloud": _INLINE}) == {"pa'ss\"w0rd", "pa\\'ss\"w0rd", "/etc/ssl/ops.key"}


@pytest.mark.parametrize("auth, secrets", [
    ({"auth_url": "http://k/v3", "application_credential_id": "ac1", "application_credential_name": "ci",
      "application_credential_secret": "s3cret"}, {"s3cret"}),
    ({"auth_url": "http://k/v3", "token": "gAAAA-tok", "project_id": "p1"}, {"gAAAA-tok"}),
    # an auth plugin option we do not know is a secret until listed as public
    ({"auth_url": "http://k/v3", "username": "u", "passcode": 123456, "shiny_new_option": "x1"},
     {"123456", "x1"}),
    # auth that is not a dict: it may be the password put in the wrong place
    ("notadict-hunter2", {"notadict-hunter2"}),
    (["hunter2"], {"hunter2"}),
])
def test_every_form_of_auth_gives_its_secrets(auth, secrets):
    assert connection_secrets({"cloud": dict(_INLINE, auth=auth, key=None)}) == secrets
    assert connection_secrets({"cloud": "prod", "auth": auth}) == secrets


def test_secrets_at_any_depth_and_top_level_auth_options_of_a_cloud():
    cloud = {"password": "top-pw", "client_secret": "oidc", "networks": [{"name": "ext", "token": "nested"}],
             "identity_api_version": 3, "access_token_endpoint": "http://idp/token"}
    assert connection_secrets({"cloud": cloud}) == {"top-pw", "oidc", "nested"}


def test_the_client_key_option_and_its_alias():
    assert connection_secrets({"cloud": "prod", "client_key": "/k1"}) == {"/k1"}
    assert connection_secrets({"key": "/k2"}) == {"/k2"}


def test_a_cloud_name_and_empty_options_have_no_secrets():
    assert connection_secrets({"cloud": "prod", "auth": None, "client_key": None}) == set()
    assert connection_secrets({"cloud": {"auth": {"password": ""}, "verify": True}}) == set()


def test_masking_replaces_the_longest_secret_first():
    assert mask_secrets("pw=abcdef, short=abc", {"abc", "abcdef"}) == "pw=********, short=********"


def test_the_login_identity_names_only_public_parts():
    assert login_identity(_INLINE["auth"]) == \
        "at http://keystone:5000/v3 as user ops (domain Default) in project admin"
    assert login_identity({"auth_url": "http://k/v3", "application_credential_id": "ac1",
                           "application_credential_secret": "s"}) == \
        "at http://k/v3 with application credential ac1"
    assert login_identity({"username": "u", "system_scope": "all"}) == "as user u with system scope all"


# ---------------------------------------------------------------- what AnsibleModule prints and logs

class _Probe(CloudModule):
    argument_spec = dict(host=dict(type="str"))

    def run(self):
        self.results["host"] = self.params["host"]


@contextlib.contextmanager
def _module_args(args):
    """The module arguments as the controller hands them over (ansible-core 2.16 to 2.19)."""
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # before 2.19
        with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()):
            yield
        return
    with patch_module_args(args):
        yield


class _Journal(object):
    def __init__(self):
        self.sent = []

    def send(self, **fields):
        self.sent.append(fields)


@pytest.fixture
def journal(monkeypatch):
    """What the module sends to journald (the machine running the tests may have none)."""
    fake = _Journal()
    monkeypatch.setattr(basic, "has_journal", True)
    monkeypatch.setattr(basic, "journal", fake, raising=False)
    return fake


def _all_text(value):
    return json.dumps(value, default=str)


def test_the_invocation_log_masks_the_secrets_of_an_inline_cloud_and_of_auth(journal):
    args = {"cloud": _INLINE, "auth": {"username": "ops2", "password": "auth-opt-pw"}, "host": "c1"}
    with _module_args(args):
        probe = _Probe()
    logged = _all_text(journal.sent)
    assert journal.sent and "Invoked with" in logged
    assert "pa'ss" not in logged and "w0rd" not in logged and "auth-opt-pw" not in logged
    assert "http://keystone:5000/v3" in logged and "ops2" in logged
    assert {"pa'ss\"w0rd", "auth-opt-pw", "/etc/ssl/ops.key"} <= probe.ansible.no_log_values


def test_a_failing_argument_validation_prints_no_secret(journal, capsys):
    args = {"cloud": _INLINE, "bogus": 1}
    with _module_args(args), pytest.raises(SystemExit):
        _Probe()
    printed = capsys.readouterr().out
    result = json.loads(printed)
    assert result["failed"] is True and "bogus" in result["msg"]
    assert "w0rd" not in printed and "/etc/ssl/ops.key" not in printed
    assert result["invocation"]["module_args"]["cloud"]["auth"]["auth_url"] == "http://keystone:5000/v3"
