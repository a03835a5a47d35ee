# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

"""Keystone's Fernet and credential key repositories: what a node holds, and how big it must be.

A repository is a directory of files named by integers. 0 is the staged key (the next primary,
already on every node so that tokens it will sign validate everywhere), the highest index is the
primary (signs new tokens or encrypts credentials), the others are secondary (only decrypt).
Nothing here returns key material: a key is described by its index, age, mode and owner, and a
repository by one hash over every key.
"""

from __future__ import annotations

import configparser
import grp
import hashlib
import math
import os
import pwd
import stat

# keystone's own defaults (keystone/conf/fernet_tokens.py, credential.py, token.py)
DEFAULTS = {
    "fernet_repository": "/etc/keystone/fernet-keys/",
    "credential_repository": "/etc/keystone/credential-keys/",
    "max_active_keys": 3,
    "token_expiration": 3600,
    "allow_expired_window": 172800,
}
# keystone-manage credential_rotate keeps at most this many credential keys (not configurable)
CREDENTIAL_MAX_ACTIVE_KEYS = 3
_CONFIG_KEYS = {
    "fernet_repository": ("fernet_tokens", "key_repository", str),
    "credential_repository": ("credential", "key_repository", str),
    "max_active_keys": ("fernet_tokens", "max_active_keys", int),
    "token_expiration": ("token", "expiration", int),
    "allow_expired_window": ("token", "allow_expired_window", int),
}
# a Fernet key is 32 bytes, url-safe base64: 44 characters
_KEY_LENGTH = 44


class KeyRepositoryError(Exception):
    """A repository that cannot be read, or keys that cannot be installed; one sentence."""


def read_config(path):
    """The settings keystone.conf sets, as {name: value}; {} when the file does not exist."""
    if not path or not os.path.exists(path):
        return {}
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read(path)
    except configparser.Error as exc:
        raise KeyRepositoryError("%s is not a keystone.conf that can be read: %s" % (path, exc)) from exc
    found = {}
    for name, (section, option, kind) in _CONFIG_KEYS.items():
        if parser.has_option(section, option):
            raw = parser.get(section, option).strip()
            try:
                found[name] = kind(raw)
            except ValueError as exc:
                raise KeyRepositoryError("%s: [%s] %s = %r is not a number" % (path, section, option, raw)) from exc
    return found


def settings(params, config):
    """Each setting from the module's options, else keystone.conf, else keystone's default."""
    return dict((name, params.get(name) if params.get(name) is not None else config.get(name, default))
                for name, default in DEFAULTS.items())


def key_role(index, indexes):
    if index == 0:
        return "staged"
    return "primary" if index == max(indexes) else "secondary"


def repository_hash(keys):
    """sha256 over every key's index and content, in index order: equal on two nodes iff they hold the same keys."""
    digest = hashlib.sha256()
    for index in sorted(keys):
        digest.update(b"%d\0" % index)
        digest.update(keys[index].strip().encode("ascii", "replace"))
        digest.update(b"\0")
    return digest.hexdigest()


def _owner(uid, gid):
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = str(uid)
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return user, group


def read_repository(path, now):
    """What the repository at path holds: keys (no material), hash, staged and primary, problems."""
    result = {"path": path, "exists": False, "keys": [], "count": 0, "staged": None, "primary": None,
              "sha256": None, "mode": None, "owner": None, "group": None, "last_rotated_age": None, "problems": []}
    try:
        info = os.stat(path)
    except FileNotFoundError:
        result["problems"].append("%s does not exist" % path)
        return result
    except OSError as exc:
        raise KeyRepositoryError("cannot read %s: %s (run the module with become)" % (path, exc)) from exc
    if not stat.S_ISDIR(info.st_mode):
        result["problems"].append("%s is not a directory" % path)
        return result
    result.update(exists=True, mode="%04o" % stat.S_IMODE(info.st_mode))
    result["owner"], result["group"] = _owner(info.st_uid, info.st_gid)
    if stat.S_IMODE(info.st_mode) & 0o007:
        result["problems"].append("%s is open to other users (mode %s)" % (path, result["mode"]))

    contents, stats = {}, {}
    try:
        names = os.listdir(path)
        for name in names:
            if not name.isdigit():
                continue
            full = os.path.join(path, name)
            stats[int(name)] = os.stat(full)
            with open(full) as handle:
                contents[int(name)] = handle.read()
    except OSError as exc:
        raise KeyRepositoryError("cannot read the keys in %s: %s (run the module with become)" % (path, exc)) from exc

    indexes = sorted(contents)
    for index in indexes:
        key_stat = stats[index]
        user, group = _owner(key_stat.st_uid, key_stat.st_gid)
        mode = stat.S_IMODE(key_stat.st_mode)
        result["keys"].append({"index": index, "role": key_role(index, indexes),
                               "age_seconds": max(0, int(now - key_stat.st_mtime)),
                               "mode": "%04o" % mode, "owner": user, "group": group})
        if mode & 0o077:
            result["problems"].append("key %d in %s can be read by others than its owner (mode %04o)" % (index, path, mode))
        if len(contents[index].strip()) != _KEY_LENGTH:
            result["problems"].append("key %d in %s is not a Fernet key" % (index, path))
    owners = set((key["owner"], key["group"]) for key in result["keys"])
    if len(owners) > 1:
        result["problems"].append("the keys in %s have different owners: %s"
                                  % (path, ", ".join(sorted("%s:%s" % owner for owner in owners))))
    result["count"] = len(indexes)
    if indexes:
        result["sha256"] = repository_hash(contents)
        result["staged"] = 0 if 0 in contents else None
        result["primary"] = max(indexes) if max(indexes) > 0 else None
    if 0 not in contents:
        result["problems"].append("%s has no staged key (0)" % path)
    else:
        result["last_rotated_age"] = result["keys"][0]["age_seconds"]
    if result["primary"] is None:
        result["problems"].append("%s has no primary key" % path)
    return result


def keys_needed(token_expiration, allow_expired_window, rotation_interval):
    """max_active_keys that keeps every token valid for its lifetime (keystone's Fernet FAQ):
    (expiration + allow_expired_window) / rotation interval, rounded up, plus the staged and the primary key."""
    return int(math.ceil(float(token_expiration + allow_expired_window) / rotation_interval)) + 2


def sizing(config, rotation_interval):
    """Is max_active_keys enough for the token lifetime and this rotation interval? With the shortfall said."""
    result = {"max_active_keys": config["max_active_keys"], "token_expiration": config["token_expiration"],
              "allow_expired_window": config["allow_expired_window"], "rotation_interval": rotation_interval,
              "needed": None, "shortfall": 0, "enough": None, "message": ""}
    if not rotation_interval:
        result["message"] = "no rotation_interval given: max_active_keys not checked"
        return result
    needed = keys_needed(config["token_expiration"], config["allow_expired_window"], rotation_interval)
    result.update(needed=needed, shortfall=max(0, needed - config["max_active_keys"]),
                  enough=config["max_active_keys"] >= needed)
    if result["enough"]:
        result["message"] = "max_active_keys %d is enough (%d needed)" % (config["max_active_keys"], needed)
    else:
        result["message"] = (
            "max_active_keys %d is %d short: tokens live %d s (expiration) + %d s (allow_expired_window); rotated "
            "every %d s that needs %d keys, so tokens would be refused before they expire. Raise [fernet_tokens] "
            "max_active_keys to %d or rotate less often"
            % (config["max_active_keys"], result["shortfall"], config["token_expiration"],
               config["allow_expired_window"], rotation_interval, needed, needed))
    return result


def install_plan(current, wanted):
    """What installing the keys wanted ({index: content}) over current changes: added, replaced, removed indexes."""
    added = sorted(set(wanted) - set(current))
    removed = sorted(set(current) - set(wanted))
    replaced = sorted(index for index in set(wanted) & set(current) if wanted[index].strip() != current[index].strip())
    return {"added": added, "replaced": replaced, "removed": removed}


def check_wanted(wanted):
    """The keys to install, as {int index: str}; raises KeyRepositoryError for anything that is not a key repository."""
    keys = {}
    for name, content in wanted.items():
        if not str(name).isdigit():
            raise KeyRepositoryError("key name %r is not a key index (0, 1, 2...)" % (name,))
        if not isinstance(content, str) or len(content.strip()) != _KEY_LENGTH:
            raise KeyRepositoryError("key %s is not a Fernet key (44 characters of url-safe base64)" % name)
        keys[int(name)] = content.strip()
    if 0 not in keys or len(keys) < 2:
        raise KeyRepositoryError("a key repository needs a staged key (0) and a primary key; got indexes %s"
                                 % sorted(keys))
    return keys


def read_keys(path):
    """{index: content} of the repository at path; {} when it does not exist. Stays inside the module."""
    if not os.path.isdir(path):
        return {}
    keys = {}
    for name in os.listdir(path):
        if name.isdigit():
            with open(os.path.join(path, name)) as handle:
                keys[int(name)] = handle.read().strip()
    return keys


def _exchange(first, second):
    """Swaps two directories in one step (renameat2 RENAME_EXCHANGE, Linux 3.15+ and glibc 2.28+)."""
    import ctypes  # pylint: disable=import-outside-toplevel
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(38, "renameat2 is not available")
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, first.encode(), at_fdcwd, second.encode(), rename_exchange) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def _write_key(path, content, uid, gid):
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(descriptor, content.encode("ascii"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.chown(path, uid, gid)


def install(path, keys, uid, gid, dir_mode):
    """Writes keys ({index: content}) beside path, then swaps the new directory in, in one rename.

    Returns how: "exchange" (the whole directory swapped in one step) or "per key" where the file
    system cannot swap directories (each key renamed into place, new keys before the staged key
    and the removals last, so that every token another node signs validates here throughout).
    Nothing is left beside path on a failure.
    """
    import shutil  # pylint: disable=import-outside-toplevel
    import tempfile  # pylint: disable=import-outside-toplevel
    path = path.rstrip("/")
    parent, name = os.path.split(path)
    new = tempfile.mkdtemp(prefix="." + name + ".osops-", dir=parent)
    try:
        for index, content in keys.items():
            _write_key(os.path.join(new, str(index)), content, uid, gid)
        os.chown(new, uid, gid)
        os.chmod(new, dir_mode)
        if not os.path.exists(path):
            os.rename(new, path)
            return "exchange"
        try:
            _exchange(new, path)
        except OSError as exc:
            if exc.errno not in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: this file system cannot swap
                raise
        else:
            return "exchange"
        old = set(int(n) for n in os.listdir(path) if n.isdigit())
        for index in sorted(keys, key=lambda i: (i == 0, i)):
            os.rename(os.path.join(new, str(index)), os.path.join(path, str(index)))
        for index in sorted(old - set(keys)):
            os.remove(os.path.join(path, str(index)))
        return "per key"
    finally:
        shutil.rmtree(new, ignore_errors=True)
