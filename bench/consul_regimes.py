# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Consul side of the benchmarks: putting clusters in a known state (no peerings; rested or busy), checking
what a run left, Consul's own time read from its log, and Consul's floor in raw API calls.

Consul 1.14 opens the stream of a new dialing peering from its peering sync loop, which runs again on every
peering change but is rate limited (agent/consul/leader_connect.go: loopRateLimit 0.2/s, burst 5, used by
runPeeringSync in leader_peering.go). Measured on this harness: a dialing server that had no peering change for
15 s or more reaches ACTIVE in about 0.03 s; one that had a change a few seconds before (even one token and its
deletion) takes 4-5 s. Both regimes are measured, on separate clusters.
"""

from __future__ import annotations

import datetime
import time

from ansible_collections.consul.peering.tests.support.consul_state import read_peering, wait_for

from ansible_collections.consul.peering.bench.measure import BenchError

REST_SECONDS = 20
# Consul 1.14 can leave a deletion stalled (a TERMINATED row marked for deletion); a second DELETE clears it,
# and one for a row already being deleted does nothing. So delete_all() sends them again this often.
DELETE_AGAIN_SECONDS = 3.0
DELETE_TIMEOUT = 120
CHURN_PEER = 'bench-churn'


def listed_peerings(cluster):
    """Consul's list of the cluster's peerings (management token)."""
    return cluster.api('GET', '/v1/peerings').json() or []


def peering_states(cluster):
    """{peering name: state} of every peering of the cluster."""
    return dict((peering['Name'], peering['State']) for peering in listed_peerings(cluster))


def delete_all(clusters, timeout=DELETE_TIMEOUT):
    """Delete every peering of every cluster and wait until Consul has removed them."""
    deadline = time.monotonic() + timeout
    pending = list(clusters)
    while pending:
        for cluster in pending:
            for peering in listed_peerings(cluster):
                cluster.api('DELETE', '/v1/peering/%s' % peering['Name'], expect=(200, 404))
        wait_until = min(deadline, time.monotonic() + DELETE_AGAIN_SECONDS)
        while pending and time.monotonic() < wait_until:
            pending = [cluster for cluster in pending if listed_peerings(cluster)]
            if pending:
                time.sleep(0.1)
        if pending and time.monotonic() >= deadline:
            raise BenchError('after %d s, peerings are left on %s' % (timeout, ', '.join(
                '%s (%s)' % (cluster.name, peering_states(cluster)) for cluster in pending)))


def churn(clusters):
    """Make a peering change on each cluster (a token for a scratch peering, then its deletion): the state a
    cluster is in right after another peering run, which makes Consul's next dial wait for its rate limit.
    Every other peering of the clusters is deleted too."""
    for cluster in clusters:
        cluster.api('POST', '/v1/peering/token', json={'PeerName': CHURN_PEER})
    delete_all(clusters)


class RestedDialers:
    """Dialing clusters handed out only once they had no peering change for REST_SECONDS."""

    def __init__(self, clusters):
        self.clusters = list(clusters)
        self.last_change = dict((cluster.name, time.monotonic() - REST_SECONDS) for cluster in self.clusters)
        self.slept = 0.0

    def take(self):
        """The cluster that rested longest, once it has rested REST_SECONDS (sleeping until then)."""
        cluster = min(self.clusters, key=lambda candidate: self.last_change[candidate.name])
        wait = self.last_change[cluster.name] + REST_SECONDS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
            self.slept += wait
        return cluster

    def changed(self, cluster):
        """Note that the cluster just had a peering change."""
        self.last_change[cluster.name] = time.monotonic()


def check_active(acceptor, dialer, acceptor_peer, dialer_peer):
    """Raise unless both sides of the pair are ACTIVE."""
    if peering_states(acceptor).get(acceptor_peer) != 'ACTIVE' or peering_states(dialer).get(dialer_peer) != 'ACTIVE':
        raise BenchError('the run ended before both sides were ACTIVE')


def check_mesh(members):
    """Raise unless every member has one ACTIVE peering with each other member."""
    for cluster in members:
        found = peering_states(cluster)
        if len(found) != len(members) - 1 or set(found.values()) != {'ACTIVE'}:
            raise BenchError('after the mesh run %s has %s' % (cluster.name, found))


def check_no_peerings(members):
    """Raise if a check-mode run left any peering behind."""
    for cluster in members:
        if listed_peerings(cluster):
            raise BenchError('%s has peerings after a run that should not write: %s'
                             % (cluster.name, peering_states(cluster)))


# -- Consul's own time, from its log ---------------------------------------------------------------

def _log_time(line):
    return datetime.datetime.strptime(line.split()[0], '%Y-%m-%dT%H:%M:%S.%fZ')


def _log_lines(cluster, mark):
    with open(cluster.log_path, 'rb') as handle:
        handle.seek(mark)
        return handle.read().decode('utf-8', 'replace').splitlines()


def _is_stream_opened(line, peer_name):
    # Consul 1.14's own spelling ("dailer") in the line that opens a dialing peering's stream.
    return 'subscribing to resource type: dailer=true' in line and ' peer_name=%s ' % peer_name in line


def consul_stream_wait(dialer, mark, dialer_peer):
    """Seconds from Consul answering the establish call to the dialer opening the peering stream (which makes
    both sides ACTIVE), from the dialer's own log after `mark`; None when the log does not show both."""
    lines = _log_lines(dialer, mark)
    established = next((_log_time(line) for line in lines
                        if 'Request finished: method=POST url=/v1/peering/establish' in line), None)
    stream = next((_log_time(line) for line in lines if _is_stream_opened(line, dialer_peer)), None)
    if established is None or stream is None:
        return None
    return round((stream - established).total_seconds(), 3)


def establish_and_stream_times(dialer, mark):
    """From the dialer's log after `mark`: when it answered each establish call ([datetime]), and when it opened
    the stream of each dialing peering ({peer name: datetime of the first opening})."""
    lines = _log_lines(dialer, mark)
    answered = [_log_time(line) for line in lines if 'Request finished: method=POST url=/v1/peering/establish' in line]
    opened = {}
    for line in lines:
        if 'subscribing to resource type: dailer=true' in line:
            fields = dict(part.split('=', 1) for part in line.split() if '=' in part)
            opened.setdefault(fields.get('peer_name'), _log_time(line))
    return answered, opened


# -- Consul's floor ---------------------------------------------------------------------------------

def both_active(pairs):
    """Whether every (cluster, peering name) is ACTIVE."""
    return all((read_peering(cluster, name) or {}).get('State') == 'ACTIVE' for cluster, name in pairs)


def consul_floor(acceptor, dialer, acceptor_peer, dialer_peer, interval=0.02):
    """Consul's own time from sending the establish call until both sides report ACTIVE (polled every 20 ms)."""
    token = acceptor.api('POST', '/v1/peering/token', json={'PeerName': acceptor_peer}).json()['PeeringToken']
    started = time.perf_counter()
    dialer.api('POST', '/v1/peering/establish', json={'PeerName': dialer_peer, 'PeeringToken': token})
    wait_for(lambda: both_active(((dialer, dialer_peer), (acceptor, acceptor_peer))),
             timeout=120, interval=interval, what='the floor peering to be ACTIVE on both sides')
    return time.perf_counter() - started
