"""osops.toolkit.ovs_upgrade: a rolling Open vSwitch upgrade of three real hypervisor test hosts
(extensions/molecule/ovs_upgrade) that the sandbox cloud knows as nova-compute hosts.

Instances are booted on fake-compute-1..3 in the sandbox first; then the molecule sequence
(create, prepare = OVS with netdev bridges, check, converge = the playbook, idempotence, verify)
upgrades Open vSwitch from Debian's build to <version>+osops1 from a local apt repository
(tests/lib/ovs_repo.sh). The tests then read Nova's migration records and each host's systemd to
show the order of things, run the playbook in check mode, and break the package of the second
host of a new rollout. The tests run in order and share the hosts; at the end every compute
service is enabled again and the instances are deleted.
"""
import datetime
import json
import os
import re
import subprocess
import uuid

import openstack
import pytest

SCENARIO = "ovs_upgrade"
NODES = ["fake-compute-1", "fake-compute-2", "fake-compute-3"]
GROUP = "computes"
PLAYBOOK = "osops.toolkit.ovs_upgrade"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PACKAGES = ("openvswitch-switch", "openvswitch-common")
REASON = "Open vSwitch upgrade to %s (osops.toolkit.ovs_upgrade)"
# per host, the instances booted there before the rollout
BOOT = {"fake-compute-1": 2, "fake-compute-2": 1, "fake-compute-3": 1}
STARTED = {}


def _bash_env(script):
    proc = subprocess.run(["bash", "-c", script + " >&2 && env -0"], capture_output=True, text=True, check=False,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(line.split("=", 1) for line in proc.stdout.split("\0") if "=" in line)


@pytest.fixture(scope="module")
def cloud(testhosts):
    """The sandbox cloud (started by tests/run.sh; a no-op start otherwise) and the OVS repository."""
    proc = subprocess.run([os.path.join(ROOT, "tests", "sandbox", "osbox.sh"), "start"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, "sandbox did not start:\n" + proc.stdout[-3000:] + proc.stderr[-3000:]
    env = _bash_env("eval \"$(tests/sandbox/osbox.sh env)\" && . tests/lib/ovs_repo.sh && ensure_ovs_repo")
    for key in ("OS_CLIENT_CONFIG_FILE", "OS_CLOUD", "OSOPS_OVS_REPO", "OSOPS_OVS_VERSION_BASE",
                "OSOPS_OVS_VERSION_NEW", "OSOPS_OVS_VERSION_NEXT"):
        os.environ[key] = env[key]
    return openstack.connect(cloud=env["OS_CLOUD"])


def _enable_ours(conn):
    """Re-enable the compute services this role disabled (another test's disabled host is left alone)."""
    for svc in conn.compute.services(binary="nova-compute"):
        if svc.status == "disabled" and (svc.disabled_reason or "").startswith("osops:ovs_upgrade "):
            conn.compute.update_service(svc, status="enabled")


@pytest.fixture(scope="module", autouse=True)
def servers(cloud):
    """Instances on the three hosts before the molecule sequence runs; deleted, and every compute
    service enabled again, after the module."""
    _enable_ours(cloud)
    busy = [s.host for s in cloud.compute.services(binary="nova-compute") if s.host in NODES and s.status != "enabled"]
    assert not busy, "compute services disabled by someone else (another test running?): %s" % busy
    image = cloud.image.find_image("tiny", ignore_missing=False)
    flavor = cloud.compute.find_flavor("m1.tiny", ignore_missing=False)
    created = []
    try:
        for host, count in sorted(BOOT.items()):
            for index in range(count):
                created.append(cloud.compute.create_server(
                    name="osops-ovs-%s-%d" % (host, index), image_id=image.id, flavor_id=flavor.id,
                    networks="none", availability_zone="nova:%s" % host))
        created = [cloud.compute.wait_for_server(s, wait=120, interval=1) for s in created]
        STARTED["time"] = _utcnow()
        yield dict((s.id, cloud.compute.get_server(s.id).compute_host) for s in created)
    finally:
        for server in created:
            cloud.compute.delete_server(server, ignore_missing=True)
        for server in created:
            cloud.compute.wait_for_delete(server, wait=120, interval=1)
        _enable_ours(cloud)


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def _nova_time(text):
    return datetime.datetime.fromisoformat(text.rstrip("Z").split("+")[0]).replace(tzinfo=datetime.timezone.utc)


def _restart_time(hosts, node):
    """When ovs-vswitchd last (re)started, from systemd on the host."""
    out = hosts.sh(node, "systemctl show --timestamp=us+utc --property=ActiveEnterTimestamp --value ovs-vswitchd")
    return datetime.datetime.strptime(out, "%a %Y-%m-%d %H:%M:%S.%f UTC").replace(tzinfo=datetime.timezone.utc)


def _versions(hosts, node):
    out = hosts.sh(node, "dpkg-query --show --showformat='${Package} ${Version} ${db:Status-Abbrev}\\n' %s"
                   % " ".join(PACKAGES))
    return dict((line.split()[0], tuple(line.split()[1:])) for line in out.splitlines())


def _services(cloud):
    return dict((s.host, s) for s in cloud.compute.services(binary="nova-compute"))


def _migrations_from(cloud, node, since):
    return [m for m in cloud.compute.migrations()
            if m.source_compute == node and _nova_time(m.created_at) >= since.replace(microsecond=0)]


def _playbook(hosts, *args, label=None):
    return hosts.playbook(PLAYBOOK, "-e", "ovs_upgrade_hosts=%s" % GROUP, "-e", "ovs_upgrade_datapath_type=netdev",
                          "-e", '{"ovs_upgrade_bridges": ["br-int", "br-ex"]}', *args, label=label)


def _changed_counts(stdout):
    pattern = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", re.MULTILINE)
    return dict((m.group(1), int(m.group(2))) for m in pattern.finditer(stdout))


def test_molecule_sequence_passed(molecule_scenario):
    if molecule_scenario is None:
        pytest.skip("hosts reused (OSOPS_REUSE_TESTHOSTS)")
    for step in ("check", "converge", "idempotence", "verify"):
        assert "[ovs_upgrade > %s] Executed: Successful" % step in molecule_scenario, step


def test_every_host_was_drained_before_its_ovs_restarted(hosts, cloud, servers):
    restarts = dict((node, _restart_time(hosts, node)) for node in NODES)
    previous_restart = None
    for node in NODES:             # serial: 1, in inventory order
        moves = _migrations_from(cloud, node, STARTED["time"])
        assert moves, "no migration away from %s" % node
        assert all(m.status in ("completed", "confirmed") for m in moves), [(m.id, m.status) for m in moves]
        drained_at = max(_nova_time(m.updated_at) for m in moves)
        # nova keeps whole seconds: the last move ended before drained_at + 1 s
        assert drained_at + datetime.timedelta(seconds=1) <= restarts[node], "%s: last migration ended %s, ovs-vswitchd restarted %s" % (
            node, drained_at, restarts[node])
        first_move = min(_nova_time(m.created_at) for m in moves)
        if previous_restart is not None:          # one host at a time: the next drain starts after
            assert first_move >= previous_restart.replace(microsecond=0), (node, first_move, previous_restart)
        previous_restart = restarts[node]
    # the instances booted on fake-compute-1 left it when it was drained
    booted_on_1 = [sid for sid, host in servers.items() if host == "fake-compute-1"]
    moved = set(m.server_id for m in _migrations_from(cloud, "fake-compute-1", STARTED["time"]))
    assert set(booted_on_1) <= moved


def test_all_upgraded_and_re_enabled_with_bridges_and_ports_kept(hosts, cloud):
    new = os.environ["OSOPS_OVS_VERSION_NEW"]
    services = _services(cloud)
    for node in NODES:
        assert _versions(hosts, node) == dict((p, (new, "ii")) for p in PACKAGES), node
        assert services[node].status == "enabled", (node, services[node].disabled_reason)
        assert hosts.sh(node, "ovs-vsctl list-ports br-int").split() == ["patch-ex", "tap-vm1", "tap-vm2"]
        assert hosts.sh(node, "ovs-vsctl list-ports br-ex").split() == ["ex-uplink", "patch-int"]
        assert "-1" not in hosts.sh(node, "ovs-vsctl --bare --columns=ofport list Interface").split()
        assert "cookie=0x5a" in hosts.sh(node, "ovs-ofctl dump-flows br-int")
    records = os.path.join(os.environ["HOME"], ".osops", "ovs-upgrade-fake-compute-1.json")
    assert '"result": "moved"' in open(records).read()


def test_a_rerun_does_nothing(hosts, cloud):
    before = dict((node, _restart_time(hosts, node)) for node in NODES)
    since = _utcnow()
    run = _playbook(hosts, "-e", "ovs_upgrade_version=%s" % os.environ["OSOPS_OVS_VERSION_NEW"], label="playbook: rerun")
    assert run.returncode == 0, run.stdout[-4000:]
    assert _changed_counts(run.stdout) == dict((node, 0) for node in NODES), run.stdout[-3000:]
    assert run.stdout.count("nothing to do") == 3
    assert dict((node, _restart_time(hosts, node)) for node in NODES) == before
    assert not any(_migrations_from(cloud, node, since) for node in NODES)


LOCAL_LISTS = "/var/lib/apt/lists/_srv_osops-ovs_*"
CHANGED_FILES = "find /etc /var/lib/apt /var/lib/osops -newer /tmp/osops-check-marker -print 2>/dev/null"


def test_check_mode_only_plans(hosts, cloud, servers):
    nxt = os.environ["OSOPS_OVS_VERSION_NEXT"]
    where = dict((sid, cloud.compute.get_server(sid).compute_host) for sid in servers)
    versions = dict((node, _versions(hosts, node)) for node in NODES)
    restarts = dict((node, _restart_time(hosts, node)) for node in NODES)
    # the third host's apt cache no longer knows the local repository: only an apt update would bring it back
    hosts.sh("fake-compute-3", "rm -f %s" % LOCAL_LISTS)
    for node in NODES:
        hosts.sh(node, "touch /tmp/osops-check-marker")
    since = _utcnow()
    try:
        run = _playbook(hosts, "--check", "-e", "ovs_upgrade_version=%s" % nxt, label="playbook --check: next version")
        # check mode ran no apt update and changed no file on any host
        assert hosts.sh("fake-compute-3", "ls %s 2>/dev/null || true" % LOCAL_LISTS) == ""
        for node in NODES:
            assert hosts.sh(node, CHANGED_FILES) == "", node
    finally:
        hosts.sh("fake-compute-3", "apt-get update -q >/dev/null")
    assert run.returncode == 0, run.stdout[-4000:]
    # and says what the real run would do about the version it cannot see yet
    assert ("would update the apt cache of fake-compute-3 first; %s is not in the cache as it is now" % nxt
            in run.stdout), run.stdout[-4000:]
    assert "would move" in run.stdout
    for node in NODES:
        assert "upgrading openvswitch-switch, openvswitch-common to %s" % nxt in run.stdout
    services = _services(cloud)
    assert all(services[node].status == "enabled" for node in NODES)
    assert dict((sid, cloud.compute.get_server(sid).compute_host) for sid in servers) == where
    assert not any(_migrations_from(cloud, node, since) for node in NODES)
    assert dict((node, _versions(hosts, node)) for node in NODES) == versions
    assert dict((node, _restart_time(hosts, node)) for node in NODES) == restarts
    for node in NODES:
        assert hosts.sh(node, "ovs-vsctl --if-exists get Open_vSwitch . other_config:flow-restore-wait") == ""


OSBOX_HOME = os.environ.get("OSBOX_HOME", "/var/cache/osops/sandbox")
SANDBOX_DB = ["mariadb", "--defaults-file=%s" % os.path.join(OSBOX_HOME, "etc", "my.cnf"), "neutron"]


def _sql(statement):
    proc = subprocess.run(SANDBOX_DB + ["-e", statement], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture
def ovs_agent():
    """A neutron-openvswitch-agent row for fake-compute-1 in the sandbox's Neutron database (the sandbox
    runs no RPC server, so no real agent can report); its heartbeat says alive or dead. Removed after."""
    agent_id = str(uuid.uuid4())

    def make(alive, host="fake-compute-1"):
        beat = "UTC_TIMESTAMP()" if alive else "UTC_TIMESTAMP() - INTERVAL 1 HOUR"
        _sql("DELETE FROM agents WHERE id='%s'; INSERT INTO agents (id, agent_type, `binary`, topic, host, "
             "admin_state_up, created_at, started_at, heartbeat_timestamp, configurations, `load`) VALUES "
             "('%s', 'Open vSwitch agent', 'neutron-openvswitch-agent', 'N/A', '%s', 1, "
             "UTC_TIMESTAMP(), UTC_TIMESTAMP(), %s, '{}', 0)" % (agent_id, agent_id, host, beat))
        return agent_id
    yield make
    _sql("DELETE FROM agents WHERE id='%s'" % agent_id)


def _agent_info(host):
    proc = subprocess.run(["ansible", "localhost", "-m", "osops.toolkit.network_agent_info", "-a",
                           json.dumps({"host": host, "binary": "neutron-openvswitch-agent"})],
                          capture_output=True, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="true",
                                   ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOCALHOST_WARNING="false"))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_a_dead_ovs_agent_stops_the_rollout_before_anything_changes(hosts, cloud, ovs_agent):
    agent_id = ovs_agent(alive=True)
    alive = _agent_info("fake-compute-1")
    assert [a["id"] for a in alive["agents"]] == [agent_id] and alive["agents"][0]["alive"] and not alive["problems"]
    assert _agent_info("fake-compute-10")["agents"] == []            # exact host match
    ovs_agent(alive=False)
    dead = _agent_info("fake-compute-1")
    assert dead["agents"][0]["alive"] is False and "is not alive" in dead["problems"][0]

    versions = dict((node, _versions(hosts, node)) for node in NODES)
    since = _utcnow()
    run = _playbook(hosts, "-e", "ovs_upgrade_version=%s" % os.environ["OSOPS_OVS_VERSION_NEXT"],
                    label="playbook: dead OVS agent on host 1")
    assert run.returncode != 0
    assert "neutron-openvswitch-agent on fake-compute-1 (%s) is not alive" % agent_id in run.stdout
    assert "ovs_upgrade STOPPED on fake-compute-1" in run.stdout and "nothing was changed on it" in run.stdout
    assert all(s.status == "enabled" for node, s in _services(cloud).items() if node in NODES)
    assert dict((node, _versions(hosts, node)) for node in NODES) == versions
    assert not any(_migrations_from(cloud, node, since) for node in NODES)


def test_an_agent_registered_under_another_name_fails_closed(hosts, cloud, ovs_agent):
    # Neutron knows fake-compute-1's agent by its FQDN, Nova by the short name
    agent_id = ovs_agent(alive=True, host="fake-compute-1.osops.test")
    info = _agent_info("fake-compute-1")
    assert info["agents"] == [] and info["other_names"] == ["fake-compute-1.osops.test"], info
    assert "registered as fake-compute-1.osops.test (%s)" % agent_id in info["problems"][0]

    versions = dict((node, _versions(hosts, node)) for node in NODES)
    # the pre-checks are the same in check mode; nothing in the cloud or on the hosts may change either way
    run = _playbook(hosts, "--check", "--limit", "fake-compute-1",
                    "-e", "ovs_upgrade_version=%s" % os.environ["OSOPS_OVS_VERSION_NEXT"],
                    label="playbook --check: agent under the FQDN")
    assert run.returncode != 0, run.stdout[-4000:]
    assert ("Nova knows this host as fake-compute-1, Neutron knows its neutron-openvswitch-agent as "
            "fake-compute-1.osops.test" in run.stdout), run.stdout[-4000:]
    assert "not checked" not in run.stdout
    assert all(s.status == "enabled" for node, s in _services(cloud).items() if node in NODES)
    assert dict((node, _versions(hosts, node)) for node in NODES) == versions


BROKEN = {}


def test_a_broken_package_on_the_second_host_stops_the_rollout(hosts, cloud):
    new, nxt = os.environ["OSOPS_OVS_VERSION_NEW"], os.environ["OSOPS_OVS_VERSION_NEXT"]
    # the second host's mirror serves a bad build of the next version (its postinst fails)
    hosts.sh("fake-compute-2", "echo 'deb [trusted=yes] file:/srv/osops-ovs/broken ./' "
                               "> /etc/apt/sources.list.d/osops-ovs.list")
    third_restart = _restart_time(hosts, "fake-compute-3")
    since = _utcnow()
    run = _playbook(hosts, "-e", "ovs_upgrade_version=%s" % nxt, label="playbook: broken package on host 2")
    assert run.returncode != 0
    out = run.stdout
    BROKEN["stdout"] = out
    BROKEN["records"] = _moved_off("fake-compute-2")
    assert "ovs_upgrade STOPPED on fake-compute-2" in out, out[-6000:]
    assert "fake-compute-2 stays DISABLED in Nova" in out
    assert "the hosts after this one were not touched" in out
    assert "osops test build: this postinst fails on purpose" in out
    services = _services(cloud)
    # the first host went through
    assert _versions(hosts, "fake-compute-1") == dict((p, (nxt, "ii")) for p in PACKAGES)
    assert services["fake-compute-1"].status == "enabled"
    # the second stops there, disabled, with the reason
    assert services["fake-compute-2"].status == "disabled"
    assert re.fullmatch(r"osops:ovs_upgrade \S+Z " + re.escape(REASON % nxt), services["fake-compute-2"].disabled_reason)
    assert _versions(hosts, "fake-compute-2")["openvswitch-switch"] != (nxt, "ii")
    # the third is untouched: same packages, same ovs-vswitchd, enabled, nothing moved off it
    assert _versions(hosts, "fake-compute-3") == dict((p, (new, "ii")) for p in PACKAGES)
    assert _restart_time(hosts, "fake-compute-3") == third_restart
    assert services["fake-compute-3"].status == "enabled"
    assert not _migrations_from(cloud, "fake-compute-3", since)


def _moved_off(node):
    """The ids the drain records of ``node`` (kept on the controller, ovs_upgrade_send_home false) say moved off it."""
    with open(os.path.join(os.environ["HOME"], ".osops", "ovs-upgrade-%s.json" % node)) as handle:
        return sorted(r["id"] for r in json.load(handle) if r["result"] == "moved" and r["origin"] == node)


def test_the_rerun_the_failure_advises_is_accepted(hosts, cloud):
    new = os.environ["OSOPS_OVS_VERSION_NEW"]
    out = " ".join(BROKEN.get("stdout", "").split())
    assert out, "needs test_a_broken_package_on_the_second_host_stops_the_rollout first"
    # the advice: never enable the half-upgraded host by hand; rerun it alone with a good build,
    # for example the version it had before
    assert "do not enable it by hand" in out and "compute service set --enable" not in out
    assert "rerun the playbook with --limit fake-compute-2 -e ovs_upgrade_version=<good build>" in out
    assert "the version the host had before (%s)" % new in out
    # the operator fixes the cause (the mirror serves good builds again) and reruns as advised
    hosts.sh("fake-compute-2", "echo 'deb [trusted=yes] file:/srv/osops-ovs/good ./' "
                               "> /etc/apt/sources.list.d/osops-ovs.list")
    run = _playbook(hosts, "--limit", "fake-compute-2", "-e", "ovs_upgrade_version=%s" % new,
                    label="playbook: advised rerun on host 2")
    assert run.returncode == 0, run.stdout[-6000:]
    assert _versions(hosts, "fake-compute-2") == dict((p, (new, "ii")) for p in PACKAGES)
    assert _services(cloud)["fake-compute-2"].status == "enabled"
    assert hosts.sh("fake-compute-2", "ovs-vsctl --if-exists get Open_vSwitch . other_config:flow-restore-wait") == ""
    assert hosts.sh("fake-compute-2", "ovs-vsctl list-ports br-int").split() == ["patch-ex", "tap-vm1", "tap-vm2"]
    assert "cookie=0x5a" in hosts.sh("fake-compute-2", "ovs-ofctl dump-flows br-int")
    # the rerun found the host empty; the earlier runs' records are kept, so every instance can go home
    assert BROKEN["records"] and _moved_off("fake-compute-2") == BROKEN["records"]
