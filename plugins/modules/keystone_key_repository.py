#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: keystone_key_repository
short_description: Install a whole Keystone key repository (Fernet or credential keys) in one step
version_added: 0.2.0
description:
  - Runs on a Keystone node. Makes the repository at O(path) hold exactly O(keys), the keys
    another node holds after a rotation.
  - The new repository is written beside the old one (same directory, same owner and mode, each
    key C(0600)) and swapped in with one rename (C(renameat2) with C(RENAME_EXCHANGE)), so
    Keystone never reads a half-written repository. Where the file system cannot swap two
    directories, each key is renamed into place, the new keys before the staged key and the
    removals last, so that every token another node signs keeps validating here.
  - Nothing is left beside O(path) on a failure.
  - Key material never appears in the result or the diff (keys are shown by index and hash).
options:
  path:
    description: The repository to replace, for example C(/etc/keystone/fernet-keys).
    type: path
    required: true
  keys:
    description:
      - The keys, as a dictionary from index (C("0"), C("1") ...) to the key (44 characters of
        url-safe base64, as Keystone writes them). It must have a staged key (C("0")) and at
        least one more.
    type: dict
    required: true
  owner:
    description: Owner of the repository and its keys. Default - the current repository's owner, else the user the module runs as.
    type: str
  group:
    description: Group of the repository and its keys. Default - the current repository's group, else the user's group.
    type: str
extends_documentation_fragment:
  - osops.toolkit.attributes
author:
  - osops.toolkit maintainers (@osops)
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff lists the key indexes and the repository hash before and after, never a key.
  idempotent:
    support: full
seealso:
  - ref: ansible_collections.osops.toolkit.docsite.keystone_keys
    description: The guide to key rotation with the role osops.toolkit.keystone_keys.
  - module: osops.toolkit.keystone_keys_info
"""

EXAMPLES = r"""
- name: Read the keys on the node that rotated
  ansible.builtin.slurp:
    src: "/etc/keystone/fernet-keys/{{ item }}"
  loop: "{{ source_keys }}"
  register: fernet_keys
  delegate_to: keystone1
  no_log: true

- name: Install them on this node in one step
  osops.toolkit.keystone_key_repository:
    path: /etc/keystone/fernet-keys
    keys: "{{ dict(fernet_keys.results | map(attribute='item') | zip(fernet_keys.results | map(attribute='content') | map('b64decode'))) }}"
  become: true
"""

RETURN = r"""
added:
  description: Key indexes the repository did not have.
  returned: always
  type: list
  elements: int
  sample: [4]
replaced:
  description: Key indexes whose key changed (the staged key after a rotation).
  returned: always
  type: list
  elements: int
  sample: [0]
removed:
  description: Key indexes no longer kept.
  returned: always
  type: list
  elements: int
  sample: [1]
sha256:
  description: The repository's hash after the run (as RV(osops.toolkit.keystone_keys_info#module:fernet.sha256)).
  returned: always
  type: str
  sample: 9f2c1e0b6a8d4f...
method:
  description: V(exchange) (the directory swapped in one rename), V(per key), or null when nothing changed or in check mode.
  returned: always
  type: str
  sample: exchange
"""

import grp
import os
import pwd

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.osops.toolkit.plugins.module_utils._keystone_keys import (
    KeyRepositoryError,
    check_wanted,
    install,
    install_plan,
    read_keys,
    repository_hash,
)


def _ids(module, path, owner, group):
    """uid, gid and mode for the new repository: as given, else the old one's, else the module's user."""
    try:
        current = os.stat(path)
        uid, gid, mode = current.st_uid, current.st_gid, current.st_mode & 0o7777
    except FileNotFoundError:
        uid, gid, mode = os.getuid(), os.getgid(), 0o700
    try:
        if owner:
            uid = pwd.getpwnam(owner).pw_uid
        if group:
            gid = grp.getgrnam(group).gr_gid
    except KeyError as exc:
        module.fail_json(msg="No such user or group on this node: %s" % exc)
    return uid, gid, mode


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            keys=dict(type="dict", required=True, no_log=True),
            owner=dict(type="str"),
            group=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"].rstrip("/")
    try:
        wanted = check_wanted(module.params["keys"])
        if not os.path.isdir(os.path.dirname(path) or "/"):
            raise KeyRepositoryError("the directory %s does not exist" % os.path.dirname(path))
        if os.path.exists(path) and not os.path.isdir(path):
            raise KeyRepositoryError("%s is not a directory" % path)
        current = read_keys(path)
    except KeyRepositoryError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="Cannot read %s: %s (run the module with become)" % (path, exc))

    plan = install_plan(current, wanted)
    changed = any(plan.values()) or not os.path.isdir(path)
    before_hash = repository_hash(current) if current else None
    after_hash = repository_hash(wanted)
    result = dict(changed=changed, sha256=after_hash if changed else before_hash, method=None, **plan)
    if module._diff:
        result["diff"] = {"before_header": path, "after_header": path,
                          "before": "keys: %s\nsha256: %s\n" % (sorted(current), before_hash),
                          "after": "keys: %s\nsha256: %s\n" % (sorted(wanted), after_hash)}
    if changed and not module.check_mode:
        uid, gid, mode = _ids(module, path, module.params["owner"], module.params["group"])
        try:
            result["method"] = install(path, wanted, uid, gid, mode)
        except OSError as exc:
            module.fail_json(msg="Installing the keys in %s failed: %s. Run again: it installs "
                                 "the same keys (a swap happens only after every key is written)." % (path, exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
