# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a cluster imports from a peer: the instances of a service and their health, read, summed up and waited for.

On Consul 1.14 only the health endpoint sees imported instances (GET /v1/health/service/:name?peer=);
the catalog endpoints ignore `peer` and answer with the local catalog. The pure functions turn its answer
into plain views; ImportReader reads it and waits for a passing instance with blocking queries.
"""

from __future__ import annotations

import time
from urllib.parse import quote

from ansible_collections.consul.peering.plugins.module_utils.errors import ConsulError
from ansible_collections.consul.peering.plugins.module_utils.peering import (
    ACTIVE, DELETING, PeeringError, is_deleting,
)
from ansible_collections.consul.peering.plugins.module_utils.waiting import is_retryable

PASSING = 'passing'
WARNING = 'warning'
CRITICAL = 'critical'
_SEVERITY = {PASSING: 0, WARNING: 1, CRITICAL: 2}

FILTERED_HEADER = 'X-Consul-Results-Filtered-By-ACLs'
INDEX_HEADER = 'X-Consul-Index'
READ_PERMISSION = 'service:read'
# Measured on Consul 1.14: with less (service "web" read, or only one of the two), the answer is an empty
# list with X-Consul-Results-Filtered-By-ACLs: true, never a 403.
READ_RULES = 'service_prefix "" { policy = "read" } and node_prefix "" { policy = "read" }'
# For the cluster's own instances, read on the service itself is enough (measured on Consul 1.14.11).
LOCAL_READ_RULES = 'service "%s" { policy = "read" } and node_prefix "" { policy = "read" }'

# A blocking query may hold this share of the time left (Consul adds up to 1/16 of jitter), whole seconds.
BLOCK_SHARE = 0.8
POLL_PAUSE = 0.5  # seconds between reads when no blocking query can be made, or after a failed read


class ImportReadError(PeeringError):
    """The token may not see the imported instances: Consul filtered them out of its answer."""


# -- views ----------------------------------------------------------------------------------

def instance_status(checks):
    """The worst status of an instance's checks, as Consul ranks them; passing when it has none."""
    worst = PASSING
    for check in checks or []:
        status = check.get('Status') if check.get('Status') in _SEVERITY else CRITICAL
        if _SEVERITY[status] > _SEVERITY[worst]:
            worst = status
    return worst


def instance_view(entry):
    """One instance of GET /v1/health/service as plain data: where it is, and its health."""
    node = entry.get('Node') or {}
    service = entry.get('Service') or {}
    checks = entry.get('Checks') or []
    return {
        'id': service.get('ID'),
        'service': service.get('Service'),
        'peer': service.get('PeerName') or node.get('PeerName'),
        'node': node.get('Node'),
        'datacenter': node.get('Datacenter'),
        'address': service.get('Address') or node.get('Address'),
        'port': service.get('Port'),
        'tags': list(service.get('Tags') or []),
        'meta': dict(service.get('Meta') or {}),
        'status': instance_status(checks),
        'checks': [{'id': check.get('CheckID'), 'name': check.get('Name'), 'status': check.get('Status'),
                    'output': check.get('Output') or ''} for check in checks],
    }


def summarize(instances):
    """How many instances there are, and how many are passing, warning and critical."""
    summary = {'total': len(instances), PASSING: 0, WARNING: 0, CRITICAL: 0}
    for instance in instances:
        summary[instance['status']] += 1
    return summary


def describe_instances(instances):
    """'no instances', or how many there are and the status of those that are not passing, for messages."""
    if not instances:
        return 'no instances'
    summary = summarize(instances)
    text = '%d instance%s, %s passing' % (summary['total'], '' if summary['total'] == 1 else 's',
                                          summary[PASSING] or 'none')
    unhealthy = ['%s %s' % (instance['id'], instance['status']) for instance in instances
                 if instance['status'] != PASSING]
    return text + (' (%s)' % ', '.join(unhealthy[:5]) if unhealthy else '')


def describe_peering(peering, peer):
    """Why a peering may explain missing imports, or None when it is ACTIVE."""
    if peering is None:
        return 'this cluster has no peering named %r' % peer
    state = DELETING if is_deleting(peering) else peering.get('State')
    if state != ACTIVE:
        return 'the peering %r is %s on this cluster, not ACTIVE' % (peer, state)
    return None


# -- reading --------------------------------------------------------------------------------

def describe_origin(service, peer):
    """Where the instances are, for messages: 'web' imported from peer 'dc1', or 'web' in this cluster."""
    return '%r imported from peer %r' % (service, peer) if peer else '%r in this cluster' % service


class ImportReader:
    """Reads the instances of `service` that this cluster imports from `peer`, or its own ones when `peer` is None."""

    def __init__(self, client, service, peer, partition=None, clock=time.monotonic, sleep=time.sleep):
        self.client = client
        self.service = service
        self.peer = peer
        self.partition = partition
        self.clock = clock
        self.sleep = sleep
        self.partly_filtered = False

    def read(self, index=None, block=None, deadline=None):
        """(instance views, X-Consul-Index); with `index`, Consul holds the answer up to `block` seconds until
        something changes. An empty answer that Consul filtered by ACLs raises ImportReadError."""
        params = {'peer': self.peer} if self.peer else {}
        if self.partition:
            params['partition'] = self.partition
        if index:
            params.update(index=index, wait='%ds' % block)
        _status, data, headers = self.client.request_with_headers(
            'GET', '/v1/health/service/%s' % quote(self.service, safe=''), READ_PERMISSION, params=params,
            deadline=deadline)
        filtered = (headers.get(FILTERED_HEADER) or '').lower() == 'true'
        if filtered and not data:
            if self.peer:
                needs = 'reading imported services needs service:read and node:read on every service and node, %s' \
                    % READ_RULES
            else:
                rules = LOCAL_READ_RULES % self.service.replace('\\', '\\\\').replace('"', '\\"')
                needs = 'reading them needs service:read on the service and node:read on its nodes, %s' % rules
            raise ImportReadError(
                'Consul answered that it filtered the instances of %s out of its answer (%s: true), so the ACL '
                'token may not see them: %s' % (describe_origin(self.service, self.peer), FILTERED_HEADER, needs))
        self.partly_filtered = filtered
        try:
            new_index = int(headers.get(INDEX_HEADER) or 0)
        except ValueError:
            new_index = 0
        return [instance_view(entry) for entry in data or []], new_index

    def peering_note(self, deadline=None):
        """Why the peering may explain missing instances, or None (also when the token may not read it)."""
        if not self.peer:
            return None
        try:
            return describe_peering(self.client.read_peering(self.peer, deadline=deadline), self.peer)
        except ConsulError:
            return None

    def wait_until_passing(self, timeout):
        """Read until an instance is passing and return the instances; raise PeeringError after `timeout` s.

        Reads are blocking queries, so the wait ends as soon as Consul sees a change; every read, the one
        that asks after the peering included, is cut short at the deadline.
        """
        deadline = self.clock() + timeout
        index, last, last_error, note = None, None, None, None
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise PeeringError(self._timed_out(timeout, last, last_error, note))
            block = int(min(remaining, self.client.connection.timeout) * BLOCK_SHARE)
            try:
                instances, new_index = self.read(index if block >= 1 else None, block, deadline)
            except ConsulError as exc:
                if not is_retryable(exc):
                    raise
                if self.clock() < deadline:  # a read cut short at the deadline is the end of the wait, not an error
                    last_error = exc
                index = None
                self._pause(deadline)
                continue
            if any(instance['status'] == PASSING for instance in instances):
                return instances
            if not instances and last is None:
                note = self.peering_note(deadline)
            last, last_error = instances, None
            # An index that goes back (a server restored from a snapshot) starts the blocking over.
            if new_index <= 0 or (index is not None and new_index < index) or block < 1:
                index = None
                self._pause(deadline)
            else:
                index = new_index

    def _pause(self, deadline):
        self.sleep(max(0, min(POLL_PAUSE, deadline - self.clock())))

    def _timed_out(self, timeout, last, last_error, note):
        text = 'Timed out after %gs waiting for a passing instance of %s; ' % (
            timeout, describe_origin(self.service, self.peer))
        text += ('last seen: %s' % describe_instances(last)) if last is not None else 'no read was answered'
        if last_error is not None:
            text += '; last error: %s' % last_error
        if note and not last:
            text += '; when the wait began, %s' % note
        return text
