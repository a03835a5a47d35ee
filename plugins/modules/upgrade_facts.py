#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

from __future__ import annotations

DOCUMENTATION = r"""
module: upgrade_facts
short_description: API versions, microversion ranges and Nova service-version skew, as an upgrade gate
version_added: 0.2.0
description:
  - What a rolling upgrade needs to know before and after each step. For every service of the
    catalog of the types in O(service_types), the endpoint, the API version and the microversion
    range that version discovery reports (RV(apis)); the Nova services as the compute API lists
    them (RV(compute_services)).
  - Nova's API does not show the service version of each service, which is what decides whether
    the control services can already speak the new RPC and whether old computes are left. With
    O(nova_database), the module reads the C(services) table of a Nova cell database and returns
    the versions per binary and host (RV(service_versions)) and what differs (RV(skew)).
  - As a gate, O(fail_on_skew) fails when the service versions differ, naming the lagging hosts,
    and O(min_microversions) fails when an API's maximum microversion is below what is required
    (for example after the control plane upgrade, to assert that the new API is live).
  - A service whose version discovery fails is reported with an error, not a failure of the
    module (unless O(min_microversions) asks about it). Endpoint overrides of the cloud
    configuration (C(placement_endpoint_override) and the like) are honoured. Changes nothing.
options:
  service_types:
    description:
      - The service types to report, by their official name or an alias (V(volumev3) is
        V(block-storage)). Types that the catalog does not have are left out.
    type: list
    elements: str
    default: [identity, compute, placement, image, network, block-storage, baremetal, orchestration, dashboard]
  nova_database:
    description:
      - Where to read the C(services) table of a Nova cell database (the cell database, not
        C(nova_api); run the module once per cell). Left out, RV(service_versions) and RV(skew)
        are not returned.
      - Needs the PyMySQL library where the module runs. The user only needs C(SELECT) on the table.
    type: dict
    suboptions:
      host:
        description: Database host name or address.
        type: str
        required: true
      port:
        description: Database port.
        type: int
        default: 3306
      user:
        description: Database user.
        type: str
        default: nova
      password:
        description: Password of O(nova_database.user).
        type: str
      name:
        description: Name of the cell database.
        type: str
        default: nova
      connect_timeout:
        description: Seconds to wait for the connection.
        type: int
        default: 10
  skip_down:
    description:
      - Leave out of RV(service_versions) and RV(skew) the services that the compute API reports
        as down (a dead host that will be deleted). Services that the API does not list, such as
        C(nova-osapi_compute) which sends no heartbeat, are kept.
      - Nova itself counts every service that is not deleted when it computes the minimum version.
    type: bool
    default: false
  fail_on_skew:
    description:
      - Fail when the Nova service versions are not all the same, naming each service below the
        newest version. Needs O(nova_database).
    type: bool
    default: false
  min_microversions:
    description:
      - Service type (or alias) to the maximum microversion the cloud must at least offer, for
        example V(compute) to V("2.95"). Fails when an API offers less, when its discovery failed
        or when the catalog does not have it.
      - Microversions are compared part by part (2.100 is newer than 2.95). Quote them in YAML,
        an unquoted 2.100 is the number 2.1; a value that is not a string is refused.
    type: dict
extends_documentation_fragment:
  - osops.toolkit.cloud
  - osops.toolkit.attributes
  - osops.toolkit.attributes.info_module
  - osops.toolkit.attributes.cloud_group
requirements:
  - PyMySQL (only with O(nova_database))
author:
  - osops.toolkit maintainers (@osops)
seealso:
  - module: osops.toolkit.compute_service
  - module: osops.toolkit.hypervisor_info
"""

EXAMPLES = r"""
- name: Before the computes are upgraded, the control plane must be newer than none of them
  osops.toolkit.upgrade_facts:
    cloud: prod
    nova_database:
      host: db.example.net
      user: nova_ro
      password: "{{ vault_nova_ro_password }}"
      name: nova_cell1
  register: facts

- name: Show which computes are still to do
  ansible.builtin.debug:
    msg: "{{ facts.skew.lagging | map(attribute='host') | list }}"
  when: facts.skew.compute_behind_control

- name: After the upgrade, every service at one version and the new APIs live
  osops.toolkit.upgrade_facts:
    cloud: prod
    nova_database:
      host: db.example.net
      user: nova_ro
      password: "{{ vault_nova_ro_password }}"
      name: nova_cell1
    fail_on_skew: true
    min_microversions:
      compute: "2.100"
      placement: "1.39"
"""

RETURN = r"""
apis:
  description:
    - Per official service type, what version discovery says about the catalog endpoint of the
      connection's interface and region.
  returned: always
  type: dict
  sample: {"compute": {"service_type": "compute", "catalog_type": "compute", "name": "nova",
           "interface": "public", "region": "RegionOne", "endpoint": "http://127.0.0.1:8774/v2.1/",
           "api_version": "2.1", "min_microversion": "2.1", "max_microversion": "2.104", "error": null}}
  contains:
    service_type:
      description: The official service type.
      type: str
      sample: block-storage
    catalog_type:
      description: The type as the catalog spells it.
      type: str
      sample: volumev3
    name:
      description: The service name in the catalog.
      type: str
      sample: cinder
    interface:
      description: The endpoint interface asked for.
      type: str
    region:
      description: The region asked for.
      type: str
    endpoint:
      description: The versioned endpoint URL that discovery found, or the URL it tried when it failed.
      type: str
    api_version:
      description: The major API version, for example V(2.1) for compute or V(3.14) for identity.
      type: str
    min_microversion:
      description: The oldest microversion the API accepts; null when it has no microversions.
      type: str
    max_microversion:
      description: The newest microversion the API offers; null when it has no microversions.
      type: str
      sample: "2.104"
    error:
      description: Why discovery failed; null when it worked.
      type: str
compute_services:
  description: The Nova services as the compute API lists them, sorted by binary and host.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Service id.
      type: str
    binary:
      description: The binary, for example V(nova-compute).
      type: str
    host:
      description: Its host.
      type: str
    availability_zone:
      description: Its availability zone.
      type: str
    state:
      description: V(up) or V(down).
      type: str
    status:
      description: V(enabled) or V(disabled).
      type: str
    disabled_reason:
      description: Why it is disabled; null when enabled.
      type: str
    forced_down:
      description: Whether it is forced down.
      type: bool
    updated_at:
      description: Its last heartbeat.
      type: str
service_versions:
  description:
    - Per binary, the lowest and highest service version of the services not deleted in the
      cell database, and the version of each host.
  returned: when O(nova_database) is given
  type: dict
  sample: {"nova-compute": {"min": 73, "max": 74, "hosts": {"compute-1": 74, "compute-2": 73}},
           "nova-conductor": {"min": 74, "max": 74, "hosts": {"ctl-1": 74}}}
skew:
  description: What differs between the service versions of RV(service_versions).
  returned: when O(nova_database) is given
  type: dict
  contains:
    has_skew:
      description: Whether the versions are not all the same.
      type: bool
    min:
      description: The lowest service version; null when there is no service.
      type: int
    max:
      description: The highest service version; null when there is no service.
      type: int
    binaries:
      description: The binaries whose hosts do not all have the same version.
      type: list
      elements: str
    lagging:
      description: Every service below the highest version, with binary, host and version.
      type: list
      elements: dict
      sample: [{"binary": "nova-compute", "host": "compute-2", "version": 73}]
    compute_behind_control:
      description:
        - Whether the oldest C(nova-compute) is older than the newest control service
          (C(nova-conductor), C(nova-scheduler), C(nova-osapi_compute)).
      type: bool
"""

import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.osops.toolkit.plugins.module_utils._cloud import CloudModule, sdk_error_message
from ansible_collections.osops.toolkit.plugins.module_utils._compute import service_to_dict
from ansible_collections.osops.toolkit.plugins.module_utils._upgrade import (
    DEFAULT_SERVICE_TYPES,
    SERVICES_QUERY,
    drop_down_services,
    format_version,
    microversion_problems,
    parse_microversion,
    service_row,
    service_versions,
    skew_message,
    version_skew,
)

try:
    import pymysql
    HAS_PYMYSQL = True
    PYMYSQL_IMPORT_ERROR = None
except ImportError:
    HAS_PYMYSQL = False
    PYMYSQL_IMPORT_ERROR = traceback.format_exc()

try:
    from keystoneauth1 import discover
except ImportError:  # a dependency of openstacksdk, reported by CloudModule._check_sdk
    discover = None

try:
    import os_service_types
    SERVICE_TYPES = os_service_types.ServiceTypes()
except ImportError:  # a dependency of keystoneauth1; without it, types are taken as written
    SERVICE_TYPES = None


def official_type(service_type):
    """The official name of a service type or alias (volumev3 -> block-storage)."""
    if SERVICE_TYPES is not None:
        return SERVICE_TYPES.get_service_type(service_type) or service_type
    return service_type


class UpgradeFactsModule(CloudModule):
    argument_spec = dict(
        service_types=dict(type="list", elements="str", default=list(DEFAULT_SERVICE_TYPES)),
        nova_database=dict(type="dict", options=dict(
            host=dict(type="str", required=True),
            port=dict(type="int", default=3306),
            user=dict(type="str", default="nova"),
            password=dict(type="str", no_log=True),
            name=dict(type="str", default="nova"),
            connect_timeout=dict(type="int", default=10),
        )),
        skip_down=dict(type="bool", default=False),
        fail_on_skew=dict(type="bool", default=False),
        min_microversions=dict(type="dict"),
    )
    module_kwargs = dict(supports_check_mode=True,
                         required_if=[("fail_on_skew", True, ["nova_database"])])

    def run(self):
        p = self.params
        required = self._required_microversions()
        if p["nova_database"] and not HAS_PYMYSQL:
            self.fail(missing_required_lib("PyMySQL"), exception=PYMYSQL_IMPORT_ERROR)

        wanted = set(official_type(t) for t in p["service_types"]) | set(required)
        self.results["apis"] = self._discover(wanted)
        services = sorted((service_to_dict(s) for s in self.conn.compute.services()),
                          key=lambda s: (s["binary"], s["host"]))
        self.results["compute_services"] = services

        if p["nova_database"]:
            rows = self._read_services(p["nova_database"])
            if p["skip_down"]:
                rows = drop_down_services(rows, services)
            versions = service_versions(rows)
            self.results["service_versions"] = versions
            self.results["skew"] = version_skew(versions)

        problems = microversion_problems(self.results["apis"], required)
        if problems:
            self.fail("The cloud's APIs are older than required: %s." % "; ".join(problems))
        if p["fail_on_skew"] and self.results["skew"]["has_skew"]:
            self.fail(skew_message(self.results["skew"]))

    def _required_microversions(self):
        required = {}
        for service_type, version in (self.params["min_microversions"] or {}).items():
            if not isinstance(version, str):
                self.fail("min_microversions: give %s as a quoted string (%r was read as a %s; "
                          "2.100 unquoted is the number 2.1)." % (service_type, version, type(version).__name__))
            try:
                parse_microversion(version)
            except ValueError as error:
                self.fail("min_microversions: %s: %s." % (service_type, error))
            required[official_type(service_type)] = version
        return required

    def _discover(self, wanted):
        config = self.conn.config
        interface = config.get_interface()
        apis = {}
        # an entry spelled with the official type wins over an alias (block-storage over volumev3)
        catalog = sorted(self.conn.service_catalog or [], key=lambda e: official_type(e["type"]) != e["type"])
        for entry in catalog:
            service_type = official_type(entry["type"])
            if service_type not in wanted or service_type in apis:
                continue
            region = config.get_region_name(service_type)
            record = {"service_type": service_type, "catalog_type": entry["type"], "name": entry.get("name"),
                      "interface": interface, "region": region, "endpoint": None, "api_version": None,
                      "min_microversion": None, "max_microversion": None, "error": None}
            query = dict(service_type=entry["type"], interface=interface, region_name=region)
            override = config.get_endpoint(service_type)
            if override:
                query["endpoint_override"] = override
            try:
                data = self.conn.session.get_endpoint_data(**query)
            except Exception as error:  # pylint: disable=broad-except
                # keystoneauth raises its own discovery and connection errors
                record["error"] = sdk_error_message(error)
                data = None
            else:
                if data is None:
                    record["error"] = "no %s endpoint in region %s" % (interface, region)
            if data is not None:
                record.update(endpoint=data.url, api_version=format_version(data.api_version),
                              min_microversion=format_version(data.min_microversion),
                              max_microversion=format_version(data.max_microversion))
                if data.api_version is None:
                    # keystoneauth falls back to the bare URL when discovery fails; ask again for the reason
                    record["error"] = self._discovery_error(data.url)
            apis[service_type] = record
        return apis

    def _discovery_error(self, url):
        try:
            discover.get_discovery(self.conn.session, url, authenticated=False)
        except Exception as error:  # pylint: disable=broad-except
            return "version discovery at %s failed: %s" % (url, sdk_error_message(error))
        return "version discovery at %s found no API version" % url

    def _read_services(self, db):
        where = "%s@%s:%s/%s" % (db["user"], db["host"], db["port"], db["name"])
        try:
            connection = pymysql.connect(host=db["host"], port=db["port"], user=db["user"],
                                         password=db["password"] or "", database=db["name"],
                                         connect_timeout=db["connect_timeout"], charset="utf8mb4")
            try:
                with connection.cursor() as cursor:
                    cursor.execute(SERVICES_QUERY)
                    return [service_row(row) for row in cursor.fetchall()]
            finally:
                connection.close()
        except pymysql.MySQLError as error:
            self.fail("Could not read the services table of the nova database %s: %s" % (where, _db_error(error)))
        return []


def _db_error(error):
    args = getattr(error, "args", ())
    if len(args) == 2:
        return "%s (MySQL error %s)" % (args[1], args[0])
    return str(error) or error.__class__.__name__


def main():
    UpgradeFactsModule()()


if __name__ == "__main__":
    main()
