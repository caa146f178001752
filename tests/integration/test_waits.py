# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Waits against real Consul: a server that is down when a wait starts, a token whose accepting side is gone,
and wait timeouts that are refused before any call."""

from __future__ import annotations

import glob
import os
import threading
import time

import pytest

from ansible_collections.consul.peering.tests.support.ansible_cli import run_playbook
from ansible_collections.consul.peering.tests.support.consul_build import consul_binary
from ansible_collections.consul.peering.tests.support.consul_state import (
    delete_everywhere, peer_names, peering_calls, read_peering, unique_name, wait_for,
)
from ansible_collections.consul.peering.tests.support.plays import role_play, task
from ansible_collections.consul.peering.tests.support.secret_scan import assert_no_secrets

DIALER_WAIT = 'Wait until the dialing side is ACTIVE'
ACCEPTOR_WAIT = 'Wait until the accepting side is ACTIVE'


def tasks_paused_before_the_wait(acceptor, dialer, names, reached, proceed):
    """What an operator's playbook does with the modules: token, establish without waiting, then a wait for
    ACTIVE, with two tasks before the wait: one tells the test that the establish is done, the other holds
    the play until the test has killed the dialing server."""
    return [
        dict(task('Generate the token', acceptor, 'consul_peering_token', peer_name=names['on_acceptor']),
             register='generated'),
        task('Establish without waiting', dialer, 'consul_peering', peer_name=names['on_dialer'],
             peering_token='{{ generated.token }}', wait=False),
        {'name': 'Tell the test that the establish is done', 'ansible.builtin.file': {'path': reached,
                                                                                      'state': 'touch'}},
        {'name': 'Wait until the test has killed the dialing server',
         'ansible.builtin.wait_for': {'path': proceed, 'timeout': 300, 'sleep': 1}},
        task(DIALER_WAIT, dialer, 'consul_peering', peer_name=names['on_dialer'], wait_timeout=120),
        task(ACCEPTOR_WAIT, acceptor, 'consul_peering', peer_name=names['on_acceptor'], wait_timeout=120),
    ]


def test_a_wait_survives_a_dialer_that_is_down_at_its_first_read(cluster_factory, tmp_path, harness_note):
    """The dialing server is killed between the establish (wait: false) and the wait for ACTIVE, and comes
    back only after the wait's first read was refused: the wait keeps reading until it is ACTIVE."""
    acceptor, dialer = cluster_factory(2, acl=True, tls=True)
    names = peer_names('down')
    reached, proceed, remote_tmp = (str(tmp_path / part) for part in ('reached', 'proceed', 'remote-tmp'))
    play = {'name': 'The modules with a restart injected', 'hosts': 'localhost', 'gather_facts': False,
            'tasks': tasks_paused_before_the_wait(acceptor, dialer, names, reached, proceed)}
    outcome = {}

    def role_in_background():
        # A remote tmp of its own: the wait task's module file exists there exactly while the module runs.
        outcome['run'] = run_playbook(plays=[play], env={'ANSIBLE_REMOTE_TMP': remote_tmp}, timeout=600)

    def wait_module_running():
        return glob.glob(os.path.join(remote_tmp, '*', 'AnsiballZ_consul_peering.py'))

    runner = threading.Thread(target=role_in_background)
    runner.start()
    try:
        wait_for(lambda: os.path.exists(reached) or not runner.is_alive(), timeout=180, interval=0.1,
                 what='the playbook to establish the peering')
        assert os.path.exists(reached), outcome.get('run')
        dialer.stop(graceful=False)  # SIGKILL
        killed = time.monotonic()
        open(proceed, 'w').close()
        wait_for(lambda: wait_module_running() or not runner.is_alive(), timeout=60, interval=0.05,
                 what='the wait task to start')
        # The first read is refused at once; the client gives up on it after its retries (about 3.5 s).
        time.sleep(6)
        waiting_while_down = bool(wait_module_running())
        dialer.start(consul_binary(allow_build=False))
        dialer.wait_ready()
        ready = time.monotonic()
    finally:
        runner.join(600)
    finished = time.monotonic()
    run = outcome['run']
    assert run.returncode == 0, [entry['result'].get('msg') for entry in run.results if entry['status'] == 'failed']
    assert waiting_while_down
    assert run.result(DIALER_WAIT)['peering']['State'] == 'ACTIVE'
    assert run.result(ACCEPTOR_WAIT)['peering']['State'] == 'ACTIVE'
    on_acceptor, on_dialer = read_peering(acceptor, names['on_acceptor']), read_peering(dialer, names['on_dialer'])
    assert on_acceptor['State'] == 'ACTIVE' and on_dialer['State'] == 'ACTIVE'
    assert on_dialer['PeerID'] == on_acceptor['ID']
    harness_note('test_waits: dialing server down for %.1f s (killed to ready again); the play finished %.1f s '
                 'after it was ready' % (ready - killed, finished - ready))
    delete_everywhere([acceptor, dialer], [names['on_dialer'], names['on_acceptor']])


def test_a_token_whose_accepting_side_was_deleted_is_explained_and_leaves_no_dialing_side(dc1, dc2):
    """The accepting side is deleted after its token was generated: Consul refuses the establish and would
    leave a PENDING dialing side behind; the module deletes that and names the likely causes."""
    acceptor_name, dialer_name = unique_name('gone-dc2'), unique_name('gone-dc1')
    peering_token = dc1.api('POST', '/v1/peering/token', json={'PeerName': acceptor_name}).json()['PeeringToken']
    dc1.api('DELETE', '/v1/peering/%s' % acceptor_name)
    wait_for(lambda: read_peering(dc1, acceptor_name) is None, timeout=30, what='the accepting side gone')
    mark = dc2.log_mark()
    run = run_playbook([task('Establish', dc2, 'consul_peering', peer_name=dialer_name,
                             peering_token=peering_token)])
    try:
        assert run.returncode != 0
        message = run.result('Establish')['msg']
        assert ('The token was already used, a newer token was generated for that peering since, or the '
                'accepting side was deleted since the token was generated') in message
        assert 'The PENDING dialing side this run created on this cluster was deleted' in message
        assert read_peering(dc2, dialer_name) is None
        assert [call.method for call in peering_calls(dc2, mark) if call.method != 'GET'] == ['POST', 'DELETE']
        assert_no_secrets(run.output, dc2.token, peering_token)
    finally:
        delete_everywhere([dc2], [dialer_name])


@pytest.mark.parametrize('value', [-5, 0])
def test_role_refuses_a_wait_timeout_that_is_not_positive_before_any_call(dc1, dc2, value):
    names = peer_names('wt')
    marks = dc1.log_mark(), dc2.log_mark()
    run = run_playbook(plays=role_play(dc1, dc2, cluster_peering_wait_timeout=value, **names))
    assert run.returncode != 0
    assert 'cluster_peering_wait_timeout must be a positive number of seconds' in run.stdout
    assert peering_calls(dc1, marks[0]) == [] and peering_calls(dc2, marks[1]) == []
