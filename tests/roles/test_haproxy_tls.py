"""osops.toolkit.haproxy_tls on real hosts (extensions/molecule/haproxy_tls): haproxy in front of
three MariaDB Galera nodes that also serve two stand-in HTTP APIs.

The molecule sequence (create, prepare, check, converge, idempotence, verify) runs first; then
these tests talk to haproxy from outside as clients do (TLS, HTTP, MySQL), break the writer,
drain servers, and re-run the role with bad or changed input. They run in order and share the
hosts; each test leaves the hosts as converge made them.
"""
import datetime
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import threading
import time

import pymysql
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SCENARIO = "haproxy_tls"
NODES = ["haproxy-lb"]
GROUP = "haproxy"
LB = "haproxy-lb"
DBS = ["haproxy-db1", "haproxy-db2", "haproxy-db3"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the scenario's test CA, made by prepare.yml on this machine (extensions/molecule/haproxy_tls/vars/pki.yml)
TEST_CA = os.path.join(os.environ.get("OSOPS_CACHE", os.path.join(ROOT, "tests", "output")),
                       "roles", SCENARIO, "pki", "ca.pem")


def _insecure_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _https(hosts, port, path="/", auth=None, timeout=10):
    conn = http.client.HTTPSConnection(hosts.ip(LB), port, timeout=timeout, context=_insecure_context())
    headers = {}
    if auth:
        import base64
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _api(hosts, port=5000, path="/", timeout=10):
    status, headers, body = _https(hosts, port, path, timeout=timeout)
    assert status == 200, (status, body[:300])
    return headers, json.loads(body)


def _db(hosts, timeout=5):
    return pymysql.connect(host=hosts.ip(LB), port=3306, user="osops", password="osops-test", database="osops",
                           connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout, autocommit=True)


def _writer(hosts):
    conn = _db(hosts)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT @@hostname")
            return cursor.fetchone()[0]
    finally:
        conn.close()


def _until(what, check, timeout=30, interval=0.2):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Exception as exc:  # pylint: disable=broad-except
            last = exc
        if last is True:
            return
        time.sleep(interval)
    pytest.fail("%s: not reached in %ss (last: %r)" % (what, timeout, last))


def _fingerprint(hosts):
    """What proves haproxy was not touched: its configuration and its master process."""
    return (hosts.sh(LB, "sha256sum /etc/haproxy/haproxy.cfg"),
            hosts.sh(LB, "systemctl show -p MainPID --value haproxy"),
            hosts.sh(LB, "ls -l --time-style=+%s /etc/haproxy/certs"))


def _converge(hosts, *extra_vars, diff=False):
    """The role as converge.yml runs it, on the haproxy host only, with changed settings."""
    backends = [{"name": db, "address": hosts.ip(db)} for db in DBS]
    args = ["-e", json.dumps({"scenario_backends": backends})] + (["--diff"] if diff else [])
    for extra in extra_vars:
        args += ["-e", json.dumps(extra)]
    proc = hosts.playbook("extensions/molecule/haproxy_tls/role.yml", *args,
                          label="haproxy_tls role.yml %s" % " ".join(sorted(k for e in extra_vars for k in e)))
    return proc.returncode, proc.stdout + proc.stderr


def _handshake(address, port, version):
    """Whether a TLS handshake at exactly ``version`` succeeds (the client allows old protocols)."""
    context = _insecure_context()
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = version
    context.maximum_version = version
    try:
        with socket.create_connection((address, port), timeout=5) as raw:
            with context.wrap_socket(raw) as tls:
                return tls.version()
    except (ssl.SSLError, ConnectionResetError):
        return None


@pytest.fixture(scope="module")
def old_tls_server():
    """A local server that speaks TLS 1.0 to 1.3: proves this client can offer the old versions."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(key, days=1)
    directory = os.path.join(os.environ.get("OSOPS_CACHE", "/tmp"), "roles", SCENARIO)
    os.makedirs(directory, exist_ok=True)
    pem = os.path.join(directory, "old-tls-server.pem")
    with open(pem, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = ssl.TLSVersion.TLSv1
    context.load_cert_chain(pem)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _addr = listener.accept()
            except socket.timeout:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


def _certificate(key, days, name="haproxy-lb"):
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))


def test_tls_1_2_and_1_3_only(hosts, old_tls_server):
    for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        assert _handshake("127.0.0.1", old_tls_server, version) is not None, "the client cannot offer %s" % version
        assert _handshake(hosts.ip(LB), 5000, version) is None, "haproxy accepted %s" % version
    assert _handshake(hosts.ip(LB), 5000, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert _handshake(hosts.ip(LB), 5000, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"


def _tls_ports(hosts):
    """The port of every TLS bind line haproxy reads (haproxy.cfg and the stats file)."""
    lines = hosts.sh(LB, "grep -h '^ *bind .* ssl ' /etc/haproxy/haproxy.cfg /etc/haproxy/osops-stats.cfg")
    return sorted(int(re.match(r"\s*bind \S+:(\d+) ", line).group(1)) for line in lines.splitlines())


def _mozilla_verdicts(output):
    """sslyze's Mozilla check per port: the names of the criteria it failed (empty: compliant)."""
    verdicts, port = {}, None
    for line in output[output.index("Checking results against Mozilla"):].splitlines():
        server = re.match(r"\s+\S+:(\d+)(?: \S+)?: (OK - Compliant|FAILED - Not compliant|ERROR)", line)
        if server:
            port = int(server.group(1))
            verdicts[port] = ["scan error"] if server.group(2) == "ERROR" else []
            continue
        issue = re.match(r"\s+\* (\w+): ", line)
        if issue and port is not None:
            verdicts[port].append(issue.group(1))
    return verdicts


def test_every_tls_frontend_is_compliant_with_mozilla_intermediate(hosts, sslyze):
    """sslyze grades every TLS frontend (the APIs and the stats page) against Mozilla's intermediate profile.

    The certificate comes from the scenario's test CA, which sslyze is given: with it nothing is left
    that only a public CA could satisfy (sslyze's Mozilla check does not look at OCSP stapling or
    certificate transparency), so every frontend must be compliant outright.
    """
    ports = _tls_ports(hosts)
    assert ports == [1936, 5000, 8774]
    targets = ["%s:%d{%s}" % (LB, port, hosts.ip(LB)) for port in ports]
    proc = subprocess.run([sslyze, "--mozilla_config=intermediate", "--certinfo_ca_file=%s" % TEST_CA] + targets,
                          capture_output=True, text=True, timeout=300, check=False)
    assert "Checking results against Mozilla" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = proc.stdout[proc.stdout.index("Checking results against Mozilla"):]
    assert _mozilla_verdicts(proc.stdout) == {port: [] for port in ports}, report
    assert proc.returncode == 0, report


def test_requests_reach_every_backend_with_forwarded_proto_and_hsts(hosts):
    seen = set()
    for _attempt in range(12):
        headers, body = _api(hosts, 8774, "/v2.1")
        seen.add(body["host"])
        received = dict((name.lower(), value) for name, value in body["headers"].items())
        assert received["x-forwarded-proto"] == "https"
        assert received["x-forwarded-for"]
        assert headers["strict-transport-security"] == "max-age=63072000"
    assert seen == set(DBS)


def test_plain_http_is_redirected_to_https(hosts):
    conn = http.client.HTTPConnection(hosts.ip(LB), 80, timeout=5)
    conn.request("GET", "/v3/auth/tokens")
    response = conn.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == "https://%s/v3/auth/tokens" % hosts.ip(LB)


def test_stats_page_needs_the_password(hosts):
    assert _https(hosts, 1936)[0] == 401
    assert _https(hosts, 1936, auth="admin:wrong-password")[0] == 401
    status, _headers, body = _https(hosts, 1936, "/;csv", auth="admin:osops-stats-test")
    assert status == 200
    assert b"galera,haproxy-db1" in body


def test_galera_has_exactly_one_writer(hosts):
    assert {_writer(hosts) for _attempt in range(10)} == {"haproxy-db1"}
    rc, server = hosts.module(LB, "osops.toolkit.haproxy_server",
                              {"backend": "galera", "server": "haproxy-db2", "state": "ready", "wait": False})
    assert rc == 0 and server["changed"] is False
    stat = _https(hosts, 1936, "/;csv", auth="admin:osops-stats-test")[2].decode()
    rows = [line.split(",") for line in stat.splitlines() if line.startswith("galera,haproxy-db")]
    # column "bck": 1 for a backup server
    header = stat.splitlines()[0].lstrip("# ").split(",")
    backups = dict((row[1], row[header.index("bck")]) for row in rows)
    assert backups == {"haproxy-db1": "0", "haproxy-db2": "1", "haproxy-db3": "1"}


def test_writer_in_maintenance_cuts_its_sessions_and_the_next_node_takes_the_writes(hosts):
    held = _db(hosts)
    with held.cursor() as cursor:
        cursor.execute("SELECT @@hostname")
        assert cursor.fetchone()[0] == "haproxy-db1"
    hosts.sh("haproxy-db1", "touch /etc/galera_health/maintenance")
    try:
        started = time.monotonic()
        _until("haproxy-db2 takes the writes", lambda: _writer(hosts) == "haproxy-db2", timeout=20)
        print("writer moved in %.1fs" % (time.monotonic() - started))
        with pytest.raises(pymysql.err.OperationalError):
            with held.cursor() as cursor:
                cursor.execute("SELECT 1")
    finally:
        hosts.sh("haproxy-db1", "rm -f /etc/galera_health/maintenance")
        held.close()
    # back: the first node is the writer again and sessions left on the backup are cut
    _until("haproxy-db1 is the writer again", lambda: _writer(hosts) == "haproxy-db1", timeout=30)


def test_writer_stopped_writes_go_to_the_next_node(hosts):
    with _db(hosts).cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS failover (id INT PRIMARY KEY, node VARCHAR(64))")
        cursor.execute("DELETE FROM failover")
    hosts.sh("haproxy-db1", "systemctl stop mariadb")
    try:
        started = time.monotonic()

        def write():
            conn = _db(hosts, timeout=2)
            try:
                with conn.cursor() as cursor:
                    cursor.execute("INSERT INTO failover VALUES (1, @@hostname)")
                return True
            finally:
                conn.close()
        _until("a write through haproxy succeeds", write, timeout=20)
        print("first write after the writer stopped: %.1fs" % (time.monotonic() - started))
        assert hosts.sh("haproxy-db2", "mariadb -Nse 'SELECT node FROM osops.failover WHERE id = 1'") == "haproxy-db2"
    finally:
        hosts.sh("haproxy-db1", "systemctl start mariadb")
    _until("haproxy-db1 is the writer again", lambda: _writer(hosts) == "haproxy-db1", timeout=60)
    assert hosts.sh("haproxy-db1", "mariadb -Nse 'SELECT node FROM osops.failover WHERE id = 1'") == "haproxy-db2"


def _server(hosts, backend, server, state, **extra):
    args = dict(backend=backend, server=server, state=state, **extra)
    return hosts.module(LB, "osops.toolkit.haproxy_server", args)


def test_drain_waits_for_open_sessions_then_the_server_gets_no_new_ones(hosts):
    for other in DBS[1:]:
        assert _server(hosts, "keystone", other, "maint")[0] == 0
    slow = {}

    def slow_request():
        slow["answer"] = _api(hosts, 5000, "/slow?seconds=15", timeout=60)[1]
    thread = threading.Thread(target=slow_request)
    try:
        thread.start()
        _until("the slow request is open on haproxy-db1",
               lambda: _server_row(hosts, "keystone", "haproxy-db1")["scur"] == "1", timeout=10, interval=0.1)
        rc, drained = _server(hosts, "keystone", "haproxy-db1", "drain", timeout=30)
        thread.join()
        assert rc == 0, drained
        assert drained["changed"] is True
        assert drained["before"]["sessions"] == 1
        assert drained["after"] == dict(drained["after"], state="drain", sessions=0)
        assert drained["waited"] >= 1.5
        assert slow["answer"]["host"] == "haproxy-db1"   # the open request finished on the drained server

        rc, checked = hosts.module(LB, "osops.toolkit.haproxy_server",
                                   {"backend": "keystone", "server": "haproxy-db2", "state": "ready"}, check=True)
        assert rc == 0 and checked["changed"] is True
        assert checked["after"]["state"] == "ready" and "MAINT" in _server_status(hosts, "keystone", "haproxy-db2")

        rc, ready = _server(hosts, "keystone", "haproxy-db2", "ready")
        assert rc == 0 and ready["after"]["status"].startswith("UP")
        assert {_api(hosts, 5000)[1]["host"] for _attempt in range(10)} == {"haproxy-db2"}

        # a reload (here a plain systemctl reload) keeps the drained server drained
        pid = hosts.sh(LB, "systemctl show -p MainPID --value haproxy")
        hosts.sh(LB, "systemctl reload haproxy")
        _until("the reloaded haproxy answers", lambda: _api(hosts, 5000)[1]["host"] == "haproxy-db2", timeout=20)
        assert hosts.sh(LB, "systemctl show -p MainPID --value haproxy") == pid
        assert _server_status(hosts, "keystone", "haproxy-db1") == "DRAIN"
        assert {_api(hosts, 5000)[1]["host"] for _attempt in range(5)} == {"haproxy-db2"}
    finally:
        for server in DBS:
            _server(hosts, "keystone", server, "ready")
    rc, again = _server(hosts, "keystone", "haproxy-db1", "ready")
    assert rc == 0 and again["changed"] is False


def _server_row(hosts, backend, server):
    stat = _https(hosts, 1936, "/;csv", auth="admin:osops-stats-test")[2].decode()
    header = stat.splitlines()[0].lstrip("# ").split(",")
    for line in stat.splitlines():
        row = line.split(",")
        if row[:2] == [backend, server]:
            return dict(zip(header, row))
    return None


def _server_status(hosts, backend, server):
    return _server_row(hosts, backend, server)["status"]


def test_an_unknown_server_is_a_clear_error(hosts):
    rc, result = _server(hosts, "keystone", "nope", "drain")
    assert rc != 0
    assert result["msg"].startswith("haproxy has no server keystone/nope; servers: ")
    assert "keystone/haproxy-db1" in result["msg"]


def test_reload_keeps_established_connections(hosts):
    """A changed setting and a new certificate (here the role's self-signed one) are applied by a reload."""
    held = _db(hosts)
    before = _fingerprint(hosts)
    try:
        rc, output = _converge(hosts, {"haproxy_tls_check_interval_ms": 2500, "haproxy_tls_certificate_source": "selfsigned",
                                       "haproxy_tls_certificate_name": "lab",
                                       "haproxy_tls_selfsigned_subject_alt_names": ["DNS:%s" % LB]})
        assert rc == 0, output[-4000:]
        after = _fingerprint(hosts)
        assert after[0] != before[0]          # the configuration changed
        assert after[1] == before[1]          # same master process: reloaded, not restarted
        assert "inter 2500" in hosts.sh(LB, "cat /etc/haproxy/haproxy.cfg")
        _until("the self-signed certificate is served", lambda: _served_is_self_signed(hosts), timeout=20)
        with held.cursor() as cursor:
            cursor.execute("SELECT @@hostname")
            assert cursor.fetchone()[0] == "haproxy-db1"
    finally:
        held.close()
        rc, output = _converge(hosts)
        assert rc == 0, output[-4000:]
        hosts.sh(LB, "rm -f /etc/haproxy/certs/lab.pem /etc/haproxy/certs/lab.pem.key")


def _served_is_self_signed(hosts):
    served = x509.load_der_x509_certificate(_peer_certificate(hosts))
    return served.subject == served.issuer and served.subject.rfc4514_string() == "CN=%s" % LB


def _main_pid(hosts):
    return hosts.sh(LB, "systemctl show -p MainPID --value haproxy")


def test_a_new_stats_password_is_applied_by_a_reload(hosts):
    """Only the password changes: haproxy reloads (same master process), never restarts."""
    pid = _main_pid(hosts)
    try:
        rc, output = _converge(hosts, {"haproxy_tls_stats_password": "osops-stats-new"}, diff=True)
        assert rc == 0, output[-4000:]
        assert "osops-stats-new" not in output    # nor in the diff
        assert _main_pid(hosts) == pid
        _until("the new password is taken", lambda: _https(hosts, 1936, auth="admin:osops-stats-new")[0] == 200)
        assert _https(hosts, 1936, auth="admin:osops-stats-test")[0] == 401
        assert "osops-stats-new" not in hosts.sh(LB, "cat /etc/haproxy/haproxy.cfg")
    finally:
        rc, output = _converge(hosts)
        assert rc == 0, output[-4000:]
    _until("the old password is back", lambda: _https(hosts, 1936, auth="admin:osops-stats-test")[0] == 200)
    assert _main_pid(hosts) == pid


@pytest.mark.parametrize("extra, message", [
    ({"haproxy_tls_controllers": [{"name": "ctl1", "address": ""}]},
     "service keystone needs a name, a port between 1 and 65535 and backends that each have a name and an address"),
    ({"haproxy_tls_galera_nodes": [{"name": "db1"}]},
     "missing required arguments: address"),
    ({"haproxy_tls_certificate_source": "files", "haproxy_tls_certificate_file": "/nonexistent/api.pem",
      "haproxy_tls_certificate_key_file": "/nonexistent/api.key"},
     "does not exist on the controller"),
    ({"haproxy_tls_galera_check_interval_ms": 0},
     "haproxy_tls_galera_check_interval_ms (at least 100), _check_fall and _check_rise (at least 1) got 0,"),
], ids=["backend-without-address", "galera-node-without-address", "missing-certificate", "galera-check-interval-0"])
def test_bad_input_fails_before_touching_the_running_haproxy(hosts, extra, message):
    before = _fingerprint(hosts)
    rc, output = _converge(hosts, extra)
    assert rc != 0
    assert message in output, output[-4000:]
    assert _fingerprint(hosts) == before
    assert _api(hosts)[1]["host"] in DBS


@pytest.fixture
def expiring_certificate(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    cert_file, key_file = tmp_path / "api.pem", tmp_path / "api.key"
    cert_file.write_bytes(_certificate(key, days=20).public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return {"haproxy_tls_certificate_source": "files", "haproxy_tls_certificate_file": str(cert_file),
            "haproxy_tls_certificate_key_file": str(key_file), "haproxy_tls_certificate_name": "expiring"}


def test_certificate_near_expiry_warns_or_fails_as_configured(hosts, expiring_certificate):
    try:
        rc, output = _converge(hosts, expiring_certificate, {"haproxy_tls_certificate_fail_days": 7})
        assert rc == 0, output[-4000:]
        assert "expires" in output and "in 19 days: under the 30-day warning threshold" in output
        served = ssl.DER_cert_to_PEM_cert(_peer_certificate(hosts))
        with open(expiring_certificate["haproxy_tls_certificate_file"]) as handle:
            assert served.strip() == handle.read().strip()

        before = _fingerprint(hosts)
        rc, output = _converge(hosts, expiring_certificate, {"haproxy_tls_certificate_fail_days": 30})
        assert rc != 0
        assert "in 19 days: under the 30-day limit; renew it" in output, output[-4000:]
        assert _fingerprint(hosts) == before
    finally:
        rc, output = _converge(hosts)
        assert rc == 0, output[-4000:]
        hosts.sh(LB, "rm -f /etc/haproxy/certs/expiring.pem /etc/haproxy/certs/expiring.pem.key")
    served = x509.load_der_x509_certificate(_peer_certificate(hosts))
    with open(TEST_CA, "rb") as handle:
        assert served.issuer == x509.load_pem_x509_certificate(handle.read()).subject   # the test CA's one again
    assert served.not_valid_after > datetime.datetime.now() + datetime.timedelta(days=300)


def _peer_certificate(hosts):
    with socket.create_connection((hosts.ip(LB), 5000), timeout=5) as raw:
        with _insecure_context().wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)
