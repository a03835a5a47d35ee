"""osops.toolkit.upgrade_facts against the sandbox: discovery as the APIs answer it, versions as the DB holds them."""
from urllib.parse import urlsplit

import pymysql
import pytest
import requests

DB = {"host": "127.0.0.1", "port": 3306, "user": "openstack", "password": "secret", "name": "nova"}
LOWERED_HOST = "fake-compute-2"


def facts_task(**args):
    return [{"name": "upgrade_facts", "osops.toolkit.upgrade_facts": args}]


def db_connect():
    return pymysql.connect(host=DB["host"], port=DB["port"], user=DB["user"], password=DB["password"],
                           database=DB["name"], autocommit=True)


def db_versions():
    """(binary, host) -> version of the services not deleted, read here, not by the module."""
    connection = db_connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT `binary`, `host`, `version` FROM services WHERE deleted = 0")
            return dict(((b, h), v) for b, h, v in cursor.fetchall())
    finally:
        connection.close()


def set_version(host, version):
    connection = db_connect()
    try:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE services SET version = %s WHERE `binary` = 'nova-compute' AND host = %s "
                           "AND deleted = 0", (version, host))
    finally:
        connection.close()


def root_versions(cloud, service_type):
    """The unversioned root document of a service's catalog endpoint, fetched here."""
    [entry] = [e for e in cloud.service_catalog if e["type"] == service_type]
    [endpoint] = [e for e in entry["endpoints"] if e["interface"] == "public"]
    parts = urlsplit(endpoint["url"])
    return requests.get("%s://%s/" % (parts.scheme, parts.netloc), timeout=10).json()


@pytest.fixture
def lowered_compute():
    """fake-compute-2's service version one below what it wrote; the row restored afterwards."""
    original = db_versions()[("nova-compute", LOWERED_HOST)]
    set_version(LOWERED_HOST, original - 1)
    try:
        yield original - 1
    finally:
        set_version(LOWERED_HOST, original)
    assert db_versions()[("nova-compute", LOWERED_HOST)] == original


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


def test_a_lagging_compute_is_skew_and_fails_the_gate(ansible, lowered_compute):
    run = ansible(tasks=facts_task(nova_database=DB, service_types=["compute"]))
    assert run.rc == 0, run.output
    skew = run.task()["skew"]
    assert skew["has_skew"] and skew["compute_behind_control"]
    assert skew["binaries"] == ["nova-compute"]
    assert skew["lagging"] == [{"binary": "nova-compute", "host": LOWERED_HOST, "version": lowered_compute}]
    assert skew["min"] == lowered_compute and skew["max"] == lowered_compute + 1
    assert run.task()["service_versions"]["nova-compute"]["hosts"][LOWERED_HOST] == lowered_compute
    assert db_versions()[("nova-compute", LOWERED_HOST)] == lowered_compute  # nova did not rewrite it meanwhile

    gate = ansible(tasks=facts_task(nova_database=DB, fail_on_skew=True))
    assert gate.rc != 0
    assert gate.task()["msg"] == ("Nova service versions differ (%d to %d): behind the newest are nova-compute on "
                                  "%s at %d." % (lowered_compute, lowered_compute + 1, LOWERED_HOST, lowered_compute))


@pytest.mark.usefixtures("computes_enabled")
def test_skip_down_leaves_out_a_forced_down_compute(ansible, cloud, lowered_compute):
    [svc] = [s for s in cloud.compute.services(binary="nova-compute") if s.host == LOWERED_HOST]
    cloud.compute.update_service_forced_down(svc, host=LOWERED_HOST, binary="nova-compute", forced=True)
    run = ansible(tasks=facts_task(nova_database=DB, service_types=[], skip_down=True, fail_on_skew=True))
    assert run.rc == 0, run.output
    assert LOWERED_HOST not in run.task()["service_versions"]["nova-compute"]["hosts"]
    assert run.task()["skew"]["has_skew"] is False
    assert [s["state"] for s in run.task()["compute_services"] if s["host"] == LOWERED_HOST] == ["down"]
    counted = ansible(tasks=facts_task(nova_database=DB, service_types=[], fail_on_skew=True))
    assert counted.rc != 0 and LOWERED_HOST in counted.task()["msg"]


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
