# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""consul_peering_mesh against four real clusters: one read per cluster for a mesh that is peered."""

from __future__ import annotations

import pytest

from ansible_collections.consul.peering.tests.support.ansible_cli import run_playbook
from ansible_collections.consul.peering.tests.support.consul_state import (
    peering_calls, read_peering, unique_name, write_calls,
)
from ansible_collections.consul.peering.tests.support.secret_scan import assert_no_secrets

MESH = 4


@pytest.fixture(scope='module')
def mesh(cluster_factory):
    return cluster_factory(MESH, acl=True, tls=True)


@pytest.fixture
def names(mesh):
    """A peer name per cluster no other test uses; every peering left behind is deleted afterwards."""
    named = dict((cluster.name, unique_name(cluster.name)) for cluster in mesh)
    yield named
    for cluster in mesh:
        for name in named.values():
            cluster.api('DELETE', '/v1/peering/%s' % name, expect=(200, 404))


def mesh_task(mesh, names, state='present', token_of=None, **args):
    token_of = token_of or {}
    clusters = [{'name': cluster.name, 'peer_name': names[cluster.name],
                 'connection': dict(cluster.module_args(), **token_of.get(cluster.name, {}))} for cluster in mesh]
    pairs = [{'acceptor': a.name, 'dialer': d.name} for i, a in enumerate(mesh) for d in list(mesh)[i + 1:]]
    return [dict({'name': 'Mesh', 'consul.peering.consul_peering_mesh': dict(
        clusters=clusters, pairs=pairs, state=state, **args)}, register='mesh')]


def peered(mesh, names, a, d):
    on_a, on_d = read_peering(a, names[d.name]), read_peering(d, names[a.name])
    return on_a and on_d and on_a['State'] == on_d['State'] == 'ACTIVE' and on_d['PeerID'] == on_a['ID']


def all_pairs(mesh):
    return [(a, d) for i, a in enumerate(mesh) for d in list(mesh)[i + 1:]]


def test_a_mesh_is_peered_in_one_run_and_a_rerun_reads_each_cluster_once(mesh, names):
    run = run_playbook(mesh_task(mesh, names))
    assert run.returncode == 0, run.report()
    assert run.result('Mesh')['changed'] is True
    assert all(peered(mesh, names, a, d) for a, d in all_pairs(mesh))

    marks = [cluster.log_mark() for cluster in mesh]
    again = run_playbook(mesh_task(mesh, names))
    assert again.returncode == 0, again.report()
    assert again.result('Mesh')['changed'] is False
    for cluster, mark in zip(mesh, marks):
        assert [call[:2] for call in peering_calls(cluster, mark)] == [('GET', '/v1/peerings')]
    assert_no_secrets(run.output + again.output, *[cluster.token for cluster in mesh])


def test_check_mode_on_a_fresh_mesh_writes_nothing_and_diffs_each_cluster(mesh, names):
    marks = [cluster.log_mark() for cluster in mesh]
    run = run_playbook(mesh_task(mesh, names), check=True, diff=True)
    assert run.returncode == 0, run.report()
    result = run.result('Mesh')
    assert result['changed'] is True
    assert [diff['before_header'] for diff in result['diff']] == [cluster.name for cluster in mesh]
    first = result['diff'][0]
    assert first['before'][names['dc2']]['state'] == 'absent' and first['after'][names['dc2']]['state'] == 'PENDING'
    for cluster, mark in zip(mesh, marks):
        assert write_calls(cluster, mark) == []
        assert [call[:2] for call in peering_calls(cluster, mark)] == [('GET', '/v1/peerings')]


def test_a_failing_cluster_never_hides_the_other_pairs_and_a_rerun_repairs_only_it(mesh, names):
    broken = {'dc4': {'token': '00000000-0000-4000-8000-000000000000'}}
    run = run_playbook(mesh_task(mesh, names, token_of=broken))
    assert run.returncode != 0
    result = run.result('Mesh')
    assert sorted(result['failed_pairs']) == ['dc1 accepts dc4', 'dc2 accepts dc4', 'dc3 accepts dc4']
    assert all(peered(mesh, names, a, d) for a, d in all_pairs(mesh) if 'dc4' not in (a.name, d.name))

    marks = [cluster.log_mark() for cluster in mesh]
    repaired = run_playbook(mesh_task(mesh, names))
    assert repaired.returncode == 0, repaired.report()
    assert all(peered(mesh, names, a, d) for a, d in all_pairs(mesh))
    # Only the pairs with dc4 were worked on: dc1..dc3 each generated one token (for dc4) and nothing else.
    for cluster, mark in zip(mesh[:3], marks[:3]):
        assert [call[:2] for call in write_calls(cluster, mark)] == [('POST', '/v1/peering/token')]


def test_state_absent_removes_both_sides_of_every_pair(mesh, names):
    assert run_playbook(mesh_task(mesh, names)).returncode == 0
    run = run_playbook(mesh_task(mesh, names, state='absent'))
    assert run.returncode == 0, run.report()
    for a, d in all_pairs(mesh):
        assert read_peering(a, names[d.name]) is None and read_peering(d, names[a.name]) is None
    again = run_playbook(mesh_task(mesh, names, state='absent'))
    assert again.result('Mesh')['changed'] is False
