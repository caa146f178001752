# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""No ACL token, peering token or establishment secret in anything Ansible prints or logs, even at -vvv."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.consul.peering.tests.support.ansible_cli import run_adhoc, run_playbook
from ansible_collections.consul.peering.tests.support.consul_state import delete_everywhere, unique_name
from ansible_collections.consul.peering.tests.support.plays import task
from ansible_collections.consul.peering.tests.support.secret_scan import assert_no_secrets


@pytest.fixture
def known_token(dc1):
    """A peering token the test knows (generated through the API), with its establishment secret."""
    name = unique_name('sec-dc2')
    token = dc1.api('POST', '/v1/peering/token', json={'PeerName': name}).json()['PeeringToken']
    secret = json.loads(base64.b64decode(token))['EstablishmentSecret']
    yield name, token, secret
    delete_everywhere([dc1], [name])


@pytest.mark.parametrize('check', [False, True], ids=['normal', 'check-mode'])
def test_modules_at_vvv_success_and_failure(dc1, dc2, known_token, check):
    acceptor_name, token, secret = known_token
    dialer_name, other_dialer, generated = unique_name('sec-dc1'), unique_name('sec-dc1b'), unique_name('sec-gen')
    # As in a real playbook, tokens reach the tasks through variables, never as literals in the YAML
    # (ansible-core prints the source lines of a failed task).
    from_env = "{{ lookup('ansible.builtin.env', '%s') }}"
    tasks = [
        task('Read', dc1, 'consul_peering_info', name=acceptor_name),
        dict(task('Generate a new token', dc1, 'consul_peering_token', peer_name=generated), register='generated'),
        task('Establish with the known token', dc2, 'consul_peering', peer_name=dialer_name,
             peering_token=from_env % 'KNOWN_TOKEN'),
        dict(task('Establish again with the used token', dc2, 'consul_peering', peer_name=other_dialer,
                  peering_token=from_env % 'KNOWN_TOKEN', wait_timeout=1), ignore_errors=True),
        dict(task('Fail with a wrong CA', dc1, 'consul_peering_info', ca_path=dc1.wrong_ca_file), ignore_errors=True),
        dict(task('Fail on a malformed token', dc2, 'consul_peering', peer_name='x',
                  peering_token=from_env % 'BROKEN_TOKEN'), ignore_errors=True),
        task('Delete', dc2, 'consul_peering', peer_name=dialer_name, state='absent'),
    ]
    env = {'KNOWN_TOKEN': token, 'BROKEN_TOKEN': token[:-12] + '!!'}
    try:
        run = run_playbook(tasks, check=check, diff=True, verbosity=3, env=env)
        assert run.returncode == 0, run.report()
        if not check:
            assert run.status('Establish again with the used token') == 'failed'
            assert 'already used' in run.result('Establish again with the used token')['msg']
        assert run.status('Fail with a wrong CA') == 'failed'
        assert 'TASK [Establish with the known token]' in run.log
        assert_no_secrets(run.output, dc1.token, dc2.token, token, secret)
    finally:
        delete_everywhere([dc1, dc2], [dialer_name, other_dialer, generated])


def test_adhoc_at_vvv_with_token_from_environment(dc1, known_token):
    acceptor_name, _token, _secret = known_token
    env = dict(dc1.connection_env())
    run = run_adhoc('consul.peering.consul_peering_info', 'name=%s' % acceptor_name, env=env, verbosity=3)
    assert run.returncode == 0, run.report()
    failing = run_adhoc('consul.peering.consul_peering_info', 'name=Bad_Name', env=env, verbosity=3)
    assert failing.returncode != 0
    for result in (run, failing):
        assert_no_secrets(result.output, dc1.token)


def test_failed_establish_message_never_holds_the_token(dc2, known_token):
    _name, token, secret = known_token
    # A token whose servers cannot be reached: Consul's own error text comes back through the module.
    data = json.loads(base64.b64decode(token))
    data['ServerAddresses'] = ['127.0.0.1:1']
    unreachable = base64.b64encode(json.dumps(data).encode()).decode()
    name = unique_name('sec-unreach')
    try:
        run = run_playbook([task('Establish', dc2, 'consul_peering', peer_name=name, timeout=60,
                                 peering_token="{{ lookup('ansible.builtin.env', 'UNREACHABLE_TOKEN') }}")],
                           verbosity=3, env={'UNREACHABLE_TOKEN': unreachable})
        assert run.returncode != 0
        assert 'Traceback' not in run.output
        assert_no_secrets(run.output, dc2.token, unreachable, secret)
    finally:
        delete_everywhere([dc2], [name])
