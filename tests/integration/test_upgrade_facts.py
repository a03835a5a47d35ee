"""osops.toolkit.upgrade_facts against the sandbox: discovery as the APIs answer it, versions as the DB holds them."""
import os
from urllib.parse import urlsplit

import pymysql
import pytest
import requests
import yaml

DB = {"host": "127.0.0.1", "port": 3306, "user": "openstack", "password": "secret", "name": "nova"}
OLD_HOST = "osops-test-old-compute"


def facts_task(**args):
    return [{"name": "upgrade_facts", "osops.toolkit.upgrade_facts": args}]


def db_run(sql, args=None):
    connection = pymysql.connect(host=DB["host"], port=DB["port"], user=DB["user"], password=DB["password"],
                                 database=DB["name"], autocommit=True)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()
    finally:
        connection.close()


def db_versions():
    """(binary, host) -> version of the services not deleted, read here, not by the module."""
    rows = db_run("SELECT `binary`, `host`, `version` FROM services WHERE deleted = 0")
    return dict(((b, h), v) for b, h, v in rows)


def root_versions(cloud, service_type):
    """The unversioned root document of a service's catalog endpoint, fetched here."""
    [entry] = [e for e in cloud.service_catalog if e["type"] == service_type]
    [endpoint] = [e for e in entry["endpoints"] if e["interface"] == "public"]
    parts = urlsplit(endpoint["url"])
    return requests.get("%s://%s/" % (parts.scheme, parts.netloc), timeout=10).json()


@pytest.fixture
def old_compute():
    """A nova-compute row one service version below the others, as an un-upgraded compute leaves it.

    Not the row of a running sandbox compute: a nova-compute reads its version back from the row
    at its next heartbeat, and once the row is restored every heartbeat fails with ServiceTooOld
    (the service stays down until restarted). ``old_compute(up=False)`` makes its last heartbeat
    two hours old, so that the compute API reports it down.
    """
    before = db_versions()
    [current] = set(v for (binary, _host), v in before.items() if binary == "nova-compute")

    def make(up=True):
        seen = "UTC_TIMESTAMP()" if up else "UTC_TIMESTAMP() - INTERVAL 2 HOUR"
        db_run("INSERT INTO services (created_at, updated_at, last_seen_up, host, `binary`, topic, report_count, "
               "disabled, deleted, version, uuid, forced_down) VALUES (%s, %s, %s, %%s, 'nova-compute', 'compute', "
               "0, 0, 0, %%s, UUID(), 0)" % (seen, seen, seen), (OLD_HOST, current - 1))
        return current - 1
    try:
        yield make
    finally:
        db_run("DELETE FROM services WHERE host = %s", (OLD_HOST,))
    assert db_versions() == before


def test_discovery_and_service_versions_equal_what_the_cloud_says(ansible, cloud):
    run = ansible(tasks=facts_task(nova_database=DB))
    assert run.rc == 0, run.output
    result = run.task()
    apis = result["apis"]
    assert sorted(apis) == ["baremetal", "block-storage", "compute", "identity", "image", "network", "placement"]
    assert all(api["error"] is None for api in apis.values()), apis

    [compute_v21] = [v for v in root_versions(cloud, "compute")["versions"] if v["id"] == "v2.1"]
    assert apis["compute"]["max_microversion"] == compute_v21["version"]
    assert apis["compute"]["min_microversion"] == compute_v21["min_version"]
    assert apis["compute"]["api_version"] == "2.1"
    [placement] = root_versions(cloud, "placement")["versions"]
    assert (apis["placement"]["min_microversion"], apis["placement"]["max_microversion"]) == \
        (placement["min_version"], placement["max_version"])
    ironic = root_versions(cloud, "baremetal")["default_version"]
    assert (apis["baremetal"]["min_microversion"], apis["baremetal"]["max_microversion"]) == \
        (ironic["min_version"], ironic["version"])
    [cinder_v3] = [v for v in root_versions(cloud, "block-storage")["versions"] if v["id"] == "v3.0"]
    assert apis["block-storage"]["max_microversion"] == cinder_v3["version"]
    assert apis["network"]["max_microversion"] is None and apis["network"]["api_version"] == "2.0"

    api_services = sorted((s.binary, s.host, s.state) for s in cloud.compute.services())
    assert sorted((s["binary"], s["host"], s["state"]) for s in result["compute_services"]) == api_services

    in_db = db_versions()
    reported = dict(((binary, host), version) for binary, entry in result["service_versions"].items()
                    for host, version in entry["hosts"].items())
    assert reported == in_db
    assert len(set(in_db.values())) == 1, in_db
    [version] = set(in_db.values())
    assert result["skew"] == {"has_skew": False, "min": version, "max": version, "binaries": [], "lagging": [],
                              "compute_behind_control": False}


def test_a_lagging_compute_is_skew_and_fails_the_gate(ansible, old_compute):
    old = old_compute()
    run = ansible(tasks=facts_task(nova_database=DB, service_types=["compute"]))
    assert run.rc == 0, run.output
    skew = run.task()["skew"]
    assert skew["has_skew"] and skew["compute_behind_control"]
    assert skew["binaries"] == ["nova-compute"]
    assert skew["lagging"] == [{"binary": "nova-compute", "host": OLD_HOST, "version": old}]
    assert (skew["min"], skew["max"]) == (old, old + 1)
    assert run.task()["service_versions"]["nova-compute"]["hosts"][OLD_HOST] == old
    assert run.task()["service_versions"]["nova-compute"]["min"] == old

    gate = ansible(tasks=facts_task(nova_database=DB, fail_on_skew=True))
    assert gate.rc != 0
    assert gate.task()["msg"] == ("Nova service versions differ (%d to %d): behind the newest are nova-compute on "
                                  "%s at %d." % (old, old + 1, OLD_HOST, old))


def test_skip_down_leaves_out_a_compute_the_api_reports_down(ansible, cloud, old_compute):
    old_compute(up=False)
    assert [s.state for s in cloud.compute.services(binary="nova-compute") if s.host == OLD_HOST] == ["down"]
    run = ansible(tasks=facts_task(nova_database=DB, service_types=[], skip_down=True, fail_on_skew=True))
    assert run.rc == 0, run.output
    assert OLD_HOST not in run.task()["service_versions"]["nova-compute"]["hosts"]
    assert run.task()["skew"]["has_skew"] is False
    assert [s["state"] for s in run.task()["compute_services"] if s["host"] == OLD_HOST] == ["down"]
    counted = ansible(tasks=facts_task(nova_database=DB, service_types=[], fail_on_skew=True))
    assert counted.rc != 0 and "nova-compute on %s at" % OLD_HOST in counted.task()["msg"]


def test_min_microversions_gate(ansible, cloud):
    [compute_v21] = [v for v in root_versions(cloud, "compute")["versions"] if v["id"] == "v2.1"]
    major, minor = compute_v21["version"].split(".")
    live = ansible(tasks=facts_task(min_microversions={"compute": compute_v21["version"], "volumev3": "3.0"}))
    assert live.rc == 0, live.output
    assert live.task()["apis"]["block-storage"]["catalog_type"] == "block-storage"

    above = "%s.%d" % (major, int(minor) + 1)
    run = ansible(tasks=facts_task(min_microversions={"compute": above}))
    assert run.rc != 0
    assert run.task()["msg"] == ("The cloud's APIs are older than required: compute needs microversion %s but "
                                 "the cloud's maximum is %s." % (above, compute_v21["version"]))
    assert run.task()["apis"]["compute"]["max_microversion"] == compute_v21["version"]

    unquoted = ansible(tasks=facts_task(min_microversions={"compute": 2.1}))
    assert unquoted.rc != 0 and "quoted string" in unquoted.task()["msg"]
    missing = ansible(tasks=facts_task(min_microversions={"orchestration": "1.0"}))
    assert missing.rc != 0 and "the catalog has no orchestration service" in missing.task()["msg"]


def test_a_failed_discovery_is_reported_not_fatal(ansible, sandbox):
    with open(sandbox) as handle:
        osbox = yaml.safe_load(handle)["clouds"]["osbox"]
    broken = dict(osbox, placement_endpoint_override="http://127.0.0.1:9/")
    run = ansible(tasks=facts_task(cloud=broken, service_types=["compute", "placement"]))
    assert run.rc == 0, run.output
    apis = run.task()["apis"]
    assert apis["compute"]["error"] is None and apis["compute"]["max_microversion"]
    assert apis["placement"]["endpoint"] == "http://127.0.0.1:9/"
    assert apis["placement"]["max_microversion"] is None
    assert apis["placement"]["error"].startswith("version discovery at http://127.0.0.1:9/ failed: Unable to "
                                                 "establish connection to http://127.0.0.1:9"), apis["placement"]
    gated = ansible(tasks=facts_task(cloud=broken, service_types=[], min_microversions={"placement": "1.0"}))
    assert gated.rc != 0
    assert gated.task()["msg"].startswith("The cloud's APIs are older than required: placement needs microversion "
                                          "1.0 but its version discovery failed: version discovery at")


def test_a_wrong_database_password_is_a_clear_error(ansible):
    run = ansible(tasks=facts_task(nova_database=dict(DB, password="not-the-password")))
    assert run.rc != 0
    msg = run.task()["msg"]
    assert msg.startswith("Could not read the services table of the nova database openstack@127.0.0.1:3306/nova: "
                          "Access denied for user 'openstack'"), msg
    assert "MySQL error 1045" in msg
    assert "Traceback" not in run.output and "not-the-password" not in run.output


def test_fail_on_skew_needs_the_database_and_check_mode_reads_the_same(ansible):
    run = ansible(tasks=facts_task(fail_on_skew=True))
    assert run.rc != 0 and "nova_database" in run.task()["msg"]
    checked = ansible(tasks=facts_task(nova_database=DB, service_types=["compute"]), check=True)
    assert checked.rc == 0 and checked.task()["changed"] is False
    assert list(checked.task()["apis"]) == ["compute"] and checked.task()["skew"]["has_skew"] is False


def test_the_lowest_supported_openstacksdk_reads_the_same(ansible, cloud):
    """The sandbox's own venv has requirements.txt's lower bound of openstacksdk (and PyMySQL)."""
    python = os.path.join(os.environ.get("OSBOX_HOME", "/var/cache/osops/sandbox"), "venv", "bin", "python")
    run = ansible(tasks=facts_task(nova_database=DB, service_types=["compute", "volumev3"]),
                  extra_vars={"ansible_python_interpreter": python})
    assert run.rc == 0, run.output
    [compute_v21] = [v for v in root_versions(cloud, "compute")["versions"] if v["id"] == "v2.1"]
    assert run.task()["apis"]["compute"]["max_microversion"] == compute_v21["version"]
    assert run.task()["apis"]["block-storage"]["error"] is None
    assert run.task()["skew"]["has_skew"] is False
