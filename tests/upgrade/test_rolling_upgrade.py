"""A real rolling upgrade: the upgrade cloud starts at 2026.1 and is upgraded to 2026.2 by
playbooks/rolling_upgrade.yml, with servers created before it and a client calling every API
through haproxy the whole time. The tests run in order and share the cloud."""
import datetime
import glob
import json
import os
import subprocess
import sys
import time

import openstack
import pymysql
import pytest

import upcloud

STATE = {}
PLAYBOOKS = os.path.join(upcloud.ROOT, "playbooks")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    upcloud.enter_netns()
    main_env = {k: v for k, v in os.environ.items() if not k.startswith("OSBOX_")}
    if not os.path.exists(os.path.join(upcloud.NEW_VENV, ".osbox-lock")):
        subprocess.run([upcloud.OSBOX, "install"], env=dict(main_env, OSBOX_HOME=os.path.dirname(upcloud.NEW_VENV)),
                       check=True)
    upcloud.osbox("install")
    upcloud.osbox("reset")
    subprocess.run(["rm", "-rf", upcloud.HOME + "/backups", upcloud.HOME + "/upgrade-state"], check=True)
    upcloud.osbox("start")
    upcloud.start_haproxy()
    os.environ["OS_CLIENT_CONFIG_FILE"] = os.path.join(upcloud.HOME, "clouds.yaml")
    conn = openstack.connect(cloud="osbox")
    STATE["tmp"] = tmp_path_factory.mktemp("upgrade")
    STATE["before"] = schema()
    STATE["microversion_before"] = nova_max_microversion()
    image = conn.image.find_image("tiny", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    servers = [conn.compute.create_server(name="upgrade-%s" % host, image_id=image.id, flavor_id=flavor.id,
                                          networks="none", availability_zone="nova:" + host)
               for host in upcloud.COMPUTES]
    servers = [conn.compute.wait_for_server(s, wait=180, interval=1) for s in servers]
    conn.compute.stop_server(servers[1])
    conn.compute.wait_for_server(servers[1], status="SHUTOFF", wait=120, interval=1)
    STATE["servers"] = [s.id for s in servers]
    yield conn
    subprocess.run(["pkill", "-F", os.path.join(upcloud.HOME, "run", "haproxy.pid")], check=False)
    upcloud.osbox("stop", check=False)


def db(query):
    conn = pymysql.connect(host="127.0.0.1", user="openstack", password="secret")
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return cur.fetchall()
    finally:
        conn.close()


def schema():
    """The schema versions the upgrade changes, and nova's service versions by host."""
    return dict(
        nova=db("SELECT version_num FROM nova.alembic_version")[0][0],
        ironic=db("SELECT version_num FROM ironic.alembic_version")[0][0],
        neutron=sorted(r[0] for r in db("SELECT version_num FROM neutron.alembic_version")),
        services={(b, h): v for b, h, v in db("SELECT `binary`, host, version FROM nova.services WHERE deleted = 0")},
    )


def nova_max_microversion():
    import requests
    versions = requests.get("http://%s:8774/" % upcloud.VIP, timeout=10).json()["versions"]
    return [v["version"] for v in versions if v["id"] == "v2.1"][0]


def links():
    return {os.path.basename(p): os.readlink(p) for p in glob.glob(upcloud.HOME + "/venvs/*")}


def state_files():
    return sorted(os.listdir(upcloud.HOME + "/upgrade-state")) if os.path.isdir(upcloud.HOME + "/upgrade-state") else []


def backups():
    return sorted(glob.glob(upcloud.HOME + "/backups/*/*.sql.gz"))


def pinned():
    import configparser
    conf = configparser.RawConfigParser(strict=False)
    conf.read(os.path.join(upcloud.HOME, "etc", "nova", "nova.conf"))
    return conf.has_option("upgrade_levels", "compute")


def playbook(name, *args, host_vars=None, **inventory_changes):
    inventory = upcloud.write_inventory(str(STATE["tmp"] / "inventory.yml"), sys.executable, host_vars=host_vars,
                                        **inventory_changes)
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOCALHOST_WARNING="false")
    proc = subprocess.run(["ansible-playbook", "-i", inventory, os.path.join(PLAYBOOKS, name)] + list(args),
                          capture_output=True, text=True, env=env, check=False)
    STATE["runs"] = STATE.get("runs", 0) + 1
    (STATE["tmp"] / ("%02d-%s.json" % (STATE["runs"], name))).write_text(proc.stdout)   # kept for a post-mortem
    try:
        parsed = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("no JSON from ansible-playbook (rc %s):\n%s\n%s"
                             % (proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc.returncode, parsed


def results(parsed, task_prefix):
    """Every host result of the tasks whose name starts with task_prefix (after the role's name),
    loop items flattened. At least one such task must have run."""
    found, tasks = [], 0
    for play in parsed["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].split(" : ", 1)[-1].startswith(task_prefix):
                tasks += 1
                for result in task["hosts"].values():
                    found.extend(result.get("results") or [result])
    assert tasks, "no task named %r ran" % task_prefix
    return found


def failure(parsed):
    return "\n".join(r.get("msg", "") for play in parsed["plays"] for t in play["tasks"]
                     for r in t["hosts"].values() if r.get("failed"))


def test_check_mode_changes_nothing(cloud):
    before = (links(), schema(), pinned())
    rc, parsed = playbook("rolling_upgrade.yml", "--check")
    assert rc == 0, failure(parsed)
    assert any(r.get("changed") for r in results(parsed, "Point ")), "check mode should report the switches"
    assert (links(), schema(), pinned()) == before
    assert state_files() == [] and backups() == []


def test_limit_cannot_start_a_later_stage(cloud):
    rc, parsed = playbook("rolling_upgrade.yml", "--limit", "cmp1")
    assert rc != 0
    assert "next unfinished stage is identity (keystone) on ctl1, ctl2, outside --limit" in failure(parsed)
    assert state_files() == [] and backups() == []
    assert set(links().values()) == {upcloud.OLD_VENV}


def test_upgrade_fails_midway_with_the_apis_answering(cloud):
    STATE["prober"] = upcloud.Prober().__enter__()
    # an inventory mistake: a misspelt process name for cmp2's nova-compute, which its restart refuses
    rc, parsed = playbook("rolling_upgrade.yml", host_vars={"cmp2": {"rolling_upgrade_host_processes": {
        "nova_compute": ["nova-compte-up-compute-2"]}}})
    assert rc != 0
    assert parsed["stats"]["ctl1"]["failures"] == 1
    assert "unknown service nova-compte-up-compute-2" in json.dumps(parsed)
    # a restarted nova-compute writes its new service version a few seconds after it starts
    for _attempt in range(30):
        now = schema()
        if now["services"][("nova-compute", "up-compute-1")] > now["services"][("nova-compute", "up-compute-2")]:
            break
        time.sleep(2)
    assert now["nova"] != STATE["before"]["nova"] and now["ironic"] != STATE["before"]["ironic"]
    assert nova_max_microversion() != STATE["microversion_before"]
    assert pinned(), "compute RPC must stay pinned while a compute runs the old release"
    assert now["services"][("nova-compute", "up-compute-1")] > now["services"][("nova-compute", "up-compute-2")]
    assert links()["nova-compute-up-compute-2"] == upcloud.OLD_VENV
    assert links()["keystone@127.0.0.2"] == upcloud.NEW_VENV
    STATE["backups"] = backups()
    assert {os.path.basename(b).split("-")[0] for b in STATE["backups"]} == {
        "keystone", "glance", "placement", "nova_api", "nova", "nova_cell0", "neutron", "cinder", "ironic"}


def test_rerun_resumes_where_it_stopped(cloud):
    rc, parsed = playbook("rolling_upgrade.yml")
    prober = STATE.pop("prober")
    prober.__exit__(None, None, None)
    assert rc == 0, failure(parsed)
    # nothing before the failure is done again: no dump, no migration, and only the computes the
    # failure kept waiting restart (cmp2's, and ctl1's Ironic compute, after it in the group)
    assert backups() == STATE["backups"]
    assert not [r for r in results(parsed, "Expand and migrate") if not r.get("skipped")]
    restarted = sorted(r["cmd"][-1] for r in results(parsed, "Restart ") if r.get("changed"))
    assert restarted == ["nova-compute-ironic-compute", "nova-compute-up-compute-2"]
    assert "point of no return" in json.dumps(results(parsed, "Stop before the point of no return"))
    now = schema()
    assert set(now["services"].values()) == {max(now["services"].values())}
    assert links()["nova-compute-up-compute-2"] == upcloud.NEW_VENV
    assert pinned(), "the pin is released only after the point of no return"
    # the stateless APIs never failed through haproxy while controllers restarted
    assert all(prober.calls[name] > 50 for name in upcloud.APIS), prober.summary()
    assert all(not fails for fails in prober.failures.values()), (prober.summary(), prober.failures)
    STATE["probe_summary"] = prober.summary()
    print("API calls through haproxy during runs 3 and 4:", json.dumps(prober.summary(), sort_keys=True))
    (STATE["tmp"] / "probe-summary.json").write_text(json.dumps(prober.summary(), sort_keys=True))


def _servers_usable(conn):
    """The servers from before are there, in their states, and answer to actions. The fake virt
    driver forgets its guests when nova-compute restarts (libvirt would not); a hard reboot
    brings such a guest back, as nova does with libvirt."""
    active, stopped = [conn.compute.get_server(i) for i in STATE["servers"]]
    assert (active.status, stopped.status) == ("ACTIVE", "SHUTOFF")
    for server in (active, stopped):
        conn.compute.reboot_server(server, "HARD")
        conn.compute.wait_for_server(server, status="ACTIVE", wait=120, interval=1)
    conn.compute.stop_server(stopped)
    conn.compute.wait_for_server(stopped, status="SHUTOFF", wait=120, interval=1)
    conn.compute.stop_server(active)
    conn.compute.wait_for_server(active, status="SHUTOFF", wait=120, interval=1)
    conn.compute.start_server(active)
    conn.compute.wait_for_server(active, status="ACTIVE", wait=120, interval=1)
    image = conn.image.find_image("tiny", ignore_missing=False)
    flavor = conn.compute.find_flavor("m1.tiny", ignore_missing=False)
    new = conn.compute.create_server(name="upgrade-new", image_id=image.id, flavor_id=flavor.id, networks="none",
                                     availability_zone="nova:" + upcloud.COMPUTES[1])
    new = conn.compute.wait_for_server(new, wait=180, interval=1)
    assert new.compute_host == upcloud.COMPUTES[1]
    conn.compute.delete_server(new)
    conn.compute.wait_for_delete(new, wait=120, interval=1)


def test_servers_from_before_are_usable_after(cloud):
    _servers_usable(cloud)


def _started(parsed, task_prefix):
    """When the first task whose name starts with task_prefix began (naive UTC, as the databases keep it)."""
    starts = [task["task"]["duration"]["start"] for play in parsed["plays"] for task in play["tasks"]
              if task["task"]["name"].split(" : ", 1)[-1].startswith(task_prefix)]
    assert starts, "no task named %r ran" % task_prefix
    return datetime.datetime.fromisoformat(min(starts).rstrip("Z")).replace(tzinfo=None)


def _rows_written_between(databases, start, end):
    """Rows of these databases created, updated or deleted in [start, end): {table.column: count}."""
    columns = db("SELECT table_schema, table_name, column_name FROM information_schema.columns "
                 "WHERE table_schema IN (%s) AND column_name IN ('created_at', 'updated_at', 'deleted_at') "
                 "AND data_type IN ('datetime', 'timestamp')" % ", ".join("'%s'" % d for d in databases))
    found = {}
    for schema_name, table, column in columns:
        [(count,)] = db("SELECT COUNT(*) FROM `%s`.`%s` WHERE `%s` >= '%s' AND `%s` < '%s'"
                        % (schema_name, table, column, start, column, end))
        if count:
            found["%s.%s.%s" % (schema_name, table, column)] = count
    return found


def test_rollback_restores_the_databases_and_the_old_release(cloud):
    # a client creates keypairs, networks and images through haproxy the whole time
    with upcloud.Writer() as writer:
        rc, parsed = playbook("rolling_upgrade_rollback.yml")
    assert rc == 0, failure(parsed)
    print("creates through haproxy during the rollback:", json.dumps(writer.summary(), sort_keys=True))
    # every writer was stopped before the first database was dropped, and nothing ran until every
    # one was restored: no row was written between the first drop and the first start. The
    # client's creates failed in between (the announced outage), and succeeded before and after.
    restored = sorted({os.path.basename(b).split("-")[0] for b in STATE["backups"]})
    dropped, started = _started(parsed, "Drop "), _started(parsed, "Start with a command")
    assert dropped < started
    assert [t for t in writer.created if t < dropped] and [t for t in writer.created if t > started], writer.summary()
    assert _rows_written_between(restored, dropped, started) == {}
    stopped = [r["rolling_upgrade_process"] for r in results(parsed, "Stop with a command") if r.get("changed")]
    assert {"keystone", "keystone@127.0.0.2", "nova-conductor", "ironic-conductor", "cinder-volume"} <= set(stopped)
    now = schema()
    assert (now["nova"], now["ironic"], now["neutron"]) == (
        STATE["before"]["nova"], STATE["before"]["ironic"], STATE["before"]["neutron"])
    # every process is back on the old release, and the link the failed run made for the misspelt
    # process is gone
    assert set(links().values()) == {upcloud.OLD_VENV}
    assert "nova-compte-up-compute-2" not in links()
    assert not pinned() and state_files() == []
    assert nova_max_microversion() == STATE["microversion_before"]
    _servers_usable(cloud)
    assert set(schema()["services"].values()) == set(STATE["before"]["services"].values())


def test_upgrade_to_the_end_past_the_point_of_no_return(cloud):
    rc, parsed = playbook("rolling_upgrade.yml", rolling_upgrade_confirm_point_of_no_return=True)
    assert rc == 0, failure(parsed)
    assert not pinned()
    with open(os.path.join(upcloud.HOME, "upgrade-state", "2026.2-db.state")) as handle:
        lines = handle.read().splitlines()
    assert "point-of-no-return" in lines and lines[-1] == "finalized"
    assert [r for r in results(parsed, "Run the online data migrations") if r.get("changed")]
    now = schema()
    assert now["nova"] != STATE["before"]["nova"]
    assert nova_max_microversion() != STATE["microversion_before"]
    _servers_usable(cloud)
    # from here the rollback refuses, and changes nothing
    before = (links(), schema())
    rc, parsed = playbook("rolling_upgrade_rollback.yml")
    assert rc != 0 and "past the point of no return" in failure(parsed)
    assert (links(), schema()) == before
