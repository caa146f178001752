# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Consul's own error texts for a cluster that cannot peer, and the hints that name the setting to change.

Every body here is what Consul 1.14.11 answered (HTTP 500) in tests/integration/test_cluster_config.py.
"""

from __future__ import annotations

import pytest

from ansible_collections.consul.peering.plugins.module_utils.errors import consul_message, hint_for

# connect.enabled = false, POST /v1/peering/token
CONNECT_OFF_TOKEN = ("rpc error: code = Unknown desc = connect.enabled must be set to true in the server's "
                     "configuration when generating peering tokens")
# connect.enabled = false, POST /v1/peering/establish
CONNECT_OFF_ESTABLISH = ('rpc error: code = Unknown desc = failed to fetch TLS materials: failed to fetch roots: '
                         'CA has not finished initializing')
# peering.enabled = false, any peering call (the modules' first GET /v1/peering/<name> included)
PEERING_OFF = 'rpc error: code = FailedPrecondition desc = peering must be enabled to use this endpoint'
# ports.grpc_tls = -1 and no TLS certificates on the agent, POST /v1/peering/token
NO_GRPC_TLS_TOKEN = 'rpc error: code = Unknown desc = TLS for gRPC must be enabled when generating peering tokens'
# ports.grpc_tls = -1 with TLS certificates: the token names the plain gRPC port; establish on the other cluster
# tries it for 3 s and answers every attempt's error.
PLAIN_GRPC_ATTEMPT = ('failed to exchange peering secret through address "127.0.0.1:39249": rpc error: code = '
                      'Unavailable desc = connection error: desc = "transport: authentication handshake failed: '
                      'tls: first record does not look like a TLS handshake"')
PLAIN_GRPC_ESTABLISH = ('rpc error: code = Unavailable desc = 18 errors occurred:\n'
                        + ''.join('\t* %s\n' % PLAIN_GRPC_ATTEMPT for _attempt in range(18)) + '\n')
# the mesh config entry with Peering { PeerThroughMeshGateways = true }, no mesh gateway, POST /v1/peering/token
MESH_GATEWAYS = ('rpc error: code = Unknown desc = servers are configured to PeerThroughMeshGateways, but no mesh '
                 'gateway instances are registered')


@pytest.mark.parametrize('body, setting', [
    (CONNECT_OFF_TOKEN, 'connect { enabled = true }'),
    (CONNECT_OFF_ESTABLISH, 'connect { enabled = true }'),
    (PEERING_OFF, 'peering { enabled = true }'),
    (NO_GRPC_TLS_TOKEN, 'ports { grpc_tls = 8503 }'),
    (PLAIN_GRPC_ESTABLISH, 'ports { grpc_tls = 8503 }'),
    (MESH_GATEWAYS, 'PeerThroughMeshGateways = false'),
], ids=['connect-off-token', 'connect-off-establish', 'peering-off', 'no-grpc-tls-token',
        'plain-grpc-port-establish', 'mesh-gateways'])
def test_hint_names_the_setting_to_change(body, setting):
    assert setting in hint_for(consul_message(body))


def test_connect_off_on_the_dialing_side_is_not_taken_for_a_starting_ca():
    # Without Connect the CA was never set up: establish checks the token against it and fails to fetch its
    # roots. A server that has just started can say the same, so the hint names both; a token request that
    # meets a CA still starting up says so without the establish-only prefix, and keeps its own hint.
    hint = hint_for(consul_message(CONNECT_OFF_ESTABLISH))
    assert 'connect { enabled = true }' in hint
    assert 'has just started' in hint
    for starting in ('failed to fetch roots: CA has not finished initializing', 'CA has not finished initializing'):
        assert 'connect { enabled' not in hint_for(starting)
        assert 'has just started' in hint_for(starting)


def test_plain_grpc_port_is_not_taken_for_an_unreachable_address():
    hint = hint_for(consul_message(PLAIN_GRPC_ESTABLISH))
    assert 'not a gRPC TLS port' in hint
    assert 'server_external_addresses' in hint


def test_mesh_gateway_hint_offers_both_ways_out_and_names_the_pending_peering():
    hint = hint_for(consul_message(MESH_GATEWAYS))
    assert 'register a mesh gateway' in hint
    assert 'mesh config entry' in hint
    assert 'PENDING' in hint


def test_every_hint_for_a_server_setting_says_where_to_set_it():
    for body in (CONNECT_OFF_TOKEN, CONNECT_OFF_ESTABLISH, PEERING_OFF, NO_GRPC_TLS_TOKEN, PLAIN_GRPC_ESTABLISH):
        assert 'server configuration' in hint_for(consul_message(body))


def test_repeated_errors_of_one_answer_are_shown_once_with_their_count():
    text = consul_message(PLAIN_GRPC_ESTABLISH)
    assert text == '18 errors occurred:\n\t* %s (18 times)' % PLAIN_GRPC_ATTEMPT


def test_distinct_errors_keep_their_order_and_single_ones_have_no_count():
    body = '3 errors occurred:\n\t* b failed\n\t* a failed\n\t* b failed\n\n'
    assert consul_message(body) == '3 errors occurred:\n\t* b failed (2 times)\n\t* a failed'
    # Anything else is left as Consul wrote it: one error, or an error of several lines.
    assert consul_message('1 error occurred:\n\t* boom\n\n') == '1 error occurred:\n\t* boom'
    body = '2 errors occurred:\n\t* boom\n  with a second line\n\t* boom\n'
    assert consul_message(body) == body.strip()


def test_a_config_entry_write_on_a_cluster_without_connect_names_the_setting():
    text = 'Connect must be enabled in order to use this endpoint'
    assert 'set connect { enabled = true }' in hint_for(text)
    # The peering text keeps its own, more specific hint (first match wins).
    assert 'peering needs it' in hint_for('connect.enabled must be set to true in the server\'s configuration')
