# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - Name of the entry in C(clouds.yaml) to use, or a dict with a whole cloud configuration.
      - When not set, E(OS_CLOUD) names the cloud; when that is not set either and
        C(clouds.yaml) defines exactly one cloud, that one is used. This is how AWX and AAP work;
        their OpenStack credential injects a C(clouds.yaml) with a single cloud through
        E(OS_CLIENT_CONFIG_FILE).
      - Ironic (bare metal) calls need a system-scoped token. Modules that call Ironic log in a
        second time with the same credentials scoped to the system (C(system_scope=all)), so a
        project-scoped cloud entry is enough as long as the user holds a role on the system
        (C(openstack role add --user admin --system all admin)). A cloud entry with
        C(auth.system_scope=all) is used as it is.
      - A dict is used as it is, not merged with the C(clouds.yaml) entry that E(OS_CLOUD) names or
        with E(OS_*) variables; O(auth), O(auth_type) and the other connection options do not apply to it.
      - The secrets of a dict given here are masked wherever Ansible prints or logs the module
        arguments. They are every value of its C(auth) except C(auth_url), the user, project and
        domain names and ids and the application credential id and name, and any value whose key
        is C(password), C(secret), C(token), C(key) or ends with one of them (C(_secret), ...).
        The rest stays readable.
    type: raw
  auth:
    description:
      - Credentials and endpoint, as in the C(auth) section of C(clouds.yaml)
        (C(auth_url), C(username), C(password), C(project_name), C(user_domain_name), ...).
        Merged over the selected cloud's C(auth).
      - Every value except C(auth_url), the user, project and domain names and ids and the
        application credential id and name is treated as a secret and masked wherever Ansible
        prints or logs the module arguments.
    type: dict
  auth_type:
    description:
      - The keystoneauth plugin, for example C(password), C(v3applicationcredential), C(token).
    type: str
  region_name:
    description:
      - Region to use when the cloud has several.
    type: str
  interface:
    description:
      - Which catalog endpoints to use.
    type: str
    default: public
    choices: [admin, internal, public]
    aliases: [endpoint_type]
  validate_certs:
    description:
      - Whether TLS certificates of the APIs are verified. Defaults to the cloud's setting.
    type: bool
    aliases: [verify]
  ca_cert:
    description:
      - A CA bundle to verify the APIs' certificates with.
    type: str
    aliases: [cacert]
  client_cert:
    description:
      - A client certificate for APIs that ask for one.
    type: str
    aliases: [cert]
  client_key:
    description:
      - The key of O(client_cert).
    type: str
    aliases: [key]
  api_timeout:
    description:
      - Seconds to wait for one API request.
    type: int
requirements:
  - python >= 3.10
  - openstacksdk >= 4.18.0, < 5.0.0
notes:
  - The module runs where openstacksdk is installed, usually C(localhost), with
    C(delegate_to), or inside an execution environment.
  - To set the connection once for a play, use C(group/osops.toolkit.openstack) in
    C(module_defaults).
  - API errors are reported with the HTTP status and the request id, to look up in the
    service's log.
"""
