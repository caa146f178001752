# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Section 7, Consul's peering sync loop: does establishing all of one dialer's peerings before waiting let
Consul's rate-limited loop open them together? Raw API calls (no Ansible, so that only Consul's time counts) on
a busy full mesh, in two orders:
  batched     what consul_peering_mesh does: every token, then each dialer's establishes back to back, then one
              wait until every pair is ACTIVE on both sides
  one by one  token, establish, wait until both sides are ACTIVE; then the next pair
The dialers' logs show when each peering's stream opened, and so how many loop runs opened them.
"""

from __future__ import annotations

import time

from ansible_collections.consul.peering.plugins.filter.peering import peering_pairs

from ansible_collections.consul.peering.bench.consul_regimes import (
    churn, delete_all, establish_and_stream_times, listed_peerings,
)
from ansible_collections.consul.peering.bench.measure import BenchError, summary

POLL_SECONDS = 0.02
TIMEOUT = 120
# Stream openings this close together on one dialer count as one run of its sync loop.
SAME_LOOP_RUN_SECONDS = 1.0
ORDERS = ('batched', 'one_by_one')


def mesh_pairs(members):
    """(acceptor, dialer) clusters of the full mesh, in the order the playbook's filter gives them."""
    by_name = dict((cluster.name, cluster) for cluster in members)
    return [(by_name[pair['acceptor']], by_name[pair['dialer']])
            for pair in peering_pairs(mesh=[cluster.name for cluster in members])]


def generate_token(acceptor, dialer):
    return acceptor.api('POST', '/v1/peering/token', json={'PeerName': dialer.name}).json()['PeeringToken']


def establish(dialer, acceptor, token):
    dialer.api('POST', '/v1/peering/establish', json={'PeerName': acceptor.name, 'PeeringToken': token})


def wait_active(pairs):
    """Poll the clusters of `pairs` until both sides of each are ACTIVE."""
    deadline = time.monotonic() + TIMEOUT
    wanted = [(acceptor, dialer.name) for acceptor, dialer in pairs]
    wanted += [(dialer, acceptor.name) for acceptor, dialer in pairs]
    clusters = dict((cluster.name, cluster) for cluster, _name in wanted)
    while True:
        states = dict((name, dict((peering['Name'], peering['State']) for peering in listed_peerings(cluster)))
                      for name, cluster in clusters.items())
        if all(states[cluster.name].get(name) == 'ACTIVE' for cluster, name in wanted):
            return
        if time.monotonic() > deadline:
            raise BenchError('the sync-loop pairs were not ACTIVE after %d s' % TIMEOUT)
        time.sleep(POLL_SECONDS)


def peer_batched(pairs):
    """The mesh module's order; returns the wall seconds from the first call to every pair ACTIVE."""
    started = time.perf_counter()
    tokens = dict(((acceptor.name, dialer.name), generate_token(acceptor, dialer)) for acceptor, dialer in pairs)
    dialers = []
    for _acceptor, dialer in pairs:
        if dialer not in dialers:
            dialers.append(dialer)
    for dialer in dialers:
        for acceptor, pair_dialer in pairs:
            if pair_dialer is dialer:
                establish(dialer, acceptor, tokens[(acceptor.name, dialer.name)])
    wait_active(pairs)
    return time.perf_counter() - started


def peer_one_by_one(pairs):
    """One pair at a time, waiting after each establish; returns the wall seconds from the first call to the end."""
    started = time.perf_counter()
    for acceptor, dialer in pairs:
        establish(dialer, acceptor, generate_token(acceptor, dialer))
        wait_active([(acceptor, dialer)])
    return time.perf_counter() - started


def loop_runs(dialer, mark):
    """For one dialer, from its log after `mark`: how many peerings it opened, in how many sync-loop runs, and
    the seconds from its first establish answered to its last stream opened."""
    answered, opened = establish_and_stream_times(dialer, mark)
    times = sorted(opened.values())
    if not answered or not times:
        return None
    runs = 1 + sum(1 for earlier, later in zip(times, times[1:])
                   if (later - earlier).total_seconds() > SAME_LOOP_RUN_SECONDS)
    return {'peerings': len(times), 'loop_runs': runs,
            'first_establish_to_last_stream': round((times[-1] - min(answered)).total_seconds(), 2)}


def sync_loop(clusters, size, repeat):
    """Both orders on the first `size` clusters, `repeat` times each, interleaved, on busy clusters."""
    members = clusters[:size]
    pairs = mesh_pairs(members)
    dialers = sorted(set(dialer.name for _acceptor, dialer in pairs))
    samples = dict((order, {'wall': [], 'dialers': []}) for order in ORDERS)
    for round_number in range(repeat):
        for order in (ORDERS if round_number % 2 == 0 else ORDERS[::-1]):
            churn(members)  # busy, as in the mesh section
            marks = dict((cluster.name, cluster.log_mark()) for cluster in members)
            wall = (peer_batched if order == 'batched' else peer_one_by_one)(pairs)
            samples[order]['wall'].append(wall)
            samples[order]['dialers'].append(dict(
                (name, loop_runs(cluster, marks[name])) for name, cluster in
                ((cluster.name, cluster) for cluster in members) if name in dialers))
    delete_all(members)
    result = {'clusters': size, 'peerings': len(pairs), 'repeat': repeat}
    for order, data in samples.items():
        last = data['dialers'][-1]
        result[order] = {'wall': summary(data['wall'], 2), 'dialers_last_run': last,
                         'loop_runs': summary([sum(entry['loop_runs'] for entry in run.values() if entry)
                                               for run in data['dialers']], 0)}
    result['one_by_one_vs_batched'] = round(
        result['one_by_one']['wall']['median'] / result['batched']['wall']['median'], 2)
    return result
