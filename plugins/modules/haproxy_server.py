#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: haproxy_server
short_description: Drain, disable or enable one haproxy backend server and wait until it has settled
version_added: 0.1.0
description:
  - Runs on the haproxy host and talks to haproxy's runtime API (the stats socket with
    C(level admin)); the configuration file is not touched, so the state lasts until the next
    restart. A reload keeps it when the configuration uses C(load-server-state-from-file) and the
    reload saves the state first, as the C(osops.toolkit.haproxy_tls) role sets up.
  - V(drain) sends no new sessions to the server and waits until its open sessions are gone;
    V(maint) takes it out completely (optionally cutting its sessions) and waits the same way;
    V(ready) puts it back and, with O(wait_up=true), waits until its health check says C(UP).
  - This is the step a rolling restart of a controller needs before and after touching it.
options:
  backend:
    description:
      - The backend (or C(listen) section) the server belongs to.
    type: str
    required: true
  server:
    description:
      - The server's name in that backend.
    type: str
    required: true
  state:
    description:
      - V(drain) - no new sessions; the open ones finish.
      - V(maint) - out of the pool; open sessions are cut only with O(shutdown_sessions=true).
      - V(ready) - back in the pool.
    type: str
    required: true
    choices: [ready, drain, maint]
  socket:
    description:
      - Path of the runtime API socket (C(stats socket ... level admin) in haproxy.cfg).
    type: path
    default: /run/haproxy/admin.sock
  shutdown_sessions:
    description:
      - With O(state=maint) or O(state=drain), cut the server's open sessions right away instead of
        waiting for them to end.
    type: bool
    default: false
  wait:
    description:
      - Wait until the server has settled - no open session left after V(drain) or V(maint), and
        for V(ready) with O(wait_up=true) its health check C(UP).
    type: bool
    default: true
  wait_up:
    description:
      - With O(state=ready) and O(wait=true), also wait for the health check to report C(UP).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait. When they run out the module fails and leaves the state it set.
    type: int
    default: 300
  poll_interval:
    description:
      - Seconds between two reads of the server's sessions.
    type: float
    default: 0.5
extends_documentation_fragment:
  - osops.toolkit.attributes
attributes:
  check_mode:
    support: full
    details: Reports the state the server would get; sends nothing to haproxy but C(show stat).
  diff_mode:
    support: full
    details: Before and after are the server's administrative state.
  idempotent:
    support: full
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: community.general.haproxy
    description: Changes the state and weight too, without waiting for sessions to end.
"""

EXAMPLES = r"""
- name: Take controller1 out of keystone before restarting it
  osops.toolkit.haproxy_server:
    backend: keystone
    server: controller1
    state: drain
    timeout: 120

- name: Put it back once keystone answers again
  osops.toolkit.haproxy_server:
    backend: keystone
    server: controller1
    state: ready
"""

RETURN = r"""
before:
  description: The server before the change.
  returned: always
  type: dict
  contains:
    state:
      description: Administrative state - V(ready), V(drain) or V(maint).
      type: str
      sample: ready
    status:
      description: haproxy's status field (C(UP), C(DOWN), C(DRAIN), C(MAINT), ...).
      type: str
      sample: UP
    sessions:
      description: Open sessions on the server.
      type: int
      sample: 3
    check:
      description: Result of the last health check.
      type: str
      sample: L7OK
after:
  description: The server once it has settled (in check mode, its predicted state).
  returned: always
  type: dict
  sample: {"state": "drain", "status": "DRAIN", "sessions": 0, "check": "L7OK"}
waited:
  description: Seconds spent waiting for the server to settle.
  returned: always
  type: float
  sample: 4.5
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.osops.toolkit.plugins.module_utils import _haproxy


def _wait(module, params, changed):
    started = time.monotonic()
    while True:
        view = _haproxy.read_server(params["socket"], params["backend"], params["server"])
        if _haproxy.settled(view, params["state"], params["wait_up"]):
            return view, time.monotonic() - started
        if time.monotonic() - started >= params["timeout"]:
            module.fail_json(
                msg="%s/%s did not settle in %ss after state %s: %s sessions open, status %s; the state stays %s"
                    % (params["backend"], params["server"], params["timeout"], params["state"],
                       view["sessions"], view["status"], params["state"]),
                after=view, waited=time.monotonic() - started, changed=changed)
        time.sleep(params["poll_interval"])


def main():
    module = AnsibleModule(
        argument_spec=dict(
            backend=dict(type="str", required=True),
            server=dict(type="str", required=True),
            state=dict(type="str", required=True, choices=list(_haproxy.ADMIN_STATES)),
            socket=dict(type="path", default="/run/haproxy/admin.sock"),
            shutdown_sessions=dict(type="bool", default=False),
            wait=dict(type="bool", default=True),
            wait_up=dict(type="bool", default=True),
            timeout=dict(type="int", default=300),
            poll_interval=dict(type="float", default=0.5),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        before = _haproxy.read_server(params["socket"], params["backend"], params["server"])
        changed = before["state"] != params["state"]
        diff = {"before": {"state": before["state"]}, "after": {"state": params["state"]}}
        if module.check_mode:
            module.exit_json(changed=changed, before=before, after=dict(before, state=params["state"]),
                             waited=0.0, diff=diff)
        if changed:
            _haproxy.set_state(params["socket"], params["backend"], params["server"], params["state"])
        if params["shutdown_sessions"] and params["state"] != "ready" and before["sessions"]:
            _haproxy.shutdown_sessions(params["socket"], params["backend"], params["server"])
            changed = True
        if params["wait"]:
            after, waited = _wait(module, params, changed)
        else:
            after, waited = _haproxy.read_server(params["socket"], params["backend"], params["server"]), 0.0
    except _haproxy.RuntimeApiError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=changed, before=before, after=after, waited=round(waited, 2), diff=diff)


if __name__ == "__main__":
    main()
