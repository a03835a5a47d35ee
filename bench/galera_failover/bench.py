"""bench/galera_failover: committed writes through haproxy while the Galera writer is killed.

One client writes (autocommit INSERTs) through haproxy's Galera listener as fast as it can and
reconnects at once after an error. After a few seconds the writer node's mariadbd gets SIGKILL.
Before each kill the bench checks that every node is UP in haproxy and that the writes land on
the node it is about to kill. Per kill: when haproxy marked the writer down, when the survivors'
Galera view dropped the dead node, the longest time without a successful write, and the
acknowledged writes missing from the cluster afterwards. BENCH_KILLS kills per configuration
(median, min and max printed).

Then, for each configuration, two stalls of BENCH_STALL seconds under the same write load:
"busy", the writer's CPU pegged (busy loops inside its container, twice as many as the machine
has CPUs: the node is slow but makes progress), and "throttle", the writer's container held to 2%
of one CPU (the node makes almost no progress). A node marked DOWN by haproxy or dropped from the
Galera view during the busy stall is a false failover; during the throttle, failing over is the
right call (the node cannot commit either) and the row shows what it costs.

Dynamic Galera settings are set at runtime (SET GLOBAL wsrep_provider_options) on every node and
put back afterwards. Restart-time ones (evs.inactive_check_period) go into a drop-in file on every
node, applied by a rolling restart (one node at a time, each back Synced before the next), and are
removed the same way at the end. haproxy settings go through the haproxy_tls role.
"""
import base64
import http.client
import os
import ssl
import statistics
import subprocess
import sys
import threading
import time

import pymysql

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from haproxy_bench import DBS, LB, converge, ip, sh, table  # noqa: E402  pylint: disable=wrong-import-position

STEADY = float(os.environ.get("BENCH_STEADY", "3"))
OBSERVE = float(os.environ.get("BENCH_OBSERVE", "12"))
KILLS = int(os.environ.get("BENCH_KILLS", "3"))
STALL = float(os.environ.get("BENCH_STALL", "30"))
STALL_KINDS = [kind for kind in os.environ.get("BENCH_STALL_KINDS", "busy,throttle").split(",") if kind]
# the Galera defaults of the dynamic settings the bench changes
GALERA_DEFAULTS = ("evs.suspect_timeout=PT5S;evs.inactive_timeout=PT15S;evs.keepalive_period=PT1S;"
                   "evs.join_retrans_period=PT1S")
# the scenario's own wsrep_provider_options (extensions/molecule/haproxy_tls/prepare.yml): a drop-in
# file replaces the whole string, so it starts with them
SCENARIO_PROVIDER_OPTIONS = "gcache.size=32M"
DROP_IN = "/etc/mysql/mariadb.conf.d/61-bench-failover.cnf"

ROLE_CHECKS = {"haproxy_tls_galera_check_interval_ms": 1000}
FAST_CHECKS = {"haproxy_tls_galera_check_interval_ms": 500, "haproxy_tls_galera_check_fall": 2}
FAST_EVS = "evs.keepalive_period=PT0.3S;evs.suspect_timeout=PT1S;evs.join_retrans_period=PT0.3S"
# (label, haproxy_tls settings, dynamic Galera options, restart-time Galera options)
CONFIGS = [
    ("role defaults (check inter 1s, fall 2)", ROLE_CHECKS, None, None),
    ("haproxy defaults (inter 2s, fall 3, rise 2)",
     {"haproxy_tls_galera_check_interval_ms": 2000, "haproxy_tls_galera_check_fall": 3,
      "haproxy_tls_galera_check_rise": 2}, None, None),
    ("inter 0.5s + evs suspect 2s", FAST_CHECKS, "evs.suspect_timeout=PT2S", None),
    ("inter 0.5s + evs suspect 1s, keepalive 0.3s", FAST_CHECKS,
     "evs.keepalive_period=PT0.3S;evs.suspect_timeout=PT1S", None),
    ("inter 0.5s + suspect 1s, keepalive 0.3s, join_retrans 0.3s", FAST_CHECKS, FAST_EVS, None),
    ("inter 0.5s + the same + inactive_check_period 0.2s (restart)", FAST_CHECKS, FAST_EVS,
     "evs.inactive_check_period=PT0.2S"),
    ("role defaults (inter 1s) + the same Galera settings (restart)", ROLE_CHECKS, FAST_EVS,
     "evs.inactive_check_period=PT0.2S"),
]


def _connect(address, timeout=1):
    return pymysql.connect(host=address, port=3306, user="osops", password="osops-test", database="osops",
                           connect_timeout=timeout, read_timeout=2, write_timeout=2, autocommit=True)


def _clustercheck(node):
    return sh(node, "curl -s -o /dev/null -m 3 -w '%{http_code}' http://" + ip(node) + ":9200/ || true")


def _wait_synced(node, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # the endpoint listens on the node's address only (galera_health_clustercheck_bind_address)
        sh(node, "systemctl start mariadb >/dev/null 2>&1 || true")
        if _clustercheck(node) == "200":
            return
        time.sleep(1)
    sys.exit("%s did not come back Synced in %ss" % (node, timeout))


def _stats(lb):
    """haproxy's view of the galera listener: {server: status} (stats page, CSV)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn = http.client.HTTPSConnection(lb, 1936, timeout=2, context=context)
    conn.request("GET", "/;csv", headers={"Authorization": "Basic " + base64.b64encode(b"admin:osops-stats-test").decode()})
    rows = conn.getresponse().read().decode().splitlines()
    conn.close()
    header = rows[0].lstrip("# ").split(",")
    status = {}
    for row in rows[1:]:
        cells = row.split(",")
        if cells[0] == "galera" and cells[1] in DBS:
            status[cells[1]] = cells[header.index("status")]
    return status


def _cluster_size(address):
    try:
        conn = _connect(address, 1)
        try:
            with conn.cursor() as cursor:
                cursor.execute("SHOW STATUS LIKE 'wsrep_cluster_size'")
                return int(cursor.fetchone()[1])
        finally:
            conn.close()
    except (pymysql.err.MySQLError, OSError, TypeError):
        return None


class Galera:
    """The Galera options in force: dynamic ones on every node, restart-time ones in a drop-in file."""

    def __init__(self):
        self.dynamic, self.restart = GALERA_DEFAULTS, None

    def apply(self, dynamic, restart):
        if restart != self.restart:
            for node in DBS:
                if restart:
                    sh(node, "printf '[mysqld]\\nwsrep_provider_options=\"%s;%s\"\\n' > %s"
                       % (SCENARIO_PROVIDER_OPTIONS, restart, DROP_IN))
                else:
                    sh(node, "rm -f " + DROP_IN)
                sh(node, "systemctl restart mariadb")
                _wait_synced(node)
            self.restart = restart
        self.dynamic = GALERA_DEFAULTS + (";" + dynamic if dynamic else "")
        for node in DBS:
            self.set_dynamic(node)

    def set_dynamic(self, node):
        """Again after a node restarts: runtime settings do not survive it."""
        sh(node, "mariadb -e \"SET GLOBAL wsrep_provider_options='%s'\"" % self.dynamic)


def _precheck(lb):
    """The kill must hit the writer haproxy uses, with every node UP: otherwise the figure means nothing."""
    deadline = time.monotonic() + 60
    while True:
        status = _stats(lb)
        if all(status.get(node, "").startswith("UP") for node in DBS):
            break
        if time.monotonic() > deadline:
            sys.exit("not every Galera node is UP in haproxy before the kill: %s" % status)
        time.sleep(0.5)
    with _connect(lb, 5).cursor() as cursor:
        cursor.execute("SELECT @@hostname")
        writer = cursor.fetchone()[0]
    if writer != sh(DBS[0], "hostname"):
        sys.exit("haproxy sends writes to %s, not to %s, the node the bench kills" % (writer, DBS[0]))


class Load:
    """One client writing as fast as it can through haproxy; acknowledged writes with their times."""

    def __init__(self, lb):
        self.lb, self.acked, self.errors = lb, [], []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def __enter__(self):
        with _connect(self.lb, 5).cursor() as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS bench_writes (id INT PRIMARY KEY, node VARCHAR(64))")
            cursor.execute("DELETE FROM bench_writes")
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        conn, n = None, 0
        while not self._stop.is_set():
            n += 1
            try:
                if conn is None:
                    conn = _connect(self.lb)
                with conn.cursor() as cursor:
                    cursor.execute("INSERT INTO bench_writes VALUES (%s, @@hostname)", (n,))
                self.acked.append((n, time.monotonic()))
            except (pymysql.err.MySQLError, OSError):
                self.errors.append(time.monotonic())
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.02)
        if conn is not None:
            conn.close()

    def longest_gap(self, since=None):
        times = [at for _n, at in self.acked if since is None or at >= since]
        return max((b - a for a, b in zip(times, times[1:])), default=float("nan"))


def one_kill(galera):
    lb, survivor = ip(LB), ip(DBS[1])
    _precheck(lb)
    with Load(lb) as load:
        time.sleep(STEADY)
        killed = time.monotonic()
        sh(DBS[0], "systemctl kill -s KILL mariadb")
        marked_down = evicted = None
        while time.monotonic() - killed < OBSERVE:
            if marked_down is None and _stats(lb).get(DBS[0], "").startswith("DOWN"):
                marked_down = time.monotonic() - killed
            if evicted is None and _cluster_size(survivor) == 2:
                evicted = time.monotonic() - killed
            time.sleep(0.05)
    with _connect(survivor, 5).cursor() as cursor:
        cursor.execute("SELECT id FROM bench_writes")
        present = set(row[0] for row in cursor.fetchall())
    missing = sum(1 for n, _at in load.acked if n not in present)
    _wait_synced(DBS[0])
    galera.set_dynamic(DBS[0])
    return {"gap": load.longest_gap(killed - 1), "down": marked_down, "evicted": evicted, "missing": missing,
            "errors": len(load.errors)}


def _stall(kind):
    """Starts a stall of the writer; returns what ends it."""
    if kind == "busy":
        for _hog in range(2 * os.cpu_count()):
            subprocess.run(["podman", "exec", "-d", DBS[0], "timeout", str(int(STALL)), "sh", "-c",
                            "while :; do :; done"], check=True, capture_output=True)
        return lambda: sh(DBS[0], "pkill -f 'while :; do :; don[e]' || true")
    subprocess.run(["podman", "update", "--cpus", "0.02", DBS[0]], check=True, capture_output=True)
    # "--cpus 0" leaves the quota in place (cgroup v1): lift it to every CPU of the machine
    return lambda: subprocess.run(["podman", "update", "--cpus", str(os.cpu_count()), DBS[0]], check=True,
                                  capture_output=True)


def one_stall(galera, kind):
    """A slow writer under load: what haproxy and Galera made of it."""
    lb, witness = ip(LB), ip(DBS[1])
    _precheck(lb)
    down, smallest = set(), 3
    with Load(lb) as load:
        time.sleep(STEADY)
        start = time.monotonic()
        end_stall = _stall(kind)
        try:
            while time.monotonic() - start < STALL:
                down.update(node for node, status in _stats(lb).items() if not status.startswith("UP"))
                size = _cluster_size(witness)
                smallest = min(smallest, size if size is not None else 3)
                time.sleep(0.2)
        finally:
            end_stall()
        time.sleep(2)
    for node in DBS:
        _wait_synced(node)
    if smallest < 3:
        galera.set_dynamic(DBS[0])
    return {"down": sorted(down), "smallest": smallest, "gap": load.longest_gap(start), "errors": len(load.errors)}


def _spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return "never"
    return "%.2f (%.2f-%.2f)" % (statistics.median(values), min(values), max(values))


def main():
    wanted = os.environ.get("BENCH_CONFIGS")
    configs = [c for i, c in enumerate(CONFIGS) if not wanted or str(i + 1) in wanted.split(",")]
    kill_rows, stall_rows, gaps = [], [], []
    galera = Galera()
    try:
        for label, settings, dynamic, restart in configs:
            converge(**settings)
            galera.apply(dynamic, restart)
            kills = [one_kill(galera) for _kill in range(KILLS)]
            kill_rows.append([label, _spread([k["gap"] for k in kills]), _spread([k["down"] for k in kills]),
                              _spread([k["evicted"] for k in kills]), sum(k["errors"] for k in kills),
                              sum(k["missing"] for k in kills)])
            gaps.append((label, sorted(k["gap"] for k in kills)))
            for kind in STALL_KINDS if STALL > 0 else []:
                stall = one_stall(galera, kind)
                stall_rows.append([label, kind, ", ".join(stall["down"]) or "none",
                                   "yes" if stall["smallest"] < 3 else "no", "%.2f" % stall["gap"], stall["errors"]])
            print("done: %s: %s; stalls: %s" % (label, kill_rows[-1][1:],
                                                [row[1:] for row in stall_rows if row[0] == label]), flush=True)
    finally:
        galera.apply(None, None)
        converge()
    print("\nbench/galera_failover: the longest write gap when the writer dies, for each haproxy and Galera "
          "setting (autocommit INSERTs through haproxy, mariadbd SIGKILLed %s times, median (min-max) s)" % KILLS)
    table(["configuration", "longest gap s", "haproxy marked it down s", "Galera view dropped it s",
           "client errors", "acked but missing"], kill_rows)
    print("\ngaps per kill (s):")
    for label, values in gaps:
        print("  %-70s %s" % (label, " ".join("%.2f" % v for v in values)))
    if stall_rows:
        print("\nstalls of %.0f s under the same load: busy = the writer's CPU pegged by busy loops (a DOWN or an "
              "eviction is a false failover); throttle = its container held to 2%% of one CPU" % STALL)
        table(["configuration", "stall", "marked DOWN in haproxy", "dropped from the Galera view", "longest gap s",
               "client errors"], stall_rows)
    print("\ntarget: longest gap at most 2 s, 0 acknowledged writes missing, no false failover in the busy stall.")


if __name__ == "__main__":
    main()
