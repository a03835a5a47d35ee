# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
name: infra
short_description: The operator's inventory of an OpenStack cloud - every hypervisor and every Ironic node
version_added: 0.1.0
description:
  - Every Nova hypervisor, with its compute service state and status, disabled reason, availability
    zone, aggregates and their metadata, vCPU/memory/disk figures and instances, and every Ironic
    node, with its provision and power state, maintenance, resource class, conductor group, driver
    and properties. A bare-metal node that Nova also lists as a hypervisor is one host carrying
    both.
  - Secrets are redacted, at any depth, in the C(driver_info), C(instance_info), C(properties) and
    C(extra) of every node, before anything is shown or cached (see the notes).
  - Reads each cloud with a fixed number of bulk, paginated list calls (hypervisors, compute
    services, aggregates, nodes, and servers when asked), never one request per host, and reads
    several clouds in parallel.
  - Every string that comes from an API is marked unsafe, so it is never templated.
  - Ironic calls use a system-scoped token made from the same credentials (see the
    O(clouds) option).
  - The inventory file name must end with C(infra.yml) or C(infra.yaml).
extends_documentation_fragment:
  - constructed
  - inventory_cache
options:
  plugin:
    description: The name of this plugin; makes the file an C(osops.toolkit.infra) inventory.
    type: str
    required: true
    choices: [osops.toolkit.infra]
  clouds:
    description:
      - Names of the C(clouds.yaml) entries to read.
      - Default is E(OS_CLOUD), else the only cloud in C(clouds.yaml); this is how an AWX/AAP
        inventory source with an OpenStack credential works (it injects a C(clouds.yaml) with one
        cloud through E(OS_CLIENT_CONFIG_FILE)).
      - Ironic needs a system-scoped token; the plugin makes one from each cloud's credentials,
        so the user needs a role on the system (C(openstack role add --system all ...)).
    type: list
    elements: str
  sources:
    description: Which services to read.
    type: list
    elements: str
    choices: [nova, ironic]
    default: [nova, ironic]
  filters:
    description:
      - Keep only hosts matching all of these. Values may be a string or a list of strings.
      - Keys C(availability_zone), C(aggregate), C(service_status) (enabled/disabled),
        C(service_state) (up/down), C(provision_state), C(resource_class), C(conductor_group),
        C(maintenance) (boolean).
    type: dict
    default: {}
  include_servers:
    description:
      - Also add the tenants' servers as hosts (one more bulk listing), each in the groups
        C(servers) and C(servers_on_<hypervisor host>).
      - A server is named C(server-<server UUID>) (after the O(host_prefix)), never by the name
        its tenant gave it, which is the variable C(osops_server_name). So no tenant can make its
        server an infrastructure host, or change one. A server whose name is the name of a
        hypervisor or node (case ignored) is reported in a warning that names both.
    type: bool
    default: false
  host_prefix:
    description:
      - A prefix for the host names of each cloud (cloud name -> prefix), so names stay unique
        when several clouds are read.
      - When more than one cloud is read, a cloud without an entry gets C(<cloud name>-).
    type: dict
    default: {}
  var_prefix:
    description: The prefix of every variable this plugin sets (except C(ansible_host)).
    type: str
    default: osops_
  fail_on_errors:
    description:
      - V(true) fails the whole inventory, naming the cloud and the reason, when a cloud cannot be
        read. V(false) warns and goes on with the clouds that could be read.
    type: bool
    default: true
  max_workers:
    description: How many clouds are read at the same time.
    type: int
    default: 4
notes:
  - C(ansible_host) is the hypervisor's C(host_ip) by default; override it with O(compose).
  - Hosts are named by their Nova compute service host (by their hypervisor hostname when a
    service host has several hypervisors), or by the Ironic node name (or UUID). A node whose
    name is already a hypervisor's or another node's is named by its UUID, with a warning
    naming both; it never changes the other host.
  - A host name from an API that is not made only of letters, digits, C(.), C(_) and C(-), or
    that starts with a dot or holds C(..), is made safe, so that no name can reach outside
    C(host_vars/). Every other character, leading dot and dot next to a dot becomes C(_), and
    C(-) and 8 hex digits of the SHA-256 of the original name are appended
    (C(../../x y) becomes C(______x_y-e76b0dff)). The original name stays in the variables.
  - "Redacted (replaced by C(******)): the value of every key whose name contains C(pass),
    C(pwd), C(secret), C(token), C(key), C(kek), C(credential), C(community) or C(signature), or
    ends in C(_sig); in every string, the user and password of a URL
    (C(https://******@bmc)) and the value of such a C(name=value) (C(rootpwd=******) in kernel
    arguments, C(temp_url_sig=******) in a query string)."
  - The cache holds only redacted data (servers only with the fields the inventory uses, no
    user data), and the plugin makes its files of a file-based cache plugin (such as
    C(ansible.builtin.jsonfile)) mode 0600. A cache written by an earlier version of this plugin is not
    used but fetched again and overwritten.
author:
  - osops.toolkit maintainers (@osops)
"""

EXAMPLES = r"""
# infra.yml: every hypervisor and node of the cloud in OS_CLOUD, cached for 10 minutes
plugin: osops.toolkit.infra
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/osops-infra
cache_timeout: 600

---
# two regions, disabled hypervisors only, grouped by hypervisor type, reached by DNS name
plugin: osops.toolkit.infra
clouds: [prod-east, prod-west]
host_prefix:
  prod-east: e-
  prod-west: w-
sources: [nova]
filters:
  service_status: disabled
keyed_groups:
  - key: osops_hypervisor_type
    prefix: type
groups:
  empty: osops_instance_count == 0
compose:
  ansible_host: osops_service_host ~ '.mgmt.example.net'
"""

import concurrent.futures
import os
import stat

from ansible.errors import AnsibleError, AnsibleParserError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.display import Display
from ansible.utils.unsafe_proxy import wrap_var

try:
    from ansible_collections.osops.toolkit.plugins.module_utils._cloud import (
        CloudConnectError,
        open_connection,
        resolve_cloud_name,
        sdk_error_message,
    )
    from ansible_collections.osops.toolkit.plugins.module_utils._infra import (
        RequestCounter,
        compose_hosts,
        compose_servers,
        fetch_cloud,
        host_groups,
    )
    from openstack.config import loader as sdk_loader
    HAS_SDK = True
except ImportError:
    HAS_SDK = False

display = Display()

# the layout of what is cached; a cache of another layout (or of a version before it) is refetched
CACHE_FORMAT = 2


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):

    NAME = "osops.toolkit.infra"

    def verify_file(self, path):
        return super(InventoryModule, self).verify_file(path) and \
            path.endswith(("infra.yml", "infra.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        super(InventoryModule, self).parse(inventory, loader, path, cache)
        if not HAS_SDK:
            raise AnsibleParserError("The osops.toolkit.infra inventory needs openstacksdk (pip install openstacksdk).")
        self._read_config_data(path)
        self.requests = 0

        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        update_cache = self.get_option("cache") and not cache
        results = None
        if use_cache:
            try:
                cached = self._cache[cache_key]
            except KeyError:
                cached = None
            # a cache written by an older version may hold unredacted secrets: never used, rewritten
            if isinstance(cached, dict) and cached.get("format") == CACHE_FORMAT:
                results = cached["clouds"]
            else:
                update_cache = True
        if results is None:
            results = self._fetch_all()  # secrets already redacted (fetch_cloud)
        if update_cache:
            self._cache[cache_key] = {"format": CACHE_FORMAT, "clouds": results}
        self._populate(results)

    # ------------------------------------------------------------------ cache files: owner only
    def update_cache_if_changed(self):
        super(InventoryModule, self).update_cache_if_changed()
        self._restrict_cache_files()

    def set_cache_plugin(self):
        super(InventoryModule, self).set_cache_plugin()
        self._restrict_cache_files()

    def _restrict_cache_files(self):
        """Make this inventory's files of a file-based cache plugin (jsonfile, yaml, pickle...)
        mode 0600; those plugins write them 0644. What is cached is redacted already; this keeps
        the rest of the host data private too."""
        cache_dir = getattr(getattr(self._cache, "_plugin", None), "_cache_dir", None)
        keys = tuple(self._cache.keys())
        if not cache_dir or not keys or not os.path.isdir(cache_dir):
            return  # not a file-based cache (memory, redis, memcached...), or nothing cached
        # the plugins put their own prefixes before the key (cache_prefix, a schema version)
        for entry in os.scandir(cache_dir):
            if entry.name.endswith(keys) and entry.is_file(follow_symlinks=False):
                try:
                    os.chmod(entry.path, stat.S_IRUSR | stat.S_IWUSR)
                except OSError as error:
                    raise AnsibleError("osops.toolkit.infra could not make its cache file %s private: %s. "
                                       "Make the cache_connection directory and its files yours."
                                       % (entry.path, to_native(error)))

    # ------------------------------------------------------------------ reading the clouds
    def _cloud_names(self):
        config = sdk_loader.OpenStackConfig()
        names = self.get_option("clouds")
        if not names:
            name = resolve_cloud_name(None, cloud_names=config.get_cloud_names())
            if name is None:
                raise AnsibleParserError(
                    "osops.toolkit.infra: no cloud to read. Set 'clouds' in the inventory file, or OS_CLOUD, "
                    "or use a clouds.yaml with a single cloud (defined now: %s)."
                    % (", ".join(config.get_cloud_names()) or "none"))
            names = [name]
        return config, names

    def _fetch_all(self):
        config, names = self._cloud_names()
        sources = self.get_option("sources")
        include_servers = self.get_option("include_servers")
        results = {}
        workers = max(1, min(self.get_option("max_workers"), len(names)))
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = dict((pool.submit(_fetch_one, config, name, sources, include_servers), name)
                           for name in names)
            for future in concurrent.futures.as_completed(futures):
                name = futures[future]
                data, requests, error = future.result()
                self.requests += requests
                if error:
                    message = "osops.toolkit.infra could not read cloud %r: %s" % (name, error)
                    if self.get_option("fail_on_errors"):
                        raise AnsibleError(message)
                    display.warning(message + " (fail_on_errors=false: going on without it)")
                    continue
                results[name] = data
        return results

    # ------------------------------------------------------------------ building the inventory
    def _populate(self, results):
        # templating 2,000 hosts' vars for nothing costs more than reading them
        self._constructed = any(self.get_option(o) for o in ("compose", "groups", "keyed_groups"))
        several = len(results) > 1
        prefixes = self.get_option("host_prefix") or {}
        var_prefix = self.get_option("var_prefix")
        strict = self.get_option("strict")
        warnings = []
        infra = {}
        # every cloud's infrastructure hosts first: no server is ever added under one of their names
        for cloud in sorted(results):
            prefix = prefixes.get(cloud, cloud + "-" if several else "")
            infra[cloud] = compose_hosts(results[cloud], prefix=prefix, filters=self.get_option("filters"),
                                         warnings=warnings)
            for name, hvars in sorted(infra[cloud].items()):
                self._add_host(name, cloud, hvars, host_groups(hvars), var_prefix, strict)
        if self.get_option("include_servers"):
            for cloud in sorted(results):
                prefix = prefixes.get(cloud, cloud + "-" if several else "")
                servers, server_groups = compose_servers(results[cloud], infra[cloud], prefix=prefix,
                                                         warnings=warnings)
                for name, hvars in sorted(servers.items()):
                    if name in self.inventory.hosts:
                        warnings.append("tenant server %s (id %s) would be host %r, which exists already; "
                                        "it is left out" % (hvars["server_name"], hvars["server_id"], name))
                        continue
                    groups = ["servers"] + ([server_groups[name]] if name in server_groups else [])
                    self._add_host(name, cloud, hvars, groups, var_prefix, strict)
        for warning in warnings:
            display.warning("osops.toolkit.infra: " + warning)

    def _add_host(self, name, cloud, hvars, groups, var_prefix, strict):
        host = self.inventory.add_host(wrap_var(name))
        hostvars = {}
        for key, value in hvars.items():
            if key == "ansible_host":
                if value:
                    hostvars["ansible_host"] = value
                continue
            hostvars[var_prefix + key] = value
        hostvars[var_prefix + "cloud"] = cloud
        for key, value in hostvars.items():
            self.inventory.set_variable(host, key, wrap_var(value))
        for group in groups:
            group_name = self.inventory.add_group(self._sanitize_group_name(group))
            self.inventory.add_child(group_name, host)
        if self._constructed:
            all_vars = self.inventory.get_host(host).get_vars()
            self._set_composite_vars(self.get_option("compose"), all_vars, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), all_vars, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), all_vars, host, strict=strict)


def _fetch_one(config, name, sources, include_servers):
    """Read one cloud: (data, requests made, error message or None). Runs in a worker thread."""
    counter = RequestCounter()
    try:
        region = config.get_one(cloud=name)
        data = fetch_cloud(lambda: open_connection(region),
                           lambda: open_connection(region, system_scope=True),
                           sources, include_servers, counter)
        return data, counter.requests, None
    except CloudConnectError as error:
        return None, counter.requests, str(error)
    except Exception as error:  # pylint: disable=broad-except
        # whatever the SDK, keystoneauth or requests raise: reported per cloud, never a traceback
        return None, counter.requests, sdk_error_message(error) or to_native(error)
