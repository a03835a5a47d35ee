# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The base class of every osops.toolkit cloud module.

A module is ``argument_spec`` + ``module_kwargs`` + ``run()``. This class builds the
AnsibleModule, checks that openstacksdk is importable and in the tested range, opens the
connection (and a system-scoped one for Ironic when asked), and turns every SDK error into
one ``fail_json`` with the HTTP status and the request id, never a traceback.
"""

from __future__ import annotations

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    import openstack
    import openstack.version
    from openstack import exceptions as sdk_exceptions
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
        wait=dict(type="bool", default=True),
        timeout=dict(type="int", default=180),
    )


def _version_tuple(text):
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts + [0] * (3 - len(parts)))


def sdk_error_message(error):
    """One sentence for an SDK exception: what failed, HTTP status, request id."""
    status = getattr(error, "status_code", None)
    request_id = getattr(error, "request_id", None)
    details = getattr(error, "details", None) or str(error)
    message = details.strip()
    extras = []
    if status:
        extras.append("HTTP %s" % status)
    if request_id:
        extras.append("request id %s" % request_id)
    if extras:
        message = "%s (%s)" % (message, ", ".join(extras))
    return message


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
        self._conn = None
        self._system_conn = None
        self._cloud_region = None

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
            self._conn = self._connect()
        return self._conn

    @property
    def system_conn(self):
        """A system-scoped connection for Ironic; the configured one if it already is."""
        if self._system_conn is None:
            conn = self.conn
            auth = dict(self._cloud_region.config.get("auth") or {})
            if auth.get("system_scope"):
                self._system_conn = conn
            else:
                self._system_conn = self._connect(auth_override=system_scoped_auth(auth))
        return self._system_conn

    def require_microversion(self, proxy, version, why):
        """Fail clearly when the service is older than a call needs."""
        from openstack import utils as sdk_utils
        if not sdk_utils.supports_microversion(proxy, version):
            self.fail("%s needs the %s API at microversion %s or newer; this cloud does not offer it."
                      % (why, proxy.service_type, version))

    # ------------------------------------------------------------------ lifecycle
    def __call__(self):
        self._check_sdk()
        try:
            self.run()
        except sdk_exceptions.SDKException as error:
            self.fail(sdk_error_message(error))
        self.ansible.exit_json(**self.results)

    def run(self):
        raise NotImplementedError

    def _check_sdk(self):
        if not HAS_SDK:
            self.ansible.fail_json(msg=missing_required_lib("openstacksdk"),
                                   exception=SDK_IMPORT_ERROR)
        found = _version_tuple(openstack.version.__version__)
        if not SDK_MIN_VERSION <= found < SDK_MAX_VERSION:
            self.ansible.fail_json(
                msg="openstacksdk %s is installed; this collection needs >=%s,<%s."
                    % (openstack.version.__version__,
                       ".".join(map(str, SDK_MIN_VERSION)), ".".join(map(str, SDK_MAX_VERSION))))

    def _connect(self, auth_override=None):
        p = self.params
        try:
            config = sdk_loader.OpenStackConfig()
            cloud = p["cloud"]
            if isinstance(cloud, dict):
                # a whole cloud config given inline, e.g. from a vault
                region = config.get_one(**dict(cloud))
            else:
                kwargs = dict(
                    (k, p[k]) for k in ("auth", "auth_type", "region_name", "interface",
                                        "api_timeout") if p[k] is not None)
                for option, sdk_key in (("validate_certs", "verify"), ("ca_cert", "cacert"),
                                        ("client_cert", "cert"), ("client_key", "key")):
                    if p[option] is not None:
                        kwargs[sdk_key] = p[option]
                names = config.get_cloud_names()
                name = resolve_cloud_name(cloud, cloud_names=names)
                if cloud and cloud not in names:
                    self.fail("Cloud %r is not defined in clouds.yaml (%s); defined: %s."
                              % (cloud, ", ".join(config.config_filename and [config.config_filename] or ["none found"]),
                                 ", ".join(sorted(names)) or "none"))
                region = config.get_one(cloud=name, **kwargs)
            if auth_override is not None:
                # a fresh loader: the YAML and OS_* variables would merge the project scope back
                scoped = dict(region.config, auth=auth_override)
                region = sdk_loader.OpenStackConfig(load_yaml_config=False,
                                                    load_envvars=False).get_one(**scoped)
            self._cloud_region = self._cloud_region or region
            conn = openstack.connection.Connection(config=region, app_name="osops.toolkit")
            conn.authorize()
            return conn
        except Exception as error:  # pylint: disable=broad-except
            # keystoneauth raises its own exception types, openstacksdk its own
            scope = " with a system-scoped token (Ironic needs one: see the cloud option's notes)" \
                if auth_override is not None else ""
            message = sdk_error_message(error) if isinstance(error, sdk_exceptions.SDKException) \
                else _keystoneauth_message(error)
            self.fail("Could not log in to the cloud%s: %s" % (scope, message))


def _keystoneauth_message(error):
    status = getattr(error, "http_status", None)
    request_id = getattr(error, "request_id", None)
    message = str(error).strip() or error.__class__.__name__
    extras = []
    if status:
        extras.append("HTTP %s" % status)
    if request_id:
        extras.append("request id %s" % request_id)
    return "%s (%s)" % (message, ", ".join(extras)) if extras else message
