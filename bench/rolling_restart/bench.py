"""bench/rolling_restart: HTTP requests through haproxy while one API backend is restarted.

Four clients send requests that take 0.3 s each (new TLS connection each time) to the keystone
frontend, which balances over three backends. Two procedures on haproxy-db1, in the same run:
  drained    osops.toolkit.haproxy_server drain (waits until its sessions are gone), restart the
             API, haproxy_server ready (waits until the health check says UP)
  restarted  restart the API with no drain (what an upgrade without the runbook does)
Figure: the requests that failed during the procedure (target: 0 with the drain).
"""
import http.client
import os
import ssl
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from haproxy_bench import DBS, LB, haproxy_server, ip, sh, table  # noqa: E402  pylint: disable=wrong-import-position

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "4"))
SETTLE = 3.0


def _context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _traffic(address, stop, counts):
    context = _context()
    while not stop.is_set():
        try:
            conn = http.client.HTTPSConnection(address, 5000, timeout=10, context=context)
            conn.request("GET", "/slow?seconds=0.3")
            response = conn.getresponse()
            response.read()
            conn.close()
            counts["ok" if response.status == 200 else "failed"] += 1
        except (OSError, http.client.HTTPException):
            counts["failed"] += 1


def _measure(procedure):
    counts = {"ok": 0, "failed": 0}
    stop = threading.Event()
    threads = [threading.Thread(target=_traffic, args=(ip(LB), stop, counts)) for _client in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(SETTLE)
    started = time.monotonic()
    procedure()
    seconds = time.monotonic() - started
    time.sleep(SETTLE)
    stop.set()
    for thread in threads:
        thread.join()
    return counts, seconds


def drained():
    haproxy_server("keystone", DBS[0], "drain")
    sh(DBS[0], "systemctl restart osops-echo@5000")
    haproxy_server("keystone", DBS[0], "ready")


def restarted():
    sh(DBS[0], "systemctl restart osops-echo@5000")
    # the time haproxy needs to see it up again, as the drained procedure waits for it
    time.sleep(5)


def main():
    rows = []
    for label, procedure in (("drained (haproxy_server)", drained), ("restarted, no drain", restarted)):
        counts, seconds = _measure(procedure)
        rows.append([label, counts["ok"] + counts["failed"], counts["failed"], "%.1f" % seconds])
    print("\nbench/rolling_restart: %d clients, 0.3 s requests through haproxy (keystone, 3 backends), "
          "restart of the API on %s" % (CLIENTS, DBS[0]))
    table(["procedure", "requests", "failed", "procedure s"], rows)
    print("target: 0 failed with the drain")


if __name__ == "__main__":
    main()
