# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.consul.peering.plugins.filter.peering import (
    FilterModule, mesh_clusters, peering_pair_status, peering_pairs,
)
from ansible_collections.consul.peering.tests.support.consul_data import ACCEPTOR_ID, make_peering

OTHER_ID = '5e1f1a55-0000-4000-8000-000000000001'


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {'mesh_clusters', 'peering_pair_status', 'peering_pairs'}


@pytest.mark.parametrize('acceptor, dialer, linked, active, reason', [
    (make_peering('acceptor', 'ACTIVE'), make_peering('dialer', 'ACTIVE'), True, True, 'both sides are ACTIVE'),
    (make_peering('acceptor', 'PENDING'), make_peering('dialer', 'ESTABLISHING'), True, False, 'point at each other'),
    (make_peering('acceptor', 'ACTIVE'), make_peering('dialer', 'FAILING'), True, False, 'point at each other'),
    (None, make_peering('dialer', 'ACTIVE'), False, False, 'accepting side does not exist'),
    (make_peering('acceptor', 'PENDING'), None, False, False, 'dialing side does not exist'),
    (None, None, False, False, 'accepting side does not exist'),
    (make_peering('acceptor', 'ACTIVE'), make_peering('dialer', 'ACTIVE', PeerID=OTHER_ID), False, False,
     'points at another peering'),
    (make_peering('acceptor', 'TERMINATED'), make_peering('dialer', 'ACTIVE'), False, False, 'TERMINATED'),
    (make_peering('acceptor', 'ACTIVE'), make_peering('dialer', 'PENDING'), False, False, 'PENDING on the dialing'),
    (make_peering('acceptor', 'ACTIVE', DeletedAt='x'), make_peering('dialer', 'ACTIVE'), False, False,
     'being deleted'),
    (make_peering('dialer', 'ACTIVE'), make_peering('dialer', 'ACTIVE'), False, False, 'as a dialing side'),
    (make_peering('acceptor', 'ACTIVE'), make_peering('acceptor', 'ACTIVE'), False, False, 'as an accepting side'),
])
def test_pair_status(acceptor, dialer, linked, active, reason):
    status = peering_pair_status(acceptor, dialer)
    assert (status['linked'], status['active']) == (linked, active)
    assert reason in status['reason']


def test_pair_status_names_both_states():
    status = peering_pair_status(None, make_peering('dialer', 'FAILING'))
    assert (status['acceptor_state'], status['dialer_state']) == ('absent', 'FAILING')
    assert make_peering('dialer')['PeerID'] == ACCEPTOR_ID


def test_pair_status_rejects_non_objects():
    with pytest.raises(AnsibleFilterError, match='must be a peering object'):
        peering_pair_status('dc2', None)


def test_pairs_from_explicit_list_mesh_and_hub():
    pairs = peering_pairs([{'acceptor': 'dc1', 'dialer': 'edge'}], mesh=['dc1', 'dc2', 'dc3'], hub='dc1',
                          spokes=['dc2', 'dc4'])
    assert pairs == [
        {'acceptor': 'dc1', 'dialer': 'edge'},
        {'acceptor': 'dc1', 'dialer': 'dc2'}, {'acceptor': 'dc1', 'dialer': 'dc3'},
        {'acceptor': 'dc2', 'dialer': 'dc3'},
        {'acceptor': 'dc1', 'dialer': 'dc4'},
    ]


def test_mesh_of_five_has_ten_pairs():
    assert len(peering_pairs(None, mesh=['dc%d' % i for i in range(1, 6)])) == 10


def test_a_pair_listed_in_both_directions_is_kept_once():
    assert peering_pairs([{'acceptor': 'dc1', 'dialer': 'dc2'}, {'acceptor': 'dc2', 'dialer': 'dc1'}]) == [
        {'acceptor': 'dc1', 'dialer': 'dc2'}]


def test_hub_is_not_its_own_spoke():
    assert peering_pairs([], hub='dc1', spokes=['dc1', 'dc2']) == [{'acceptor': 'dc1', 'dialer': 'dc2'}]


@pytest.mark.parametrize('args, message', [
    (([{'acceptor': 'dc1'}],), 'needs "acceptor" and "dialer"'),
    ((['dc1'],), 'needs "acceptor" and "dialer"'),
    (([{'acceptor': 'dc1', 'dialer': 'dc1'}],), 'cannot peer with itself'),
])
def test_bad_pairs_fail_clearly(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        peering_pairs(*args)


def test_spokes_without_hub_fail():
    with pytest.raises(AnsibleFilterError, match='spokes need a hub'):
        peering_pairs([], spokes=['dc2'])


def test_mesh_clusters_takes_each_hosts_consul_variables_and_leaves_out_the_unset_ones():
    hostvars = {
        'dc1': {'consul_connection': {'host': 'consul-dc1'}, 'consul_peer_name': 'east', 'other': 1},
        'dc2': {'consul_connection': {'host': 'consul-dc2'}, 'consul_peering_meta': {'env': 'prod'},
                'consul_server_external_addresses': ['lb:8503'], 'consul_peer_name': None},
    }
    assert mesh_clusters(['dc1', 'dc2'], hostvars) == [
        {'name': 'dc1', 'connection': {'host': 'consul-dc1'}, 'peer_name': 'east'},
        {'name': 'dc2', 'connection': {'host': 'consul-dc2'}, 'meta': {'env': 'prod'},
         'server_external_addresses': ['lb:8503']},
    ]


def test_mesh_clusters_refuses_a_connection_that_is_not_a_dict():
    with pytest.raises(AnsibleFilterError, match='consul_connection of dc1'):
        mesh_clusters(['dc1'], {'dc1': {'consul_connection': 'consul-dc1:8500'}})
