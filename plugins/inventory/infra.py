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
    and properties (secrets in C(driver_info) redacted). A bare-metal node that Nova also lists as
    a hypervisor is one host carrying both.
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
      - Also add the tenants' servers as hosts (one more bulk listing), each in the group
        C(servers_on_<hypervisor host>).
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
  - Hosts are named by their Nova compute service host, or by the Ironic node name (or UUID).
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
                results = self._cache[cache_key]
            except KeyError:
                update_cache = True
        if results is None:
            results = self._fetch_all()
        if update_cache:
            self._cache[cache_key] = results
        self._populate(results)

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
        for cloud in sorted(results):
            data = results[cloud]
            prefix = prefixes.get(cloud, cloud + "-" if several else "")
            hosts = compose_hosts(data, prefix=prefix, filters=self.get_option("filters"))
            for name, hvars in sorted(hosts.items()):
                self._add_host(name, cloud, hvars, host_groups(hvars), var_prefix, strict)
            if self.get_option("include_servers"):
                by_service_host = dict((hv["service_host"], name) for name, hv in hosts.items()
                                       if hv.get("service_host"))
                servers, server_groups = compose_servers(data, by_service_host, prefix=prefix)
                for name, hvars in sorted(servers.items()):
                    groups = ["servers"] + ([server_groups[name]] if name in server_groups else [])
                    self._add_host(name, cloud, hvars, groups, var_prefix, strict)

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
