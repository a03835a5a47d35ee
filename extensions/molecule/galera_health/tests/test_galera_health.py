"""What the role left on each host (testinfra, podman backend)."""


def _status(host, name):
    return host.check_output("mariadb -Nse \"SHOW GLOBAL STATUS LIKE '%s'\"" % name).split()[-1]


def test_node_is_synced_in_a_primary_component_of_three(host):
    assert _status(host, "wsrep_local_state_comment") == "Synced"
    assert _status(host, "wsrep_cluster_status") == "Primary"
    assert _status(host, "wsrep_cluster_size") == "3"


def _address(host):
    # the default route's address: what galera_health_clustercheck_bind_address defaults to
    return host.check_output("ip -4 -o route get 1.1.1.1").split(" src ")[1].split()[0]


def test_clustercheck_socket_listens_on_the_management_address_only(host):
    assert host.service("galera-clustercheck.socket").is_enabled
    assert host.service("galera-clustercheck.socket").is_running
    assert host.socket("tcp://%s:9200" % _address(host)).is_listening
    assert not host.socket("tcp://0.0.0.0:9200").is_listening
    assert not host.socket("tcp://127.0.0.1:9200").is_listening


def test_clustercheck_answers_200(host):
    out = host.check_output("curl -s -o /dev/null -w '%%{http_code}' http://%s:9200/" % _address(host))
    assert out == "200"


def test_clustercheck_credentials_are_private(host):
    cnf = host.file("/etc/galera_health/clustercheck.cnf")
    assert cnf.mode == 0o640
    assert cnf.user == "root"
    assert cnf.group == "mysql"
