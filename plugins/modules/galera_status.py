#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: galera_status
short_description: Read the Galera state of one MariaDB node (wsrep status and grastate.dat)
version_added: 0.1.0
description:
  - Runs on a database node. Reads the C(wsrep_%) status variables over a local or TCP
    connection and the node's C(grastate.dat), and grades the node the way an operator does
    before touching the database - Synced, Primary, ready, connected, expected cluster size,
    flow control and queues.
  - When the server is down it fails with one clear message, unless O(fail_on_down=false);
    then it returns RV(up=false) and what C(grastate.dat) says (uuid, seqno,
    safe_to_bootstrap), which is what a recovery needs.
  - Wrong credentials always fail, also with O(fail_on_down=false).
  - It only reads.
options:
  login_user:
    description:
      - The user to log in as. When not set, the user from O(config_file) or the name of the
        user the module runs as (C(root) with Debian's unix-socket authentication).
    type: str
  login_password:
    description:
      - The password of O(login_user).
    type: str
  login_host:
    description:
      - Host to connect to over TCP. With the default V(localhost) the local unix socket is
        used when it exists (see O(login_unix_socket)).
    type: str
    default: localhost
  login_port:
    description:
      - TCP port, when connecting over TCP.
    type: int
    default: 3306
    aliases: [port]
  login_unix_socket:
    description:
      - Unix socket to connect to. When not set and O(login_host=localhost), the first of
        C(/run/mysqld/mysqld.sock) and C(/var/run/mysqld/mysqld.sock) that exists.
    type: path
  config_file:
    description:
      - Client option file to read the C([client]) section from (user, password, socket).
        Ignored when it does not exist.
    type: path
    default: ~/.my.cnf
  connect_timeout:
    description:
      - Seconds to wait for the connection.
    type: int
    default: 10
  grastate_path:
    description:
      - Path of C(grastate.dat) on the node.
    type: path
    default: /var/lib/mysql/grastate.dat
  fail_on_down:
    description:
      - V(true) fails when the server cannot be reached.
      - V(false) returns RV(up=false), RV(error) and RV(grastate) instead; use it to collect
        the positions of a cluster that is down.
    type: bool
    default: true
  expected_size:
    description:
      - The number of nodes the cluster should have. A different C(wsrep_cluster_size) is a
        problem. Not checked when not set.
    type: int
  allow_donor:
    description:
      - V(true) accepts C(Donor/Desynced) as a healthy local state (a node serving an SST or
        desynced on purpose for a backup).
    type: bool
    default: false
  max_flow_control_paused:
    description:
      - Highest acceptable C(wsrep_flow_control_paused), the fraction of time replication was
        paused by flow control since the last C(FLUSH STATUS).
    type: float
    default: 0.1
  max_recv_queue:
    description:
      - Highest acceptable C(wsrep_local_recv_queue_avg).
    type: float
    default: 10.0
  max_send_queue:
    description:
      - Highest acceptable C(wsrep_local_send_queue_avg).
    type: float
    default: 10.0
requirements:
  - PyMySQL on the node (C(python3-pymysql) on Debian and Ubuntu).
notes:
  - Any user works for the status variables; it needs no privileges beyond logging in.
extends_documentation_fragment:
  - osops.toolkit.attributes
  - osops.toolkit.attributes.info_module
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: community.mysql.mysql_info
"""

EXAMPLES = r"""
- name: Read the Galera state of this node (root over the unix socket)
  osops.toolkit.galera_status:
    expected_size: 3
  register: galera

- name: Stop here unless this node is healthy
  ansible.builtin.assert:
    that: galera.healthy
    fail_msg: "{{ inventory_hostname }}: {{ galera.problems | join('; ') }}"

- name: Collect grastate.dat of a node whose server is down (for a recovery)
  osops.toolkit.galera_status:
    fail_on_down: false
  register: galera

- name: Over TCP with a monitoring user
  osops.toolkit.galera_status:
    login_host: 10.0.0.11
    login_user: monitor
    login_password: "{{ vault_monitor_password }}"
"""

RETURN = r"""
up:
  description: Whether the server answered.
  returned: always
  type: bool
  sample: true
error:
  description: Why the server could not be reached.
  returned: when O(fail_on_down=false) and the server is down
  type: str
  sample: "(2002, \"Can't connect to local server through socket '/run/mysqld/mysqld.sock' (2)\")"
healthy:
  description: V(true) when the server is up and RV(problems) is empty.
  returned: always
  type: bool
  sample: true
problems:
  description: What is wrong with this node, one sentence each; empty when healthy.
  returned: always
  type: list
  elements: str
  sample: ["local state is Joining, not Synced", "cluster size is 2, expected 3"]
wsrep_ready:
  description: C(wsrep_ready) - the node accepts queries. Null when the server is down.
  returned: always
  type: bool
  sample: true
wsrep_connected:
  description: C(wsrep_connected) - the provider is connected to the cluster.
  returned: always
  type: bool
  sample: true
wsrep_local_state_comment:
  description: C(Synced), C(Donor/Desynced), C(Joining), C(Joined), C(Initialized).
  returned: always
  type: str
  sample: Synced
wsrep_local_state:
  description: The local state as a number (4 is Synced).
  returned: always
  type: int
  sample: 4
wsrep_cluster_status:
  description: C(Primary) or C(non-Primary) / C(Disconnected).
  returned: always
  type: str
  sample: Primary
wsrep_cluster_size:
  description: Nodes in the component this node belongs to.
  returned: always
  type: int
  sample: 3
wsrep_cluster_conf_id:
  description: Membership changes seen by the cluster.
  returned: always
  type: int
  sample: 3
wsrep_cluster_state_uuid:
  description: The UUID of the cluster's state history; the same on every node of one cluster.
  returned: always
  type: str
  sample: 5ef7f8d1-c8a8-11f0-a7c6-23bc1c1c3e5d
wsrep_local_state_uuid:
  description: The UUID of the state this node holds.
  returned: always
  type: str
  sample: 5ef7f8d1-c8a8-11f0-a7c6-23bc1c1c3e5d
wsrep_flow_control_paused:
  description: Fraction of time replication was paused by flow control since the last C(FLUSH STATUS).
  returned: always
  type: float
  sample: 0.0
wsrep_local_recv_queue:
  description: Write-sets waiting to be applied, now.
  returned: always
  type: int
  sample: 0
wsrep_local_recv_queue_avg:
  description: Average receive queue since the last C(FLUSH STATUS).
  returned: always
  type: float
  sample: 0.0
wsrep_local_send_queue:
  description: Write-sets waiting to be sent, now.
  returned: always
  type: int
  sample: 0
wsrep_local_send_queue_avg:
  description: Average send queue since the last C(FLUSH STATUS).
  returned: always
  type: float
  sample: 0.0
wsrep_last_committed:
  description: Seqno of the last committed write-set.
  returned: always
  type: int
  sample: 1234
wsrep_provider_version:
  description: Galera library version.
  returned: always
  type: str
  sample: 26.4.14(r06a0c285)
wsrep_incoming_addresses:
  description: Client addresses of the members.
  returned: always
  type: str
  sample: 10.89.0.2:3306,10.89.0.3:3306,10.89.0.4:3306
grastate:
  description: C(grastate.dat). While the server runs, seqno is -1; it holds the last position after a clean stop.
  returned: always
  type: dict
  contains:
    exists:
      description: Whether the file exists.
      type: bool
      sample: true
    uuid:
      description: Cluster state UUID.
      type: str
      sample: 5ef7f8d1-c8a8-11f0-a7c6-23bc1c1c3e5d
    seqno:
      description: Last committed seqno, -1 when unknown (running, or crashed).
      type: int
      sample: 1234
    safe_to_bootstrap:
      description: Whether this node was the last to leave the cluster cleanly.
      type: bool
      sample: false
"""

import os
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.osops.toolkit.plugins.module_utils._galera import (
    WSREP_KEYS,
    node_problems,
    parse_grastate,
    wsrep_from_rows,
)

try:
    import pymysql
    HAS_PYMYSQL = True
    PYMYSQL_IMPORT_ERROR = None
except ImportError:
    HAS_PYMYSQL = False
    PYMYSQL_IMPORT_ERROR = traceback.format_exc()

# client errors that mean "nothing answers there" (as opposed to: refused us)
_DOWN_ERRORS = (2002, 2003, 2006, 2013)
_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock")


def _read_grastate(path):
    if not os.path.exists(path):
        return dict(parse_grastate(""), exists=False)
    with open(path) as handle:
        return dict(parse_grastate(handle.read()), exists=True)


def _connect_args(params):
    args = dict(connect_timeout=params["connect_timeout"], charset="utf8mb4")
    config_file = params["config_file"]
    if os.path.exists(config_file):
        args.update(read_default_file=config_file, read_default_group="client")
    if params["login_user"] is not None:
        args["user"] = params["login_user"]
    if params["login_password"] is not None:
        args["password"] = params["login_password"]
    socket = params["login_unix_socket"]
    if socket is None and params["login_host"] in ("localhost", "127.0.0.1"):
        socket = next((path for path in _SOCKETS if os.path.exists(path)), None)
    if socket is not None:
        args["unix_socket"] = socket
    else:
        args.update(host=params["login_host"], port=params["login_port"])
    return args


def _read_wsrep(args):
    connection = pymysql.connect(**args)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW GLOBAL STATUS LIKE 'wsrep%'")
            return wsrep_from_rows(cursor.fetchall())
    finally:
        connection.close()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            login_user=dict(type="str"),
            login_password=dict(type="str", no_log=True),
            login_host=dict(type="str", default="localhost"),
            login_port=dict(type="int", default=3306, aliases=["port"]),
            login_unix_socket=dict(type="path"),
            config_file=dict(type="path", default="~/.my.cnf"),
            connect_timeout=dict(type="int", default=10),
            grastate_path=dict(type="path", default="/var/lib/mysql/grastate.dat"),
            fail_on_down=dict(type="bool", default=True),
            expected_size=dict(type="int"),
            allow_donor=dict(type="bool", default=False),
            max_flow_control_paused=dict(type="float", default=0.1),
            max_recv_queue=dict(type="float", default=10.0),
            max_send_queue=dict(type="float", default=10.0),
        ),
        supports_check_mode=True,
    )
    if not HAS_PYMYSQL:
        module.fail_json(msg=missing_required_lib("PyMySQL (python3-pymysql)"), exception=PYMYSQL_IMPORT_ERROR)
    p = module.params

    try:
        grastate = _read_grastate(p["grastate_path"])
    except (IOError, OSError) as exc:
        module.fail_json(msg="Cannot read %s: %s. Run the module with become." % (p["grastate_path"], exc))

    result = dict(changed=False, up=False, healthy=False, problems=[], grastate=grastate)
    result.update((key, None) for key in WSREP_KEYS)

    args = _connect_args(p)
    where = args.get("unix_socket") or "%s:%s" % (args.get("host"), args.get("port"))
    try:
        status = _read_wsrep(args)
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else None
        if code in _DOWN_ERRORS:
            if p["fail_on_down"]:
                module.fail_json(msg="MariaDB does not answer on %s: %s. Is the server running? "
                                     "(fail_on_down=false returns grastate.dat instead)" % (where, exc), **result)
            result.update(error=str(exc), problems=["mariadb is not running or not reachable on %s" % where])
            module.exit_json(**result)
        module.fail_json(msg="MariaDB on %s refused the login: %s. Check login_user/login_password "
                             "or the [client] section of %s." % (where, exc, p["config_file"]), **result)
    except pymysql.err.MySQLError as exc:
        module.fail_json(msg="Reading the wsrep status on %s failed: %s" % (where, exc), **result)

    result.update(status)
    result["up"] = True
    result["problems"] = node_problems(
        status, expected_size=p["expected_size"], allow_donor=p["allow_donor"],
        max_flow_control_paused=p["max_flow_control_paused"],
        max_recv_queue=p["max_recv_queue"], max_send_queue=p["max_send_queue"])
    result["healthy"] = not result["problems"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
