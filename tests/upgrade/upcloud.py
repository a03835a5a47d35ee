"""The cloud the rolling-upgrade test upgrades: a second sandbox, started at 2026.1 in its own
network namespace (so it can run next to the main sandbox, on the same 127.0.0.1 ports), with
two controllers (the APIs on 127.0.0.1 and 127.0.0.2), two computes, a one-node Galera and
haproxy on 127.0.0.10 in front of the APIs.
"""
import ctypes
import hashlib
import os
import shutil
import subprocess
import textwrap

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OSBOX = os.path.join(ROOT, "tests", "sandbox", "osbox.sh")
CACHE = os.environ.get("OSOPS_CACHE", "/var/cache/osops")
# one namespace per cache, so that two checkouts with their own caches do not meet
NETNS = "osops-up-" + hashlib.sha256(CACHE.encode()).hexdigest()[:8]
HOME = os.path.join(CACHE, "upgrade-sandbox")
OLD_SERIES, NEW_SERIES = "2026.1", "2026.2"
OLD_VENV = os.path.join(CACHE, "venv-" + OLD_SERIES)
NEW_VENV = os.path.join(CACHE, "sandbox", "venv")   # the main sandbox's venv, built by tests/run.sh
VIP = "127.0.0.10"
CTL2 = "127.0.0.2"
COMPUTES = ("up-compute-1", "up-compute-2")
# API name in the sandbox -> (haproxy backend in the role's data, port, path a token can GET)
APIS = {
    "keystone": ("keystone", 5000, "/v3/projects"),
    "glance": ("glance", 9292, "/v2/images"),
    "placement": ("placement", 8778, "/resource_providers"),
    "nova-api": ("nova_api", 8774, "/v2.1/servers"),
    "neutron": ("neutron", 9696, "/v2.0/networks"),
    "cinder-api": ("cinder", 8776, "/v3/{project_id}/volumes"),
}

ENV = dict(
    OSBOX_HOME=HOME, OSBOX_VENV=OLD_VENV,
    OSBOX_LOCK=os.path.join(ROOT, "tests", "sandbox", "requirements-lock-%s.txt" % OLD_SERIES),
    OSBOX_COMPUTES=" ".join(COMPUTES), OSBOX_API_REPLICAS=CTL2, OSBOX_GALERA="1",
)


def enter_netns():
    """Move this process (its main thread, and so every child) into the namespace."""
    if not os.path.exists("/run/netns/" + NETNS):
        subprocess.run(["ip", "netns", "add", NETNS], check=True)
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/run/netns/" + NETNS) as handle:
        if libc.setns(handle.fileno(), 0x40000000) != 0:   # CLONE_NEWNET
            raise OSError(ctypes.get_errno(), "setns %s" % NETNS)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


def osbox(*args, check=True):
    proc = subprocess.run([OSBOX] + list(args), env=dict(os.environ, **ENV), capture_output=True,
                          text=True, check=False)
    if check and proc.returncode:
        raise AssertionError("osbox.sh %s failed:\n%s\n%s" % (" ".join(args), proc.stdout[-4000:], proc.stderr[-4000:]))
    return proc


def haproxy_config():
    lines = [textwrap.dedent("""\
        global
            stats socket {home}/run/haproxy.sock mode 600 level admin
            pidfile {home}/run/haproxy.pid
        defaults
            mode http
            timeout connect 2s
            timeout client 120s
            timeout server 120s
            option httpchk GET /
            http-check expect rstatus (200|300)
            default-server inter 1s fall 2 rise 1
        """).format(home=HOME)]
    for _name, (backend, port, _path) in APIS.items():
        lines.append(textwrap.dedent("""\
            listen {backend}
                bind {vip}:{port}
                server ctl1 127.0.0.1:{port} check
                server ctl2 {ctl2}:{port} check
            """).format(backend=backend, vip=VIP, port=port, ctl2=CTL2))
    return "\n".join(lines)


def start_haproxy():
    if not shutil.which("haproxy"):
        subprocess.run(["apt-get", "install", "-y", "-q", "haproxy"], check=True, capture_output=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    path = os.path.join(HOME, "etc", "haproxy.cfg")
    with open(path, "w") as handle:
        handle.write(haproxy_config())
    subprocess.run(["haproxy", "-c", "-q", "-f", path], check=True)
    subprocess.run(["haproxy", "-D", "-f", path], check=True)


def nova_max_microversion_of(venv):
    """What nova in that venv announces, read from its source."""
    import glob
    import re
    path = glob.glob(venv + "/lib/python3*/site-packages/nova/api/openstack/api_version_request.py")[0]
    with open(path) as handle:
        return re.search(r"^_MAX_API_VERSION = '([0-9.]+)'", handle.read(), re.M).group(1)


def inventory(python):
    """The inventory an operator would write for this cloud; every host is reached locally."""
    etc = os.path.join(HOME, "etc")
    osbox = ["env"] + ["%s=%s" % kv for kv in sorted(ENV.items())] + [OSBOX]
    restart, stop = osbox + ["restart", "{{ rolling_upgrade_process }}"], osbox + ["stop", "{{ rolling_upgrade_process }}"]
    rabbit = ". %s/rabbitmq-env.sh && /usr/lib/rabbitmq/bin/rabbitmq-diagnostics -q " % etc
    overrides = {
        "keystone": dict(config_args=["--config-file", etc + "/keystone/keystone.conf"]),
        "glance": dict(processes=["glance"], config_args=["--config-file", etc + "/glance/glance-api.conf"]),
        "placement": dict(processes=["placement"], config_args=["--config-file", etc + "/placement/placement.conf"]),
        "nova_control": dict(config_args=["--config-file", etc + "/nova/nova.conf"]),
        "neutron": dict(processes=["neutron"], config_args=[
            "--config-file", etc + "/neutron/neutron.conf", "--config-file", etc + "/neutron/plugins/ml2/ml2_conf.ini"]),
        "cinder": dict(config_args=["--config-file", etc + "/cinder/cinder.conf"]),
        # one ironic-api only: it is not behind haproxy here
        "ironic": dict(config_args=["--config-file", etc + "/ironic/ironic.conf"], haproxy_backend=""),
    }
    ctl2_processes = {svc: ["%s@%s" % (name, CTL2)] for svc, name in (
        ("keystone", "keystone"), ("glance", "glance"), ("placement", "placement"), ("nova_control", "nova-api"),
        ("neutron", "neutron"), ("cinder", "cinder-api"))}
    local = dict(ansible_connection="local", ansible_python_interpreter=python)
    hosts = {
        "ctl1": dict(local, rolling_upgrade_api_address="127.0.0.1",
                     rolling_upgrade_host_processes={"nova_compute": ["nova-compute-ironic-compute"]},
                     rolling_upgrade_nova_config_files=[etc + "/nova/nova.conf", etc + "/nova/nova-cpu.conf"]),
        "ctl2": dict(local, rolling_upgrade_api_address=CTL2, rolling_upgrade_host_processes=ctl2_processes,
                     rolling_upgrade_nova_config_files=[etc + "/nova/nova.conf"]),
        "db": dict(local), "mq": dict(local), "lb": dict(local),
    }
    for index, name in enumerate(COMPUTES, 1):
        hosts["cmp%d" % index] = dict(local, rolling_upgrade_host_processes={"nova_compute": ["nova-compute-" + name]},
                                      rolling_upgrade_nova_config_files=[etc + "/nova/nova-cpu.conf"])
    controllers = {"ctl1": None, "ctl2": None}
    groups = {g: {"hosts": dict(controllers)} for g in ("keystone", "glance", "placement", "nova_control", "neutron", "cinder")}
    groups["ironic"] = {"hosts": {"ctl1": None}}
    groups["nova_compute"] = {"hosts": {"cmp1": None, "cmp2": None, "ctl1": None}}
    groups["galera"] = {"hosts": {"db": None}}
    groups["rabbitmq"] = {"hosts": {"mq": None}}
    groups["haproxy"] = {"hosts": {"lb": None}}
    return {"all": {
        "hosts": hosts,
        "vars": {
            "rolling_upgrade_release": NEW_SERIES,
            "rolling_upgrade_venv": NEW_VENV,
            "rolling_upgrade_venv_link": HOME + "/venvs/{{ rolling_upgrade_process }}",
            "rolling_upgrade_restart_command": restart,
            "rolling_upgrade_stop_command": stop,
            "rolling_upgrade_service_overrides": overrides,
            # keystone-status reads /etc/keystone/fernet-keys before its --config-file; glance-status
            # of glance 33.0.0 crashes (NoSuchOptError enabled_backends): both upstream bugs
            "rolling_upgrade_skip_status_checks": ["keystone", "glance"],
            "rolling_upgrade_rabbitmq_check_commands": [["bash", "-c", rabbit + "check_running"],
                                                        ["bash", "-c", rabbit + "check_local_alarms"]],
            "rolling_upgrade_min_free_mb": 500,
            "rolling_upgrade_cloud": "osbox",
            "rolling_upgrade_nova_database": {"host": "127.0.0.1", "user": "openstack", "password": "secret", "name": "nova"},
            "rolling_upgrade_min_microversions": {"compute": nova_max_microversion_of(NEW_VENV)},
            "rolling_upgrade_db_login_host": "127.0.0.1",
            "rolling_upgrade_db_login_user": "openstack",
            "rolling_upgrade_db_login_password": "secret",
            "rolling_upgrade_backup_dir": HOME + "/backups",
            "rolling_upgrade_state_dir": HOME + "/upgrade-state",
            "rolling_upgrade_haproxy_socket": HOME + "/run/haproxy.sock",
        },
        "children": groups,
    }}


def write_inventory(path, python, host_vars=None, **changes):
    inv = inventory(python)
    inv["all"]["vars"].update(changes)
    for host, values in (host_vars or {}).items():
        inv["all"]["hosts"][host].update(values)
    with open(path, "w") as handle:
        yaml.safe_dump(inv, handle, sort_keys=False)
    return path


class Prober(object):
    """Calls every API through haproxy, one after the other, until stopped; counts what failed."""

    def __init__(self, interval=0.2):
        import threading
        import requests
        self.session = requests.Session()
        self.interval = interval
        self.stop_event = threading.Event()
        self.calls = {name: 0 for name in APIS}
        self.failures = {name: [] for name in APIS}
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.token, self.project_id = self._login()

    def _login(self):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": "password"}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
        reply = self.session.post("http://%s:5000/v3/auth/tokens" % VIP, json=body, timeout=10)
        reply.raise_for_status()
        return reply.headers["X-Subject-Token"], reply.json()["token"]["project"]["id"]

    def _run(self):
        import time
        while not self.stop_event.is_set():
            for name, (_backend, port, path) in APIS.items():
                url = "http://%s:%d%s" % (VIP, port, path.format(project_id=self.project_id))
                self.calls[name] += 1
                try:
                    reply = self.session.get(url, headers={"X-Auth-Token": self.token}, timeout=15)
                    if reply.status_code >= 300:
                        self.failures[name].append("%s HTTP %s" % (time.strftime("%T"), reply.status_code))
                except Exception as exc:   # any error is a failed call, which is what is counted
                    self.failures[name].append("%s %s" % (time.strftime("%T"), exc.__class__.__name__))
            self.stop_event.wait(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join()

    def summary(self):
        return {name: "%d/%d failed" % (len(self.failures[name]), self.calls[name]) for name in APIS}


class Writer(Prober):
    """Creates a nova keypair, a neutron network and a glance image record through haproxy, one
    after the other, until stopped: rows with a created_at in nova_api, neutron and glance. Keeps
    the UTC time of each create that succeeded."""

    WRITES = {
        "nova-api": (8774, "/v2.1/os-keypairs", lambda name: {"keypair": {"name": name}}),
        "neutron": (9696, "/v2.0/networks", lambda name: {"network": {"name": name}}),
        "glance": (9292, "/v2/images", lambda name: {"name": name, "disk_format": "raw", "container_format": "bare"}),
    }

    def __init__(self, interval=0.3):
        super().__init__(interval)
        self.calls = {name: 0 for name in self.WRITES}
        self.failures = {name: [] for name in self.WRITES}
        self.created = []

    def _run(self):
        import datetime
        import time
        n = 0
        while not self.stop_event.is_set():
            for api, (port, path, body) in self.WRITES.items():
                n += 1
                self.calls[api] += 1
                try:
                    reply = self.session.post("http://%s:%d%s" % (VIP, port, path), json=body("rollback-writer-%d" % n),
                                              headers={"X-Auth-Token": self.token}, timeout=15)
                    if reply.status_code >= 300:
                        self.failures[api].append("%s HTTP %s" % (time.strftime("%T"), reply.status_code))
                    else:
                        self.created.append(datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None))
                except Exception as exc:   # a failed call is what is counted
                    self.failures[api].append("%s %s" % (time.strftime("%T"), exc.__class__.__name__))
            self.stop_event.wait(self.interval)

    def summary(self):
        return {name: "%d/%d failed" % (len(self.failures[name]), self.calls[name]) for name in self.WRITES}
