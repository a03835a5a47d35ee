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
"""

from __future__ import annotations

import os
import traceback
from importlib import metadata

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import openstack
    from keystoneauth1 import exceptions as ksa_exceptions
    from openstack import exceptions as sdk_exceptions
    from openstack import utils as sdk_utils
    from openstack.config import loader as sdk_loader
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


def cloud_argument_spec():
    """The connection options every cloud module takes (see doc fragment osops.toolkit.cloud)."""
    return dict(
        cloud=dict(type="raw"),
        auth=dict(type="dict", no_log=True),
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


def cloud_region(params):
    """The openstacksdk CloudRegion the connection options select (see cloud_argument_spec)."""
    config = sdk_loader.OpenStackConfig()
    cloud = params.get("cloud")
    if isinstance(cloud, dict):
        # a whole cloud configuration given inline, e.g. from a vault
        return config.get_one(**dict(cloud))
    names = config.get_cloud_names()
    if cloud and cloud not in names:
        raise CloudConnectError("Cloud %r is not defined in clouds.yaml (%s); defined: %s."
                                % (cloud, config.config_filename or "no file found",
                                   ", ".join(sorted(names)) or "none"))
    return config.get_one(cloud=resolve_cloud_name(cloud, cloud_names=names), **_region_kwargs(params))


def open_connection(region, system_scope=False):
    """An authorized openstacksdk Connection for a CloudRegion, optionally system-scoped.

    Raises CloudConnectError with the reason (HTTP status and request id included).
    """
    try:
        if system_scope and not (region.config.get("auth") or {}).get("system_scope"):
            # a fresh loader: the YAML and OS_* variables would merge the project scope back
            scoped = dict(region.config, auth=system_scoped_auth(region.config.get("auth") or {}))
            region = sdk_loader.OpenStackConfig(load_yaml_config=False, load_envvars=False).get_one(**scoped)
        conn = openstack.connection.Connection(config=region, app_name="osops.toolkit")
        conn.authorize()
        return conn
    except Exception as error:  # pylint: disable=broad-except
        # keystoneauth raises its own exception types, openstacksdk its own
        scope = " with a system-scoped token (Ironic needs one; see the notes of the cloud option)" \
            if system_scope else ""
        raise CloudConnectError("Could not log in to the cloud%s: %s" % (scope, sdk_error_message(error)))


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
        self.ansible = AnsibleModule(argument_spec=spec, **kwargs)
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
