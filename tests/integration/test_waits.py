# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Waits against real Consul: wait timeouts that are refused before any call."""

from __future__ import annotations

import pytest

from ansible_cli import run_playbook
from peering_helpers import peering_calls, unique_name


def role_vars(acceptor, dialer, names, **extra):
    variables = {
        'cluster_peering_state': 'present',
        'cluster_peering_wait_timeout': 120,
        'cluster_peering_acceptor': {'label': acceptor.name, 'connection': acceptor.module_args(),
                                     'peer_name': names['acceptor']},
        'cluster_peering_dialer': {'label': dialer.name, 'connection': dialer.module_args(),
                                   'peer_name': names['dialer']},
    }
    variables.update(extra)
    return variables


@pytest.mark.parametrize('value', [-5, 0])
def test_role_refuses_a_wait_timeout_that_is_not_positive_before_any_call(dc1, dc2, value):
    names = {'acceptor': unique_name('wt-dc2'), 'dialer': unique_name('wt-dc1')}
    marks = dc1.log_mark(), dc2.log_mark()
    run = run_playbook(plays=[{
        'name': 'Peer dc1 and dc2', 'hosts': 'localhost', 'gather_facts': False,
        'tasks': [{'name': 'Apply the role', 'ansible.builtin.include_role': {'name': 'consul.peering.cluster_peering'},
                   'vars': role_vars(dc1, dc2, names, cluster_peering_wait_timeout=value)}],
    }])
    assert run.returncode != 0
    assert 'cluster_peering_wait_timeout must be a positive number of seconds' in run.stdout
    assert peering_calls(dc1, marks[0]) == [] and peering_calls(dc2, marks[1]) == []
