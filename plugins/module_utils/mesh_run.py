# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The executor of a mesh plan: one client per cluster, clusters worked on side by side, one shared wait.

Order, from what Consul 1.14 does: every token first (acceptors work in parallel), then every establish of a
dialer one after the other without waiting (Consul opens new dialing streams from a rate-limited sync loop,
so one loop run can pick up all of a dialer's new peerings), then one wait for all pairs, each round
listing every cluster involved once. A pair that fails is recorded and the others go on.
"""

from __future__ import annotations

import threading

from ansible_collections.consul.peering.plugins.module_utils.api import ConsulClient
from ansible_collections.consul.peering.plugins.module_utils.errors import (
    ConsulError, PeeringNameConflictError, PeeringTokenRejectedError,
)
from ansible_collections.consul.peering.plugins.module_utils.mesh import PRESENT, PairPlan, plan_mesh
from ansible_collections.consul.peering.plugins.module_utils.peering import (
    DELETE, ESTABLISH, GENERATE_TOKEN, WAIT_UNTIL_ACTIVE, WAIT_UNTIL_GONE, PeeringError, decode_peering_token, plan_establish,
    reached_active,
)
from ansible_collections.consul.peering.plugins.module_utils.waiting import (
    STALL_SECONDS, Stall, Waiter, deletion_mark, is_retryable, joined_concurrent_establish,
)

MAX_THREADS = 8


def in_parallel(function, items):
    """Call function(item) for every item, up to MAX_THREADS at a time; return the results in order.

    An exception is returned in place of its result, so that one failure never hides the others.
    """
    items = list(items)
    results = [None] * len(items)
    lock = threading.Lock()
    queue = list(enumerate(items))

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                index, item = queue.pop(0)
            try:
                results[index] = function(item)
            except Exception as exc:  # pylint: disable=broad-except
                results[index] = exc

    threads = [threading.Thread(target=worker, daemon=True) for _index in range(min(MAX_THREADS, len(items)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class MeshRun:
    """Read every cluster once, plan every pair, and (outside check mode) carry out the plan.

    `connect(cluster)` returns the ConsulClient for a mesh.Cluster; all clients share the run's Secrets.
    """

    def __init__(self, pairs, connect, state=PRESENT, wait_timeout=120):
        self.pairs = pairs
        self.state = state
        self.wait_timeout = wait_timeout
        self.clusters = {}
        for acceptor, dialer in pairs:
            self.clusters[acceptor.label], self.clusters[dialer.label] = acceptor, dialer
        self.clients = dict((label, connect(cluster)) for label, cluster in self.clusters.items())
        self.plans = []
        self.listed = {}

    # -- reading ------------------------------------------------------------------------------------

    def list_all(self, labels=None, deadline=None, errors=None):
        """{label: [peerings]} for the given clusters (all by default), read side by side.

        A cluster that cannot be read raises, unless `errors` is a dict: its error then goes there.
        """
        labels = sorted(labels or self.clusters)
        results = in_parallel(lambda label: self.clients[label].list_peerings(deadline=deadline), labels)
        listed = {}
        for label, result in zip(labels, results):
            if isinstance(result, Exception):
                if errors is None or not isinstance(result, ConsulError):
                    raise result
                errors[label] = result
            else:
                listed[label] = result
        return listed

    def plan(self):
        """Read every cluster once and plan every pair; the pairs of a cluster that cannot be read fail."""
        unreadable = {}
        self.listed = self.list_all(errors=unreadable)
        readable = [(a, d) for a, d in self.pairs if a.label not in unreadable and d.label not in unreadable]
        planned = dict(((pair.acceptor.label, pair.dialer.label), pair)
                       for pair in plan_mesh(readable, self.listed, self.state))
        self.plans = []
        for acceptor, dialer in self.pairs:
            pair = planned.get((acceptor.label, dialer.label))
            if pair is None:
                pair = PairPlan(acceptor, dialer, None, None)
                pair.error = '; '.join('could not read %s: %s' % (label, unreadable[label])
                                       for label in (acceptor.label, dialer.label) if label in unreadable)
            self.plans.append(pair)
        return self.plans

    # -- acting -------------------------------------------------------------------------------------

    def run(self):
        """Carry out the plans; every pair ends with an outcome (its `error` set when it failed)."""
        working = [pair for pair in self.plans if pair.error is None and (pair.acceptor_steps or pair.dialer_steps)]
        if self.state == PRESENT:
            self._by_cluster(working, 'acceptor', self._acceptor_steps)
            self._by_cluster([pair for pair in working if pair.error is None and GENERATE_TOKEN in pair.acceptor_steps],
                             'dialer', self._dialer_steps)
            self._wait_active([pair for pair in working if pair.error is None and WAIT_UNTIL_ACTIVE in pair.dialer_steps])
        else:
            self._by_cluster(working, 'dialer', lambda pair: self._delete(pair, 'dialer'))
            self._by_cluster(working, 'acceptor', lambda pair: self._delete(pair, 'acceptor'))
            self._wait_gone([pair for pair in working if pair.error is None])
        return self.plans

    def _by_cluster(self, pairs, side, step):
        """Run step(pair) for each pair, the pairs of one cluster (on `side`) one after the other."""
        groups = {}
        for pair in pairs:
            groups.setdefault(getattr(pair, side).label, []).append(pair)

        def work(group):
            for pair in group:
                try:
                    step(pair)
                except (ConsulError, PeeringError) as exc:
                    pair.error = str(exc)

        in_parallel(work, [groups[label] for label in sorted(groups)])

    def _wait_gone(self, pairs, sides=('dialer', 'acceptor')):
        """Wait until both sides of every pair are gone, sending a DELETE again for a deletion that stalls."""
        pending = [(pair, side) for pair in pairs for side in sides if getattr(pair, side + '_steps')]
        stalls = {}

        def done(listed):
            for pair, side in list(pending):
                cluster, name = getattr(pair, side), getattr(pair, side + '_name')
                peering = next((p for p in listed[cluster.label] if p.get('Name') == name), None)
                if peering is None:
                    pending.remove((pair, side))
                elif stalls.setdefault((pair, side), Stall(STALL_SECONDS)).seen(deletion_mark(peering)):
                    self.clients[cluster.label].delete_peering(name)
            return not pending

        self._wait(pending, done, 'be deleted')

    def _wait_active(self, pairs):
        pending = [(pair, side) for pair in pairs for side in ('dialer', 'acceptor')]

        def done(listed):
            for pair, side in list(pending):
                cluster, name = getattr(pair, side), getattr(pair, side + '_name')
                peering = next((p for p in listed[cluster.label] if p.get('Name') == name), None)
                try:
                    if reached_active(peering, name):
                        pending.remove((pair, side))
                except PeeringError as exc:
                    pair.error = '%s: %s' % (cluster.label, exc)
                    pending[:] = [entry for entry in pending if entry[0] is not pair]
            return not pending

        self._wait(pending, done, 'become ACTIVE')

    def _wait(self, pending, done, goal):
        """Poll the clusters the pending sides are on until done(listed); time out the pairs left.

        A cluster whose answer waiting cannot change (a 403, a TLS failure) fails its own pairs only; the
        others go on being waited for.
        """
        if not pending:
            return

        def read(deadline):
            labels = sorted(set(getattr(pair, side).label for pair, side in pending))
            errors = {}
            listed = self.list_all(labels, deadline, errors)
            for label, error in errors.items():
                if is_retryable(error):
                    raise error
                for pair, side in list(pending):
                    if getattr(pair, side).label == label:
                        pair.error = pair.error or '%s: %s' % (label, error)
                        pending.remove((pair, side))
            return listed

        waiter = Waiter(read, 'mesh', self.wait_timeout)
        try:
            waiter.until(done, goal)
        except PeeringError:
            for pair, side in pending:
                if pair.error is None:
                    pair.error = 'Timed out after %gs waiting for peering %r on %s to %s; %s' % (
                        self.wait_timeout, getattr(pair, side + '_name'), getattr(pair, side).label, goal,
                        'last error: %s' % waiter.last_error if waiter.last_error else 'it did not')
        finally:
            self.listed.update(waiter.last if waiter.seen else {})

    def _delete(self, pair, side):
        if DELETE in getattr(pair, side + '_steps'):
            self.clients[getattr(pair, side).label].delete_peering(getattr(pair, side + '_name'))

    def _steps(self, pair, side, write):
        """Carry out one side's steps: deletes and waits for them here, the rest through write(client, step)."""
        client, name = self.clients[getattr(pair, side).label], getattr(pair, side + '_name')
        for step in getattr(pair, side + '_steps'):
            if step == DELETE:
                client.delete_peering(name)
            elif step == WAIT_UNTIL_GONE:
                self._wait_gone([pair], sides=(side,))
                if pair.error:
                    return
            else:
                write(client, step)

    def _acceptor_steps(self, pair):
        def write(client, step):
            if step == GENERATE_TOKEN:
                pair.token = client.generate_token(pair.acceptor_name, pair.acceptor.meta,
                                                   pair.acceptor.server_external_addresses)
                client.secrets.add(pair.token)

        self._steps(pair, 'acceptor', write)

    def _dialer_steps(self, pair):
        token_info, _secret = decode_peering_token(pair.token)
        # The token is known now: decide the dialing side again with it (the plan used a stand-in).
        pair.dialer_steps = plan_establish(pair.dialer_current, pair.dialer_name, token_info, pair.dialer.meta,
                                           wait=False).actions + [WAIT_UNTIL_ACTIVE]

        def write(client, step):
            if step != ESTABLISH:
                return
            try:
                client.establish(pair.dialer_name, pair.token, pair.dialer.meta)
            except (PeeringTokenRejectedError, PeeringNameConflictError) as exc:
                # One run generates each token right before it is used, so a refusal is someone else's run on
                # the same pair (fine once it has established the peering), or a change on the accepting
                # cluster: report that for this pair.
                joined, _grace = joined_concurrent_establish(
                    lambda deadline: client.read_peering(pair.dialer_name, deadline=deadline), pair.dialer_name,
                    token_info, self.wait_timeout)
                if not joined:
                    raise ConsulError('%s (the pair is left as Consul has it; run again to repair it)' % exc)

        self._steps(pair, 'dialer', write)


def connect_with(secrets, resolve):
    """A connect(cluster) for MeshRun: resolve(connection options) -> Connection, one client per cluster."""
    def connect(cluster):
        return ConsulClient(resolve(cluster.connection), secrets)
    return connect
