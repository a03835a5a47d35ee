# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row with the same arguments, the second run reports no change
        (outside check mode). Where the cloud changes the state meanwhile, this can differ.
"""

    CLOUD_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/osops.toolkit.openstack) in C(module_defaults) to set the connection options once.
    support: full
    membership:
      - osops.toolkit.openstack
"""

    # Modules that only read: the same data in check mode, nothing to diff.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - It only reads; check mode returns the same data.
  diff_mode:
    support: N/A
    details:
      - It changes nothing.
  idempotent:
    support: full
"""
