"""Wait until the sandbox cloud can be used: every nova-compute up and mapped to cell1,
one placement resource provider per compute, Ironic's conductor registered, cinder-volume up.

Usage: ready.py HOST [HOST ...]   (the fake-driver nova-compute host names)
OSBOX_SERVICE_ONLY: nova-compute hosts that must be up but have no provider of their own yet
(the Ironic-driver compute: one provider per node, and it may have no node).
"""
import os
import subprocess
import sys
import time

import openstack


def _wait(what, probe, timeout):
    deadline = time.time() + timeout
    while True:
        result = probe()
        if result or time.time() > deadline:
            return result
        time.sleep(1)


def main(hosts):
    conn = openstack.connect(cloud="osbox")
    expected = set(hosts)
    services = expected | set(os.environ.get("OSBOX_SERVICE_ONLY", "").split())

    def computes_up():
        # a service a test forced down reports "down" while its process runs fine
        up = {s.host for s in conn.compute.services()
              if s.binary == "nova-compute" and (s.state == "up" or s.is_forced_down)}
        return services <= up

    if not _wait("computes", computes_up, 180):
        sys.exit("FAILED: nova-compute services not up: %s" % sorted(services))
    subprocess.run(os.environ["OSBOX_NOVA_MANAGE"].split() + ["cell_v2", "discover_hosts"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def providers():
        return expected <= {rp.name for rp in conn.placement.resource_providers()}

    if not _wait("providers", providers, 120):
        sys.exit("FAILED: placement has no resource provider for every compute")

    system = openstack.connect(cloud="osbox-system")
    if not _wait("ironic", lambda: list(system.baremetal.drivers()), 60):
        sys.exit("FAILED: the ironic conductor did not register")

    def volume_up():
        response = conn.block_storage.get("/os-services", params={"binary": "cinder-volume"})
        return response.status_code == 200 and any(s["state"] == "up" for s in response.json()["services"])

    if not _wait("cinder-volume", volume_up, 120):
        sys.exit("FAILED: cinder-volume did not come up")
    print("ready: computes %s, ironic drivers up, cinder-volume up" % " ".join(sorted(services)))


if __name__ == "__main__":
    main(sys.argv[1:])
