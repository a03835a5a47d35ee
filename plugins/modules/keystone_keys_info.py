#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: keystone_keys_info
short_description: Read a Keystone node's Fernet and credential key repositories (never the keys)
version_added: 0.2.0
description:
  - Runs on a Keystone node. For the Fernet token key repository and the credential key
    repository, returns the key indexes, which key is staged (C(0)) and which is primary (the
    highest index), each key's age, mode and owner, and one hash over the whole repository; two
    nodes hold the same keys exactly when their hashes are equal.
  - Checks that O(max_active_keys) is enough for the token lifetime and the rotation interval,
    with Keystone's formula (token expiration plus C(allow_expired_window), divided by the
    rotation interval, rounded up, plus 2), and states the shortfall.
  - Settings not given as options are read from O(config_file) (C(keystone.conf)), else they are
    Keystone's defaults.
  - Key material is never returned.
options:
  config_file:
    description:
      - The node's C(keystone.conf). Read for the repository paths, C([fernet_tokens] max_active_keys),
        C([token] expiration) and C([token] allow_expired_window). A missing file is not an error
        (Keystone's defaults apply).
    type: path
    default: /etc/keystone/keystone.conf
  fernet_repository:
    description: The Fernet key repository. Default C([fernet_tokens] key_repository), else C(/etc/keystone/fernet-keys/).
    type: path
  credential_repository:
    description: The credential key repository. Default C([credential] key_repository), else C(/etc/keystone/credential-keys/).
    type: path
  max_active_keys:
    description: Keys the Fernet repository keeps. Default C([fernet_tokens] max_active_keys), else 3.
    type: int
  token_expiration:
    description: Token lifetime in seconds. Default C([token] expiration), else 3600.
    type: int
  allow_expired_window:
    description: Seconds an expired token can still be fetched with C(allow_expired). Default C([token] allow_expired_window), else 172800.
    type: int
  rotation_interval:
    description:
      - Seconds between two rotations (how often the rotation job runs). When not set,
        RV(sizing) says that max_active_keys was not checked.
    type: int
extends_documentation_fragment:
  - osops.toolkit.attributes
  - osops.toolkit.attributes.info_module
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - ref: ansible_collections.osops.toolkit.docsite.keystone_keys
    description: The guide to key rotation with the role osops.toolkit.keystone_keys.
  - name: Keystone Fernet FAQ
    description: How many keys and how often to rotate.
    link: https://docs.openstack.org/keystone/latest/admin/fernet-token-faq.html
"""

EXAMPLES = r"""
- name: Read this node's key repositories
  osops.toolkit.keystone_keys_info:
    rotation_interval: 86400
  become: true
  register: keys

- name: Every Keystone node holds the same Fernet keys
  ansible.builtin.assert:
    that: >-
      groups['keystone'] | map('extract', hostvars, ['keys', 'fernet', 'sha256']) | unique | length == 1
  run_once: true

- name: Stop when max_active_keys is too small for the token lifetime
  ansible.builtin.assert:
    that: keys.sizing.enough
    fail_msg: "{{ keys.sizing.message }}"
"""

RETURN = r"""
fernet:
  description: The Fernet token key repository.
  returned: always
  type: dict
  contains:
    path:
      description: The repository's path.
      type: str
      sample: /etc/keystone/fernet-keys/
    exists:
      description: Whether it exists and is a directory.
      type: bool
      sample: true
    keys:
      description: One entry per key, by index; no key material.
      type: list
      elements: dict
      sample: [{"index": 0, "role": "staged", "age_seconds": 3600, "mode": "0600", "owner": "keystone", "group": "keystone"}]
    count:
      description: Number of keys.
      type: int
      sample: 3
    staged:
      description: Index of the staged key (0), null when there is none.
      type: int
      sample: 0
    primary:
      description: Index of the primary key (the highest), null when there is none.
      type: int
      sample: 4
    sha256:
      description: One hash over every key's index and content; equal on nodes that hold the same keys. Null when there are no keys.
      type: str
      sample: 9f2c1e0b6a8d4f...
    last_rotated_age:
      description: Seconds since the staged key was written, which is when the repository was last rotated (or installed).
      type: int
      sample: 3600
    mode:
      description: The directory's mode.
      type: str
      sample: "0700"
    owner:
      description: The directory's owner.
      type: str
      sample: keystone
    group:
      description: The directory's group.
      type: str
      sample: keystone
    problems:
      description: What is wrong with the repository, one sentence each.
      type: list
      elements: str
      sample: ["key 3 in /etc/keystone/fernet-keys can be read by others than its owner (mode 0644)"]
credential:
  description: The credential key repository, with the same fields as RV(fernet).
  returned: always
  type: dict
sizing:
  description: Whether max_active_keys keeps every token valid for its lifetime at this rotation interval.
  returned: always
  type: dict
  contains:
    max_active_keys:
      description: The setting in force.
      type: int
      sample: 3
    needed:
      description: Keys needed (Keystone's formula); null without a rotation interval.
      type: int
      sample: 5
    shortfall:
      description: Keys missing; 0 when enough.
      type: int
      sample: 2
    enough:
      description: Whether max_active_keys is enough; null without a rotation interval.
      type: bool
      sample: false
    token_expiration:
      description: Token lifetime in seconds.
      type: int
      sample: 86400
    allow_expired_window:
      description: Seconds after expiry a token can still be fetched with allow_expired.
      type: int
      sample: 172800
    rotation_interval:
      description: Seconds between rotations.
      type: int
      sample: 86400
    message:
      description: One sentence.
      type: str
      sample: "max_active_keys 3 is 2 short: ..."
problems:
  description: Every problem of both repositories and the sizing, one sentence each.
  returned: always
  type: list
  elements: str
  sample: ["/etc/keystone/credential-keys/ does not exist"]
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.osops.toolkit.plugins.module_utils._keystone_keys import (
    KeyRepositoryError,
    read_config,
    read_repository,
    settings,
    sizing,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config_file=dict(type="path", default="/etc/keystone/keystone.conf"),
            fernet_repository=dict(type="path"),
            credential_repository=dict(type="path"),
            max_active_keys=dict(type="int", no_log=False),
            token_expiration=dict(type="int", no_log=False),
            allow_expired_window=dict(type="int"),
            rotation_interval=dict(type="int"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for name in ("max_active_keys", "rotation_interval"):
        if p[name] is not None and p[name] < 1:
            module.fail_json(msg="%s must be at least 1, got %s" % (name, p[name]))
    try:
        config = settings(p, read_config(p["config_file"]))
        if config["max_active_keys"] < 1:
            module.fail_json(msg="max_active_keys must be at least 1, got %s" % config["max_active_keys"])
        now = time.time()
        fernet = read_repository(config["fernet_repository"], now)
        credential = read_repository(config["credential_repository"], now)
    except KeyRepositoryError as exc:
        module.fail_json(msg=str(exc))
    size = sizing(config, p["rotation_interval"])
    problems = fernet["problems"] + credential["problems"] + ([size["message"]] if size["enough"] is False else [])
    module.exit_json(changed=False, fernet=fernet, credential=credential, sizing=size, problems=problems)


if __name__ == "__main__":
    main()
