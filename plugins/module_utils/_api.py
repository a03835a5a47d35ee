# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)

"""How this collection reads an OpenStack API that openstacksdk has no call for: one JSON GET
that raises openstacksdk's HttpException (with the status and the request id) on any error, and
one listing that reads every page by following the service's next links. The microversions are
named here, each with what needs it.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

try:
    from openstack import exceptions as sdk_exceptions
except ImportError:  # the modules say so through OpenStackModule
    sdk_exceptions = None

# Nova
NOVA_SERVICES = "2.53"          # services and hypervisors by UUID, paginated hypervisors
NOVA_SERVER_LIST = "2.47"       # the flavor inside each server of a listing
NOVA_MIGRATIONS = "2.59"        # migrations with uuids, paginated, filtered by changes-since
NOVA_FLAVOR_EXTRA_SPECS = "2.61"  # extra_specs in the flavor listing
# moves: abort of queued live migrations (2.65), migration list paging and changes-since (2.59),
# cold migration to a given host (2.56), hypervisors and services by UUID (2.53)
NOVA_MOVES = "2.65"
NOVA_ACTION_DETAILS = "2.84"    # instance action events carry the error message in "details"
# hypervisor listings with their servers; before 2.88 they also carry the compute node's own
# vcpus/memory/disk, which from 2.88 on are only in placement (no bulk call there)
NOVA_HYPERVISOR_SERVERS = "2.87"
# Placement
PLACEMENT = "1.14"              # provider trees
PLACEMENT_TRAITS = "1.22"       # forbidden traits in ?required=
# provider summaries with every resource class, not only the requested ones (1.27); forbidden
# traits (1.22), to leave out disabled computes
PLACEMENT_CANDIDATES = "1.27"
# Ironic
IRONIC_NODES = "1.50"           # conductor_group (1.46) and owner (1.50) in node listings


def get(proxy, path, params=None, microversion=None, counter=None):
    """The response to GET path. An error raises openstacksdk's HttpException, which names the
    status and the request id (the modules' base class turns it into one failure message)."""
    response = proxy.get(path, params=params, microversion=microversion)
    if counter is not None:
        counter.requests += 1
    sdk_exceptions.raise_from_response(response)
    return response


def get_json(proxy, path, params=None, microversion=None, missing_ok=False, counter=None):
    """The decoded body of GET path; None for a 404 when missing_ok."""
    try:
        return get(proxy, path, params, microversion, counter).json()
    except sdk_exceptions.NotFoundException:
        if missing_ok:
            return None
        raise


def put(proxy, path, body, microversion=None):
    """The response to PUT path with a JSON body; errors raise as for get()."""
    response = proxy.put(path, json=body, microversion=microversion)
    sdk_exceptions.raise_from_response(response)
    return response


def next_marker(body, key):
    """The marker of the next page: Nova's ``<key>_links`` or Ironic's ``next``; None on the last page."""
    links = body.get(key + "_links") or []
    next_url = body.get("next") or next((link.get("href") for link in links if link.get("rel") == "next"), None)
    if not next_url:
        return None
    return (parse_qs(urlsplit(next_url).query).get("marker") or [None])[0]


def paged(proxy, path, key, params=None, microversion=None, page_size=None, counter=None):
    """Every item of a paged listing, page by page.

    A service caps a page at its own maximum whatever limit was asked (Nova's ``max_limit``),
    so the length of a page says nothing about whether it is the last; only a next link does.
    A marker seen twice ends the listing instead of looping.
    """
    params = dict(params or {})
    if page_size:
        params["limit"] = page_size
    seen = set()
    while True:
        body = get_json(proxy, path, params=params, microversion=microversion, counter=counter)
        page = body.get(key) or []
        yield from page
        marker = next_marker(body, key)
        if not page or not marker or marker in seen:
            return
        seen.add(marker)
        params["marker"] = marker
