# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import json
import socket
import time

import pytest

from ansible_collections.consul.peering.plugins.module_utils import api
from ansible_collections.consul.peering.plugins.module_utils.api import ConsulClient
from ansible_collections.consul.peering.plugins.module_utils.errors import (
    ConsulAPIError, ConsulConnectionError, ConsulPermissionError, ConsulRedirectError, ConsulTimeoutError,
    ConsulTLSError, PeeringTokenRejectedError, consul_message, hint_for,
)
from ansible_collections.consul.peering.plugins.module_utils.options import Connection, resolve_connection
from ansible_collections.consul.peering.tests.support.consul_data import ACL_TOKEN, make_peering
from ansible_collections.consul.peering.tests.support.loopback_servers import (
    RESET, RESET_MID_BODY, ForwardProxy, ScriptedServer,
)
from ansible_collections.consul.peering.tests.support.secret_scan import assert_no_secrets

pytestmark = pytest.mark.usefixtures('no_backoff')


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
    client = client_for(server, partition='team-a')
    client.read_peering('dc2')
    client.generate_token('dc2')
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
    client = ConsulClient(Connection('https', '127.0.0.1', server.port, ca_path='/etc/ssl/certs', timeout=15))
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


# -- trust at the edges: redirects, secrets in answers, a request's whole time ------------------

@pytest.mark.parametrize('status', [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed_and_names_only_where_it_pointed(server, status):
    with ScriptedServer() as elsewhere:
        elsewhere.script('POST', '/v1/peering/establish', (200, {}))
        location = 'http://user:pw@127.0.0.1:%d/v1/peering/establish?token=%s' % (elsewhere.port, ACL_TOKEN)
        server.script('POST', '/v1/peering/establish', ('redirect', status, location))
        with pytest.raises(ConsulRedirectError) as err:
            client_for(server).establish('dc1', 'eyJDQSI6bnVsbH0-a-peering-token')
        assert elsewhere.requests == []
    message = str(err.value)
    assert 'HTTP %d, a redirect to http://127.0.0.1:%d.' % (status, elsewhere.port) in message
    assert "Consul's API never redirects" in message
    assert 'pw' not in message and ACL_TOKEN not in message and '?' not in message.split('redirect to')[1]
    assert len(server.requests) == 1


def test_a_redirect_on_a_read_is_not_retried_or_followed(server):
    server.script('GET', '/v1/peering/dc2', ('redirect', 302, '/elsewhere'))
    with pytest.raises(ConsulRedirectError, match='a redirect to a path on the same server'):
        client_for(server).read_peering('dc2')
    assert len(server.requests) == 1


def test_acl_token_and_basic_auth_echoed_in_an_error_are_masked_in_every_form(server):
    server.script('GET', '/v1/peerings', ('echo', 502))
    client = client_for(server, token=ACL_TOKEN, http_auth=('ops', 'pr0xy-passw0rd'))
    with pytest.raises(ConsulAPIError) as err:
        client.list_peerings()
    message = str(err.value)
    assert 'X-Consul-Token: ********' in message
    assert 'Authorization: Basic ********' in message
    assert_no_secrets(message, ACL_TOKEN, 'pr0xy-passw0rd', 'b3BzOnByMHh5LXBhc3N3MHJk')


def test_a_secret_cut_by_the_length_limit_is_masked_before_the_cut(server):
    # The limit is 2000 characters: put the token across it, so that a cut before masking keeps a piece.
    body = 'x' * (2000 - 10) + ACL_TOKEN + ' and more'
    server.script('GET', '/v1/peerings', (400, body))
    with pytest.raises(ConsulAPIError) as err:
        client_for(server).list_peerings()
    assert_no_secrets(str(err.value), ACL_TOKEN)
    assert 'x' * 100 + '********' in str(err.value)


def test_json_escaped_and_repr_escaped_secrets_are_masked(server):
    token = 'acl/with"quote\\and+plus'
    server.script('GET', '/v1/peerings', (500, json.dumps({'token': token, 'repr': repr(token)})))
    with pytest.raises(ConsulAPIError) as err:
        client_for(server, token=token).list_peerings()
    assert_no_secrets(str(err.value), token)


def test_timeout_bounds_the_whole_request_against_a_server_that_trickles(server):
    # One byte every 0.2 s: each read comes in time, so per-read timeouts alone never fire.
    server.script('GET', '/v1/peerings', ('trickle', 0.2, 200, [{'Name': 'dc2', 'State': 'ACTIVE'}] * 5))
    started = time.monotonic()
    with pytest.raises(ConsulTimeoutError, match=r'did not answer GET .*/v1/peerings within 1s'):
        client_for(server, timeout=1).list_peerings()
    assert time.monotonic() - started < 1.5
    assert len(server.requests) == 1  # a timeout is not retried: the time is used up


def test_a_deadline_shorter_than_the_timeout_wins(server):
    server.script('GET', '/v1/peering/dc2', ('slow', 3, 200, make_peering()))
    started = time.monotonic()
    with pytest.raises(ConsulTimeoutError, match=r'within 0.5s'):
        client_for(server, timeout=30).read_peering('dc2', deadline=time.monotonic() + 0.5)
    assert time.monotonic() - started < 1


def test_retries_stop_when_the_timeout_is_used_up(server, monkeypatch):
    monkeypatch.setattr(api, 'BACKOFF_FACTOR', 0.4)  # 0.4 s, then 0.8 s: the second does not fit in 1 s
    server.script('GET', '/v1/peering/dc2', (503, 'No cluster leader'))
    started = time.monotonic()
    with pytest.raises(ConsulAPIError, match='HTTP 503'):
        client_for(server, timeout=1).read_peering('dc2')
    assert time.monotonic() - started < 1
    assert len(server.calls('GET')) == 2


def test_a_ca_directory_of_plain_pem_files_is_one_bundle_as_in_the_consul_cli(tmp_path):
    pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
    (tmp_path / 'ca-one.pem').write_text(pem.replace('MIIB', 'MIIBone'))
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'ca-two.crt').write_text('comment\n' + pem.replace('MIIB', 'MIIBtwo'))
    client = ConsulClient(Connection('https', 'h', 8501, ca_path=str(tmp_path)))
    with open(client.session.verify) as bundle:
        text = bundle.read()
    assert 'MIIBone' in text and 'MIIBtwo' in text and 'comment' not in text


def test_files_without_a_certificate_in_a_ca_directory_are_skipped(tmp_path):
    (tmp_path / 'ca.pem').write_text('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
    (tmp_path / 'README').write_text('not a certificate')
    client = ConsulClient(Connection('https', 'h', 8501, ca_path=str(tmp_path)))
    with open(client.session.verify) as bundle:
        assert 'not a certificate' not in bundle.read()


def test_a_ca_directory_without_certificates_is_a_clear_error(tmp_path):
    with pytest.raises(ConsulTLSError, match='is a directory without any PEM certificate'):
        ConsulClient(Connection('https', 'h', 8501, ca_path=str(tmp_path)))


@pytest.mark.parametrize('text, hint', [
    ('[SSL: WRONG_VERSION_NUMBER] wrong version number', 'most likely the plain HTTP port'),
    ('[SSL: RECORD_LAYER_FAILURE] record layer failure', 'most likely the plain HTTP port'),
    ('EOF occurred in violation of protocol', 'requires a client certificate'),
    ('[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert certificate required', 'requires a client certificate'),
    ("Hostname mismatch, certificate is not valid for 'x'", 'set tls_server_name'),
    ('[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed', 'set ca_path'),
])
def test_tls_failures_get_a_hint_that_says_what_to_change(text, hint):
    assert hint in api._tls_hint(text)  # pylint: disable=protected-access


# -- proxies -------------------------------------------------------------------------------------

def proxied_client(server, proxy, **kwargs):
    """A client for Consul at consul.test, a name only the proxy can resolve (to the scripted server)."""
    kwargs.setdefault('token', ACL_TOKEN)
    kwargs.setdefault('timeout', 5)
    proxy_url = 'http://%s127.0.0.1:%d' % (kwargs.pop('proxy_credentials', ''), proxy.port)
    connection = resolve_connection({'host': 'consul.test', 'port': server.port, 'scheme': 'http', 'token': None,
                                     'use_proxy': kwargs.pop('use_proxy', True)},
                                    environ=dict({'HTTP_PROXY': proxy_url}, **kwargs.pop('environ', {})))
    connection.token, connection.timeout = kwargs['token'], kwargs['timeout']
    return ConsulClient(connection)


def test_requests_go_through_the_proxy_and_its_log_line_holds_no_token(server):
    server.script('GET', '/v1/peerings', (200, [{'Name': 'dc2'}]))
    with ForwardProxy({'consul.test': '127.0.0.1'}) as proxy:
        assert proxied_client(server, proxy).list_peerings() == [{'Name': 'dc2'}]
    assert proxy.log == ['GET http://consul.test:%d/v1/peerings HTTP/1.1' % server.port]
    assert_no_secrets(proxy.log[0], ACL_TOKEN)
    assert len(server.requests) == 1


def test_no_proxy_bypasses_the_proxy(server):
    with ForwardProxy({'consul.test': '127.0.0.1'}) as proxy:
        with pytest.raises(ConsulConnectionError, match=r'could not be resolved \(DNS\)'):
            proxied_client(server, proxy, environ={'NO_PROXY': '.test'}).list_peerings()
        with pytest.raises(ConsulConnectionError, match=r'could not be resolved \(DNS\)'):
            proxied_client(server, proxy, use_proxy=False).list_peerings()
    assert proxy.log == []


def test_proxy_credentials_are_sent_to_the_proxy_only_and_never_shown(server):
    server.script('GET', '/v1/peerings', ('echo', 500))
    with ForwardProxy({'consul.test': '127.0.0.1'}) as proxy:
        client = proxied_client(server, proxy, proxy_credentials='ops:pr0xy-s3cret@')
        with pytest.raises(ConsulAPIError) as err:
            client.list_peerings()
    assert proxy.headers[0]['Proxy-Authorization'] == 'Basic ' + base64.b64encode(b'ops:pr0xy-s3cret').decode()
    assert 'Proxy-Authorization' not in server.requests[0].headers
    assert_no_secrets(str(err.value), 'pr0xy-s3cret', base64.b64encode(b'ops:pr0xy-s3cret').decode())


def test_a_failing_proxy_is_named_without_its_credentials(server):
    connection = resolve_connection({'host': 'consul.test', 'port': server.port, 'scheme': 'http', 'token': None},
                                    environ={'HTTP_PROXY': 'http://ops:pr0xy-s3cret@127.0.0.1:%d' % free_port()})
    with pytest.raises(ConsulConnectionError, match=r'through the proxy http://127.0.0.1:\d+ \(from HTTP_PROXY\)') \
            as err:
        ConsulClient(connection).list_peerings()
    assert 'use_proxy: false' in str(err.value)
    assert_no_secrets(str(err.value), 'pr0xy-s3cret')


def test_netrc_credentials_are_never_sent(server, tmp_path, monkeypatch):
    # requests would add a .netrc login as basic auth; only the options decide what is sent.
    (tmp_path / '.netrc').write_text('machine 127.0.0.1 login ops password n3trc-s3cret\n')
    (tmp_path / '.netrc').chmod(0o600)
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('NETRC', str(tmp_path / '.netrc'))
    server.script('GET', '/v1/peerings', (200, []))
    client_for(server).list_peerings()
    assert 'Authorization' not in server.requests[0].headers
