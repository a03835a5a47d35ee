"""osops.toolkit.galera_health on three real MariaDB Galera hosts (extensions/molecule/galera_health).

The molecule sequence (create, prepare = a three-node cluster, check, converge, idempotence,
verify) runs first; then these tests break the cluster in the ways an operator meets and run
the playbook osops.toolkit.galera_health against it. The tests run in order and share the hosts.
"""
import time
import urllib.error
import urllib.request

import pytest

SCENARIO = "galera_health"
NODES = ["galera1", "galera2", "galera3"]
GROUP = "galera"
PLAYBOOK = "osops.toolkit.galera_health"


def _sql(hosts, node, sql):
    return hosts.sh(node, "mariadb -Nse %s" % _quote(sql))


def _quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def _status(hosts, node, name):
    proc = hosts.sh(node, "mariadb -Nse \"SHOW GLOBAL STATUS LIKE '%s'\"" % name, check=False)
    return proc.stdout.split()[-1] if proc.returncode == 0 and proc.stdout.split() else None


def _wait_synced(hosts, node, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _status(hosts, node, "wsrep_local_state_comment") == "Synced":
            return
        time.sleep(1)
    pytest.fail("%s did not reach Synced in %ss" % (node, timeout))


def _http_code(hosts, node, port=9200):
    try:
        with urllib.request.urlopen("http://%s:%d/" % (hosts.ip(node), port), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait_code(hosts, node, code, timeout=30):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = _http_code(hosts, node)
        if got == code:
            return
        time.sleep(0.5)
    pytest.fail("clustercheck on %s answered %s, expected %s" % (node, got, code))


def _grastate(hosts, node):
    text = hosts.sh(node, "cat /var/lib/mysql/grastate.dat")
    values = dict(line.split(":", 1) for line in text.splitlines() if ":" in line and not line.startswith("#"))
    return int(values["seqno"].strip()), values["safe_to_bootstrap"].strip() == "1"


def test_molecule_sequence_passed(molecule_scenario):
    if molecule_scenario is None:
        pytest.skip("hosts reused (OSOPS_REUSE_TESTHOSTS)")
    for step in ("check", "converge", "idempotence", "verify"):
        assert "[galera_health > %s] Executed: Successful" % step in molecule_scenario, step


def test_healthy_cluster_passes(hosts):
    run = hosts.playbook(PLAYBOOK, label="playbook: healthy cluster")
    assert run.returncode == 0, run.stdout[-4000:]
    assert "Galera cluster healthy: 3 nodes Synced" in run.stdout
    assert "changed=0" in run.stdout and "changed=1" not in run.stdout


def test_check_mode_on_a_healthy_cluster_changes_nothing(hosts):
    run = hosts.playbook(PLAYBOOK, "--check", "-e", "galera_health_recover=true", label="playbook --check --recover: healthy")
    assert run.returncode == 0, run.stdout[-4000:]
    for node in NODES:
        assert "%s" % node in run.stdout
    assert "changed=1" not in run.stdout and "changed=2" not in run.stdout


@pytest.mark.parametrize("node", NODES)
def test_clustercheck_200_on_a_synced_node(hosts, node):
    assert _http_code(hosts, node) == 200


def test_clustercheck_503_on_a_desynced_node_200_again_after(hosts):
    _sql(hosts, "galera2", "SET GLOBAL wsrep_desync=ON")
    try:
        assert _status(hosts, "galera2", "wsrep_local_state_comment") == "Donor/Desynced"
        _wait_code(hosts, "galera2", 503)
        assert _http_code(hosts, "galera1") == 200
    finally:
        _sql(hosts, "galera2", "SET GLOBAL wsrep_desync=OFF")
    _wait_synced(hosts, "galera2")
    _wait_code(hosts, "galera2", 200)


def test_clustercheck_503_in_maintenance(hosts):
    hosts.sh("galera3", "touch /etc/galera_health/maintenance")
    try:
        assert _http_code(hosts, "galera3") == 503
    finally:
        hosts.sh("galera3", "rm -f /etc/galera_health/maintenance")
    assert _http_code(hosts, "galera3") == 200


def test_one_node_stopped_fails_and_names_it(hosts):
    hosts.sh("galera2", "systemctl stop mariadb")
    _wait_code(hosts, "galera2", 503)
    run = hosts.playbook(PLAYBOOK, label="playbook: galera2 stopped")
    assert run.returncode != 0
    assert "Galera cluster is not healthy" in run.stdout
    assert "galera2: mariadb is not running or not reachable" in run.stdout
    assert "galera1: cluster size is 2, expected 3" in run.stdout
    assert "galera3: cluster size is 2, expected 3" in run.stdout


def test_the_node_rejoins_and_the_cluster_passes(hosts):
    run = hosts.playbook(PLAYBOOK, "-e", "galera_health_recover=true", label="playbook --recover: galera2 rejoins")
    assert run.returncode == 0, run.stdout[-4000:]
    assert "Bootstrapping" not in run.stdout          # a Primary component was there: only a join
    assert _status(hosts, "galera2", "wsrep_local_state_comment") == "Synced"
    assert "Galera cluster healthy: 3 nodes Synced" in run.stdout
    _wait_code(hosts, "galera2", 200)


INSERT = "INSERT INTO osops.t (phase) VALUES " + ", ".join(["('%s')"] * 10)


def _fresh_table(hosts):
    _sql(hosts, "galera1", "CREATE DATABASE IF NOT EXISTS osops; DROP TABLE IF EXISTS osops.t; "
                           "CREATE TABLE osops.t (id INT AUTO_INCREMENT PRIMARY KEY, phase VARCHAR(20))")


def _crash(hosts, *nodes):
    """SIGKILL mariadbd (no clean shutdown: grastate.dat keeps seqno -1), without systemd restarting it."""
    for node in nodes:
        hosts.sh(node, "systemctl kill -s KILL mariadb")
    for node in nodes:
        hosts.sh(node, "sleep 0.5; systemctl stop mariadb")


def _assert_recovered(hosts, run, expected_rows):
    assert run.returncode == 0, run.stdout[-6000:]
    assert "Galera cluster healthy: 3 nodes Synced" in run.stdout
    for node in NODES:
        assert _status(hosts, node, "wsrep_local_state_comment") == "Synced"
        assert _status(hosts, node, "wsrep_cluster_size") == "3"
        rows = _sql(hosts, node, "SELECT phase, COUNT(*) FROM osops.t GROUP BY phase ORDER BY phase")
        assert rows.split("\n") == expected_rows, (node, rows)


def test_whole_cluster_down_last_node_standing_is_bootstrapped(hosts):
    _fresh_table(hosts)
    _sql(hosts, "galera1", INSERT.replace("%s", "all-up"))
    hosts.sh("galera3", "systemctl stop mariadb")                   # galera3 leaves first
    _sql(hosts, "galera1", INSERT.replace("%s", "two-up"))
    hosts.sh("galera2", "systemctl stop mariadb")                   # then galera2
    _sql(hosts, "galera1", INSERT.replace("%s", "one-up"))
    _crash(hosts, "galera1")                                        # the last one crashes
    # Galera marked galera1 safe to bootstrap when it was the only node of the Primary component
    assert _grastate(hosts, "galera1") == (-1, True)
    seqno2, safe2 = _grastate(hosts, "galera2")
    seqno3, safe3 = _grastate(hosts, "galera3")
    assert not safe2 and not safe3 and seqno2 > seqno3 >= 0

    run = hosts.playbook(PLAYBOOK, "-e", "galera_health_recover=true", label="playbook --recover: all down, one safe")
    assert "Bootstrapping the cluster on galera1: galera1 has safe_to_bootstrap: 1" in run.stdout, run.stdout[-6000:]
    _assert_recovered(hosts, run, ["all-up\t10", "one-up\t10", "two-up\t10"])


def test_whole_cluster_crashed_recovery_bootstraps_the_most_advanced_node(hosts):
    _fresh_table(hosts)
    _sql(hosts, "galera1", INSERT.replace("%s", "all-up"))
    hosts.sh("galera3", "systemctl stop mariadb")                   # galera3 is down for maintenance
    _sql(hosts, "galera1", INSERT.replace("%s", "two-up"))
    _crash(hosts, "galera1", "galera2")                             # power cut for the two others
    assert _grastate(hosts, "galera1") == (-1, False)
    assert _grastate(hosts, "galera2") == (-1, False)
    seqno3, safe3 = _grastate(hosts, "galera3")
    assert seqno3 >= 0 and not safe3

    check = hosts.playbook(PLAYBOOK, "--check", "-e", "galera_health_recover=true", "-e", "galera_health_check=false",
                           label="playbook --check --recover: all crashed")
    assert check.returncode == 0, check.stdout[-4000:]
    assert "would run galera_recovery on galera1, galera2" in check.stdout
    assert _grastate(hosts, "galera1") == (-1, False)              # check mode touched nothing
    assert hosts.sh("galera1", "systemctl is-active mariadb || true") != "active"

    run = hosts.playbook(PLAYBOOK, "-e", "galera_health_recover=true", label="playbook --recover: all crashed")
    # both crashed nodes recover the same, highest position; galera3 is behind and must not win
    assert "Bootstrapping the cluster on galera1: galera1 has the highest seqno" in run.stdout, run.stdout[-6000:]
    recovered = int(run.stdout.split("galera1 has the highest seqno (")[1].split(")")[0])
    assert recovered > seqno3
    _assert_recovered(hosts, run, ["all-up\t10", "two-up\t10"])

    again = hosts.playbook(PLAYBOOK, "-e", "galera_health_recover=true", label="playbook --recover: healthy again")
    assert again.returncode == 0, again.stdout[-4000:]
    assert "changed=1" not in again.stdout and "Bootstrapping" not in again.stdout
