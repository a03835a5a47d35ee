# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations


class ModuleDocFragment(object):

    DOCUMENTATION = r"""
options:
  concurrency:
    description:
      - How many instances move at the same time.
      - Nova's C(max_concurrent_live_migrations) on each compute node (default 1) also limits
        how many live migrations off one host really run at once; the others queue in nova.
    type: int
    default: 2
  instance_timeout:
    description:
      - Seconds one instance may take to move. When it runs out, the instance is reported
        with result V(timeout); a live migration is aborted, a cold migration or an evacuation
        cannot be and may still finish.
    type: int
    default: 1800
  timeout:
    description:
      - Seconds the whole run may take. Instances not started by then are reported with result
        V(not_started); the ones in flight are treated as in O(instance_timeout).
    type: int
    default: 7200
  stop_on_failure:
    description:
      - V(false) moves every other instance when one fails.
      - V(true) starts no new move after the first failure; the ones not started are reported
        with result V(not_started).
    type: bool
    default: false
  poll_interval:
    description:
      - The longest time in seconds between two looks at the moves in flight. Each look is one
        request per origin host, whatever the number of instances in flight.
      - Moves that started a short while ago are looked at sooner (after a tenth of their age,
        at least 0.25 seconds apart), so a quick move is noticed quickly and a long one costs
        one request every O(poll_interval).
    type: float
    default: 2.0
  other_states:
    description:
      - What to do with an instance in a state nova cannot move (for example V(SUSPENDED),
        V(SHELVED), V(ERROR) for a migration, or V(BUILD)).
      - V(report) reports it with result V(not_moved) and makes the module fail at the end,
        after every other instance has been moved.
      - V(leave) reports it with result V(left), warns, and does not fail for it.
    type: str
    default: report
    choices: [report, leave]
  progress_file:
    description:
      - A file on the host that runs the module, rewritten at the start and given one JSON line
        per instance as soon as it has a result, with C(done) and C(total) counts. Follow a long
        run with C(tail -f), or wait on it as the C(osops.toolkit.drain_host) playbook does.
      - A path that cannot be written (its directory missing, a directory itself, no
        permission) fails the module before anything changes. A write that fails later (disk
        full) is a warning; the run goes on.
    type: path
  api_retry_timeout:
    description:
      - Seconds one Nova or Placement request is retried, with backoff from 0.5 up to 10
        seconds between tries, while the API does not answer (connection refused or timed out,
        or HTTP 502, 503 or 504 from a load balancer or a restarting API). A move request whose
        answer was lost is sent again only when nova did not take it (the instance has no task
        in progress); one answered with 504 is not sent again.
      - When the API stays away longer, the run stops and the module fails, returning every
        record. Moves nova was still carrying out get result V(still_running) (the message
        names them; they may still finish), moves not begun V(not_started). The
        O(progress_file) has a line for each.
      - V(0) fails at the first transport error.
    type: int
    default: 120
notes:
  - Every instance gets a record with C(id), C(name), C(status), C(origin), C(destination),
    C(method), C(seconds), C(result) and C(error). The run polls nova's migration list, so
    it needs the compute API at microversion 2.65 or newer (Stein).
  - Each instance is read once more just before its move. One that someone else moved off its
    host meanwhile is not moved again and gets result V(moved_elsewhere) (C(destination) is
    where it is); one deleted meanwhile gets V(gone); one busy with another operation (a
    C(task_state)) is asked about again until O(instance_timeout).
  - Lists of instances, hypervisors and migrations are read page by page following nova's
    C(next) links, so a cloud whose C([api] max_limit) is below the number of instances is
    read completely.
"""
