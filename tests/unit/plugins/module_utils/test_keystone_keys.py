"""Keystone key repositories: reading without key material, sizing, and the one-step install."""
import base64
import os

import pytest

from ansible_collections.osops.toolkit.plugins.module_utils import _keystone_keys as kk


def fernet_key():
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def make_repository(path, indexes, mode=0o600):
    path.mkdir(mode=0o700)
    keys = {}
    for index in indexes:
        keys[index] = fernet_key()
        (path / str(index)).write_text(keys[index])
        os.chmod(str(path / str(index)), mode)
    return keys


def test_staged_primary_and_secondary_keys_with_ages_and_no_key_material(tmp_path):
    keys = make_repository(tmp_path / "fernet-keys", [0, 3, 4])
    os.utime(str(tmp_path / "fernet-keys" / "0"), (1000, 1000))
    repo = kk.read_repository(str(tmp_path / "fernet-keys"), now=1600)
    assert [(k["index"], k["role"]) for k in repo["keys"]] == [(0, "staged"), (3, "secondary"), (4, "primary")]
    assert repo["staged"] == 0 and repo["primary"] == 4 and repo["count"] == 3
    assert repo["last_rotated_age"] == 600 and repo["problems"] == []
    assert repo["sha256"] == kk.repository_hash(keys)
    assert not any(key in repr(repo) for key in keys.values())


def test_the_hash_differs_when_one_key_or_one_index_differs():
    keys = {0: fernet_key(), 1: fernet_key()}
    assert kk.repository_hash(keys) == kk.repository_hash(dict(keys))
    assert kk.repository_hash(keys) != kk.repository_hash({0: keys[0], 1: fernet_key()})
    assert kk.repository_hash(keys) != kk.repository_hash({0: keys[0], 2: keys[1]})


def test_problems_are_named(tmp_path):
    make_repository(tmp_path / "open", [0, 1], mode=0o644)
    os.chmod(str(tmp_path / "open"), 0o755)
    problems = kk.read_repository(str(tmp_path / "open"), now=0)["problems"]
    assert problems == ["%s is open to other users (mode 0755)" % (tmp_path / "open"),
                        "key 0 in %s can be read by others than its owner (mode 0644)" % (tmp_path / "open"),
                        "key 1 in %s can be read by others than its owner (mode 0644)" % (tmp_path / "open")]
    make_repository(tmp_path / "unstaged", [1, 2])
    assert kk.read_repository(str(tmp_path / "unstaged"), now=0)["problems"] == [
        "%s has no staged key (0)" % (tmp_path / "unstaged")]
    assert kk.read_repository(str(tmp_path / "missing"), now=0)["problems"] == [
        "%s does not exist" % (tmp_path / "missing")]
    (tmp_path / "bad").mkdir(mode=0o700)
    (tmp_path / "bad" / "0").write_text("not a key")
    (tmp_path / "bad" / "1").write_text(fernet_key())
    os.chmod(str(tmp_path / "bad" / "0"), 0o600)
    os.chmod(str(tmp_path / "bad" / "1"), 0o600)
    assert kk.read_repository(str(tmp_path / "bad"), now=0)["problems"] == ["key 0 in %s is not a Fernet key" % (tmp_path / "bad")]


@pytest.mark.parametrize("expiration, window, interval, needed", [
    (3600, 172800, 86400, 5),     # keystone's defaults rotated daily: ceil(2.04) + 2
    (3600, 3600, 86400, 3),
    (86400, 0, 86400, 3),
    (3600, 3600, 600, 14),
])
def test_keys_needed_follows_keystone_s_formula(expiration, window, interval, needed):
    assert kk.keys_needed(expiration, window, interval) == needed


def test_sizing_states_the_shortfall():
    config = {"max_active_keys": 3, "token_expiration": 3600, "allow_expired_window": 172800}
    size = kk.sizing(config, 86400)
    assert (size["needed"], size["shortfall"], size["enough"]) == (5, 2, False)
    assert size["message"].startswith("max_active_keys 3 is 2 short") and "to 5" in size["message"]
    assert kk.sizing(dict(config, max_active_keys=5), 86400)["enough"] is True
    assert kk.sizing(config, None)["enough"] is None


def test_settings_come_from_options_then_keystone_conf_then_keystone_s_defaults(tmp_path):
    conf = tmp_path / "keystone.conf"
    conf.write_text("[DEFAULT]\nlog_file = /x/%(foo)s.log\n[token]\nexpiration = 7200\n"
                    "[fernet_tokens]\nkey_repository = /srv/fernet\nmax_active_keys = 6\n")
    config = kk.settings({"max_active_keys": 4, "token_expiration": None}, kk.read_config(str(conf)))
    assert config == {"fernet_repository": "/srv/fernet", "credential_repository": "/etc/keystone/credential-keys/",
                      "max_active_keys": 4, "token_expiration": 7200, "allow_expired_window": 172800}
    assert kk.read_config(str(tmp_path / "absent.conf")) == {}
    conf.write_text("[token]\nexpiration = soon\n")
    with pytest.raises(kk.KeyRepositoryError, match=r"\[token\] expiration = 'soon' is not a number"):
        kk.read_config(str(conf))


def test_wanted_keys_must_be_a_repository():
    with pytest.raises(kk.KeyRepositoryError, match="staged key"):
        kk.check_wanted({"1": fernet_key(), "2": fernet_key()})
    with pytest.raises(kk.KeyRepositoryError, match="not a Fernet key"):
        kk.check_wanted({"0": fernet_key(), "1": "short"})
    with pytest.raises(kk.KeyRepositoryError, match="not a key index"):
        kk.check_wanted({"0": fernet_key(), "primary": fernet_key()})


def test_install_swaps_the_whole_repository_keeps_owner_and_mode_and_leaves_nothing_beside(tmp_path):
    old = make_repository(tmp_path / "fernet-keys", [0, 1, 2])
    os.chmod(str(tmp_path / "fernet-keys"), 0o750)
    new = {0: fernet_key(), 2: old[2], 3: old[0]}
    assert kk.install_plan(old, new) == {"added": [3], "replaced": [0], "removed": [1]}
    method = kk.install(str(tmp_path / "fernet-keys"), new, os.getuid(), os.getgid(), 0o750)
    assert method == "exchange"
    assert kk.read_keys(str(tmp_path / "fernet-keys")) == new
    assert oct(os.stat(str(tmp_path / "fernet-keys")).st_mode & 0o777) == oct(0o750)
    assert all(os.stat(str(p)).st_mode & 0o777 == 0o600 for p in (tmp_path / "fernet-keys").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fernet-keys"]


def test_install_per_key_where_directories_cannot_be_swapped(tmp_path, monkeypatch):
    old = make_repository(tmp_path / "fernet-keys", [0, 1, 2])
    new = {0: fernet_key(), 2: old[2], 3: old[0]}
    renames = []

    def no_exchange(first, second):
        raise OSError(22, "Invalid argument")

    real_rename = os.rename
    monkeypatch.setattr(kk, "_exchange", no_exchange)
    monkeypatch.setattr(kk.os, "rename", lambda a, b: (renames.append(os.path.basename(b)), real_rename(a, b)))
    assert kk.install(str(tmp_path / "fernet-keys"), new, os.getuid(), os.getgid(), 0o700) == "per key"
    assert kk.read_keys(str(tmp_path / "fernet-keys")) == new
    # the staged key last: a token another node signs with its new primary (the old staged key) keeps validating
    assert renames == ["2", "3", "0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fernet-keys"]


def test_a_failed_install_leaves_the_repository_as_it_was_and_nothing_beside(tmp_path, monkeypatch):
    old = make_repository(tmp_path / "fernet-keys", [0, 1])
    written = []

    def fail_on_second(path, content, uid, gid):
        if written:
            raise OSError(28, "No space left on device")
        written.append(path)
        real_write(path, content, uid, gid)

    real_write = kk._write_key
    monkeypatch.setattr(kk, "_write_key", fail_on_second)
    with pytest.raises(OSError, match="No space left"):
        kk.install(str(tmp_path / "fernet-keys"), {0: fernet_key(), 1: fernet_key()}, os.getuid(), os.getgid(), 0o700)
    assert kk.read_keys(str(tmp_path / "fernet-keys")) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fernet-keys"]
