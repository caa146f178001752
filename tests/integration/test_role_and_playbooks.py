# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The cluster_peering role and the inventory playbooks, against real clusters."""

from __future__ import annotations

import os

from ansible_collections.consul.peering.tests.support.ansible_cli import run_playbook
from ansible_collections.consul.peering.tests.support.consul_state import (
    peering_calls, read_peering, wait_for, write_calls,
)
from ansible_collections.consul.peering.tests.support.plays import role_play, write_inventory
from ansible_collections.consul.peering.tests.support.secret_scan import assert_no_secrets


PEER_TASK = 'Set the peering of the accepting and the dialing cluster to present'


def assert_peered(dc1, dc2, names):
    on_dc1, on_dc2 = read_peering(dc1, names['on_acceptor']), read_peering(dc2, names['on_dialer'])
    assert on_dc1['State'] == 'ACTIVE' and on_dc2['State'] == 'ACTIVE'
    assert on_dc2['PeerID'] == on_dc1['ID']


def test_role_peers_then_rerun_only_reads(dc1, dc2, names):
    run = run_playbook(plays=role_play(dc1, dc2, **names))
    assert run.returncode == 0, run.report()
    assert run.changed_tasks == [PEER_TASK]
    (pair,) = run.result(PEER_TASK)['pairs']
    assert pair['acceptor_actions'] == ['generate_token']
    assert pair['dialer_actions'] == ['establish', 'wait_until_active']
    assert_peered(dc1, dc2, names)

    marks = dc1.log_mark(), dc2.log_mark()
    again = run_playbook(plays=role_play(dc1, dc2, **names))
    assert again.returncode == 0, again.report()
    assert again.changed_tasks == []
    assert write_calls(dc1, marks[0]) == [] and write_calls(dc2, marks[1]) == []
    # One read on each side, nothing else.
    assert [call[0] for call in peering_calls(dc1, marks[0])] == ['GET']
    assert [call[0] for call in peering_calls(dc2, marks[1])] == ['GET']


def test_role_check_mode_on_a_fresh_pair_writes_nothing_and_diffs_both_sides(dc1, dc2, names):
    marks = dc1.log_mark(), dc2.log_mark()
    run = run_playbook(plays=role_play(dc1, dc2, **names), check=True, diff=True)
    assert run.returncode == 0, run.report()
    on_dc1, on_dc2 = run.result(PEER_TASK)['diff']
    assert (on_dc1['before_header'], on_dc2['before_header']) == ('dc1', 'dc2')
    assert on_dc1['before'][names['on_acceptor']]['state'] == 'absent'
    assert on_dc1['after'][names['on_acceptor']]['state'] == 'PENDING'
    assert on_dc2['before'][names['on_dialer']]['state'] == 'absent'
    assert on_dc2['after'][names['on_dialer']]['state'] == 'ESTABLISHING'
    assert '--- before: dc1' in run.stdout and '+++ after: dc2' in run.stdout
    assert write_calls(dc1, marks[0]) == [] and write_calls(dc2, marks[1]) == []
    assert read_peering(dc1, names['on_acceptor']) is None and read_peering(dc2, names['on_dialer']) is None


def test_role_check_mode_on_a_peered_pair_reports_nothing(dc1, dc2, names):
    assert run_playbook(plays=role_play(dc1, dc2, **names)).returncode == 0
    run = run_playbook(plays=role_play(dc1, dc2, **names), check=True, diff=True)
    assert run.returncode == 0, run.report()
    assert run.changed_tasks == []


def test_role_repairs_a_token_that_was_never_used(dc1, dc2, names):
    """A run interrupted between token and establish leaves a PENDING acceptor; the next run peers."""
    dc1.api('POST', '/v1/peering/token', json={'PeerName': names['on_acceptor']})
    run = run_playbook(plays=role_play(dc1, dc2, **names))
    assert run.returncode == 0, run.report()
    assert_peered(dc1, dc2, names)


def test_role_repairs_a_pair_whose_dialer_was_deleted(dc1, dc2, names):
    assert run_playbook(plays=role_play(dc1, dc2, **names)).returncode == 0
    dc2.api('DELETE', '/v1/peering/%s' % names['on_dialer'])
    wait_for(lambda: (read_peering(dc1, names['on_acceptor']) or {}).get('State') == 'TERMINATED', timeout=30,
             what='acceptor TERMINATED')
    run = run_playbook(plays=role_play(dc1, dc2, **names))
    assert run.returncode == 0, run.report()
    assert_peered(dc1, dc2, names)


def test_role_absent_removes_both_sides(dc1, dc2, names):
    assert run_playbook(plays=role_play(dc1, dc2, **names)).returncode == 0
    check = run_playbook(plays=role_play(dc1, dc2, state='absent', **names), check=True)
    assert check.changed_tasks == ['Set the peering of the accepting and the dialing cluster to absent']
    (pair,) = check.result('Set the peering of the accepting and the dialing cluster to absent')['pairs']
    assert pair['dialer_actions'] == pair['acceptor_actions'] == ['delete', 'wait_until_gone']
    assert read_peering(dc1, names['on_acceptor'])['State'] == 'ACTIVE'

    run = run_playbook(plays=role_play(dc1, dc2, state='absent', **names))
    assert run.returncode == 0, run.report()
    assert read_peering(dc1, names['on_acceptor']) is None and read_peering(dc2, names['on_dialer']) is None
    again = run_playbook(plays=role_play(dc1, dc2, state='absent', **names))
    assert again.changed_tasks == []


def test_role_rejects_bad_input_before_any_call(dc1, dc2, names):
    plays = role_play(dc1, dc2, **names)
    plays[0]['tasks'][0]['vars']['cluster_peering_state'] = 'peered'
    marks = dc1.log_mark(), dc2.log_mark()
    run = run_playbook(plays=plays)
    assert run.returncode != 0
    assert 'cluster_peering_state' in run.stdout + run.stderr
    assert peering_calls(dc1, marks[0]) == [] and peering_calls(dc2, marks[1]) == []


def test_role_never_shows_a_token_at_vvv(dc1, dc2, names):
    run = run_playbook(plays=role_play(dc1, dc2, **names), verbosity=3, diff=True)
    assert run.returncode == 0, run.report()
    # The establishment secret of the token that was used is stored nowhere we can read it, but the
    # token's non-secret parts are: the peer ID must show up, the token itself must not.
    assert_no_secrets(run.output, dc1.token, dc2.token)
    assert read_peering(dc1, names['on_acceptor'])['ID'] in run.output
    assert 'EstablishmentSecret' not in run.output and 'PeeringToken' not in run.output


# -- the inventory playbooks ---------------------------------------------------------------------

def playbook_path(name):
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        'playbooks', '%s.yml' % name)


def test_three_clusters_in_a_full_mesh_converge_and_rerun_is_a_noop(cluster_factory, tmp_path):
    three = cluster_factory(3, acl=True, tls=True)
    inventory = write_inventory(str(tmp_path / 'inventory.yml'), three, consul_peering_mesh=['dc1', 'dc2', 'dc3'])
    run = run_playbook(playbook=playbook_path('peer_clusters'), inventory=inventory)
    assert run.returncode == 0, run.report()
    for acceptor, dialer in (('dc1', 'dc2'), ('dc1', 'dc3'), ('dc2', 'dc3')):
        a, d = three[int(acceptor[2:]) - 1], three[int(dialer[2:]) - 1]
        on_acceptor, on_dialer = read_peering(a, dialer), read_peering(d, acceptor)
        assert on_acceptor['State'] == 'ACTIVE' and on_dialer['PeerID'] == on_acceptor['ID']

    marks = [cluster.log_mark() for cluster in three]
    again = run_playbook(playbook=playbook_path('peer_clusters'), inventory=inventory)
    assert again.returncode == 0, again.report()
    assert again.changed_tasks == []
    assert all(write_calls(cluster, mark) == [] for cluster, mark in zip(three, marks))

    removed = run_playbook(playbook=playbook_path('unpeer_clusters'), inventory=inventory)
    assert removed.returncode == 0, removed.report()
    assert all(cluster.api('GET', '/v1/peerings').json() == [] for cluster in three)


def test_hub_and_spoke_peers_by_fqcn(cluster_factory, tmp_path):
    three = cluster_factory(3, acl=False, tls=False)
    inventory = write_inventory(str(tmp_path / 'inventory.yml'), three, consul_peering_hub='dc1',
                                consul_peering_spokes=['dc2', 'dc3'])
    run = run_playbook(playbook='consul.peering.peer_clusters', inventory=inventory, check=True)
    assert run.returncode == 0, run.report()
    assert all(cluster.api('GET', '/v1/peerings').json() == [] for cluster in three)
    run = run_playbook(playbook='consul.peering.peer_clusters', inventory=inventory)
    assert run.returncode == 0, run.report()
    assert sorted(p['Name'] for p in three[0].api('GET', '/v1/peerings').json()) == ['dc2', 'dc3']
    assert three[1].api('GET', '/v1/peerings').json()[0]['State'] == 'ACTIVE'
