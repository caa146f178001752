# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import socket

import pytest

from ansible_collections.consul.peering.plugins.module_utils import api
from ansible_collections.consul.peering.plugins.module_utils.api import ConsulClient
from ansible_collections.consul.peering.plugins.module_utils.errors import (
    ConsulAPIError, ConsulConnectionError, ConsulPermissionError, ConsulTimeoutError, PeeringTokenRejectedError,
    consul_message, hint_for,
)
from ansible_collections.consul.peering.plugins.module_utils.options import Connection
from ansible_collections.consul.peering.tests.unit.consul_data import make_peering
from ansible_collections.consul.peering.tests.unit.scripted_server import RESET, RESET_MID_BODY, ScriptedServer

ACL_TOKEN = 'b1gs3cret-acl-token'


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(api, 'BACKOFF_FACTOR', 0)


@pytest.fixture
def server():
    with ScriptedServer() as scripted:
        yield scripted


def client_for(server, **kwargs):
    kwargs.setdefault('token', ACL_TOKEN)
    kwargs.setdefault('timeout', 5)
    return ConsulClient(Connection('http', '127.0.0.1', server.port, **kwargs))


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


# -- happy paths: what is sent ----------------------------------------------------------------

def test_read_sends_the_acl_token_as_a_header_only(server):
    server.script('GET', '/v1/peering/dc2', (200, make_peering()))
    assert client_for(server).read_peering('dc2')['Name'] == 'dc2'
    (request,) = server.requests
    assert request.headers['X-Consul-Token'] == ACL_TOKEN
    assert ACL_TOKEN not in request.path


def test_read_of_a_missing_peering_is_none(server):
    server.script('GET', '/v1/peering/dc2', (404, 'Peering not found for "dc2"'))
    assert client_for(server).read_peering('dc2') is None
    assert len(server.requests) == 1


def test_list_returns_the_list_and_tolerates_null(server):
    server.script('GET', '/v1/peerings', (200, None))
    assert client_for(server).list_peerings() == []


def test_partition_goes_in_the_query_for_reads_and_the_body_for_writes(server):
    server.script('GET', '/v1/peering/dc2', (404, ''))
    server.script('POST', '/v1/peering/token', (200, {'PeeringToken': 'abc'}))
    client = client_for(server)
    client.read_peering('dc2', partition='team-a')
    client.generate_token('dc2', partition='team-a')
    assert server.requests[0].path == '/v1/peering/dc2?partition=team-a'
    assert server.requests[1].body == {'PeerName': 'dc2', 'Partition': 'team-a'}


def test_no_partition_is_sent_when_unset(server):
    server.script('GET', '/v1/peering/dc2', (404, ''))
    server.script('POST', '/v1/peering/establish', (200, {}))
    client = client_for(server)
    client.read_peering('dc2')
    client.establish('dc2', 'tok')
    assert server.requests[0].path == '/v1/peering/dc2'
    assert server.requests[1].body == {'PeerName': 'dc2', 'PeeringToken': 'tok'}


def test_generate_token_sends_only_fields_consul_accepts(server):
    server.script('POST', '/v1/peering/token', (200, {'PeeringToken': 'abc'}))
    token = client_for(server).generate_token('dc2', meta={'env': 'x'}, server_external_addresses=['lb:8503'])
    assert token == 'abc'
    assert server.requests[0].body == {'PeerName': 'dc2', 'Meta': {'env': 'x'}, 'ServerExternalAddresses': ['lb:8503']}


def test_generate_token_without_a_token_in_the_answer_is_an_error(server):
    server.script('POST', '/v1/peering/token', (200, {}))
    with pytest.raises(ConsulAPIError, match='without a PeeringToken'):
        client_for(server).generate_token('dc2')


def test_no_token_header_without_a_token(server):
    server.script('GET', '/v1/peerings', (200, []))
    client_for(server, token=None).list_peerings()
    assert 'X-Consul-Token' not in server.requests[0].headers


# -- retries ---------------------------------------------------------------------------------

def test_reads_are_retried_on_5xx_then_succeed(server):
    server.script('GET', '/v1/peering/dc2', (503, 'no leader'), (500, 'oops'), (200, make_peering()))
    assert client_for(server).read_peering('dc2')['State'] == 'ACTIVE'
    assert len(server.calls('GET')) == 3


def test_reads_give_up_after_three_retries_with_consul_text(server):
    server.script('GET', '/v1/peering/dc2', (503, 'No cluster leader'))
    with pytest.raises(ConsulAPIError, match=r'Consul failed to handle GET .*/v1/peering/dc2 \(HTTP 503\): '
                                             'No cluster leader'):
        client_for(server).read_peering('dc2')
    assert len(server.calls('GET')) == 4


def test_reads_are_retried_after_a_connection_reset(server):
    server.script('GET', '/v1/peering/dc2', RESET, (200, make_peering()))
    assert client_for(server).read_peering('dc2')['Name'] == 'dc2'
    assert len(server.calls('GET')) == 2


@pytest.mark.parametrize('path, call', [
    ('/v1/peering/token', lambda client: client.generate_token('dc2')),
    ('/v1/peering/establish', lambda client: client.establish('dc1', 'tok')),
])
def test_writes_are_not_repeated_on_5xx(server, path, call):
    server.script('POST', path, (503, 'try later'), (200, {'PeeringToken': 'abc'}))
    with pytest.raises(ConsulAPIError, match='HTTP 503'):
        call(client_for(server))
    assert len(server.calls('POST')) == 1


def test_writes_are_not_repeated_after_a_reset_and_say_the_outcome_is_unknown(server):
    server.script('POST', '/v1/peering/establish', RESET)
    with pytest.raises(ConsulConnectionError, match='may or may not have been applied') as err:
        client_for(server).establish('dc1', 'tok')
    assert 'closed by the server' in str(err.value)
    assert len(server.calls('POST')) == 1


def test_delete_is_idempotent_in_consul_so_it_is_retried(server):
    server.script('DELETE', '/v1/peering/dc2', (500, 'x'), (200, ''))
    client_for(server).delete_peering('dc2')
    assert len(server.calls('DELETE')) == 2


def test_a_reset_in_the_middle_of_a_body_is_a_clear_error(server):
    server.script('GET', '/v1/peering/dc2', RESET_MID_BODY)
    with pytest.raises(ConsulConnectionError, match="broke while reading Consul's answer to GET "
                                                    'http://127.0.0.1:%d/v1/peering/dc2' % server.port):
        client_for(server).read_peering('dc2')


# -- errors ----------------------------------------------------------------------------------

def test_connection_refused_names_the_url_and_cause():
    port = free_port()
    client = ConsulClient(Connection('http', '127.0.0.1', port, token=ACL_TOKEN, timeout=2))
    with pytest.raises(ConsulConnectionError) as err:
        client.read_peering('dc2')
    message = str(err.value)
    assert 'http://127.0.0.1:%d/v1/peering/dc2' % port in message
    assert 'connection refused' in message
    assert ACL_TOKEN not in message


def test_connection_refused_on_a_write_is_known_not_applied():
    client = ConsulClient(Connection('http', '127.0.0.1', free_port(), timeout=2))
    with pytest.raises(ConsulConnectionError) as err:
        client.establish('dc1', 'tok')
    assert 'may or may not' not in str(err.value)


def test_unknown_host_is_reported_as_dns():
    client = ConsulClient(Connection('http', 'no-such-host.invalid', 8500, timeout=2))
    with pytest.raises(ConsulConnectionError, match=r'could not be resolved \(DNS\)'):
        client.list_peerings()


def test_a_slow_server_times_out_with_the_timeout_in_the_message(server):
    server.script('POST', '/v1/peering/token', ('slow', 2, 200, {'PeeringToken': 'abc'}))
    with pytest.raises(ConsulTimeoutError, match=r'did not answer POST .* within 0.5s') as err:
        client_for(server, timeout=0.5).generate_token('dc2')
    assert 'may or may not have been applied' in str(err.value)
    assert len(server.calls('POST')) == 1


@pytest.mark.parametrize('method, call, permission', [
    ('GET', lambda client: client.read_peering('dc2'), 'peering:read'),
    ('POST', lambda client: client.generate_token('dc2'), 'peering:write'),
])
def test_403_names_the_permission_the_endpoint_needs(server, method, call, permission):
    path = '/v1/peering/dc2' if method == 'GET' else '/v1/peering/token'
    body = "Permission denied: token with AccessorID 'a1b2' lacks permission '%s'" % permission
    server.script(method, path, (403, body))
    with pytest.raises(ConsulPermissionError) as err:
        call(client_for(server))
    message = str(err.value)
    assert 'HTTP 403' in message and "lacks permission '%s'" % permission in message
    assert 'needs the %s permission' % permission in message
    assert ACL_TOKEN not in message
    assert len(server.requests) == 1


def test_unknown_acl_token_is_explained(server):
    server.script('GET', '/v1/peerings', (403, 'ACL not found'))
    with pytest.raises(ConsulPermissionError, match='Consul does not know the ACL token'):
        client_for(server).list_peerings()


def test_used_peering_token_is_its_own_error(server):
    server.script('POST', '/v1/peering/establish', (403, 'rpc error: code = PermissionDenied desc = a new peering '
                                                         'token must be generated: invalid peering establishment secret'))
    with pytest.raises(PeeringTokenRejectedError, match='already used, or a newer token was generated'):
        client_for(server).establish('dc1', 'eyJDQSI6bnVsbH0-a-peering-token')


def test_4xx_carries_consul_text(server):
    server.script('POST', '/v1/peering/token', (400, 'Body decoding failed: json: unknown field "Foo"'))
    with pytest.raises(ConsulAPIError, match=r'rejected POST .* \(HTTP 400\): Body decoding failed'):
        client_for(server).generate_token('dc2')


def test_5xx_strips_grpc_wrapping_and_adds_a_hint(server):
    server.script('POST', '/v1/peering/establish', (500, 'rpc error: code = Unknown desc = cannot create peering with '
                                                         'name: "dc2"; there is an existing peering expecting to be dialed'))
    with pytest.raises(ConsulAPIError) as err:
        client_for(server).establish('dc2', 'tok')
    message = str(err.value)
    assert 'rpc error' not in message
    assert 'exists on this cluster as the accepting side' in message


def test_non_json_success_body_is_an_error(server):
    server.script('GET', '/v1/peerings', (200, '<html>proxy</html>'))
    with pytest.raises(ConsulAPIError, match='not JSON'):
        client_for(server).list_peerings()


def test_consul_message_and_hint_for():
    assert consul_message('rpc error: code = Unknown desc = boom\n') == 'boom'
    assert hint_for('CA has not finished initializing') .startswith("Consul's Connect CA")
    assert hint_for('something else') is None


def test_establish_errors_from_a_starting_or_unreachable_acceptor_are_explained():
    # Consul 1.14's answer to an establish right after the accepting servers started (seen in the harness).
    starting = ('failed to exchange peering secret through address "127.0.0.1:36321": rpc error: code = '
                'Unavailable desc = connection error: desc = "transport: authentication handshake failed: '
                'remote error: tls: unrecognized name"')
    assert 'have just started' in hint_for(starting)
    unreachable = ('failed to exchange peering secret through address "10.0.0.9:8503": rpc error: code = '
                   'Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp '
                   '10.0.0.9:8503: connect: connection refused"')
    assert 'server_external_addresses' in hint_for(unreachable)


# -- TLS settings ----------------------------------------------------------------------------

def test_https_verifies_with_the_system_bundle_by_default():
    assert ConsulClient(Connection('https', 'h', 8501)).session.verify is True


def test_https_uses_ca_path_and_client_certificate():
    client = ConsulClient(Connection('https', 'h', 8501, ca_path='/ca.pem', client_cert='/c.pem', client_key='/k.pem'))
    assert client.session.verify == '/ca.pem'
    assert client.session.cert == ('/c.pem', '/k.pem')


def test_validate_certs_false_turns_verification_off():
    assert ConsulClient(Connection('https', 'h', 8501, validate_certs=False)).session.verify is False


def test_tls_failure_says_which_ca_was_used(server):
    # A plain-HTTP server answering a TLS handshake is the cheapest TLS failure to produce.
    client = ConsulClient(Connection('https', '127.0.0.1', server.port, ca_path='/etc/ssl/certs', timeout=2))
    with pytest.raises(ConsulConnectionError) as err:
        client.list_peerings()
    assert 'TLS connection to https://127.0.0.1:%d/v1/peerings failed' % server.port in str(err.value)
    assert 'CA used: /etc/ssl/certs' in str(err.value)


def test_tls_server_name_is_sent_as_sni_and_checked_on_https_only():
    client = ConsulClient(Connection('https', '10.0.0.5', 8501, tls_server_name='server.dc1.consul'))
    pool_kw = client.session.get_adapter('https://10.0.0.5:8501').poolmanager.connection_pool_kw
    assert pool_kw['server_hostname'] == pool_kw['assert_hostname'] == 'server.dc1.consul'
    plain = ConsulClient(Connection('http', '10.0.0.5', 8500, tls_server_name='server.dc1.consul'))
    assert 'server_hostname' not in plain.session.get_adapter('http://10.0.0.5:8500').poolmanager.connection_pool_kw
