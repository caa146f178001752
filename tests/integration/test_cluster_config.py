# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A cluster that cannot peer: the Consul server configurations operators most often get wrong before the
first token, each run the way a user does; the failure must name the setting to change.

Consul 1.14.11's own answers, as the modules show them:
- connect.enabled = false: the token "connect.enabled must be set to true in the server's configuration when
  generating peering tokens"; establish "failed to fetch TLS materials: failed to fetch roots: CA has not
  finished initializing" (the CA was never set up), both HTTP 500.
- peering.enabled = false: every peering call, the module's first read included, "peering must be enabled to
  use this endpoint".
- ports.grpc_tls = -1 without TLS certificates on the agent: the token "TLS for gRPC must be enabled when
  generating peering tokens". With them (tls.defaults, which gRPC inherits), Consul generates the token with
  the plain-text gRPC port, and establish fails with "tls: first record does not look like a TLS handshake".
- the mesh config entry's Peering.PeerThroughMeshGateways with no mesh gateway: the token "servers are
  configured to PeerThroughMeshGateways, but no mesh gateway instances are registered", after Consul wrote
  the peering (PENDING); a dialing cluster configured so falls back to dialing the servers directly.
"""

from __future__ import annotations

import pytest

from ansible_collections.consul.peering.tests.support.ansible_cli import run_playbook
from ansible_collections.consul.peering.tests.support.clusters import ClusterSet
from ansible_collections.consul.peering.tests.support.consul_state import (
    delete_everywhere, read_peering, unique_name, wait_for, write_calls,
)
from ansible_collections.consul.peering.tests.support.plays import task

# The four misconfigured servers, started together once for this module (dc1..dc4 of their own set).
CONFIGURATIONS = (
    ('connect_off', True, {'connect': {'enabled': False}}),
    ('peering_off', True, {'peering': {'enabled': False}}),
    # What the ansible-consul role writes by default, with and without TLS certificates on the agents.
    ('grpc_tls_off', True, {'ports': {'grpc_tls': -1}}),
    ('grpc_tls_off_no_certs', False, {'ports': {'grpc_tls': -1}}),
)


@pytest.fixture(scope='module')
def misconfigured(request):
    """{configuration name: Cluster}; stopped when this module's tests are done."""
    cluster_set = ClusterSet.start(len(CONFIGURATIONS), tls=[tls for _name, tls, _config in CONFIGURATIONS],
                                   config_overrides=[config for _name, _tls, config in CONFIGURATIONS])
    try:
        yield dict(zip((name for name, _tls, _config in CONFIGURATIONS), cluster_set))
    finally:
        cluster_set.stop(keep_logs=request.session.testsfailed > 0)


@pytest.fixture
def peer_through_mesh_gateways(dc2):
    """dc2 (shared with other modules) with PeerThroughMeshGateways on and no mesh gateway, until the test ends."""
    dc2.api('PUT', '/v1/config', json={'Kind': 'mesh', 'Peering': {'PeerThroughMeshGateways': True}})
    try:
        yield dc2
    finally:
        dc2.api('DELETE', '/v1/config/mesh/mesh')


def establish_with_a_token_from(acceptor, dialer, acceptor_name, dialer_name):
    """Generate on `acceptor` and establish on `dialer` in one playbook, as the role does."""
    return run_playbook([
        dict(task('Generate', acceptor, 'consul_peering_token', peer_name=acceptor_name), register='t'),
        task('Establish', dialer, 'consul_peering', peer_name=dialer_name, peering_token='{{ t.token }}'),
    ])


def failure(run, name):
    """The failed task's message, after checking that the run failed there, cleanly."""
    assert run.returncode != 0, run.report()
    assert run.status(name) == 'failed', run
    assert 'Traceback' not in run.output
    return run.result(name)['msg']


def test_token_on_a_cluster_with_connect_off_names_connect_enabled(misconfigured):
    cluster, name = misconfigured['connect_off'], unique_name('connect-off')
    message = failure(run_playbook([task('Generate', cluster, 'consul_peering_token', peer_name=name)]), 'Generate')
    assert "connect.enabled must be set to true in the server's configuration" in message
    assert 'connect { enabled = true }' in message
    # Consul checks its configuration before it writes anything.
    assert read_peering(cluster, name) is None


def test_establish_on_a_cluster_with_connect_off_names_connect_enabled(dc1, misconfigured):
    dialer = misconfigured['connect_off']
    acceptor_name, dialer_name = unique_name('to-connect-off'), unique_name('connect-off')
    try:
        run = establish_with_a_token_from(dc1, dialer, acceptor_name, dialer_name)
        message = failure(run, 'Establish')
        assert 'failed to fetch roots: CA has not finished initializing' in message
        assert 'connect { enabled = true }' in message
        assert read_peering(dialer, dialer_name) is None
        # The token was generated; the accepting side waits for a dialer that never came.
        assert read_peering(dc1, acceptor_name)['State'] == 'PENDING'
    finally:
        delete_everywhere([dc1], [acceptor_name])


def test_token_on_a_cluster_with_peering_off_names_peering_enabled(misconfigured):
    cluster, name = misconfigured['peering_off'], unique_name('peering-off')
    mark = cluster.log_mark()
    message = failure(run_playbook([task('Generate', cluster, 'consul_peering_token', peer_name=name)]), 'Generate')
    assert 'peering must be enabled to use this endpoint' in message
    assert 'peering { enabled = true }' in message
    # The module's first read already fails, so it writes nothing; Consul answers every peering call alike.
    assert write_calls(cluster, mark) == []
    answer = cluster.api('GET', '/v1/peerings', expect=(500,))
    assert 'peering must be enabled to use this endpoint' in answer.text


def test_establish_on_a_cluster_with_peering_off_names_peering_enabled(dc1, misconfigured):
    dialer = misconfigured['peering_off']
    acceptor_name, dialer_name = unique_name('to-peering-off'), unique_name('peering-off')
    mark = dialer.log_mark()
    try:
        message = failure(establish_with_a_token_from(dc1, dialer, acceptor_name, dialer_name), 'Establish')
        assert 'peering { enabled = true }' in message
        assert write_calls(dialer, mark) == []
    finally:
        delete_everywhere([dc1], [acceptor_name])


def test_token_on_a_cluster_without_grpc_tls_names_ports_grpc_tls(misconfigured):
    cluster, name = misconfigured['grpc_tls_off_no_certs'], unique_name('no-grpc-tls')
    message = failure(run_playbook([task('Generate', cluster, 'consul_peering_token', peer_name=name)]), 'Generate')
    assert 'TLS for gRPC must be enabled when generating peering tokens' in message
    assert 'ports { grpc_tls = 8503 }' in message
    assert read_peering(cluster, name) is None


def test_establish_with_a_token_from_a_cluster_without_grpc_tls_names_ports_grpc_tls(dc1, misconfigured):
    """With TLS certificates on the agent, Consul generates a token that names its plain-text gRPC port."""
    acceptor = misconfigured['grpc_tls_off']
    acceptor_name, dialer_name = unique_name('to-no-grpc-tls'), unique_name('no-grpc-tls')
    try:
        run = establish_with_a_token_from(acceptor, dc1, acceptor_name, dialer_name)
        assert run.status('Generate') == 'ok', run
        message = failure(run, 'Establish')
        assert 'tls: first record does not look like a TLS handshake' in message
        assert 'ports { grpc_tls = 8503 }' in message
        # Consul retries the exchange for 3 s; the same error is shown once, not once per attempt.
        assert message.count('first record does not look like a TLS handshake') == 1
        # Consul writes the dialing peering before the exchange and keeps it: PENDING, aimed at the plain port.
        dialing = read_peering(dc1, dialer_name)
        assert dialing['State'] == 'PENDING'
        assert dialing['PeerServerAddresses'] == ['127.0.0.1:%d' % acceptor.ports['grpc']]
        assert read_peering(acceptor, acceptor_name)['State'] == 'PENDING'
    finally:
        delete_everywhere([acceptor], [acceptor_name])
        delete_everywhere([dc1], [dialer_name])


def test_token_with_peer_through_mesh_gateways_and_no_gateway_names_the_mesh_setting(dc1, peer_through_mesh_gateways):
    cluster, name, dialer_name = peer_through_mesh_gateways, unique_name('mesh-gw'), unique_name('mesh-gw-dialer')
    try:
        run = run_playbook([task('Generate', cluster, 'consul_peering_token', peer_name=name)])
        message = failure(run, 'Generate')
        assert 'servers are configured to PeerThroughMeshGateways, but no mesh gateway instances are registered' \
            in message
        assert 'PeerThroughMeshGateways = false' in message
        assert 'register a mesh gateway' in message
        # Consul wrote the peering before it looked for gateways, and keeps it, PENDING and without a token.
        assert read_peering(cluster, name)['State'] == 'PENDING'
        # The way out the hint gives: once the mesh entry is fixed, a token with regenerate=true peers.
        cluster.api('DELETE', '/v1/config/mesh/mesh')
        run = run_playbook([
            dict(task('Generate', cluster, 'consul_peering_token', peer_name=name, regenerate=True), register='t'),
            task('Establish', dc1, 'consul_peering', peer_name=dialer_name, peering_token='{{ t.token }}'),
        ])
        assert run.returncode == 0, run.report()
        wait_for(lambda: (read_peering(cluster, name) or {}).get('State') == 'ACTIVE', what='%s ACTIVE' % name)
    finally:
        delete_everywhere([cluster], [name])
        delete_everywhere([dc1], [dialer_name])
