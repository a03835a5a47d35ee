# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
name: upgrade_pending
short_description: The (service, host) pairs of a rolling upgrade that are not finished yet
version_added: 0.2.0
description:
  - Takes the ordered service list of the C(osops.toolkit.rolling_upgrade) role, the inventory
    groups and the steps each host has recorded, and returns one entry per service and host
    whose C(<service>:done) step is missing, in the order of the upgrade.
  - The role uses it to skip what a previous run finished, and to refuse a later stage while an
    earlier one is unfinished on any host, even one outside C(--limit).
positional: groups, state
options:
  _input:
    description: The services, each a dict with at least C(name), C(stage) and C(group).
    type: list
    elements: dict
    required: true
  groups:
    description: The inventory groups (the C(groups) variable), not limited by C(--limit).
    type: dict
    required: true
  state:
    description: For each host, the list of steps it has recorded.
    type: dict
    required: true
author:
  - osops.toolkit maintainers (@osops)
"""

EXAMPLES = r"""
- name: What is left to upgrade
  ansible.builtin.debug:
    msg: "{{ rolling_upgrade__services | osops.toolkit.upgrade_pending(groups, rolling_upgrade__state) }}"
"""

RETURN = r"""
_value:
  description: The unfinished pairs, in upgrade order.
  type: list
  elements: dict
  contains:
    index:
      description: Position of the service in the list.
      type: int
    service:
      description: The service's name.
      type: str
    stage:
      description: The service's stage.
      type: str
    host:
      description: The inventory host that has not finished it.
      type: str
"""

from ansible.errors import AnsibleFilterError


def upgrade_pending(services, groups, state):
    if not isinstance(services, list) or not isinstance(groups, dict) or not isinstance(state, dict):
        raise AnsibleFilterError("upgrade_pending expects a list of services, the groups and the state dict")
    pending = []
    for index, service in enumerate(services):
        try:
            name, stage, group = service["name"], service["stage"], service["group"]
        except (KeyError, TypeError) as exc:
            raise AnsibleFilterError("upgrade_pending: every service needs name, stage and group (%s)" % exc)
        done_step = "%s:done" % name
        for host in groups.get(group) or []:
            if done_step not in (state.get(host) or []):
                pending.append(dict(index=index, service=name, stage=stage, host=host))
    return pending


class FilterModule(object):

    def filters(self):
        return {"upgrade_pending": upgrade_pending}
