# -*- coding: utf-8 -*-
# Copyright (c) osops.toolkit contributors
# SPDX-License-Identifier: Apache-2.0 OR GPL-3.0-or-later
# Apache License 2.0 or, at your option, GNU General Public License version 3 or later
# (see LICENSES/ in the collection)
"""Placement calls the SDK has no resource for, as plain JSON."""

from __future__ import annotations

try:
    from openstack import exceptions as sdk_exceptions
except ImportError:  # reported by CloudModule._check_sdk
    sdk_exceptions = None

# 1.14 brings nested providers; every placement of the last five years offers it.
PLACEMENT_MICROVERSION = "1.14"


def placement_get(conn, path, microversion=PLACEMENT_MICROVERSION):
    """GET a placement path; the decoded JSON, or None when it does not exist (404)."""
    response = conn.placement.get(path, microversion=microversion)
    if response.status_code == 404:
        return None
    sdk_exceptions.raise_from_response(response)
    return response.json()
