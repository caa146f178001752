# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Many peerings at once, without I/O: which pairs of clusters need work, decided from one list per cluster.

A mesh of N clusters has N(N-1)/2 pairs, but its whole state is N answers: `GET /v1/peerings` on each
cluster lists both sides of every pair it is in. plan_mesh() takes those lists and decides every pair with
the same rules the single-pair modules use (pair_status, plan_token, plan_establish, plan_delete), so the
executor only touches the pairs that need work, and a check-mode run shows each cluster's diff.
"""

from __future__ import annotations

from ansible_collections.consul.peering.plugins.module_utils.peering import (
    ABSENT, DELETE, ESTABLISH, GENERATE_TOKEN, WAIT_UNTIL_ACTIVE, WAIT_UNTIL_GONE, PeeringError, pair_status,
    diff_view, plan_delete, plan_establish, plan_token,
)

PRESENT = 'present'


class Cluster:
    """One cluster of the mesh: how to reach it (connection options), and the name the others give it."""

    def __init__(self, label, connection, peer_name, meta=None, server_external_addresses=None):
        self.label = label
        self.connection = dict(connection or {})
        self.peer_name = peer_name
        self.meta = meta
        self.server_external_addresses = server_external_addresses

    def __repr__(self):
        return '<Cluster %s>' % self.label


class PairPlan:
    """What one pair needs: the steps on each side in order, and the diff of each side.

    `acceptor_name` is the peering's name on the accepting cluster (the dialer's peer name), and
    `dialer_name` its name on the dialing cluster. `error` is set when the pair cannot be worked on.
    """

    def __init__(self, acceptor, dialer, acceptor_current, dialer_current):
        self.acceptor, self.dialer = acceptor, dialer
        self.acceptor_name, self.dialer_name = dialer.peer_name, acceptor.peer_name
        self.acceptor_current, self.dialer_current = acceptor_current, dialer_current
        self.status = pair_status(acceptor_current, dialer_current)
        self.acceptor_steps, self.dialer_steps = [], []
        self.acceptor_after = diff_view(acceptor_current, self.acceptor_name)
        self.dialer_after = diff_view(dialer_current, self.dialer_name)
        self.error = None
        self.token = None  # the peering token this run generated for the pair: a secret, never returned

    @property
    def label(self):
        return '%s accepts %s' % (self.acceptor.label, self.dialer.label)

    @property
    def writes(self):
        return [step for step in self.acceptor_steps + self.dialer_steps if step in (GENERATE_TOKEN, ESTABLISH, DELETE)]

    @property
    def changed(self):
        return bool(self.writes)

    @property
    def waits(self):
        return WAIT_UNTIL_ACTIVE in self.dialer_steps or WAIT_UNTIL_GONE in self.dialer_steps

    def summary(self):
        """The secret-free record of the pair that the module returns."""
        record = {'acceptor': self.acceptor.label, 'dialer': self.dialer.label, 'reason': self.status['reason'],
                  'acceptor_actions': list(self.acceptor_steps), 'dialer_actions': list(self.dialer_steps),
                  'changed': self.changed}
        if self.error:
            record['error'] = self.error
        return record

    def __repr__(self):
        return '<PairPlan %s %r %r>' % (self.label, self.acceptor_steps, self.dialer_steps)


def _plan_present(pair):
    if pair.status['active']:
        return
    if pair.status['linked']:
        # Both sides point at each other; the streams are still coming up.
        pair.dialer_steps = [WAIT_UNTIL_ACTIVE]
        return
    token = plan_token(pair.acceptor_current, pair.acceptor_name, pair.acceptor.meta, regenerate=True)
    # The dialer compares the token's peer ID with what it holds: before the token exists, the accepting
    # side's ID stands in for it (None when the token step creates a new accepting side).
    keeps_id = pair.acceptor_current is not None and token.actions == [GENERATE_TOKEN]
    provisional = {'peer_id': pair.acceptor_current.get('ID') if keeps_id else None, 'server_name': None,
                   'server_addresses': [], 'manual_server_addresses': [], 'remote_datacenter': None}
    establish = plan_establish(pair.dialer_current, pair.dialer_name, provisional, pair.dialer.meta, wait=False)
    pair.acceptor_steps = token.actions
    pair.dialer_steps = establish.actions + [WAIT_UNTIL_ACTIVE]
    pair.acceptor_after, pair.dialer_after = token.after, establish.after


def _plan_absent(pair):
    # The dialing side goes first: the accepting side then turns TERMINATED and is deleted too.
    for side in ('dialer', 'acceptor'):
        delete = plan_delete(getattr(pair, side + '_current'), getattr(pair, side + '_name'), wait=True)
        setattr(pair, side + '_steps', delete.actions)
        setattr(pair, side + '_after', delete.after)


def plan_mesh(pairs, peerings, state=PRESENT):
    """Plan every pair from the listed peerings.

    `pairs` is a list of (acceptor Cluster, dialer Cluster); `peerings` maps a cluster label to the list
    its `GET /v1/peerings` returned. A pair that cannot be worked on gets `error` and no steps, and the
    other pairs are planned all the same.
    """
    by_name = dict((label, dict((peering.get('Name'), peering) for peering in listed or []))
                   for label, listed in peerings.items())
    plans = []
    for acceptor, dialer in pairs:
        pair = PairPlan(acceptor, dialer, by_name[acceptor.label].get(dialer.peer_name),
                        by_name[dialer.label].get(acceptor.peer_name))
        try:
            (_plan_present if state == PRESENT else _plan_absent)(pair)
        except PeeringError as exc:
            pair.error = str(exc)
            pair.acceptor_steps, pair.dialer_steps = [], []
        plans.append(pair)
    return plans


def cluster_diffs(plans):
    """One diff per cluster that a plan changes: its peerings before and after, keyed by peering name."""
    diffs = {}
    for pair in plans:
        if not pair.changed:
            continue
        for cluster, name, current, after in ((pair.acceptor, pair.acceptor_name, pair.acceptor_current,
                                               pair.acceptor_after),
                                              (pair.dialer, pair.dialer_name, pair.dialer_current,
                                               pair.dialer_after)):
            before = diff_view(current, name)
            if before == after and after.get('state') != ABSENT:
                continue
            diff = diffs.setdefault(cluster.label, {'before': {}, 'after': {}})
            diff['before'][name] = before
            diff['after'][name] = after
    return [dict(diff, before_header=label, after_header=label) for label, diff in sorted(diffs.items())]


def validate_mesh(pairs):
    """Fail unless every pair is two clusters, listed once, and no cluster would hold two peerings of one name."""
    seen, names = set(), {}
    for acceptor, dialer in pairs:
        if acceptor.label == dialer.label:
            raise PeeringError('%s cannot peer with itself' % acceptor.label)
        if frozenset((acceptor.label, dialer.label)) in seen:
            raise PeeringError('%s and %s are paired twice: list each pair once' % (acceptor.label, dialer.label))
        seen.add(frozenset((acceptor.label, dialer.label)))
        for cluster, peer in ((acceptor, dialer), (dialer, acceptor)):
            other = names.setdefault((cluster.label, peer.peer_name), peer.label)
            if other != peer.label:
                raise PeeringError('%s and %s both have the peer name %r, and both peer with %s: give each its own'
                                   % (other, peer.label, peer.peer_name, cluster.label))
