# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Two runs on the same pair at the same time converge to one ACTIVE peering on each side."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.consul.peering.tests.support.ansible_cli import run_playbook
from ansible_collections.consul.peering.tests.support.consul_state import delete_everywhere, peer_names, read_peering
from ansible_collections.consul.peering.tests.support.plays import role_play


@pytest.mark.parametrize('attempt', [1, 2])
def test_two_simultaneous_runs_converge(dc1, dc2, attempt):
    names = peer_names('race%d' % attempt)
    runs = {}
    start = threading.Barrier(2)

    def one_run(key):
        start.wait()
        runs[key] = run_playbook(plays=role_play(dc1, dc2, **names))

    threads = [threading.Thread(target=one_run, args=(key,)) for key in ('first', 'second')]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        assert sorted(runs) == ['first', 'second']  # both runs finished
        for key, run in runs.items():
            assert run.returncode == 0, key + ": " + run.report()
        on_dc1, on_dc2 = read_peering(dc1, names['on_acceptor']), read_peering(dc2, names['on_dialer'])
        assert on_dc1['State'] == 'ACTIVE' and on_dc2['State'] == 'ACTIVE'
        assert on_dc2['PeerID'] == on_dc1['ID']
        assert [p['Name'] for p in dc1.api('GET', '/v1/peerings').json()].count(names['on_acceptor']) == 1
        # And a third run finds nothing to do.
        assert run_playbook(plays=role_play(dc1, dc2, **names)).changed_tasks == []
    finally:
        delete_everywhere([dc1, dc2], names.values())
