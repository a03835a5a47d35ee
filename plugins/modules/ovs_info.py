#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: ovs_info
short_description: What an Open vSwitch on a host is now - daemons, version, bridges, ports, ofports, flows
version_added: 0.1.0
description:
  - Runs on the host. Reads the Open vSwitch daemons (running, PID, and whether they still run a
    binary that a package upgrade has replaced), the installed and the running version, the
    C(flow-restore-wait) setting, the datapaths, and per bridge its datapath type, ports,
    interfaces with their OpenFlow port numbers and (unless O(flows=false)) its OpenFlow flows.
  - RV(problems) names every interface without an ofport.
  - It only reads. It fails when ovsdb-server does not answer, unless O(fail_on_down=false).
options:
  bridges:
    description:
      - Read only these bridges; all of them when not set.
    type: list
    elements: str
  flows:
    description:
      - Dump the OpenFlow flows of the bridges (without counters, sorted), to compare before and after a restart.
    type: bool
    default: true
  timeout:
    description:
      - Seconds each ovs-vsctl / ovs-ofctl / ovs-appctl call may wait for the daemons.
    type: int
    default: 10
  fail_on_down:
    description:
      - Fail when ovsdb-server does not answer. With V(false), RV(up) is V(false) and the rest is empty.
    type: bool
    default: true
extends_documentation_fragment:
  - osops.toolkit.attributes
  - osops.toolkit.attributes.info_module
requirements:
  - Open vSwitch (ovs-vsctl, ovs-ofctl, ovs-appctl) on the host.
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: osops.toolkit.network_agent_info
"""

EXAMPLES = r"""
- name: Read Open vSwitch before the upgrade
  osops.toolkit.ovs_info:
    bridges: [br-int, br-ex]
  register: ovs_before

- name: Every interface has an ofport
  ansible.builtin.assert:
    that: ovs_before.problems | length == 0
    fail_msg: "{{ ovs_before.problems | join('; ') }}"
"""

RETURN = r"""
up:
  description: Whether ovsdb-server answered.
  returned: always
  type: bool
version:
  description: The installed Open vSwitch version (of the ovs-vsctl binary).
  returned: always
  type: str
  sample: 3.1.0
running_version:
  description: The version ovs-vswitchd runs, null when it does not answer.
  returned: always
  type: str
  sample: 3.1.0
daemons:
  description:
    - Per daemon (C(ovsdb-server), C(ovs-vswitchd)) whether it runs, its PID, and whether its binary
      was replaced on disk since it started (V(stale=true)) - it needs a restart to run the installed version.
  returned: always
  type: dict
  sample: {"ovs-vswitchd": {"running": true, "pid": 1234, "stale": false}}
flow_restore_wait:
  description: Whether other_config:flow-restore-wait is true.
  returned: always
  type: bool
datapaths:
  description: The datapaths as C(ovs-appctl dpif/show) lists them.
  returned: always
  type: list
  elements: str
  sample: ["netdev@ovs-netdev"]
bridges:
  description: Per bridge, its datapath type, OpenFlow protocols, ports, interfaces (type, ofport, error) and flows.
  returned: always
  type: dict
  sample: {"br-int": {"datapath_type": "netdev", "protocols": [], "ports": ["br-int", "tap0"],
           "interfaces": {"tap0": {"type": "internal", "ofport": 1, "error": null}},
           "flows": ["cookie=0x0, priority=0 actions=NORMAL"]}}
problems:
  description: One sentence per interface without a valid ofport, and per requested bridge that does not exist.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.osops.toolkit.plugins.module_utils._ovs import (
    assemble_bridges,
    highest_protocol,
    interface_problems,
    parse_datapaths,
    parse_flows,
    parse_version,
    parse_vsctl_json,
)

_RUNDIR = "/run/openvswitch"


def _daemon(name):
    info = {"running": False, "pid": None, "stale": False}
    try:
        with open(os.path.join(_RUNDIR, name + ".pid")) as handle:
            pid = int(handle.read().strip())
        exe = os.readlink("/proc/%d/exe" % pid)
    except (OSError, ValueError):
        return info
    info.update(running=True, pid=pid, stale=exe.endswith(" (deleted)"))
    return info


class _Ovs(object):
    def __init__(self, module):
        self.module = module
        self.timeout = module.params["timeout"]

    def run(self, argv, fail=True):
        rc, out, err = self.module.run_command(argv)
        if rc != 0 and fail:
            self.module.fail_json(msg="%s failed (rc %s): %s" % (" ".join(argv), rc, (err or out).strip()))
        return rc, out

    def vsctl(self, *args, **kwargs):
        return self.run(["ovs-vsctl", "--timeout=%d" % self.timeout] + list(args), **kwargs)

    def table(self, name, columns):
        _rc, out = self.vsctl("--format=json", "--columns=" + ",".join(columns), "list", name)
        return parse_vsctl_json(out)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            bridges=dict(type="list", elements="str"),
            flows=dict(type="bool", default=True),
            timeout=dict(type="int", default=10),
            fail_on_down=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    ovs = _Ovs(module)
    result = {"changed": False, "up": False, "version": None, "running_version": None,
              "daemons": dict((name, _daemon(name)) for name in ("ovsdb-server", "ovs-vswitchd")),
              "flow_restore_wait": False, "datapaths": [], "bridges": {}, "problems": []}
    if module.get_bin_path("ovs-vsctl") is None:
        module.fail_json(msg="ovs-vsctl is not installed on this host: is Open vSwitch installed?", **result)
    _rc, out = ovs.run(["ovs-vsctl", "--version"])
    result["version"] = parse_version(out)

    rc, out = ovs.vsctl("--if-exists", "get", "Open_vSwitch", ".", "other_config:flow-restore-wait", fail=False)
    if rc != 0:
        if module.params["fail_on_down"]:
            module.fail_json(msg="ovsdb-server does not answer (ovs-vsctl rc %s): is it running?" % rc, **result)
        module.exit_json(**result)
    result["up"] = True
    result["flow_restore_wait"] = out.strip().strip('"') == "true"

    rc, out = ovs.run(["ovs-appctl", "--timeout=%d" % ovs.timeout, "-t", "ovs-vswitchd", "version"], fail=False)
    if rc == 0:
        result["running_version"] = parse_version(out)
        _rc, out = ovs.run(["ovs-appctl", "--timeout=%d" % ovs.timeout, "dpif/show"], fail=False)
        result["datapaths"] = parse_datapaths(out)

    bridges = assemble_bridges(ovs.table("Bridge", ["_uuid", "name", "datapath_type", "protocols", "ports"]),
                               ovs.table("Port", ["_uuid", "name", "interfaces"]),
                               ovs.table("Interface", ["_uuid", "name", "type", "ofport", "error"]))
    wanted = module.params["bridges"]
    if wanted:
        missing = [name for name in wanted if name not in bridges]
        result["problems"].extend("bridge %s does not exist" % name for name in missing)
        bridges = dict((name, bridges[name]) for name in wanted if name in bridges)
    for name, bridge in bridges.items():
        bridge["flows"] = []
        if module.params["flows"] and result["running_version"]:
            argv = ["ovs-ofctl", "--timeout=%d" % ovs.timeout, "--no-names", "dump-flows", "--no-stats", name]
            protocol = highest_protocol(bridge["protocols"])
            if protocol:
                argv[1:1] = ["-O", protocol]
            _rc, out = ovs.run(argv)
            bridge["flows"] = parse_flows(out)
    result["bridges"] = bridges
    result["problems"].extend(interface_problems(bridges))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
