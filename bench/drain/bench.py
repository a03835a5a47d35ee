"""Drain one sandbox hypervisor of N instances: host_drain at concurrency 1 and 5 against two serial
loops: the fair baseline, one Python process with openstacksdk (one login, live migration and
``wait_for_server`` per instance, one after the other), and the loop operators script today
(`openstack server migrate --live-migration --wait`, one CLI process per instance).

Each row is run BENCH_RUNS times (3); the table shows the median wall time with min and max, and
the headline ratio is host_drain against the openstacksdk loop.

Nova's own time comes from its migration records (created_at -> updated_at, whole seconds):
"nova busy" is the time during which at least one of the run's migrations was in progress in
nova, and "overhead" is how much longer the run took than that. Every row starts from the same
place: all instances ACTIVE on BENCH_HOST (put back with host_return, not timed).
"""
import datetime
import json
import os
import statistics
import subprocess
import sys
import time

import openstack

HOST = os.environ.get("BENCH_HOST", "fake-compute-1")
COUNT = int(os.environ.get("BENCH_INSTANCES", "20"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
CLI = os.environ.get("OSBOX_OPENSTACK_CLI", "openstack")
PREFIX = "bench-drain-"


def cloud():
    return openstack.connect(cloud="osbox")


def newest_migration_id(conn):
    found = conn.compute.get("/os-migrations", params={"limit": 1}, microversion="2.80").json()["migrations"]
    return max([m["id"] for m in found] or [0])


def migrations_after(conn, watermark):
    found = conn.compute.get("/os-migrations", params={"limit": 1000}, microversion="2.80").json()["migrations"]
    return [m for m in found if m["id"] > watermark]


def _ts(text):
    return datetime.datetime.strptime(text.split(".")[0], "%Y-%m-%dT%H:%M:%S")


def nova_busy(migrations):
    """Seconds during which at least one migration was in progress, and the sum of their times."""
    spans = sorted((_ts(m["created_at"]), _ts(m["updated_at"] or m["created_at"])) for m in migrations)
    busy, total, end = 0.0, 0.0, None
    for start, stop in spans:
        total += (stop - start).total_seconds()
        if end is None or start >= end:
            busy += (stop - start).total_seconds()
            end = stop
        elif stop > end:
            busy += (stop - end).total_seconds()
            end = stop
    return busy, total


def ansible_module(module, args):
    proc = subprocess.run(["ansible", "localhost", "-m", "osops.toolkit." + module, "-a", json.dumps(args),
                           "-o"], capture_output=True, text=True, check=False,
                          env=dict(os.environ, OS_CLOUD="osbox", ANSIBLE_LOCALHOST_WARNING="false",
                                   ANSIBLE_INVENTORY_UNPARSED_WARNING="false"))
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s\n%s" % (module, proc.stdout[-3000:], proc.stderr[-3000:]))


def set_host_enabled(conn, enabled):
    [svc] = [s for s in conn.compute.services(binary="nova-compute") if s.host == HOST]
    if enabled:
        conn.compute.update_service(svc, status="enabled")
    else:
        conn.compute.update_service(svc, status="disabled", disabled_reason="bench/drain")


def servers(conn):
    return [s for s in conn.compute.servers(all_projects=True) if s.name.startswith(PREFIX)]


def prepare(conn):
    """COUNT ACTIVE instances on HOST, every compute enabled."""
    for svc in conn.compute.services(binary="nova-compute"):
        if svc.status != "enabled" or svc.is_forced_down:
            conn.compute.update_service(svc, status="enabled", forced_down=False)
    mine = servers(conn)
    for server in mine[COUNT:]:
        conn.compute.delete_server(server)
    image = conn.image.find_image("tiny", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    for index in range(len(mine), COUNT):
        conn.compute.create_server(name="%s%02d" % (PREFIX, index), image_id=image.id, flavor_id=flavor.id,
                                   networks="none", availability_zone="nova:%s" % HOST)
    deadline = time.time() + 300
    while time.time() < deadline:
        mine = servers(conn)
        if len(mine) == COUNT and all(s.status == "ACTIVE" for s in mine):
            break
        time.sleep(1)
    away = [s for s in mine if s.compute_host != HOST]
    if away:
        ansible_module("host_return", {"host": HOST, "concurrency": 10, "instances": [
            {"id": s.id, "name": s.name, "origin": HOST, "result": "moved"} for s in away]})
    mine = servers(conn)
    assert len(mine) == COUNT and all(s.compute_host == HOST and s.status == "ACTIVE" for s in mine), \
        [(s.name, s.compute_host, s.status) for s in mine]
    return mine


def run_host_drain(concurrency, poll_interval=None):
    def run(conn, mine):
        args = {"host": HOST, "concurrency": concurrency, "disabled_reason": "bench/drain"}
        if poll_interval:
            args["poll_interval"] = poll_interval
        ansible_module("host_drain", args)
    return run


def run_cli_loop(conn, mine):
    set_host_enabled(conn, False)
    env = dict(os.environ, OS_CLOUD="osbox")
    for server in mine:
        subprocess.run([CLI, "server", "migrate", "--live-migration", "--wait", server.id],
                       check=True, capture_output=True, env=env)


def run_sdk_loop(conn, mine):
    """What a careful operator scripts in Python: one connection, one instance after the other."""
    set_host_enabled(conn, False)
    for server in mine:
        conn.compute.live_migrate_server(server, host=None, block_migration="auto")
        deadline = time.time() + 600
        while time.time() < deadline:
            now = conn.compute.get_server(server.id)
            if now.compute_host != HOST and now.status == "ACTIVE" and not now.task_state:
                break
            if now.status == "ERROR":
                raise SystemExit("%s went to ERROR while it moved" % server.name)
            time.sleep(1)
        else:
            raise SystemExit("%s did not move within 600 s" % server.name)


def measure_runs(key, name, func):
    """The row of ``func`` run RUNS times: the median run, with min and max wall time."""
    runs = [measure(key, name, func) for _run in range(RUNS)]
    walls = sorted(r["wall"] for r in runs)
    row = sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]
    return dict(row, wall=statistics.median(walls), wall_min=walls[0], wall_max=walls[-1], runs=len(runs))


def measure(key, name, func):
    conn = cloud()
    mine = prepare(conn)
    watermark = newest_migration_id(conn)
    start = time.time()
    func(conn, mine)
    wall = time.time() - start
    left = [s for s in servers(conn) if s.compute_host == HOST]
    migrations = migrations_after(conn, watermark)
    busy, total = nova_busy(migrations)
    set_host_enabled(conn, True)
    return {"key": key, "name": name, "wall": wall, "busy": busy, "sum": total, "count": len(migrations),
            "left": len(left)}


def fixed_cost():
    """host_drain of a host without instances (HOST, once the rows drained it): process start,
    login, lookups, service update."""
    conn = cloud()
    left = list(conn.compute.servers(all_projects=True, compute_host=HOST))
    if left:
        raise SystemExit("%s still has %d instance(s); cannot measure the fixed cost" % (HOST, len(left)))
    start = time.time()
    ansible_module("host_drain", {"host": HOST, "disabled_reason": "bench/drain"})
    wall = time.time() - start
    set_host_enabled(conn, True)
    return wall


def main():
    rows = [
        measure_runs("(a)", "host_drain concurrency=1", run_host_drain(1)),
        measure_runs("(b)", "host_drain concurrency=5", run_host_drain(5)),
        measure_runs("(c)", "serial openstacksdk loop, one process (fair baseline)", run_sdk_loop),
    ]
    if os.environ.get("BENCH_SKIP_CLI") != "1":
        rows.append(measure_runs("(d)", "serial `openstack server migrate --live-migration --wait`", run_cli_loop))
    fixed = fixed_cost()
    print()
    print("bench/drain: %d ACTIVE instances off %s (sandbox, fake virt driver, "
          "max_concurrent_live_migrations=5), %d runs per row" % (COUNT, HOST, RUNS))
    print("compares host_drain with the serial loops people write; wall = median of the runs")
    print("%-4s %-58s %8s %8s %8s %10s %10s %9s %5s" % (
        "", "", "wall s", "min", "max", "nova busy", "nova sum", "overhead", "left"))
    for row in rows:
        overhead = (row["wall"] - row["busy"]) / row["busy"] * 100 if row["busy"] else float("nan")
        print("%-4s %-58s %8.1f %8.1f %8.1f %10.0f %10.0f %8.0f%% %5d" % (
            row["key"], row["name"], row["wall"], row["wall_min"], row["wall_max"], row["busy"], row["sum"],
            overhead, row["left"]))
    print("%-4s %-58s %8.1f" % ("(z)", "host_drain of a host without instances (fixed cost)", fixed))
    a, b, c = rows[0], rows[1], rows[2]
    print()
    print("(c)/(b) = %.1fx: host_drain at concurrency 5 against the serial openstacksdk loop (headline)"
          % (c["wall"] / b["wall"]))
    print("(c)/(a) = %.1fx: host_drain at concurrency 1 against the same loop (what orchestration costs)"
          % (c["wall"] / a["wall"]))
    if len(rows) > 3:
        d = rows[3]
        print("(d)/(b) = %.1fx: host_drain at concurrency 5 against the CLI loop people script today"
              % (d["wall"] / b["wall"]))
    print("(a)/(b) = %.1fx from concurrency 5 over 1" % (a["wall"] / b["wall"]))
    per_move = (a["wall"] - fixed - a["busy"]) / COUNT
    print("orchestration overhead at concurrency 1: %.1f s per run (z) + %.2f s per migration "
          "((a) - (z) - nova busy) / %d" % (fixed, per_move, COUNT))
    print("overhead = wall / nova busy - 1; nova's timestamps are whole seconds, so each migration's "
          "time is +-1 s")
    conn = cloud()
    for server in servers(conn):
        conn.compute.delete_server(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
