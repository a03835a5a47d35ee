"""Demo instances on one sandbox host: `create HOST` boots an ACTIVE, a SHUTOFF and a PAUSED one
(unless they exist), `delete` removes them."""
import sys

import openstack

PREFIX = "osops-demo-"
STATES = ("ACTIVE", "SHUTOFF", "PAUSED")


def main(action, host=None):
    conn = openstack.connect(cloud="osbox")
    mine = [s for s in conn.compute.servers(all_projects=True) if s.name.startswith(PREFIX)]
    if action == "delete":
        for server in mine:
            conn.compute.delete_server(server)
        for server in mine:
            conn.compute.wait_for_delete(server, wait=120)
        return
    if mine:
        return
    image = conn.image.find_image("tiny", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    servers = [conn.compute.create_server(name=PREFIX + state.lower(), image_id=image.id, flavor_id=flavor.id,
                                          networks="none", availability_zone="nova:%s" % host)
               for state in STATES]
    for server, state in zip(servers, STATES):
        conn.compute.wait_for_server(server, wait=120, interval=1)
        if state == "SHUTOFF":
            conn.compute.stop_server(server)
        elif state == "PAUSED":
            conn.compute.pause_server(server)
        conn.compute.wait_for_server(server, status=state, wait=120, interval=1)
    print("demo instances on %s: %s" % (host, ", ".join(PREFIX + s.lower() for s in STATES)))


if __name__ == "__main__":
    main(*sys.argv[1:])
