# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.consul.peering.plugins.module_utils.mesh import (
    Cluster, cluster_diffs, plan_mesh, validate_mesh,
)
from ansible_collections.consul.peering.plugins.module_utils.peering import (
    DELETE, ESTABLISH, GENERATE_TOKEN, WAIT_UNTIL_ACTIVE, WAIT_UNTIL_GONE, PeeringError,
)
from ansible_collections.consul.peering.tests.support.consul_data import ACCEPTOR_ID, make_peering

# The fixtures: dc1's accepting side is named dc2 (ID ACCEPTOR_ID); dc2's dialing side is named dc1.
DC1, DC2, DC3 = Cluster('dc1', {}, 'dc1'), Cluster('dc2', {}, 'dc2'), Cluster('dc3', {}, 'dc3')
ACCEPTOR = make_peering('acceptor', 'ACTIVE')
DIALER = make_peering('dialer', 'ACTIVE')


def plan_one(on_dc1, on_dc2, state='present'):
    listed = {'dc1': [on_dc1] if on_dc1 else [], 'dc2': [on_dc2] if on_dc2 else []}
    (pair,) = plan_mesh([(DC1, DC2)], listed, state)
    return pair


@pytest.mark.parametrize('on_dc1, on_dc2, acceptor_steps, dialer_steps', [
    (ACCEPTOR, DIALER, [], []),
    (make_peering('acceptor', 'PENDING'), make_peering('dialer', 'ESTABLISHING'), [], [WAIT_UNTIL_ACTIVE]),
    (None, None, [GENERATE_TOKEN], [ESTABLISH, WAIT_UNTIL_ACTIVE]),
    # An interrupted run: a token was generated, never used.
    (make_peering('acceptor', 'PENDING'), None, [GENERATE_TOKEN], [ESTABLISH, WAIT_UNTIL_ACTIVE]),
    # The dialer deleted its side: the TERMINATED acceptor is made anew, the dialer establishes.
    (make_peering('acceptor', 'TERMINATED'), None, [DELETE, WAIT_UNTIL_GONE, GENERATE_TOKEN], [ESTABLISH, WAIT_UNTIL_ACTIVE]),
    # The acceptor was made anew: the dialer points at an old ID and is replaced.
    (None, DIALER, [GENERATE_TOKEN], [DELETE, WAIT_UNTIL_GONE, ESTABLISH, WAIT_UNTIL_ACTIVE]),
    (ACCEPTOR, make_peering('dialer', 'ACTIVE', PeerID='6d1e0d7a-0000-4000-8000-00000000abcd'), [GENERATE_TOKEN],
     [DELETE, WAIT_UNTIL_GONE, ESTABLISH, WAIT_UNTIL_ACTIVE]),
    # Same peer ID, but its secret was never exchanged: established again in place.
    (ACCEPTOR, make_peering('dialer', 'PENDING'), [GENERATE_TOKEN], [ESTABLISH, WAIT_UNTIL_ACTIVE]),
    (make_peering('acceptor', 'ACTIVE', DeletedAt='2026-11-30T10:00:00Z'), None, [WAIT_UNTIL_GONE, GENERATE_TOKEN],
     [ESTABLISH, WAIT_UNTIL_ACTIVE]),
])
def test_each_pair_gets_the_steps_the_single_pair_modules_would_take(on_dc1, on_dc2, acceptor_steps, dialer_steps):
    pair = plan_one(on_dc1, on_dc2)
    assert (pair.acceptor_steps, pair.dialer_steps, pair.error) == (acceptor_steps, dialer_steps, None)
    assert pair.changed is bool(set(acceptor_steps + dialer_steps) & {GENERATE_TOKEN, ESTABLISH, DELETE})


def test_a_pair_that_cannot_be_worked_on_fails_alone():
    # dc1 holds the name dc2 as a dialing side: it cannot accept under that name.
    listed = {'dc1': [make_peering('dialer', 'ACTIVE', Name='dc2')], 'dc2': [], 'dc3': []}
    wrong, fine = plan_mesh([(DC1, DC2), (DC3, DC2)], listed)
    assert 'already exists on this cluster as the dialing side' in wrong.error
    assert (wrong.acceptor_steps, wrong.dialer_steps) == ([], [])
    assert fine.error is None and fine.acceptor_steps == [GENERATE_TOKEN]


@pytest.mark.parametrize('on_dc1, on_dc2, acceptor_steps, dialer_steps', [
    (ACCEPTOR, DIALER, [DELETE, WAIT_UNTIL_GONE], [DELETE, WAIT_UNTIL_GONE]),
    (None, None, [], []),
    (make_peering('acceptor', 'TERMINATED', DeletedAt='2026-11-30T10:00:00Z'), None, [WAIT_UNTIL_GONE], []),
])
def test_absent_deletes_both_sides_and_waits_for_what_is_left(on_dc1, on_dc2, acceptor_steps, dialer_steps):
    pair = plan_one(on_dc1, on_dc2, state='absent')
    assert (pair.acceptor_steps, pair.dialer_steps) == (acceptor_steps, dialer_steps)


def test_the_diff_is_one_per_cluster_changed_keyed_by_peering_name():
    listed = {'dc1': [], 'dc2': [], 'dc3': []}
    diffs = cluster_diffs(plan_mesh([(DC1, DC2), (DC1, DC3), (DC2, DC3)], listed))
    assert [diff['before_header'] for diff in diffs] == ['dc1', 'dc2', 'dc3']
    assert sorted(diffs[0]['after']) == ['dc2', 'dc3']
    assert diffs[0]['after']['dc2']['state'] == 'PENDING' and diffs[2]['after']['dc1']['state'] == 'ESTABLISHING'
    assert cluster_diffs(plan_mesh([(DC1, DC2)], {'dc1': [ACCEPTOR], 'dc2': [DIALER]})) == []


def test_the_provisional_peer_id_of_a_kept_acceptor_is_its_own():
    pair = plan_one(ACCEPTOR, make_peering('dialer', 'PENDING'))
    assert pair.dialer_after['peer_id'] == ACCEPTOR_ID


@pytest.mark.parametrize('pairs, words', [
    ([(DC1, DC1)], 'cannot peer with itself'),
    ([(DC1, DC2), (DC2, DC1)], 'paired twice'),
    ([(DC1, DC2), (DC1, Cluster('other', {}, 'dc2'))], 'both have the peer name'),
])
def test_a_mesh_that_cannot_be_built_is_refused_before_any_call(pairs, words):
    with pytest.raises(PeeringError, match=words):
        validate_mesh(pairs)


def test_two_clusters_may_give_each_other_the_same_name():
    validate_mesh([(Cluster('dc1', {}, 'peer'), Cluster('dc2', {}, 'peer'))])
