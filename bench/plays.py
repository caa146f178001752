# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the benchmarks run: the playbooks and roles under test and their baselines, and the plays and
inventories built for them (with the builders the tests use, tests/support/plays.py)."""

from __future__ import annotations

import os

from ansible_collections.consul.peering.tests.support import plays as support_plays

from ansible_collections.consul.peering.bench.measure import BENCH

ROOT = os.path.dirname(BENCH)
CLI_SCRIPT = os.path.join(BENCH, 'cli_peering.sh')
PEER_CLUSTERS = os.path.join(ROOT, 'playbooks', 'peer_clusters.yml')
# The 0.1.0 playbook and role (one host per pair, six module tasks per pair), kept as the baseline.
BASELINE_PEER_CLUSTERS = os.path.join(BENCH, 'baseline', 'pairwise_peer_clusters.yml')
BASELINE_ROLES = os.path.join(BENCH, 'baseline', 'roles')
BASELINE_ROLE = 'cluster_peering'  # a bare name, found on BASELINE_ROLES; the collection's role needs its full name
BASELINE_ENV = {'ANSIBLE_ROLES_PATH': BASELINE_ROLES}
MESH_PLAYBOOKS = {'new': PEER_CLUSTERS, 'baseline': BASELINE_PEER_CLUSTERS}


def role_play(acceptor, dialer, acceptor_peer, dialer_peer, state='present'):
    """A play applying the cluster_peering role to one pair, as the integration tests write it; without labels,
    so that task names stay the same whichever clusters a repetition uses."""
    return support_plays.role_play(acceptor, dialer, acceptor_peer, dialer_peer, state=state, labels=False)


def baseline_role_play(acceptor, dialer, acceptor_peer, dialer_peer, state='present'):
    """role_play() with the 0.1.0 role (six module tasks per pair); it needs BASELINE_ENV to find the role."""
    play = role_play(acceptor, dialer, acceptor_peer, dialer_peer, state)
    play[0]['tasks'][0]['ansible.builtin.include_role']['name'] = BASELINE_ROLE
    return play


def module_task(cluster, module, **args):
    """A task running consul.peering.<module> against `cluster`, named after both."""
    return support_plays.task('%s on %s' % (module, cluster.name), cluster, module, **args)


def noop_play():
    """Ansible's floor: a play with one task that does nothing."""
    return [{'name': 'Nothing', 'hosts': 'localhost', 'gather_facts': False,
             'tasks': [{'name': 'Do nothing', 'ansible.builtin.meta': 'noop'}]}]


def info_list_play(cluster):
    """The floor of one module run: a play with one consul_peering_info task in list mode (one GET /v1/peerings)."""
    return [{'name': 'One module run', 'hosts': 'localhost', 'gather_facts': False,
             'tasks': [module_task(cluster, 'consul_peering_info')]}]


def mesh_inventory(members, path):
    """An inventory of the clusters, asking for a full mesh of them (`consul_peering_mesh: [dc1 .. dcN]`)."""
    return support_plays.write_inventory(path, members, consul_peering_mesh=[cluster.name for cluster in members])
