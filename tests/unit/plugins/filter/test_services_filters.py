# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The filters that turn consul_exports and consul_intentions into module options, and decide what to wait for."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.consul.peering.plugins.filter.services import (
    FilterModule, cluster_peer_names, exports_to_verify, import_waits, paired_peers, service_clusters,
    service_exports, service_intentions,
)

HOSTVARS = {'dc1': {'consul_connection': {}}, 'dc2': {'consul_peer_name': 'eu-west'}, 'dc3': {'consul_peer_name': None},
            'edge': {}}
PEER_NAMES = {'dc1': 'dc1', 'dc2': 'eu-west', 'dc3': 'dc3', 'edge': 'edge'}
PAIRS = [{'acceptor': 'dc1', 'dialer': 'dc2'}, {'acceptor': 'dc1', 'dialer': 'dc3'}, {'acceptor': 'dc2', 'dialer': 'dc3'}]


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {'cluster_peer_names', 'service_exports', 'service_intentions',
                                             'paired_peers', 'exports_to_verify', 'import_waits',
                                             'service_clusters'}


def test_peer_names_follow_consul_peer_name_or_the_inventory_name():
    assert cluster_peer_names(['dc1', 'dc2', 'dc3', 'edge'], HOSTVARS) == PEER_NAMES


# -- consul_exports -------------------------------------------------------------------------

def test_exports_become_peer_names_in_the_order_given():
    assert service_exports({'web': ['dc2', 'dc3'], 'api': ['dc3'], 'batch': []}, 'dc1', PEER_NAMES, PAIRS) == [
        {'service': 'web', 'consumers': ['dc2', 'dc3'], 'peers': ['eu-west', 'dc3']},
        {'service': 'api', 'consumers': ['dc3'], 'peers': ['dc3']},
        {'service': 'batch', 'consumers': [], 'peers': []},
    ]


def test_exports_without_pairs_only_check_the_inventory():
    assert service_exports({'web': ['edge']}, 'dc1', PEER_NAMES) == [
        {'service': 'web', 'consumers': ['edge'], 'peers': ['edge']}]


@pytest.mark.parametrize('exports', [None, {}])
def test_no_exports(exports):
    assert service_exports(exports, 'dc1', PEER_NAMES, PAIRS) == []


BAD_EXPORTS = [
    ('not a dict', ['web'], 'must map each service to the clusters that may import it'),
    ('not a list', {'web': 'dc2'}, "service 'web': give a list of clusters"),
    ('unknown cluster', {'web': ['dc9']}, "'dc9' is not a cluster of the inventory"),
    ('a peer name instead of the inventory name', {'web': ['eu-west']}, "'eu-west' is not a cluster of the inventory"),
    ('itself', {'web': ['dc1']}, 'dc1 names itself'),
    ('not paired', {'web': ['edge']}, 'dc1 and edge are not peered in this inventory'),
    ('twice', {'web': ['dc2', 'dc2']}, 'lists a cluster more than once'),
]


@pytest.mark.parametrize('case, exports, message', BAD_EXPORTS, ids=[case[0] for case in BAD_EXPORTS])
def test_bad_exports_fail_clearly(case, exports, message):
    with pytest.raises(AnsibleFilterError, match=message):
        service_exports(exports, 'dc1', PEER_NAMES, PAIRS)


# -- consul_intentions ----------------------------------------------------------------------

def test_intentions_translate_from_into_source_peer_and_leave_out_what_is_not_given():
    intentions = [{'destination': 'web', 'source': 'frontend', 'from': 'dc2', 'action': 'allow',
                   'description': 'frontend of dc2'},
                  {'destination': 'web', 'source': 'batch', 'action': 'deny'}]
    assert service_intentions(intentions, 'dc1', PEER_NAMES, PAIRS) == [
        {'destination': 'web', 'source': 'frontend', 'from': 'dc2', 'source_peer': 'eu-west', 'action': 'allow',
         'description': 'frontend of dc2'},
        {'destination': 'web', 'source': 'batch', 'action': 'deny'},
    ]
    assert service_intentions(None, 'dc1', PEER_NAMES, PAIRS) == []


BAD_INTENTIONS = [
    ('not a list', {'destination': 'web'}, 'must be a list'),
    ('not a dict', ['web'], 'item 1: must be a dict'),
    ('a typo', [{'destination': 'web', 'source': 'frontend', 'form': 'dc2', 'action': 'allow'}],
     'unknown key\\(s\\) form'),
    ('no action', [{'destination': 'web', 'source': 'frontend'}], 'action missing'),
    ('bad action', [{'destination': 'web', 'source': 'f', 'action': 'permit'}], "allow or deny, not 'permit'"),
    ('unknown cluster', [{'destination': 'web', 'source': 'f', 'from': 'dc9', 'action': 'allow'}],
     "'dc9' is not a cluster of the inventory"),
    ('not paired', [{'destination': 'web', 'source': 'f', 'from': 'edge', 'action': 'allow'}],
     'dc1 and edge are not peered'),
]


@pytest.mark.parametrize('case, intentions, message', BAD_INTENTIONS, ids=[case[0] for case in BAD_INTENTIONS])
def test_bad_intentions_fail_clearly(case, intentions, message):
    with pytest.raises(AnsibleFilterError, match=message):
        service_intentions(intentions, 'dc1', PEER_NAMES, PAIRS)


# -- unpeering ------------------------------------------------------------------------------

@pytest.mark.parametrize('cluster, expected', [('dc1', ['eu-west', 'dc3']), ('dc3', ['dc1', 'eu-west']),
                                               ('edge', [])])
def test_paired_peers_are_the_names_a_cluster_gives_its_partners(cluster, expected):
    assert paired_peers(PAIRS, cluster, PEER_NAMES) == expected


# -- what to wait for -----------------------------------------------------------------------

def export_result(service, consumers, changed):
    return {'item': {'service': service, 'consumers': consumers, 'peers': consumers}, 'changed': changed}


def mesh_result(*changed_pairs):
    return {'pairs': [{'acceptor': a, 'dialer': d, 'changed': (a, d) in changed_pairs}
                      for a, d in (('dc1', 'dc2'), ('dc1', 'dc3'), ('dc2', 'dc3'))]}


def test_a_run_that_changed_nothing_verifies_nothing():
    results = {'results': [export_result('web', ['dc2', 'dc3'], False)]}
    assert exports_to_verify(results, mesh_result(), 'dc1') == []


def test_a_changed_export_verifies_every_consumer_and_a_changed_pair_only_its_own():
    results = {'results': [export_result('web', ['dc2', 'dc3'], True), export_result('api', ['dc2', 'dc3'], False),
                           export_result('*', ['dc2'], True), {'skipped': True, 'item': {'service': 'x'}},
                           dict(export_result('bad', ['dc2'], True), failed=True)]}
    assert exports_to_verify(results, mesh_result(('dc2', 'dc3'), ('dc1', 'dc3')), 'dc1') == [
        {'service': 'web', 'consumers': ['dc2', 'dc3']}, {'service': 'api', 'consumers': ['dc3']}]


@pytest.mark.parametrize('registered', [None, {'skipped': True}, {'results': []}, 'not a result'])
def test_exports_to_verify_without_results(registered):
    assert exports_to_verify(registered, mesh_result(('dc1', 'dc2')), 'dc1') == []


def instances_read(service, consumers, passing):
    return {'item': {'service': service, 'consumers': consumers}, 'summary': {'total': 1, 'passing': passing}}


def test_a_consumer_waits_for_exports_to_it_that_have_a_passing_instance():
    hostvars = {
        'dc1': {'own': {'results': [instances_read('web', ['dc2', 'dc3'], 1), instances_read('sick', ['dc2'], 0),
                                    instances_read('api', ['dc3'], 2)]}},
        'dc2': {'own': {'results': [instances_read('db', ['dc1'], 1)]}},
        'dc3': {'own': {'skipped': True}},
        'edge': {},
    }
    assert import_waits(hostvars, 'dc2', ['dc1', 'dc2', 'dc3', 'edge'], PEER_NAMES, 'own') == [
        {'service': 'web', 'peer': 'dc1', 'exporter': 'dc1'}]
    assert import_waits(hostvars, 'dc1', ['dc1', 'dc2', 'dc3', 'edge'], PEER_NAMES, 'own') == [
        {'service': 'db', 'peer': 'eu-west', 'exporter': 'dc2'}]
    assert import_waits(hostvars, 'edge', ['dc1', 'dc2', 'dc3', 'edge'], PEER_NAMES, 'own') == []


# -- which clusters have service work ------------------------------------------------------------

def test_service_clusters_are_exporters_intention_owners_and_consumers_in_inventory_order():
    hostvars = {
        'dc1': {'consul_exports': {'web': ['dc3']}},
        'dc2': {'consul_intentions': [{'destination': 'db', 'source': 'api', 'action': 'allow'}]},
        'dc3': {},
        'edge': {'consul_exports': {}, 'consul_intentions': []},
    }
    assert service_clusters(['dc1', 'dc2', 'dc3', 'edge'], hostvars) == ['dc1', 'dc2', 'dc3']


def test_an_export_to_no_cluster_still_has_work_it_unexports():
    assert service_clusters(['dc1', 'dc2'], {'dc1': {'consul_exports': {'web': []}}, 'dc2': {}}) == ['dc1']


def test_an_inventory_without_services_has_no_service_clusters():
    assert service_clusters(['dc1', 'dc2'], {'dc1': {}, 'dc2': {'consul_exports': None}}) == []
