# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""The base class of every osops.toolkit cloud module.

A module is ``argument_spec`` + ``module_kwargs`` + ``run()``. This class builds the
AnsibleModule, checks that openstacksdk is importable and in the tested range, opens the
connection (and a system-scoped one for Ironic when asked), and turns every SDK error into
one ``fail_json`` with the HTTP status and the request id, never a traceback.

Secrets: ``cloud`` may be a whole cloud configuration and ``auth`` a credentials dict, so
Ansible's own ``no_log`` (which works per option) cannot mask them without hiding the
auth_url and the user names too. ``connection_secrets`` picks the secret leaves out of them,
and the module registers those as no_log values before AnsibleModule prints or logs anything.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Mapping
from importlib import metadata

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import openstack
    from openstack import exceptions as sdk_exceptions
    from openstack import utils as sdk_utils
    from openstack.config import loader as sdk_loader
    from keystoneauth1 import exceptions as ksa_exceptions
    from keystoneauth1 import loading as ksa_loading
    HAS_SDK = True
    SDK_IMPORT_ERROR = None
except ImportError:
    HAS_SDK = False
    SDK_IMPORT_ERROR = traceback.format_exc()

# Tested range; keep in step with requirements.txt.
SDK_MIN_VERSION = (4, 18, 0)
SDK_MAX_VERSION = (5, 0, 0)

# Keys of an auth dict that scope a token to a project or a domain.
_SCOPE_KEYS = (
    "project_id", "project_name", "project_domain_id", "project_domain_name",
    "domain_id", "domain_name", "tenant_id", "tenant_name",
)

# Keys of an auth dict that are not secret, shown in arguments and error messages. Every other
# key of an auth dict is treated as a secret (auth plugins have many, and new ones come).
_PUBLIC_AUTH_KEYS = frozenset(_SCOPE_KEYS + (
    "auth_url", "username", "user_id", "user_domain_name", "user_domain_id",
    "default_domain_name", "default_domain_id", "system_scope", "trust_id",
    "application_credential_id", "application_credential_name",
    "identity_provider", "protocol", "client_id", "discovery_endpoint",
    "access_token_endpoint", "access_token_type", "openid_scope",
))
# Secret keys outside an auth dict (a cloud's top level: ``key``, ``password``, ``token``, ...);
# names like key_manager_api_version or access_token_endpoint are not.
_SECRET_KEY = re.compile(r"(?:^|_)(?:password|passcode|secret|token|key)$", re.IGNORECASE)
_MASK = "********"


def _is_secret(key, in_auth):
    if key in _PUBLIC_AUTH_KEYS:
        return False
    return in_auth or key == "auth" or bool(_SECRET_KEY.search(key))


def _secret_leaves(value, key, in_auth):
    if isinstance(value, Mapping):
        for child_key, child in value.items():
            child_key = str(child_key)
            yield from _secret_leaves(child, child_key, in_auth or key == "auth")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for child in value:
            yield from _secret_leaves(child, key, in_auth)
    elif value is None or isinstance(value, bool):
        return
    elif _is_secret(key, in_auth):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        if text:
            yield text


def connection_secrets(options):
    """The secret strings in connection options, to register as no_log values or to mask.

    ``options`` is a module's parameters (``cloud`` as a name or a whole cloud configuration,
    ``auth``, ``client_key``) or the config of an openstacksdk CloudRegion. Secrets are every
    value of an ``auth`` dict except the public ones (auth_url, user, project and domain names
    and ids, application credential id and name), an ``auth`` that is not a dict, the client key,
    and keys named like a password, secret, token or key anywhere in a cloud configuration.
    Other options are left alone: they are not connection options. Each secret comes also as
    Python prints it inside a dict (``repr``: quotes and backslashes escaped), which is how
    AnsibleModule writes a dict argument into its invocation log.
    """
    found = set()
    cloud = options.get("cloud")
    if isinstance(cloud, Mapping):
        found.update(_secret_leaves(cloud, "", False))
    found.update(_secret_leaves(options.get("auth"), "auth", False))
    for option in ("client_key", "key"):  # the option and its alias; "key" in a CloudRegion config
        found.update(_secret_leaves(options.get(option), "key", False))
    return found | set(repr(secret)[1:-1] for secret in found)


def mask_secrets(text, secrets):
    """``text`` with every occurrence of each secret replaced (the longest first)."""
    text = str(text)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, _MASK)
    return text


def cloud_argument_spec():
    """The connection options every cloud module takes (see doc fragment osops.toolkit.cloud)."""
    return dict(
        cloud=dict(type="raw"),
        # not no_log: that would mask auth_url and user names everywhere; its secrets are
        # registered by _SecretMaskingModule (see connection_secrets)
        auth=dict(type="dict", no_log=False),
        auth_type=dict(type="str"),
        region_name=dict(type="str"),
        interface=dict(type="str", default="public", choices=["admin", "internal", "public"],
                       aliases=["endpoint_type"]),
        validate_certs=dict(type="bool", aliases=["verify"]),
        ca_cert=dict(type="str", aliases=["cacert"]),
        client_cert=dict(type="str", aliases=["cert"]),
        client_key=dict(type="str", no_log=True, aliases=["key"]),
        api_timeout=dict(type="int"),
    )


def _version_tuple(text):
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def sdk_error_message(error):
    """One line for an openstacksdk or keystoneauth error, with HTTP status and request id."""
    message = (getattr(error, "details", None) or str(error)).strip() or error.__class__.__name__
    status = getattr(error, "status_code", None) or getattr(error, "http_status", None)
    request_id = getattr(error, "request_id", None)
    extras = []
    if status and str(status) not in message:
        extras.append("HTTP %s" % status)
    if request_id and request_id not in message:
        extras.append("request id %s" % request_id)
    return "%s (%s)" % (message, ", ".join(extras)) if extras else message


def resolve_cloud_name(requested, environ=None, cloud_names=None):
    """Which clouds.yaml entry to use: the option, else OS_CLOUD, else the only cloud defined.

    Returns None when the connection must come from ``auth`` or OS_* variables alone.
    """
    environ = os.environ if environ is None else environ
    if requested:
        return requested
    if environ.get("OS_CLOUD"):
        return environ["OS_CLOUD"]
    names = list(cloud_names or [])
    if len(names) == 1:
        return names[0]
    return None


def system_scoped_auth(auth):
    """The same credentials scoped to the whole system (what Ironic's policy requires).

    A token carries one scope only, so the project and domain scope are dropped.
    """
    scoped = dict((k, v) for k, v in auth.items() if k not in _SCOPE_KEYS)
    scoped["system_scope"] = "all"
    return scoped


class CloudConnectError(Exception):
    """The cloud could not be reached or logged in to; the message says why, for a user."""


def _region_kwargs(params):
    kwargs = dict((k, params[k]) for k in ("auth", "auth_type", "region_name", "interface", "api_timeout")
                  if params.get(k) is not None)
    for option, sdk_key in (("validate_certs", "verify"), ("ca_cert", "cacert"),
                            ("client_cert", "cert"), ("client_key", "key")):
        if params.get(option) is not None:
            kwargs[sdk_key] = params[option]
    return kwargs


def _get_one(config, where, **kwargs):
    """config.get_one, with a configuration mistake said in one sentence instead of a traceback."""
    try:
        return config.get_one(**kwargs)
    except ksa_exceptions.NoMatchingPlugin as error:
        raise CloudConnectError(
            "The auth_type %r of %s is not a keystoneauth plugin; use one of %s."
            % (error.name, where, ", ".join(sorted(ksa_loading.get_available_plugin_names()))))


def cloud_region(params):
    """The openstacksdk CloudRegion the connection options select (see cloud_argument_spec)."""
    cloud = params.get("cloud")
    if isinstance(cloud, Mapping):
        # a whole cloud configuration given inline, e.g. from a vault: used as it is, not merged
        # with the clouds.yaml entry OS_CLOUD names or with OS_* variables
        config = sdk_loader.OpenStackConfig(load_yaml_config=False, load_envvars=False)
        auth = cloud.get("auth")
        if auth is not None and not isinstance(auth, Mapping):
            # the value is not named: it may well be the password, put in the wrong place
            raise CloudConnectError(
                "The auth of the inline cloud is a %s; it must be a dict like the auth section of a "
                "clouds.yaml entry (auth_url, username, password, project_name, ...)." % type(auth).__name__)
        return _get_one(config, "the inline cloud", **dict(cloud))
    if cloud is not None and not isinstance(cloud, str):
        raise CloudConnectError("The cloud option is a %s; it must be the name of a clouds.yaml entry or a dict "
                                "with a whole cloud configuration." % type(cloud).__name__)
    config = sdk_loader.OpenStackConfig()
    names = config.get_cloud_names()
    if cloud and cloud not in names:
        raise CloudConnectError("Cloud %r is not defined in clouds.yaml (%s); defined: %s."
                                % (cloud, config.config_filename or "no file found",
                                   ", ".join(sorted(names)) or "none"))
    name = resolve_cloud_name(cloud, cloud_names=names)
    return _get_one(config, "cloud %r" % name if name else "the connection options",
                    cloud=name, **_region_kwargs(params))


def login_identity(auth):
    """Where and as whom a login was tried, from the public parts of an auth dict (no secret)."""
    parts = []
    if auth.get("auth_url"):
        parts.append("at %s" % auth["auth_url"])
    user = auth.get("username") or auth.get("user_id")
    credential = auth.get("application_credential_name") or auth.get("application_credential_id")
    if user:
        domain = auth.get("user_domain_name") or auth.get("user_domain_id")
        parts.append("as user %s%s" % (user, " (domain %s)" % domain if domain else ""))
    if credential:
        parts.append("with application credential %s" % credential)
    project = auth.get("project_name") or auth.get("project_id") or auth.get("tenant_name")
    if project:
        parts.append("in project %s" % project)
    elif auth.get("system_scope"):
        parts.append("with system scope %s" % auth["system_scope"])
    return " ".join(parts)


def open_connection(region, system_scope=False):
    """An authorized openstacksdk Connection for a CloudRegion, optionally system-scoped.

    Raises CloudConnectError with the reason (HTTP status and request id included), where and as
    whom the login was tried, and no secret of the configuration.
    """
    auth = region.config.get("auth") or {}
    try:
        if system_scope and not auth.get("system_scope"):
            # a fresh loader: the YAML and OS_* variables would merge the project scope back
            auth = system_scoped_auth(auth)
            region = sdk_loader.OpenStackConfig(load_yaml_config=False, load_envvars=False).get_one(
                **dict(region.config, auth=auth))
        conn = openstack.connection.Connection(config=region, app_name="osops.toolkit")
        conn.authorize()
        return conn
    except Exception as error:  # pylint: disable=broad-except
        # keystoneauth raises its own exception types, openstacksdk its own
        scope = " with a system-scoped token (Ironic needs one; see the notes of the cloud option)" \
            if system_scope else ""
        identity = login_identity(auth)
        tried = " (tried %s)." % identity if identity else "."
        raise CloudConnectError(mask_secrets(
            "Could not log in to the cloud%s: %s%s" % (scope, sdk_error_message(error).rstrip("."), tried),
            connection_secrets(region.config)))


class _SecretMaskingModule(AnsibleModule):
    """An AnsibleModule that masks the secrets of the connection options from its first output on.

    AnsibleModule reads the arguments in ``_load_params`` and then validates them, failing with
    every argument printed, and logs the invocation to syslog/journald; the secrets must be no_log
    values before both (a hook that has been there since ansible-core 2.1).
    """

    def _load_params(self):
        super(_SecretMaskingModule, self)._load_params()
        if isinstance(self.params, Mapping):
            self.no_log_values.update(connection_secrets(self.params))


class CloudModule(object):
    """Subclass it, set ``argument_spec`` / ``module_kwargs``, write ``run()``.

    ``run()`` reads ``self.params``, calls the cloud through ``self.conn`` (and
    ``self.system_conn`` for Ironic), and puts what it found into ``self.results``.
    """

    argument_spec = {}
    module_kwargs = {}

    def __init__(self):
        spec = cloud_argument_spec()
        spec.update(self.argument_spec)
        kwargs = dict(self.module_kwargs)
        kwargs.setdefault("supports_check_mode", True)
        self.ansible = _SecretMaskingModule(argument_spec=spec, **kwargs)
        # again, in case an ansible-core ever stops calling _load_params
        self.ansible.no_log_values.update(connection_secrets(self.ansible.params))
        self.params = self.ansible.params
        self.check_mode = self.ansible.check_mode
        self.results = {"changed": False}
        self._region = None
        self._conn = None
        self._system_conn = None

    # ------------------------------------------------------------------ helpers for run()
    def fail(self, msg, **kwargs):
        result = dict(self.results)
        result.update(kwargs)
        result.pop("msg", None)
        if self._region is not None:  # the secrets of a clouds.yaml entry never reach a message
            msg = mask_secrets(msg, connection_secrets(self._region.config))
        self.ansible.fail_json(msg=msg, **result)

    def warn(self, msg):
        self.ansible.warn(msg)

    @property
    def conn(self):
        if self._conn is None:
            self._conn = self._connect(system_scope=False)
        return self._conn

    @property
    def system_conn(self):
        """A system-scoped connection for Ironic (the same one when the cloud already is)."""
        if self._system_conn is None:
            self._system_conn = self._connect(system_scope=True)
        return self._system_conn

    def require_microversion(self, proxy, version, why):
        """Fail clearly when the service is older than a call needs."""
        if not sdk_utils.supports_microversion(proxy, version):
            self.fail("%s needs the %s API at microversion %s or newer; this cloud does not offer it."
                      % (why, proxy.service_type, version))

    # ------------------------------------------------------------------ lifecycle
    def __call__(self):
        self._check_sdk()
        try:
            self.run()
        except (sdk_exceptions.SDKException, ksa_exceptions.ClientException) as error:
            # keystoneauth's own errors (ConnectFailure, ConnectTimeout) are no SDKException
            self.fail(sdk_error_message(error))
        self.ansible.exit_json(**self.results)

    def run(self):
        raise NotImplementedError

    def _check_sdk(self):
        if not HAS_SDK:
            self.ansible.fail_json(msg=missing_required_lib("openstacksdk"),
                                   exception=SDK_IMPORT_ERROR)
        installed = metadata.version("openstacksdk")
        if not SDK_MIN_VERSION <= _version_tuple(installed) < SDK_MAX_VERSION:
            self.ansible.fail_json(
                msg="openstacksdk %s is installed; this collection needs >=%s,<%s."
                    % (installed,
                       ".".join(map(str, SDK_MIN_VERSION)), ".".join(map(str, SDK_MAX_VERSION))))

    def _connect(self, system_scope):
        try:
            if self._region is None:
                self._region = cloud_region(self.params)
            return open_connection(self._region, system_scope=system_scope)
        except CloudConnectError as error:
            self.fail(str(error))
        except sdk_exceptions.SDKException as error:  # a clouds.yaml the SDK cannot read
            self.fail("Could not read the cloud configuration: %s" % sdk_error_message(error))
