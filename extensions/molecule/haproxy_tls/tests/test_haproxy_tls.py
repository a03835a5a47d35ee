"""What the role left on the haproxy host (testinfra, podman backend)."""


def test_haproxy_runs_and_starts_at_boot(host):
    service = host.service("haproxy")
    assert service.is_running
    assert service.is_enabled


def test_running_configuration_is_valid(host):
    host.run_expect([0], "haproxy -c -q -f /etc/haproxy/haproxy.cfg -f /etc/haproxy/osops-stats.cfg")


def test_configuration_and_key_are_private(host):
    cfg = host.file("/etc/haproxy/haproxy.cfg")
    assert (cfg.user, cfg.group, cfg.mode) == ("root", "haproxy", 0o640)
    key = host.file("/etc/haproxy/certs/openstack.pem.key")
    assert (key.user, key.mode) == ("root", 0o600)
    stats = host.file("/etc/haproxy/osops-stats.cfg")
    assert (stats.user, stats.mode) == ("root", 0o600)


def test_stats_password_is_not_in_the_configuration(host):
    assert "osops-stats-test" not in host.file("/etc/haproxy/haproxy.cfg").content_string
    assert "osops-stats-test" in host.file("/etc/haproxy/osops-stats.cfg").content_string


def test_every_frontend_listens(host):
    for port in (80, 1936, 3306, 5000, 8774):
        assert host.socket("tcp://0.0.0.0:%d" % port).is_listening, port


def test_runtime_api_socket_answers(host):
    script = ("import socket; s = socket.socket(socket.AF_UNIX); s.connect('/run/haproxy/admin.sock'); "
              "s.sendall(b'show stat\\n'); print(s.recv(65536).decode())")
    assert "pxname" in host.check_output("python3 -c \"%s\"" % script)
