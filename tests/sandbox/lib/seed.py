"""First-start content every test and the demo may rely on: image 'tiny', flavor 'm1.tiny'."""
import openstack


def main():
    conn = openstack.connect(cloud="osbox")
    if not conn.image.find_image("tiny"):
        conn.create_image("tiny", data=b"\0" * 1048576, disk_format="raw",
                          container_format="bare", visibility="public", wait=True)
    if not conn.compute.find_flavor("m1.tiny"):
        conn.compute.create_flavor(name="m1.tiny", ram=64, vcpus=1, disk=1)
    print("seeded: image tiny, flavor m1.tiny")


if __name__ == "__main__":
    main()
