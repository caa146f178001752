# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""consul_peering_mesh in-process, against two scripted clusters: the calls it makes, its checks, its secrets."""

from __future__ import annotations

import pytest

from ansible_collections.consul.peering.plugins.module_utils import waiting
from ansible_collections.consul.peering.plugins.modules import consul_peering_mesh
from ansible_collections.consul.peering.tests.support.consul_data import ACL_TOKEN, SECRET, make_peering, make_token
from ansible_collections.consul.peering.tests.support.loopback_servers import ScriptedServer
from ansible_collections.consul.peering.tests.support.module_runner import connection, run_module


pytestmark = pytest.mark.usefixtures('no_backoff')


@pytest.fixture(autouse=True)
def fast(monkeypatch):
    monkeypatch.setattr(waiting, 'POLL_FIRST', 0.01)


@pytest.fixture
def clusters():
    with ScriptedServer() as dc1, ScriptedServer() as dc2:
        yield dc1, dc2


def mesh_args(dc1, dc2, **args):
    args.setdefault('clusters', [{'name': 'dc1', 'connection': connection(dc1)},
                                 {'name': 'dc2', 'connection': connection(dc2)}])
    args.setdefault('pairs', [{'acceptor': 'dc1', 'dialer': 'dc2'}])
    return args


@pytest.mark.parametrize('change, words', [
    ({'wait_timeout': 0}, 'wait_timeout must be a positive number'),
    ({'pairs': [{'acceptor': 'dc1', 'dialer': 'dc9'}]}, "'dc9' not in clusters"),
    ({'pairs': [{'acceptor': 'dc1', 'dialer': 'dc1'}]}, 'cannot peer with itself'),
    ({'clusters': [{'name': 'dc1', 'connection': {'hots': 'x'}}, {'name': 'dc2'}]},
     'clusters[dc1].connection: '),
    ({'clusters': [{'name': 'dc1', 'connection': {'timeout': 'soon'}}, {'name': 'dc2'}]},
     'clusters[dc1].connection: '),
    ({'clusters': [{'name': 'dc1', 'peer_name': 'DC1'}, {'name': 'dc2'}]}, 'not a valid peer name'),
])
def test_bad_input_fails_before_any_call(clusters, change, words):
    dc1, dc2 = clusters
    result, _raw = run_module(consul_peering_mesh, mesh_args(dc1, dc2, **change))
    assert result['failed'] and words in result['msg']
    assert dc1.requests == [] and dc2.requests == []


def test_a_peered_pair_costs_one_list_per_cluster_and_no_write(clusters):
    dc1, dc2 = clusters
    dc1.script('GET', '/v1/peerings', (200, [make_peering('acceptor', 'ACTIVE')]))
    dc2.script('GET', '/v1/peerings', (200, [make_peering('dialer', 'ACTIVE')]))
    for check_mode in (False, True):
        result, _raw = run_module(consul_peering_mesh, mesh_args(dc1, dc2), check_mode=check_mode, diff=True)
        assert result['changed'] is False and result['diff'] == []
        assert result['pairs'][0]['reason'] == 'both sides are ACTIVE and point at each other'
    assert [(r.method, r.path) for r in dc1.requests + dc2.requests] == [('GET', '/v1/peerings')] * 4


def test_a_new_pair_gets_a_token_an_establish_and_one_shared_wait(clusters):
    dc1, dc2 = clusters
    dc1.script('GET', '/v1/peerings', (200, []), (200, [make_peering('acceptor', 'ACTIVE')]))
    dc1.script('POST', '/v1/peering/token', (200, {'PeeringToken': make_token()}))
    dc2.script('GET', '/v1/peerings', (200, []), (200, [make_peering('dialer', 'ACTIVE')]))
    dc2.script('POST', '/v1/peering/establish', (200, {}))
    result, raw = run_module(consul_peering_mesh, mesh_args(dc1, dc2), diff=True)
    assert result['changed'] is True and result['failed_pairs'] == []
    (pair,) = result['pairs']
    assert pair['acceptor_actions'] == ['generate_token']
    assert pair['dialer_actions'] == ['establish', 'wait_until_active']
    assert pair['dialer_peering']['State'] == 'ACTIVE'
    assert [r.method for r in dc1.requests] == ['GET', 'POST', 'GET']
    assert [r.method for r in dc2.requests] == ['GET', 'POST', 'GET']
    assert dc2.requests[1].body['PeeringToken'] == make_token()
    for secret in (ACL_TOKEN, make_token(), SECRET):
        assert secret not in raw


def test_check_mode_writes_nothing_and_shows_each_clusters_diff(clusters):
    dc1, dc2 = clusters
    dc1.script('GET', '/v1/peerings', (200, []))
    dc2.script('GET', '/v1/peerings', (200, []))
    result, _raw = run_module(consul_peering_mesh, mesh_args(dc1, dc2), check_mode=True, diff=True)
    assert result['changed'] is True
    assert [diff['before_header'] for diff in result['diff']] == ['dc1', 'dc2']
    assert result['diff'][1]['after']['dc1']['state'] == 'ESTABLISHING'
    assert [r.method for r in dc1.requests + dc2.requests] == ['GET', 'GET']


def test_a_cluster_that_cannot_be_read_fails_its_pairs_only(clusters):
    dc1, dc2 = clusters
    dc1.script('GET', '/v1/peerings', (403, 'ACL not found'))
    dc2.script('GET', '/v1/peerings', (200, []))
    result, raw = run_module(consul_peering_mesh, mesh_args(dc1, dc2))
    assert result['failed'] and result['failed_pairs'] == ['dc1 accepts dc2']
    assert 'could not read dc1' in result['msg'] and 'Consul does not know the ACL token' in result['msg']
    assert ACL_TOKEN not in raw
    assert [r.method for r in dc2.requests] == ['GET']


def test_a_cluster_that_refuses_the_wait_fails_its_pairs_and_the_others_still_finish():
    with ScriptedServer() as dc1, ScriptedServer() as dc2, ScriptedServer() as dc3:
        accepting = [make_peering('acceptor', 'ACTIVE', Name=name) for name in ('dc2', 'dc3')]
        dc1.script('GET', '/v1/peerings', (200, []), (200, accepting))
        dc1.script('POST', '/v1/peering/token', (200, {'PeeringToken': make_token()}))
        dc2.script('GET', '/v1/peerings', (200, []), (200, [make_peering('dialer', 'ACTIVE')]))
        dc2.script('POST', '/v1/peering/establish', (200, {}))
        dc3.script('GET', '/v1/peerings', (200, []), (403, 'ACL not found'))
        dc3.script('POST', '/v1/peering/establish', (200, {}))
        args = {'clusters': [{'name': name, 'connection': connection(server)}
                             for name, server in (('dc1', dc1), ('dc2', dc2), ('dc3', dc3))],
                'pairs': [{'acceptor': 'dc1', 'dialer': 'dc2'}, {'acceptor': 'dc1', 'dialer': 'dc3'}]}
        result, _raw = run_module(consul_peering_mesh, args)
    assert result['failed'] and result['failed_pairs'] == ['dc1 accepts dc3']
    assert 'dc3: ' in result['msg'] and 'Consul does not know the ACL token' in result['msg']
    assert result['pairs'][0]['dialer_peering']['State'] == 'ACTIVE'


@pytest.mark.parametrize('refusal', [
    (403, 'invalid peering establishment secret'),
    (500, 'failed to write peering: A peering already exists with the name "dc1" and a different ID "16cdaffe"'),
])
def test_a_refused_establish_is_fine_when_a_concurrent_run_established_the_same_pair(clusters, refusal):
    # Two role runs on one pair at the same moment (seen in CI on Consul 1.14): the later token voids the
    # earlier one, or both secrets are exchanged and the second write finds the first one's peering.
    dc1, dc2 = clusters
    dc1.script('GET', '/v1/peerings', (200, []), (200, [make_peering('acceptor', 'ACTIVE')]))
    dc1.script('POST', '/v1/peering/token', (200, {'PeeringToken': make_token()}))
    dc2.script('GET', '/v1/peerings', (200, []), (200, [make_peering('dialer', 'ACTIVE')]))
    dc2.script('POST', '/v1/peering/establish', refusal)
    dc2.script('GET', '/v1/peering/dc1', (200, make_peering('dialer', 'ACTIVE')))
    result, _raw = run_module(consul_peering_mesh, mesh_args(dc1, dc2))
    assert 'failed' not in result, result['msg']
    assert result['pairs'][0]['dialer_peering']['State'] == 'ACTIVE'
    assert [r.method for r in dc2.requests if r.method != 'GET'] == ['POST']


def test_a_refused_establish_that_no_other_run_explains_fails_its_pair(clusters, monkeypatch):
    monkeypatch.setattr(waiting, 'RACE_GRACE', 0.2)
    dc1, dc2 = clusters
    dc1.script('GET', '/v1/peerings', (200, []))
    dc1.script('POST', '/v1/peering/token', (200, {'PeeringToken': make_token()}))
    dc2.script('GET', '/v1/peerings', (200, []))
    dc2.script('POST', '/v1/peering/establish', (403, 'invalid peering establishment secret'))
    dc2.script('GET', '/v1/peering/dc1', (404, ''))
    result, raw = run_module(consul_peering_mesh, mesh_args(dc1, dc2))
    assert result['failed'] and result['failed_pairs'] == ['dc1 accepts dc2']
    assert 'run again to repair it' in result['msg']
    assert SECRET not in raw and make_token() not in raw
