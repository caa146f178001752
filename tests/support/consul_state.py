# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Consul's own view, for the tests' assertions and clean-up: read_peering, delete_everywhere, the calls Consul
logged (write_calls, peering_calls), fresh peer names, ACL tokens of limited rights (acl_token), the
exported services (read_exports, consumers), and wait_for."""

from __future__ import annotations

import itertools
import time

_names = itertools.count(1)

WRITE_METHODS = ('POST', 'PUT', 'DELETE')
EXPORTS = '/v1/config/exported-services/default'  # the partition's one exported-services entry


def unique_name(prefix):
    """A peer name no other test uses, so tests can share the session's clusters."""
    return '%s-%d-%d' % (prefix, int(time.time()) % 100000, next(_names))


def peer_names(prefix):
    """Fresh peer names for a pair where dc1 accepts and dc2 dials: 'on_acceptor' is what dc1 calls dc2,
    'on_dialer' what dc2 calls dc1."""
    return {'on_acceptor': unique_name('%s-dc2' % prefix), 'on_dialer': unique_name('%s-dc1' % prefix)}


def acl_token(cluster, rules):
    """Create an ACL token holding only a policy of `rules` on `cluster` and return its secret."""
    name = unique_name('policy')
    cluster.api('PUT', '/v1/acl/policy', json={'Name': name, 'Rules': rules})
    response = cluster.api('PUT', '/v1/acl/token', json={'Policies': [{'Name': name}], 'Description': name})
    return response.json()['SecretID']


def read_peering(cluster, name):
    """The peering as Consul itself reports it (through the management token), or None."""
    response = cluster.api('GET', '/v1/peering/%s' % name, expect=(200, 404))
    return response.json() if response.status_code == 200 else None


def read_exports(cluster):
    """The cluster's exported-services entry as Consul stores it (through the management token), or None."""
    response = cluster.api('GET', EXPORTS, expect=(200, 404))
    return response.json() if response.status_code == 200 else None


def consumers(cluster, service):
    """The peers consuming `service` in the cluster's exported-services entry, as Consul stores it."""
    return [consumer.get('Peer') for item in (read_exports(cluster) or {}).get('Services') or []
            if item['Name'] == service for consumer in item['Consumers']]


def wait_for(predicate, timeout=60, interval=0.25, what='condition'):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %ss waiting for %s' % (timeout, what))
        time.sleep(interval)


def delete_everywhere(clusters, names):
    """Delete peerings by name on every cluster and wait until they are gone (test clean-up)."""
    for cluster in clusters:
        for name in names:
            cluster.api('DELETE', '/v1/peering/%s' % name, expect=(200, 404))
    for cluster in clusters:
        for name in names:
            wait_for(lambda c=cluster, n=name: read_peering(c, n) is None, what='%s gone on %s' % (name, cluster.name))


def write_calls(cluster, since):
    """HTTP calls that could change Consul, as Consul logged them since the mark."""
    return [call for call in cluster.http_requests(since=since) if call[0] in WRITE_METHODS]


def peering_calls(cluster, since):
    """Calls to the peering endpoints only (the harness's own health checks excluded)."""
    return [call for call in cluster.http_requests(since=since) if '/peering' in call[1]]
