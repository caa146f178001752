# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Faults a real server does not produce on demand, injected by a proxy in front of real Consul; and a restart."""

from __future__ import annotations

import threading

import pytest

from ansible_collections.consul.peering.tests.support.ansible_cli import run_adhoc, run_playbook
from ansible_collections.consul.peering.tests.support.clusters import MISMATCH_HOST
from ansible_collections.consul.peering.tests.support.consul_state import (
    delete_everywhere, read_peering, unique_name, wait_for,
)
from ansible_collections.consul.peering.tests.support.fault_proxy import PASS, RESET, RESET_MID_BODY, FaultProxy
from ansible_collections.consul.peering.tests.support.plays import task


@pytest.fixture(scope='module')
def plain(cluster_factory):
    """Two clusters with ACLs and plain HTTP, so that a proxy can sit in front of them."""
    return cluster_factory(2, acl=True, tls=False)


@pytest.fixture
def proxy(plain):
    with FaultProxy(plain[0].address) as fault_proxy:
        yield fault_proxy


def through(proxy, cluster, **args):
    merged = {'host': '127.0.0.1', 'port': proxy.port, 'scheme': 'http', 'token': cluster.token}
    merged.update(args)
    return merged


def info_task(proxy, cluster, **args):
    return {'name': 'Info', 'consul.peering.consul_peering_info': through(proxy, cluster, **args)}


def token_task(proxy, cluster, name, **args):
    return {'name': 'Token', 'consul.peering.consul_peering_token': through(proxy, cluster, peer_name=name, **args)}


def test_reads_survive_a_burst_of_503_and_500(proxy, plain):
    proxy.inject('GET', '/v1/peerings', ('status', 503, 'No cluster leader'), ('status', 500, 'boom'), PASS)
    run = run_playbook([info_task(proxy, plain[0])])
    assert run.returncode == 0, run.report()
    assert [call[0] for call in proxy.calls] == ['GET', 'GET', 'GET']


def test_a_read_reset_before_the_answer_is_retried(proxy, plain):
    proxy.inject('GET', '/v1/peering/', RESET, PASS)
    run = run_playbook([info_task(proxy, plain[0], name='dc9')])
    assert run.returncode == 0, run.report()
    assert len(proxy.calls) == 2


def test_a_reset_in_the_middle_of_an_answer_is_a_clear_error(proxy, plain):
    proxy.inject('GET', '/v1/peerings', RESET_MID_BODY)
    run = run_playbook([info_task(proxy, plain[0])])
    assert run.returncode != 0
    message = run.result('Info')['msg']
    assert "The connection broke while reading Consul's answer to GET http://127.0.0.1:%d/v1/peerings " \
        '(connection reset by peer)' % proxy.port in message
    assert 'Traceback' not in run.output


def test_a_write_answered_503_is_reported_once_and_changes_nothing(proxy, plain):
    name = unique_name('f503')
    proxy.inject('POST', '/v1/peering/token', ('status', 503, 'rpc error: code = Unavailable desc = no leader'))
    run = run_playbook([token_task(proxy, plain[0], name)])
    assert run.returncode != 0
    message = run.result('Token')['msg']
    assert 'Consul failed to handle POST http://127.0.0.1:%d/v1/peering/token (HTTP 503): no leader' % proxy.port \
        in message
    assert proxy.writes() == [('POST', '/v1/peering/token')]
    assert read_peering(plain[0], name) is None


def test_a_write_reset_is_not_repeated_and_says_the_outcome_is_unknown(proxy, plain):
    name = unique_name('freset')
    proxy.inject('POST', '/v1/peering/token', RESET)
    run = run_playbook([token_task(proxy, plain[0], name)])
    assert run.returncode != 0
    assert 'may or may not have been applied' in run.result('Token')['msg']
    assert proxy.writes() == [('POST', '/v1/peering/token')]
    assert 'Traceback' not in run.output


def test_a_server_slower_than_timeout(proxy, plain):
    name = unique_name('fslow')
    proxy.inject('POST', '/v1/peering/token', ('delay', 4))
    run = run_playbook([token_task(proxy, plain[0], name, timeout=1)])
    assert run.returncode != 0
    assert 'did not answer POST http://127.0.0.1:%d/v1/peering/token within 1s (timeout)' % proxy.port in \
        run.result('Token')['msg']
    assert proxy.writes() == [('POST', '/v1/peering/token')]
    # The proxy still delivers the call after the client gave up, as a slow network would: the module said
    # so ("may or may not"), and a re-run reads first, finds the peering and makes no write.
    wait_for(lambda: read_peering(plain[0], name) is not None, timeout=15, what='the late write to land')
    proxy.clear()
    again = run_playbook([token_task(proxy, plain[0], name)])
    assert again.returncode == 0 and again.result('Token')['changed'] is False
    assert proxy.writes() == []
    delete_everywhere([plain[0]], [name])


def test_a_read_slower_than_timeout_ends_at_the_timeout_without_a_retry(proxy, plain):
    # timeout bounds the whole call, retries included: once it is used up, nothing is tried again.
    proxy.inject('GET', '/v1/peerings', ('delay', 3))
    run = run_playbook([info_task(proxy, plain[0], timeout=0.5)])
    assert run.returncode != 0
    assert 'did not answer GET http://127.0.0.1:%d/v1/peerings within 0.5s' % proxy.port in run.result('Info')['msg']
    assert len(proxy.calls) == 1


def test_hostname_mismatch_is_a_tls_error(dc1):
    args = dict(dc1.module_args(), host=MISMATCH_HOST)
    run = run_playbook([{'name': 'Info', 'consul.peering.consul_peering_info': args}])
    assert run.returncode != 0
    message = run.result('Info')['msg']
    assert 'TLS connection to https://%s:%d/v1/peerings failed' % (MISMATCH_HOST, dc1.port) in message
    assert 'mismatch' in message.lower()


def test_tls_server_name_verifies_a_server_reached_by_another_address(dc1):
    """127.0.0.2 is not in the certificate; the name the certificate does carry is accepted, another one is not."""
    good = run_playbook([{'name': 'Info', 'consul.peering.consul_peering_info': dict(
        dc1.module_args(), host=MISMATCH_HOST, tls_server_name='server.dc1.consul')}])
    assert good.returncode == 0, good.report()
    assert isinstance(good.result('Info')['peerings'], list)

    env = dict(dc1.connection_env(), CONSUL_HTTP_ADDR='https://%s:%d' % (MISMATCH_HOST, dc1.port),
               CONSUL_TLS_SERVER_NAME='server.dc2.consul')
    bad = run_adhoc('consul.peering.consul_peering_info', '', env=env)
    assert bad.returncode != 0
    assert "hostname 'server.dc2.consul' doesn't match" in bad.stdout
    assert 'server name checked: server.dc2.consul (tls_server_name)' in bad.stdout


def test_wait_survives_a_restart_of_the_polled_server(cluster_factory):
    """The dialer's server restarts while the module waits for ACTIVE; the wait carries on and succeeds."""
    acceptor, dialer = cluster_factory(2, acl=True, tls=True)
    token = acceptor.api('POST', '/v1/peering/token', json={'PeerName': 'restart-dc2'}).json()['PeeringToken']
    dialer.api('POST', '/v1/peering/establish', json={'PeerName': 'restart-dc1', 'PeeringToken': token})
    wait_for(lambda: read_peering(dialer, 'restart-dc1')['State'] == 'ACTIVE', what='first ACTIVE')
    acceptor.stop()  # the dialer cannot be ACTIVE again until the acceptor is back
    wait_for(lambda: read_peering(dialer, 'restart-dc1')['State'] != 'ACTIVE', what='the dialer to notice')
    outcome = {}

    def wait_in_background():
        outcome['run'] = run_playbook([task('Wait', dialer, 'consul_peering', peer_name='restart-dc1',
                                            wait_timeout=150)])

    mark = dialer.log_mark()
    waiter = threading.Thread(target=wait_in_background)
    waiter.start()
    try:
        wait_for(lambda: len([c for c in dialer.http_requests(since=mark, settle=0) if 'restart-dc1' in c[1]]) >= 2,
                 timeout=60, what='the module to be polling')
        dialer.restart()
        acceptor.restart()
    finally:
        waiter.join(300)
    run = outcome['run']
    assert run.returncode == 0, run.report()
    assert run.result('Wait')['changed'] is False
    assert run.result('Wait')['peering']['State'] == 'ACTIVE'
