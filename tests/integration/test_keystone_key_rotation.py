"""Keystone key rotation across two real Keystone processes (osops.toolkit.keystone_keys).

Two keystone processes (the sandbox's venv, gunicorn, on 127.0.0.2 and 127.0.0.3) share the
sandbox's database, each with its own key repositories: two controllers, driven as two hosts.
They start from copies of the sandbox's repositories. The sandbox's own keystone is not touched.
Each node's keystone.conf: max_active_keys 3, tokens live 1 h, allow_expired_window 1 h, so the
role's default rotation interval (1 day) is big enough and 10 min is not.
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import time

import pytest
import requests
import yaml

OSBOX_HOME = os.environ.get("OSBOX_HOME", "/var/cache/osops/sandbox")

NODES = {"ks-a": "127.0.0.2", "ks-b": "127.0.0.3"}
VENV = os.path.join(OSBOX_HOME, "venvs", "keystone", "bin")
PLAYBOOK = "osops.toolkit.keystone_keys"
ADMIN = {"user": {"name": "admin", "domain": {"name": "Default"}, "password": "password"}}


def _conf(node_dir):
    with open(os.path.join(OSBOX_HOME, "etc", "keystone", "keystone.conf")) as f:
        lines = [line for line in f.read().splitlines()
                 if not line.startswith(("key_repository", "log_file", "expiration"))]
    text = "\n".join(lines) + "\n"
    for section, extra in (("[DEFAULT]", "log_file = %s/keystone.log" % node_dir),
                           ("[token]", "expiration = 3600\nallow_expired_window = 3600"),
                           ("[fernet_tokens]", "key_repository = %s/fernet-keys\nmax_active_keys = 3" % node_dir),
                           ("[fernet_receipts]", "key_repository = %s/fernet-keys" % node_dir),
                           ("[credential]", "key_repository = %s/credential-keys" % node_dir)):
        text = text.replace(section + "\n", section + "\n" + extra + "\n", 1)
    return text


def _copy_repository(src, dest):
    """A copy whose keys are written now: the role sees a repository rotated just now."""
    os.makedirs(dest, mode=0o700)
    for name in os.listdir(src):
        shutil.copyfile(os.path.join(src, name), os.path.join(dest, name))
        os.chmod(os.path.join(dest, name), 0o600)


@pytest.fixture(scope="module")
def pair(sandbox, tmp_path_factory):
    base = tmp_path_factory.mktemp("keystone-pair")
    procs, inventory = [], {}
    for name, address in NODES.items():
        node_dir = base / name
        node_dir.mkdir()
        for kind in ("fernet-keys", "credential-keys"):
            _copy_repository(os.path.join(OSBOX_HOME, "data", "keystone", kind), str(node_dir / kind))
        (node_dir / "keystone.conf").write_text(_conf(str(node_dir)))
        env = dict(os.environ, OS_KEYSTONE_CONFIG_DIR=str(node_dir), PATH=VENV + ":" + os.environ["PATH"])
        procs.append(subprocess.Popen(
            [os.path.join(VENV, "gunicorn"), "--bind", address + ":5000", "--workers", "1", "--timeout", "60",
             "--chdir", os.path.join(OSBOX_HOME, "wsgi"), "--name", "keystone-" + name, "keystone_wsgi:application"],
            env=env, stdout=open(str(node_dir / "gunicorn.log"), "w"), stderr=subprocess.STDOUT, start_new_session=True))
        inventory[name] = {
            "keystone_keys_config_file": str(node_dir / "keystone.conf"),
            "keystone_keys_manage_command": [os.path.join(VENV, "keystone-manage"), "--config-file",
                                             str(node_dir / "keystone.conf")]}
    hosts_file = base / "hosts.yml"
    hosts_file.write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_connection": "local", "ansible_become": False, "keystone_keys_user": "root",
                 "keystone_keys_user_group": "root", "ansible_python_interpreter": os.path.realpath(
                     shutil.which("python3"))},
        "children": {"keystone": {"hosts": inventory}}}}))
    try:
        for address in NODES.values():
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get("http://%s:5000/v3" % address, timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                assert time.monotonic() < deadline, "keystone on %s did not start" % address
                time.sleep(0.5)
        yield {"base": base, "hosts": str(hosts_file)}
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


def token(node, scoped=True):
    body = {"auth": {"identity": {"methods": ["password"], "password": ADMIN}}}
    if scoped:
        body["auth"]["scope"] = {"project": {"name": "admin", "domain": {"name": "Default"}}}
    response = requests.post("http://%s:5000/v3/auth/tokens" % NODES[node], json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def valid(node, subject):
    """Does keystone on node accept this token? (it validates the token itself)"""
    response = requests.get("http://%s:5000/v3/auth/tokens" % NODES[node], timeout=30,
                            headers={"X-Auth-Token": subject, "X-Subject-Token": subject})
    assert response.status_code in (200, 401, 404), response.text
    return response.status_code == 200


def accepted_on_both(tokens):
    """{label: (valid on ks-a, valid on ks-b)}"""
    return dict((label, (valid("ks-a", value), valid("ks-b", value))) for label, value in tokens.items())


def keys(pair, node, kind="fernet"):
    """{index: content} of a node's repository, read from disk by the test."""
    path = pair["base"] / node / (kind + "-keys")
    return dict((int(p.name), p.read_text()) for p in path.iterdir())


def run_role(ansible, pair, check=False, limit=None, **extra):
    args = ["-i", pair["hosts"]] + (["--limit", limit] if limit else [])
    return ansible(PLAYBOOK, check=check, extra_vars=extra, playbook_args=args)


def messages(run):
    """Every message the run's tasks gave, loop items' included."""
    found = []
    for play in run.parsed["plays"]:
        for task in play["tasks"]:
            for result in task["hosts"].values():
                found += [str(item.get("msg", "")) for item in [result] + result.get("results", [])]
    return " ".join(found)


def test_tokens_from_either_node_validate_on_both_through_every_step_and_only_tokens_older_than_the_kept_keys_are_refused(ansible, pair):
    tokens = {"t0-a": token("ks-a"), "t0-b": token("ks-b")}
    assert set(accepted_on_both(tokens).values()) == {(True, True)}

    # the role's first step alone (a rotation that stopped before the install): ks-a signs with
    # the key that was staged everywhere, so its new tokens validate on ks-b, which has not got the new keys
    manage = [os.path.join(VENV, "keystone-manage"), "--config-file", str(pair["base"] / "ks-a" / "keystone.conf")]
    subprocess.run(manage + ["fernet_rotate", "--keystone-user", "root", "--keystone-group", "root"], check=True,
                   capture_output=True)
    tokens["t1-a"] = token("ks-a")
    assert set(accepted_on_both(tokens).values()) == {(True, True)}

    # the nodes now differ: the role refuses and names them, and changes nothing
    before = keys(pair, "ks-b")
    run = run_role(ansible, pair, keystone_keys_credential=False)
    assert run.rc != 0
    assert "hold different fernet keys" in messages(run) and "ks-a" in messages(run) and "ks-b" in messages(run)
    assert keys(pair, "ks-b") == before

    # resync from ks-a, at -vvvv: ks-b gets ks-a's repository, and no key appears in the output
    run = ansible(PLAYBOOK, extra_vars={"keystone_keys_resync_from": "ks-a", "keystone_keys_credential": False},
                  playbook_args=["-i", pair["hosts"]], verbosity=4, json_output=False)
    assert run.rc == 0, run.output[-4000:]
    assert keys(pair, "ks-b") == keys(pair, "ks-a") != before
    assert "ks-b" in run.output and "changed=1" in run.output
    for key in list(keys(pair, "ks-a").values()) + list(before.values()):
        assert key not in run.output and base64.b64encode(key.encode()).decode() not in run.output
    assert set(accepted_on_both(tokens).values()) == {(True, True)}

    # the same interval: nothing is due, nothing changes; check mode with force says what it would do
    run = run_role(ansible, pair, keystone_keys_credential=False)
    assert run.rc == 0 and run.parsed["stats"]["ks-a"]["changed"] == 0 and run.parsed["stats"]["ks-b"]["changed"] == 0
    synced = keys(pair, "ks-a")
    run = run_role(ansible, pair, check=True, keystone_keys_credential=False, keystone_keys_force=True)
    assert run.rc == 0
    assert "would rotate on ks-a and install its new repository on ks-b" in messages(run)
    assert keys(pair, "ks-a") == keys(pair, "ks-b") == synced

    # three forced rotations by the role (four in all, more than max_active_keys = 3); a token
    # issued on either node before each one; after each: both nodes hold the same keys, and
    # exactly the tokens signed with a key still kept validate, on both nodes. With 3 keys (staged,
    # primary, one secondary) a token outlives one rotation: the tokens signed with the primary of
    # before the last rotation validate (t1-a and t2 share a key: no rotation between them), older
    # ones are refused although their lifetime has not ended
    still_valid = {2: {"t1", "t2"}, 3: {"t3"}, 4: {"t4"}}
    for step in (2, 3, 4):
        tokens["t%d-a" % step] = token("ks-a")
        tokens["t%d-b" % step] = token("ks-b")
        run = run_role(ansible, pair, keystone_keys_credential=False, keystone_keys_force=True)
        assert run.rc == 0, messages(run)
        assert keys(pair, "ks-a") == keys(pair, "ks-b")
        assert sorted(keys(pair, "ks-a")) == [0, step, step + 1]
        accepted = accepted_on_both(tokens)
        assert set(accepted.values()) <= {(True, True), (False, False)}, accepted
        kept = dict((label, label.split("-")[0] in still_valid[step]) for label in tokens)
        assert dict((label, both[0]) for label, both in accepted.items()) == kept, step


def test_a_credential_reads_back_on_both_nodes_after_each_rotation_and_migration(ansible, pair):
    admin = token("ks-a")
    headers = {"X-Auth-Token": admin}
    scope = requests.get("http://%s:5000/v3/auth/tokens" % NODES["ks-a"], timeout=30,
                         headers=dict(headers, **{"X-Subject-Token": admin})).json()["token"]
    blob = json.dumps({"access": "osops-test-" + os.urandom(8).hex(), "secret": base64.b64encode(os.urandom(24)).decode()})
    response = requests.post("http://%s:5000/v3/credentials" % NODES["ks-a"], headers=headers, timeout=30,
                             json={"credential": {"type": "ec2", "user_id": scope["user"]["id"],
                                                  "project_id": scope["project"]["id"], "blob": blob}})
    assert response.status_code == 201, response.text
    credential = response.json()["credential"]["id"]
    try:
        first = keys(pair, "ks-a", "credential")
        for rotation in (1, 2, 3):
            run = run_role(ansible, pair, keystone_keys_fernet=False, keystone_keys_force=True)
            assert run.rc == 0, messages(run)
            now = keys(pair, "ks-a", "credential")
            assert now == keys(pair, "ks-b", "credential") and max(now) == max(first) + rotation
            for node in NODES:
                read = requests.get("http://%s:5000/v3/credentials/%s" % (NODES[node], credential), timeout=30,
                                    headers={"X-Auth-Token": token(node)})
                assert read.status_code == 200, (rotation, node, read.text)
                assert read.json()["credential"]["blob"] == blob
        # the key that first encrypted it is gone: only the migration kept it readable
        assert first[max(first)] not in now.values()
    finally:
        requests.delete("http://%s:5000/v3/credentials/%s" % (NODES["ks-a"], credential), timeout=30,
                        headers={"X-Auth-Token": token("ks-a")})


def test_refusals_change_nothing_and_name_the_cause(ansible, pair):
    before = dict((node, (keys(pair, node), keys(pair, node, "credential"))) for node in NODES)

    run = run_role(ansible, pair, limit="ks-a", keystone_keys_force=True)
    assert run.rc != 0 and "ks-b did not report its keys" in messages(run)

    run = run_role(ansible, pair, keystone_keys_force=True, keystone_keys_rotation_interval=600)
    assert run.rc != 0
    assert "max_active_keys 3 is 11 short" in messages(run), messages(run)

    run = run_role(ansible, pair, keystone_keys_force=True, keystone_keys_members=["ks-a"])
    assert run.rc != 0 and "ks-b is in the play but not a member of the Keystone nodes (ks-a)" in messages(run)

    run = run_role(ansible, pair, keystone_keys_resync_from="ks-c")
    assert run.rc != 0 and "ks-c (keystone_keys_resync_from or keystone_keys_rotate_on) is not one of the Keystone nodes" in messages(run)

    assert dict((node, (keys(pair, node), keys(pair, node, "credential"))) for node in NODES) == before


def test_a_rotation_that_fails_halfway_says_what_it_left_and_the_advised_rerun_repairs_it(ansible, pair):
    tokens = {"a": token("ks-a"), "b": token("ks-b")}
    before_a, before_b = keys(pair, "ks-a"), keys(pair, "ks-b")
    assert before_a == before_b
    # ks-b's directory cannot take a new entry (immutable, also for root): the install fails after the rotation
    subprocess.run(["chattr", "+i", str(pair["base"] / "ks-b")], check=True)
    try:
        run = run_role(ansible, pair, keystone_keys_credential=False, keystone_keys_force=True)
    finally:
        subprocess.run(["chattr", "-i", str(pair["base"] / "ks-b")], check=True)
    assert run.rc != 0
    said = messages(run)
    assert '"Install the repository on every other node in one step: fernet" failed on ks-b' in said, said
    assert "State: rotated on ks-a; the other nodes may still hold the keys from before" in said, said
    assert "run again with keystone_keys_resync_from=ks-a" in said
    assert max(keys(pair, "ks-a")) == max(before_a) + 1 and keys(pair, "ks-b") == before_b
    assert not [p.name for p in pair["base"].joinpath("ks-b").iterdir() if p.name.startswith(".")], "left beside"
    # meanwhile every token validates on both, a new one from ks-a too (it signs with the key ks-b had staged)
    tokens["new-a"] = token("ks-a")
    assert set(accepted_on_both(tokens).values()) == {(True, True)}

    run = run_role(ansible, pair, keystone_keys_credential=False, keystone_keys_resync_from="ks-a")
    assert run.rc == 0, messages(run)
    assert keys(pair, "ks-b") == keys(pair, "ks-a") and max(keys(pair, "ks-a")) == max(before_a) + 1
    assert set(accepted_on_both(tokens).values()) == {(True, True)}
