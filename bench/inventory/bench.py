"""bench/inventory: the osops.toolkit.infra inventory against other ways of listing a cloud.

Run by bench/inventory/run.sh (which starts the sandbox). Seeds the sandbox with N fake-hardware
Ironic nodes (cached as a SQL dump in $OSOPS_CACHE/bench so a rerun is quick) and some servers,
then times, in one run:
  (a) osops.toolkit.infra (in-process InventoryManager), with and without include_servers
  (b) the same listings through openstacksdk resource objects
  (c) a per-node approach: list, then GET each node and its ports (1 + 2N requests, like bifrost)
  (d) openstack.cloud.openstack's inventory (servers of all projects) next to (a) with servers
For each: wall time (median of REPEAT runs), API requests, and "server time" = the sum over
requests of the time to the response headers on loopback (keystoneauth's response.elapsed),
which is the services' own time plus a negligible network hop.

The plugin's requests run in two chains side by side (Nova's, Ironic's; each one after the other),
so the time it must wait for at least is the critical path: the longer chain's server time,
measured by running each chain alone. The headline ratio is (a)'s wall time against it; the
serial sum is printed too. A row counts only when it lists the same hosts as the row it is
compared with (the "hosts" column; "same" says so).

Then, at scale, when BENCH_SCALE_SERVERS is set (1000 is what issue 20 asks for): that many more
servers (fake driver, tiny flavor, booted 100 per request with min_count) and the plugin with
include_servers against openstack.cloud's inventory on the same cloud (the sandbox's gunicorn takes
request lines up to 8190 bytes, as Apache does: with gunicorn's 4094 nova's port query for a page of
servers was refused and servers/detail answered 500). Default 0: seeding 1,000 servers took 25 minutes
on a 2-core machine (each batch slower than the one before). Prints figures; asserts nothing. Cleans up what it seeded.
"""
import concurrent.futures
import os
import statistics
import subprocess
import sys
import tempfile
import time

import openstack
import openstack.version  # noqa: F401  openstack.cloud 2.5.0's inventory needs it and no longer gets it
from keystoneauth1 import session as ks_session

N_NODES = int(os.environ.get("BENCH_NODES", "2000"))
N_SERVERS = int(os.environ.get("BENCH_SERVERS", "20"))
N_SCALE = int(os.environ.get("BENCH_SCALE_SERVERS", "0"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
PREFIX = "bench-"
OSBOX_HOME = os.environ["OSBOX_HOME"]
CACHE = os.path.join(os.environ.get("OSOPS_CACHE", "/var/cache/osops"), "bench")
DUMP = os.path.join(CACHE, "ironic-nodes-%d.sql" % N_NODES)
MYSQL = ["mariadb", "--defaults-file=%s/etc/my.cnf" % OSBOX_HOME, "ironic"]


class Meter(object):
    """Counts every keystoneauth request and sums its time to response headers."""

    def __init__(self):
        self.requests = 0
        self.server_seconds = 0.0
        self._original = ks_session.Session.request
        meter = self

        def counting_request(session, url, method, *args, **kwargs):
            response = meter._original(session, url, method, *args, **kwargs)
            # logins and version discovery included: every client pays for them
            meter.requests += 1
            meter.server_seconds += response.elapsed.total_seconds()
            return response
        ks_session.Session.request = counting_request

    def reset(self):
        self.requests, self.server_seconds = 0, 0.0


METER = Meter()


def sql(statement):
    subprocess.run(MYSQL + ["-e", statement], check=True)


def bench_node_count(system):
    return int(subprocess.run(MYSQL + ["-N", "-e", "SELECT COUNT(*) FROM nodes WHERE name LIKE '%s%%'" % PREFIX],
                              check=True, capture_output=True, text=True).stdout.strip())


def seed_nodes(system):
    if bench_node_count(system) >= N_NODES:
        return "already there"
    if os.path.exists(DUMP):
        start = time.time()
        with open(DUMP) as dump:
            subprocess.run(MYSQL, stdin=dump, check=True)
        return "restored from %s in %.1fs" % (DUMP, time.time() - start)
    start = time.time()

    def enroll(i):
        system.baremetal.create_node(
            name="%s%05d" % (PREFIX, i), driver="fake-hardware", resource_class="baremetal",
            properties={"cpus": 8, "memory_mb": 16384, "local_gb": 100, "cpu_arch": "x86_64"},
            driver_info={"ipmi_address": "10.%d.%d.%d" % (i // 65536, i // 256 % 256, i % 256),
                         "ipmi_password": "bench"},
            extra={"rack": "r%02d" % (i % 20)})
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(enroll, range(N_NODES)))
    enrolled = time.time() - start
    os.makedirs(CACHE, exist_ok=True)
    with open(DUMP, "w") as dump:
        subprocess.run(["mariadb-dump", "--defaults-file=%s/etc/my.cnf" % OSBOX_HOME, "--no-create-info",
                        "--skip-triggers", "--where=name LIKE '%s%%'" % PREFIX, "ironic", "nodes"],
                       stdout=dump, check=True)
    return "enrolled through the API in %.1fs (%.1f nodes/s), dump cached" % (enrolled, N_NODES / enrolled)


def unseed_nodes():
    sql("DELETE FROM node_history WHERE node_id IN (SELECT id FROM nodes WHERE name LIKE '%s%%');"
        "DELETE FROM nodes WHERE name LIKE '%s%%'" % (PREFIX, PREFIX))


def seed_servers(cloud):
    image = cloud.image.find_image("tiny")
    flavor = cloud.compute.find_flavor("m1.tiny")
    hosts = ["fake-compute-1", "fake-compute-2", "fake-compute-3", "fake-compute-10"]
    servers = [cloud.compute.create_server(name="%svm-%02d" % (PREFIX, i), image_id=image.id,
                                           flavor_id=flavor.id, networks="none", host=hosts[i % len(hosts)])
               for i in range(N_SERVERS)]
    for server in servers:
        cloud.compute.wait_for_server(server, wait=300)
    return servers


def seed_many_servers(cloud, count, batch=100):
    """``count`` servers of the tiny flavor, booted ``batch`` at a time (one request per batch)."""
    image = cloud.image.find_image("tiny")
    flavor = cloud.compute.find_flavor("m1.tiny")
    made = 0
    while made < count:
        size = min(batch, count - made)
        cloud.compute.post("/servers", json={"server": {
            "name": "%sscale-%04d" % (PREFIX, made), "imageRef": image.id, "flavorRef": flavor.id,
            "networks": "none", "min_count": size, "max_count": size}}, microversion="2.37")
        made += size
        deadline = time.time() + 900
        while True:
            mine = list(cloud.compute.servers(all_projects=True, name="^%sscale-" % PREFIX))
            if any(sv.status == "ERROR" for sv in mine):
                raise SystemExit("a scale server went to ERROR: %s" % [sv.id for sv in mine if sv.status == "ERROR"][:5])
            if sum(sv.status == "ACTIVE" for sv in mine) >= made:
                break
            if time.time() > deadline:
                raise SystemExit("scale servers not ACTIVE after 900s")
            time.sleep(2)
    return list(cloud.compute.servers(all_projects=True, name="^%sscale-" % PREFIX))


def measure(key, name, func, note="", repeat=REPEAT):
    walls, requests, server = [], [], []
    result = None
    for _attempt in range(repeat):
        METER.reset()
        start = time.time()
        result = func()
        walls.append(time.time() - start)
        requests.append(METER.requests)
        server.append(METER.server_seconds)
    return {"key": key, "name": name, "wall": statistics.median(walls), "requests": int(statistics.median(requests)),
            "server": statistics.median(server), "result": result, "note": note}


WORKDIR = tempfile.TemporaryDirectory(prefix="bench-inv-")


def ansible_inventory(config_text, filename):
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    path = os.path.join(WORKDIR.name, filename)
    with open(path, "w") as handle:
        handle.write(config_text)

    def run():
        inventory = InventoryManager(loader=DataLoader(), sources=[path])
        hosts = inventory.get_hosts()
        if not hosts:
            raise SystemExit("inventory %s produced no hosts" % filename)
        return len(hosts)
    return run


def sdk_objects(servers=False):
    """The same listings as (a), one after the other, through SDK objects; logging in included."""
    def run():
        cloud = openstack.connect(cloud="osbox")
        system = openstack.connect(cloud="osbox-system")
        hvs = list(cloud.compute.hypervisors(details=True, with_servers=True))
        list(cloud.compute.services(binary="nova-compute"))
        list(cloud.compute.aggregates())
        nodes = list(system.baremetal.nodes(details=True))
        count = len(hvs) + len(nodes)
        if servers:
            count += len(list(cloud.compute.servers(details=True, all_projects=True)))
        return count
    return run


def plugin_chain_alone(source, include_servers):
    """One of the plugin's two request chains alone (its login included): its server time is one
    branch of the critical path."""
    from ansible_collections.osops.toolkit.plugins.module_utils import _infra

    def run():
        cloud = openstack.connect(cloud="osbox")
        system = openstack.connect(cloud="osbox-system")
        data = _infra.fetch_cloud(cloud, system, [source], include_servers, _infra.RequestCounter())
        return len(data["hypervisors"]) + len(data["nodes"]) + len(data["servers"])
    return run


def plugin_requests_one_at_a_time(include_servers):
    """The server-side reference: the plugin's requests (logins included), one after the other;
    their summed time to headers is the services' own work for this inventory."""
    from ansible_collections.osops.toolkit.plugins.module_utils import _infra

    def run():
        cloud = openstack.connect(cloud="osbox")
        system = openstack.connect(cloud="osbox-system")
        data = _infra.fetch_cloud(cloud, system, ["nova", "ironic"], include_servers, _infra.RequestCounter(),
                                  max_workers=1)
        return len(data["hypervisors"]) + len(data["nodes"]) + len(data["servers"])
    return run


def per_node():
    def run():
        baremetal = openstack.connect(cloud="osbox-system").baremetal
        uuids = [n.id for n in baremetal.nodes()]
        for uuid in uuids:
            baremetal.get("/nodes/%s" % uuid, microversion="1.50").json()
            baremetal.get("/nodes/%s/ports" % uuid, microversion="1.50").json()
        return len(uuids)
    return run


def print_rows(rows):
    header = ("approach", "hosts", "wall s", "requests", "server s", "wall/srv", "note")
    print("%-46s %8s %9s %10s %9s %8s  %s" % header)
    for row in rows:
        print("%-46s %8s %9.2f %10d %9.2f %8.2f  %s" % (
            row["name"], row["result"], row["wall"], row["requests"], row["server"],
            row["wall"] / row["server"] if row["server"] else float("nan"), row["note"]))


def compare(other, ours, what, expected_other_hosts=None):
    """``other``'s wall time over ``ours``', counted only when both list the same hosts."""
    want = ours["result"] if expected_other_hosts is None else expected_other_hosts
    same = other["result"] == want
    verdict = ("(same hosts: %d)" % want) if same else ("NOT COUNTED: %s hosts vs %s expected" % (other["result"], want))
    ratio = other["wall"] / ours["wall"]
    print("%s / %s wall: %.2fx  %s%s" % (other["key"], ours["key"], ratio, verdict, ("  " + what) if what else ""))


def main():
    from ansible.plugins.loader import init_plugin_loader
    init_plugin_loader()
    cloud = openstack.connect(cloud="osbox")
    system = openstack.connect(cloud="osbox-system")
    print("seeding %d ironic nodes: %s" % (N_NODES, seed_nodes(system)), flush=True)
    start = time.time()
    servers = seed_servers(cloud)
    print("booted %d servers in %.1fs" % (len(servers), time.time() - start), flush=True)
    scale = []
    try:
        infra = ansible_inventory("plugin: osops.toolkit.infra\nclouds: [osbox]\n", "bench.infra.yml")
        infra_servers = ansible_inventory("plugin: osops.toolkit.infra\nclouds: [osbox]\ninclude_servers: true\n",
                                          "bench-servers.infra.yml")
        nova_servers = ansible_inventory("plugin: osops.toolkit.infra\nclouds: [osbox]\nsources: [nova]\n"
                                         "include_servers: true\n", "bench-nova.infra.yml")
        nova_only = ansible_inventory("plugin: osops.toolkit.infra\nclouds: [osbox]\nsources: [nova]\n",
                                      "bench-nova-only.infra.yml")
        ironic_only = ansible_inventory("plugin: osops.toolkit.infra\nclouds: [osbox]\nsources: [ironic]\n",
                                        "bench-ironic.infra.yml")
        peer = ansible_inventory("plugin: openstack.cloud.openstack\nonly_clouds: [osbox]\nall_projects: true\n"
                                 "fail_on_errors: true\nexpand_hostvars: false\nshow_all: true\n", "bench.openstack.yml")
        rows = [
            measure("(s)", "(s) server side: (a)'s requests, serially", plugin_requests_one_at_a_time(False)),
            measure("(sn)", "(sn) the Nova chain alone", plugin_chain_alone("nova", False)),
            measure("(si)", "(si) the Ironic chain alone", plugin_chain_alone("ironic", False)),
            measure("(a)", "(a) osops.toolkit.infra", infra),
            measure("(b)", "(b) openstacksdk resource objects", sdk_objects()),
            measure("(ai)", "(ai) osops.toolkit.infra, ironic only", ironic_only, "the hosts (c) lists"),
            measure("(c)", "(c) per node, 1 + 2N requests", per_node(), "as bifrost's inventory; 1 run", repeat=1),
            measure("(a')", "(a') osops.toolkit.infra, include_servers", infra_servers),
            measure("(b')", "(b') openstacksdk objects + servers", sdk_objects(servers=True)),
            measure("(an)", "(an) osops.toolkit.infra, nova, no servers", nova_only, "hypervisors only"),
            measure("(a'')", "(a'') osops.toolkit.infra, nova + servers", nova_servers, "no ironic: like (d)"),
            measure("(d)", "(d) openstack.cloud.openstack", peer, "servers only"),
        ]
        if N_SCALE:
            start = time.time()
            many = seed_many_servers(cloud, N_SCALE)
            print("booted %d more servers in %.1fs" % (len(many), time.time() - start), flush=True)
            scale = [
                measure("(A'')", "(A'') osops.toolkit.infra, nova + servers", nova_servers, "at scale"),
                measure("(D)", "(D) openstack.cloud.openstack", peer, "at scale, servers only"),
            ]
    finally:
        for server in servers:
            cloud.compute.delete_server(server)
        for server in cloud.compute.servers(all_projects=True, name="^%sscale-" % PREFIX):
            cloud.compute.delete_server(server)
        unseed_nodes()
    by_name = dict((r["key"], r) for r in rows + scale)
    critical = max(by_name["(sn)"]["server"], by_name["(si)"]["server"])
    print()
    print("bench/inventory: the infra inventory plugin against openstacksdk objects, a per-node lister and "
          "openstack.cloud's inventory, on the same sandbox cloud")
    print("inventory of %d hypervisors + %d ironic nodes (+ %d servers), median of %d runs"
          % (by_name["(an)"]["result"], N_NODES, N_SERVERS, REPEAT))
    print_rows(rows)
    print()
    hypervisors = by_name["(an)"]["result"]
    compare(by_name["(b)"], by_name["(a)"], "")
    compare(by_name["(c)"], by_name["(ai)"], "(per node against the plugin's ironic-only run)")
    compare(by_name["(b')"], by_name["(a')"], "")
    compare(by_name["(d)"], by_name["(a'')"], "(the peer lists only the servers; (a'') also the hypervisors)",
            expected_other_hosts=by_name["(a'')"]["result"] - hypervisors)
    print("(a) wall / critical path (the longer chain's server time, %.2fs): %.2fx (target <= 1.3x)"
          % (critical, by_name["(a)"]["wall"] / critical))
    print("(a) wall / serial sum of its requests' server time (%.2fs): %.2fx"
          % (by_name["(s)"]["server"], by_name["(a)"]["wall"] / by_name["(s)"]["server"]))
    if scale:
        print()
        print("at scale: %d hypervisors + %d servers, median of %d runs" % (hypervisors, N_SERVERS + N_SCALE, REPEAT))
        print_rows(scale)
        compare(by_name["(D)"], by_name["(A'')"], "(servers only vs hypervisors + servers)",
                expected_other_hosts=by_name["(A'')"]["result"] - hypervisors)
    print("note: openstack.cloud 2.5.0's inventory fails with openstacksdk >= 4.20 from the CLI "
          "(module 'openstack' has no attribute 'version'); here openstack.version is imported for it")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
