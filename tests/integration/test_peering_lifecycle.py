# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The three modules through ansible-playbook against two real Consul clusters (ACLs and HTTPS on).

Every test checks the module results and what Consul itself reports, and counts the HTTP calls
that reached Consul from its own request log.
"""

from __future__ import annotations

import pytest

from ansible_collections.consul.peering.tests.support.ansible_cli import run_playbook
from ansible_collections.consul.peering.tests.support.consul_state import (
    peering_calls, read_peering, wait_for, write_calls,
)
from ansible_collections.consul.peering.tests.support.plays import task


def peer_tasks(dc1, dc2, names, **token_args):
    return [
        task('Generate a token on dc1', dc1, 'consul_peering_token', peer_name=names['on_acceptor'], **token_args),
        dict(task('Establish on dc2', dc2, 'consul_peering', peer_name=names['on_dialer'],
                  peering_token="{{ token_result.token | default(omit) }}")),
        task('Wait for dc1 to be ACTIVE', dc1, 'consul_peering', peer_name=names['on_acceptor']),
    ]


def with_register(tasks):
    tasks[0]['register'] = 'token_result'
    return tasks


def test_token_establish_and_both_sides_active(dc1, dc2, names):
    run = run_playbook(with_register(peer_tasks(dc1, dc2, names, meta={'env': 'test'})), diff=True)
    assert run.returncode == 0, run.report()

    token_result = run.result('Generate a token on dc1')
    assert token_result['changed'] is True
    # The action plugin hides a result carrying a token from every callback.
    assert 'token' not in token_result and token_result.get('censored')

    established = run.result('Establish on dc2')
    assert established['changed'] is True
    assert established['actions'] == ['establish', 'wait_until_active']
    assert established['peering']['State'] == 'ACTIVE'
    assert established['diff']['before']['state'] == 'absent'
    assert established['diff']['after']['peer_id'] == established['token_info']['peer_id']

    acceptor = run.result('Wait for dc1 to be ACTIVE')
    assert acceptor['changed'] is False and acceptor['peering']['State'] == 'ACTIVE'

    # Consul's own view: one peering, ACTIVE on both sides, dialer pointing at the acceptor's ID.
    on_dc1 = read_peering(dc1, names['on_acceptor'])
    on_dc2 = read_peering(dc2, names['on_dialer'])
    assert on_dc1['State'] == 'ACTIVE' and on_dc2['State'] == 'ACTIVE'
    assert on_dc2['PeerID'] == on_dc1['ID']
    assert on_dc1['Meta'] == {'env': 'test'}
    assert established['token_info']['peer_id'] == on_dc1['ID']
    assert established['token_info']['remote_datacenter'] == dc1.datacenter


def test_rerun_is_noop_with_only_reads(dc1, dc2, names):
    assert run_playbook(with_register(peer_tasks(dc1, dc2, names))).returncode == 0
    marks = dc1.log_mark(), dc2.log_mark()

    run = run_playbook(with_register(peer_tasks(dc1, dc2, names)))
    assert run.returncode == 0, run.report()
    assert run.changed_tasks == []
    assert write_calls(dc1, marks[0]) == [] and write_calls(dc2, marks[1]) == []
    # Token, establish and wait each need exactly one read on a peered pair.
    assert len(peering_calls(dc1, marks[0])) == 2
    assert len(peering_calls(dc2, marks[1])) == 1


def test_rerun_with_the_same_token_makes_no_write(dc1, dc2, names):
    """The dialer is matched to the token's peer ID: no second establish, which Consul would refuse."""
    tasks = with_register(peer_tasks(dc1, dc2, names))
    tasks.insert(2, dict(task('Establish again with the same token', dc2, 'consul_peering',
                              peering_token='{{ token_result.token }}', peer_name=names['on_dialer'])))
    mark = dc2.log_mark()
    run = run_playbook(tasks)
    assert run.returncode == 0, run.report()
    assert run.result('Establish again with the same token')['changed'] is False
    assert [call[0] for call in write_calls(dc2, mark)] == ['POST']


def test_check_mode_makes_no_write(dc1, dc2, names):
    marks = dc1.log_mark(), dc2.log_mark()
    run = run_playbook(with_register(peer_tasks(dc1, dc2, names)), check=True, diff=True)
    assert run.returncode == 0, run.report()
    token_result = run.result('Generate a token on dc1')
    assert token_result['changed'] is True
    assert token_result['diff']['after']['state'] == 'PENDING'
    established = run.result('Establish on dc2')
    assert established['changed'] is True
    assert established['diff']['after']['state'] == 'ESTABLISHING'
    assert write_calls(dc1, marks[0]) == [] and write_calls(dc2, marks[1]) == []
    assert read_peering(dc1, names['on_acceptor']) is None and read_peering(dc2, names['on_dialer']) is None


@pytest.mark.parametrize('side', ['dialer', 'acceptor'])
def test_delete_from_each_side(dc1, dc2, names, side):
    assert run_playbook(with_register(peer_tasks(dc1, dc2, names))).returncode == 0
    cluster, other = (dc2, dc1) if side == 'dialer' else (dc1, dc2)
    name, other_name = names['on_' + side], names['on_acceptor' if side == 'dialer' else 'on_dialer']

    check = run_playbook([task('Delete', cluster, 'consul_peering', peer_name=name, state='absent')],
                         check=True, diff=True)
    assert check.result('Delete')['changed'] is True
    assert check.result('Delete')['diff']['after'] == {'name': name, 'state': 'absent'}
    assert read_peering(cluster, name)['State'] == 'ACTIVE'

    run = run_playbook([task('Delete', cluster, 'consul_peering', peer_name=name, state='absent')])
    assert run.returncode == 0, run.report()
    assert run.result('Delete')['changed'] is True
    assert run.result('Delete')['peering'] is None
    assert read_peering(cluster, name) is None
    # The other side learns about it over the stream and keeps a TERMINATED row.
    wait_for(lambda: (read_peering(other, other_name) or {}).get('State') == 'TERMINATED', timeout=30,
             what='the other side to be TERMINATED')

    mark = cluster.log_mark()
    again = run_playbook([task('Delete', cluster, 'consul_peering', peer_name=name, state='absent')])
    assert again.result('Delete')['changed'] is False
    assert write_calls(cluster, mark) == []


def test_terminated_acceptor_is_recreated_and_peers_again(dc1, dc2, names):
    """After the dialer deleted its side, the acceptor is TERMINATED; a token run repairs the pair."""
    assert run_playbook(with_register(peer_tasks(dc1, dc2, names))).returncode == 0
    old_id = read_peering(dc1, names['on_acceptor'])['ID']
    dc2.api('DELETE', '/v1/peering/%s' % names['on_dialer'])
    wait_for(lambda: (read_peering(dc1, names['on_acceptor']) or {}).get('State') == 'TERMINATED', timeout=30,
             what='acceptor TERMINATED')
    wait_for(lambda: read_peering(dc2, names['on_dialer']) is None, what='dialer gone')

    run = run_playbook(with_register(peer_tasks(dc1, dc2, names)))
    assert run.returncode == 0, run.report()
    assert run.result('Establish on dc2')['changed'] is True
    on_dc1 = read_peering(dc1, names['on_acceptor'])
    assert on_dc1['State'] == 'ACTIVE' and on_dc1['ID'] != old_id
    assert read_peering(dc2, names['on_dialer'])['PeerID'] == on_dc1['ID']


def test_token_for_a_recreated_acceptor_replaces_the_dialer(dc1, dc2, names):
    """Right after the acceptor was deleted the dialer may still look ACTIVE; the new token must still win."""
    assert run_playbook(with_register(peer_tasks(dc1, dc2, names))).returncode == 0
    old_dialer = read_peering(dc2, names['on_dialer'])
    dc1.api('DELETE', '/v1/peering/%s' % names['on_acceptor'])
    wait_for(lambda: read_peering(dc1, names['on_acceptor']) is None, what='acceptor gone')

    run = run_playbook(with_register(peer_tasks(dc1, dc2, names)), diff=True)
    assert run.returncode == 0, run.report()
    established = run.result('Establish on dc2')
    assert established['actions'] == ['delete', 'wait_until_gone', 'establish', 'wait_until_active']
    assert established['diff']['before']['peer_id'] == old_dialer['PeerID']
    assert established['diff']['after']['peer_id'] == read_peering(dc1, names['on_acceptor'])['ID']
    on_dc2 = read_peering(dc2, names['on_dialer'])
    assert on_dc2['ID'] != old_dialer['ID']
    assert on_dc2['PeerID'] == read_peering(dc1, names['on_acceptor'])['ID']
    assert read_peering(dc1, names['on_acceptor'])['State'] == 'ACTIVE'


def test_info_lists_and_reads(dc1, dc2, names):
    assert run_playbook(with_register(peer_tasks(dc1, dc2, names))).returncode == 0
    mark = dc1.log_mark()
    run = run_playbook([
        task('List', dc1, 'consul_peering_info'),
        task('Read', dc1, 'consul_peering_info', name=names['on_acceptor']),
        task('Read missing', dc1, 'consul_peering_info', name='no-such-peer'),
    ], check=True)
    assert run.returncode == 0, run.report()
    assert names['on_acceptor'] in [p['Name'] for p in run.result('List')['peerings']]
    assert run.result('Read')['exists'] is True and run.result('Read')['peering']['State'] == 'ACTIVE'
    assert run.result('Read missing')['exists'] is False and run.result('Read missing')['peering'] is None
    assert len(peering_calls(dc1, mark)) == 3
