#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: certificate_expiry
short_description: Warn or fail when a certificate on the host expires within a number of days
version_added: 0.1.0
description:
  - Reads a PEM file on the host (a certificate, or a bundle whose first certificate is the
    server's, followed by its chain, as haproxy and most services take it) and counts the days
    left before the server certificate and each certificate of the chain expire.
  - Fails when the earliest expiry is less than O(fail_days) away (or already past); otherwise
    adds an Ansible warning when it is less than O(warn_days) away.
  - Changes nothing.
options:
  path:
    description:
      - The PEM file on the host.
    type: path
    required: true
  warn_days:
    description:
      - Warn when a certificate expires in fewer days than this. V(0) never warns.
    type: int
    default: 30
  fail_days:
    description:
      - Fail when a certificate expires in fewer days than this. V(0) fails only on an expired
        certificate.
    type: int
    default: 7
requirements:
  - cryptography >= 3.1 (Debian C(python3-cryptography)) on the host
extends_documentation_fragment:
  - osops.toolkit.attributes
  - osops.toolkit.attributes.info_module
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: community.crypto.x509_certificate_info
"""

EXAMPLES = r"""
- name: Fail a week before the API certificate expires, warn a month before
  osops.toolkit.certificate_expiry:
    path: /etc/haproxy/certs/openstack.pem
    warn_days: 30
    fail_days: 7
"""

RETURN = r"""
days_left:
  description: Whole days until the earliest expiry in the file (negative once expired).
  returned: success
  type: int
  sample: 41
not_after:
  description: The earliest expiry in the file, UTC, ISO 8601.
  returned: success
  type: str
  sample: "2027-01-10T12:00:00+00:00"
status:
  description: V(ok), V(warn) or V(fail).
  returned: always
  type: str
  sample: warn
certificates:
  description: Every certificate of the file, server certificate first.
  returned: success
  type: list
  elements: dict
  contains:
    subject:
      description: Subject, RFC 4514.
      type: str
      sample: CN=api.example.org
    issuer:
      description: Issuer, RFC 4514.
      type: str
      sample: CN=Example CA
    not_after:
      description: Expiry, UTC, ISO 8601.
      type: str
      sample: "2027-01-10T12:00:00+00:00"
    days_left:
      description: Whole days until that expiry.
      type: int
      sample: 41
"""

import datetime
import re
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

try:
    from cryptography import x509
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_ERROR = None
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_ERROR = traceback.format_exc()

PEM_CERTIFICATE = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def _not_after(cert):
    # not_valid_after_utc appeared in cryptography 42; Debian bookworm ships 38
    value = getattr(cert, "not_valid_after_utc", None)
    if value is None:
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def _describe(cert, now):
    not_after = _not_after(cert)
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_after": not_after.isoformat(),
        "days_left": int((not_after - now).total_seconds() // 86400),
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            warn_days=dict(type="int", default=30),
            fail_days=dict(type="int", default=7),
        ),
        supports_check_mode=True,
    )
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(msg=missing_required_lib("cryptography"), exception=CRYPTOGRAPHY_ERROR, status="fail")
    path = module.params["path"]
    try:
        with open(path, "rb") as handle:
            blocks = PEM_CERTIFICATE.findall(handle.read())
    except OSError as exc:
        module.fail_json(msg="cannot read %s: %s" % (path, exc.strerror), status="fail")
    if not blocks:
        module.fail_json(msg="%s holds no PEM certificate" % path, status="fail")
    try:
        certs = [x509.load_pem_x509_certificate(block) for block in blocks]
    except ValueError as exc:
        module.fail_json(msg="%s holds a certificate that cannot be read: %s" % (path, exc), status="fail")
    now = datetime.datetime.now(datetime.timezone.utc)
    described = [_describe(cert, now) for cert in certs]
    earliest = min(described, key=lambda item: item["days_left"])
    result = dict(changed=False, certificates=described, days_left=earliest["days_left"],
                  not_after=earliest["not_after"])
    what = "%s (%s) expires %s, in %d days" % (path, earliest["subject"], earliest["not_after"], earliest["days_left"])
    if earliest["days_left"] < 0 or earliest["days_left"] < module.params["fail_days"]:
        module.fail_json(msg="%s: under the %d-day limit; renew it" % (what, module.params["fail_days"]),
                         status="fail", **result)
    if earliest["days_left"] < module.params["warn_days"]:
        module.warn("%s: under the %d-day warning threshold" % (what, module.params["warn_days"]))
        module.exit_json(status="warn", **result)
    module.exit_json(status="ok", **result)


if __name__ == "__main__":
    main()
