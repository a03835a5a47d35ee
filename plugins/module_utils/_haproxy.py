# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""haproxy's runtime API (the stats socket): read a server's state and sessions, change its state.

Plain functions over a unix socket; one command per connection, as haproxy's CLI expects without
``prompt`` mode.
"""

from __future__ import annotations

import csv
import io
import socket

ADMIN_STATES = ("ready", "drain", "maint")


class RuntimeApiError(Exception):
    """The socket cannot be reached, or haproxy refused a command."""


def command(socket_path, line, timeout=10.0):
    """Send one command, return haproxy's whole answer as text."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(socket_path)
        sock.sendall(line.encode() + b"\n")
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:
        raise RuntimeApiError("haproxy runtime API at %s: %s" % (socket_path, exc))
    finally:
        sock.close()
    return b"".join(chunks).decode("utf-8", "replace")


def parse_stat(text):
    """``show stat`` CSV as a list of dicts (the header line starts with ``# ``)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        raise RuntimeApiError("unexpected answer to show stat: %s" % text.strip()[:200])
    lines[0] = lines[0][2:]
    return list(csv.DictReader(io.StringIO("\n".join(lines))))


def admin_state(status):
    """The administrative state (ready, drain, maint) from a ``show stat`` status field."""
    if status.startswith("MAINT"):
        return "maint"
    if status.startswith("DRAIN") or status == "NOLB":
        return "drain"
    return "ready"


def server_view(row):
    """What a user wants to know about one server row."""
    status = row.get("status", "")
    return {
        "state": admin_state(status),
        "status": status,
        "sessions": int(row.get("scur") or 0),
        "check": row.get("check_status", ""),
    }


def find_server(rows, backend, server):
    for row in rows:
        if row.get("pxname") == backend and row.get("svname") == server:
            return row
    return None


def read_server(socket_path, backend, server):
    """One server's view; RuntimeApiError names what exists when it does not."""
    rows = parse_stat(command(socket_path, "show stat"))
    row = find_server(rows, backend, server)
    if row is None:
        known = sorted("%s/%s" % (r["pxname"], r["svname"]) for r in rows
                       if r.get("svname") not in ("FRONTEND", "BACKEND"))
        raise RuntimeApiError("haproxy has no server %s/%s; servers: %s" % (backend, server, ", ".join(known) or "none"))
    return server_view(row)


def _expect_silence(answer, what):
    # successful state changes answer nothing (or a lone newline); anything else is haproxy's refusal
    if answer.strip():
        raise RuntimeApiError("%s: %s" % (what, answer.strip()))


def set_state(socket_path, backend, server, state):
    if state not in ADMIN_STATES:
        raise ValueError(state)
    line = "set server %s/%s state %s" % (backend, server, state)
    _expect_silence(command(socket_path, line), line)


def shutdown_sessions(socket_path, backend, server):
    line = "shutdown sessions server %s/%s" % (backend, server)
    _expect_silence(command(socket_path, line), line)


def settled(view, state, wait_up):
    """Whether a server has reached what the caller waits for after a change to ``state``."""
    if state in ("drain", "maint"):
        return view["sessions"] == 0
    if wait_up:
        return view["status"].startswith(("UP", "no check"))
    return True
