"""osops.toolkit.galera_health on three real MariaDB Galera hosts (extensions/molecule/galera_health).

The molecule sequence (create, prepare = a three-node cluster, check, converge, idempotence,
verify) runs first; then these tests break the cluster in the ways an operator meets and run
the playbook osops.toolkit.galera_health against it. The tests run in order and share the hosts.
"""
import json
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


def _http(hosts, node, port=9200):
    """The clustercheck's answer on the node's address: (status, body)."""
    try:
        with urllib.request.urlopen("http://%s:%d/" % (hosts.ip(node), port), timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _http_code(hosts, node, port=9200):
    return _http(hosts, node, port)[0]


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


def _assert_ran_everywhere_unchanged(hosts, run):
    recap = hosts.recap(run.stdout)
    assert sorted(recap) == NODES, recap
    for node in NODES:
        assert recap[node]["ok"] > 0 and recap[node]["changed"] == 0, (node, recap[node])
        assert recap[node]["failed"] == 0 and recap[node]["unreachable"] == 0, (node, recap[node])


def test_healthy_cluster_passes(hosts):
    run = hosts.playbook(PLAYBOOK, label="playbook: healthy cluster")
    assert run.returncode == 0, run.stdout[-4000:]
    assert "Galera cluster healthy: 3 nodes Synced" in run.stdout
    _assert_ran_everywhere_unchanged(hosts, run)


def test_check_mode_on_a_healthy_cluster_changes_nothing(hosts):
    run = hosts.playbook(PLAYBOOK, "--check", "-e", "galera_health_recover=true", label="playbook --check --recover: healthy")
    assert run.returncode == 0, run.stdout[-4000:]
    _assert_ran_everywhere_unchanged(hosts, run)


@pytest.mark.parametrize("node", NODES)
def test_clustercheck_200_on_a_synced_node(hosts, node):
    assert _http_code(hosts, node) == 200


def test_clustercheck_listens_only_on_the_management_address(hosts):
    address = hosts.ip("galera1")
    listening = hosts.sh("galera1", "ss -Hltn 'sport = :9200' | awk '{print $4}'")
    assert listening.split() == ["%s:9200" % address]
    # another address of the same host: nothing listens there
    assert hosts.sh("galera1", "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9200/ || true") == "000"
    # haproxy's way in: another host, the management address
    assert hosts.sh("galera2", "curl -s -o /dev/null -w '%%{http_code}' http://%s:9200/" % address) == "200"


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
    # the endpoint could not connect; the answer does not say why (the journal does)
    assert _http(hosts, "galera2") == (503, "Galera node state cannot be read.\r\n")
    journal = hosts.sh("galera2", "journalctl -q -o cat -u 'galera-clustercheck@*' --since -5min || true")
    assert "cannot read the Galera state" in journal, journal
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


NO_RESTART = "/run/systemd/system/mariadb.service.d/zz-osops-test-no-restart.conf"


def _crash(hosts, *nodes):
    """SIGKILL mariadbd (no clean shutdown: grastate.dat keeps seqno -1), without systemd restarting it.

    A runtime drop-in turns Restart=on-abort off before the kill, so that however slow the host,
    systemd cannot start MariaDB again; it is removed once the server is down.
    """
    for node in nodes:
        hosts.sh(node, "mkdir -p %s && printf '[Service]\\nRestart=no\\n' > %s && systemctl daemon-reload"
                 % (NO_RESTART.rsplit("/", 1)[0], NO_RESTART))
    for node in nodes:
        hosts.sh(node, "systemctl kill -s KILL mariadb")
    for node in nodes:
        hosts.sh(node, "timeout 60 sh -c 'while systemctl -q is-active mariadb; do sleep 0.2; done'; "
                       "rm -f %s; systemctl daemon-reload; systemctl reset-failed mariadb" % NO_RESTART)
        assert hosts.sh(node, "systemctl is-active mariadb || true") != "active", node


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
    assert "Bootstrapping" not in again.stdout
    _assert_ran_everywhere_unchanged(hosts, again)


# The last tests leave galera3 the most advanced node and take it out of Ansible's reach: a
# recovery must then decide from every member or not at all.

def _mariadb_states(hosts):
    return [hosts.sh(node, "systemctl is-active mariadb || true") for node in NODES]


def _ssh(hosts, node, up):
    """Start or stop sshd on a node; stopping also ends the sessions Ansible keeps open (ControlPersist)."""
    if up:
        hosts.sh(node, "systemctl start ssh")
    else:
        hosts.sh(node, "systemctl stop ssh; pkill -KILL -x sshd || true")


def test_most_advanced_member_unreachable_recovery_refused(hosts):
    _fresh_table(hosts)
    _sql(hosts, "galera1", INSERT.replace("%s", "all-up"))
    hosts.sh("galera1", "systemctl stop mariadb")                   # galera1 leaves first
    _sql(hosts, "galera3", INSERT.replace("%s", "two-up"))
    hosts.sh("galera2", "systemctl stop mariadb")                   # then galera2
    _sql(hosts, "galera3", INSERT.replace("%s", "one-up"))           # committed on galera3 only
    hosts.sh("galera3", "systemctl stop mariadb")
    before = dict((node, _grastate(hosts, node)) for node in NODES)
    assert before["galera3"][0] > before["galera2"][0] > before["galera1"][0] >= 0, before
    _ssh(hosts, "galera3", up=False)
    try:
        run = hosts.playbook(PLAYBOOK, "-e", "galera_health_recover=true", label="playbook --recover: galera3 unreachable")
        assert run.returncode != 0
        assert ("recovery refused, nothing was started: the position of galera3 is unknown - galera3 did not "
                "report (unreachable, or a task failed there)") in run.stdout, run.stdout[-6000:]
        assert "Bootstrapping" not in run.stdout
        assert _mariadb_states(hosts) == ["inactive"] * 3
        assert dict((node, _grastate(hosts, node)) for node in NODES) == before

        # the operator's word that galera3 is gone lets it go on, and says what that costs
        check = hosts.playbook(PLAYBOOK, "--check", "-e", "galera_health_recover=true", "-e", "galera_health_check=false",
                               "-e", '{"galera_health_members_gone": ["galera3"]}',
                               label="playbook --check --recover: galera3 declared gone")
        assert ("Bootstrapping the cluster on galera2: galera2 has the highest seqno (%d). galera3 was not consulted "
                "(galera_health_members_gone): whatever it committed after seqno %d (the position of galera2) is lost"
                % (before["galera2"][0], before["galera2"][0])) in check.stdout, check.stdout[-6000:]
        assert _mariadb_states(hosts) == ["inactive"] * 3
    finally:
        _ssh(hosts, "galera3", up=True)


def test_member_left_out_by_limit_is_refused(hosts):
    before = dict((node, _grastate(hosts, node)) for node in NODES)
    run = hosts.playbook(PLAYBOOK, "-e", "galera_health_recover=true", "--limit", "galera1,galera2",
                         label="playbook --recover --limit galera1,galera2")
    assert run.returncode != 0
    assert ("recovery refused, nothing was started: the position of galera3 is unknown - galera3 is not in the "
            "play (--limit or the host pattern left it out)") in run.stdout, run.stdout[-6000:]
    assert sorted(hosts.recap(run.stdout)) == ["galera1", "galera2"]
    assert _mariadb_states(hosts) == ["inactive"] * 3
    assert dict((node, _grastate(hosts, node)) for node in NODES) == before


def test_with_every_member_back_the_most_advanced_is_bootstrapped(hosts):
    run = hosts.playbook(PLAYBOOK, "-e", "galera_health_recover=true", label="playbook --recover: every member back")
    assert "Bootstrapping the cluster on galera3: galera3 has safe_to_bootstrap: 1" in run.stdout, run.stdout[-6000:]
    _assert_recovered(hosts, run, ["all-up\t10", "one-up\t10", "two-up\t10"])


DUMPER = "osops_dumper"
PASSWORD = "q'uo\"te$HOME\\x"          # a single and a double quote, a dollar and a backslash


def _rolling_upgrade_tasks(hosts, tmp_path, tasks_from, label, **variables):
    """One task file of osops.toolkit.rolling_upgrade on galera1, the credentials from a vars file."""
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps({"rolling_upgrade_db_login_user": DUMPER,
                                   "rolling_upgrade_db_login_password": PASSWORD}))
    secrets.chmod(0o600)
    playbook = tmp_path / ("%s.yml" % tasks_from)
    playbook.write_text(json.dumps([{"name": label, "hosts": "galera1", "gather_facts": False, "tasks": [{
        "name": tasks_from, "ansible.builtin.include_role": {"name": "osops.toolkit.rolling_upgrade",
                                                             "tasks_from": tasks_from},
        "vars": dict({"rolling_upgrade_db_host": "galera1", "rolling_upgrade_release": "t",
                      "rolling_upgrade_backup_dir": "/var/backups/osops-t", "rolling_upgrade_state_dir": "/var/backups/osops-t",
                      "rolling_upgrade__service": {"name": "t"}, "rolling_upgrade__state": {}}, **variables)}]}]))
    return hosts.playbook(str(playbook), "-e", "@%s" % secrets, label=label)


def test_dumps_and_restores_never_put_the_password_on_a_command_line(hosts, tmp_path):
    literal = PASSWORD.replace("\\", "\\\\").replace("'", "''")
    _sql(hosts, "galera1", "CREATE USER IF NOT EXISTS '%s'@'localhost' IDENTIFIED BY '%s'; "
                           "GRANT ALL PRIVILEGES ON *.* TO '%s'@'localhost'" % (DUMPER, literal, DUMPER))
    # enough rows that the dump runs long enough to be seen in the process list
    _sql(hosts, "galera1", "CREATE DATABASE IF NOT EXISTS osops_t; USE osops_t; CREATE TABLE IF NOT EXISTS osops_t.rows "
                           "(id INT PRIMARY KEY, v VARCHAR(200)); DELETE FROM osops_t.rows; "
                           "INSERT INTO osops_t.rows SELECT seq, REPEAT('x', 200) FROM seq_1_to_60000")
    # every command line on galera1 that runs a MariaDB client program, while the task files run
    hosts.sh("galera1", "rm -rf /tmp/argv-seen /tmp/argv-stop /var/backups/osops-t")
    hosts.podman("exec", "-d", "galera1", "bash", "-c",
                 "while [ ! -e /tmp/argv-stop ]; do for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); "
                 "case \"$c\" in bash\\ -c\\ while*) ;; *mysqldump*|*mariadb-dump*|mysql\\ *|mariadb\\ *) echo \"$c\" >> /tmp/argv-seen;; esac; "
                 "done; done")
    try:
        backup = _rolling_upgrade_tasks(hosts, tmp_path, "backup.yml", "dump osops_t", rolling_upgrade__database="osops_t")
        assert backup.returncode == 0, backup.stdout[-6000:]
        [dump] = hosts.sh("galera1", "ls /var/backups/osops-t/t/").split()
        _sql(hosts, "galera1", "DELETE FROM osops_t.rows WHERE id > 100")
        restore = _rolling_upgrade_tasks(hosts, tmp_path, "restore.yml", "restore osops_t",
                                         rolling_upgrade__backup=["osops_t", "/var/backups/osops-t/t/" + dump, ""])
        assert restore.returncode == 0, restore.stdout[-6000:]
    finally:
        hosts.sh("galera1", "touch /tmp/argv-stop")
    seen = hosts.sh("galera1", "sort -u /tmp/argv-seen", check=False).stdout
    assert "mysqldump --defaults-extra-file=" in seen and "osops_t" in seen, seen   # the watch saw the dump
    for fragment in (PASSWORD, "uo\"te", "--password", " -p"):
        assert fragment not in seen, seen
    for out in (backup.stdout, restore.stdout):
        assert "uo\"te" not in out
    assert _sql(hosts, "galera1", "SELECT COUNT(*) FROM osops_t.rows") == "60000"     # the dump restores
    assert hosts.sh("galera1", "ls -A /var/backups/osops-t") == "t\nt-galera1.state"  # no option file left
    _sql(hosts, "galera1", "DROP DATABASE osops_t; DROP USER '%s'@'localhost'" % DUMPER)
