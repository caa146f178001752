# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The three modules end to end in-process, against a scripted HTTP server: calls made, results, secrets."""

from __future__ import annotations

import time

import pytest

from ansible_collections.consul.peering.plugins.module_utils import module as module_util, waiting
from ansible_collections.consul.peering.plugins.modules import consul_peering, consul_peering_info, consul_peering_token
from ansible_collections.consul.peering.tests.support.consul_data import ACCEPTOR_ID, ACL_TOKEN, SECRET, make_peering, make_token
from ansible_collections.consul.peering.tests.support.loopback_servers import RESET, ScriptedServer
from ansible_collections.consul.peering.tests.support.module_runner import connection, run_module
from ansible_collections.consul.peering.tests.support.secret_scan import assert_no_secrets

NEW_SECRET = 'f7e6d5c4-new-secret'
NEW_TOKEN = make_token(PeerID='6d1e0d7a-0000-4000-8000-00000000abcd', EstablishmentSecret=NEW_SECRET)
# What no module output may show: the ACL token and the establishment secrets of both tokens.
SECRETS = (ACL_TOKEN, SECRET, NEW_SECRET)

pytestmark = pytest.mark.usefixtures('clean_environment')


@pytest.fixture(autouse=True)
def quick_waits(monkeypatch):
    monkeypatch.setattr(waiting, 'POLL_FIRST', 0.01)
    monkeypatch.setattr(waiting, 'RACE_GRACE', 0.3)


def writes(server):
    return [(r.method, r.path) for r in server.requests if r.method != 'GET']


# -- consul_peering_token ---------------------------------------------------------------------

def test_token_generates_when_missing_and_returns_decoded_info(server):
    server.script('GET', '/v1/peering/dc2', (404, ''), (200, make_peering('acceptor', 'PENDING')))
    server.script('POST', '/v1/peering/token', (200, {'PeeringToken': NEW_TOKEN}))
    result, raw = run_module(consul_peering_token, connection(server, peer_name='dc2', meta={'env': 'test'}))
    assert result['changed'] is True
    assert result['actions'] == ['generate_token']
    assert result['token'] == NEW_TOKEN
    assert result['token_info']['peer_id'] == '6d1e0d7a-0000-4000-8000-00000000abcd'
    assert 'EstablishmentSecret' not in str(result['token_info'])
    assert result['peering']['State'] == 'PENDING'
    assert writes(server) == [('POST', '/v1/peering/token')]
    assert server.calls('POST')[0].body == {'PeerName': 'dc2', 'Meta': {'env': 'test'}}
    assert ACL_TOKEN not in raw


@pytest.mark.parametrize('state', ['PENDING', 'ACTIVE', 'FAILING'])
def test_token_rerun_on_an_existing_acceptor_makes_no_write(server, state):
    server.script('GET', '/v1/peering/dc2', (200, make_peering('acceptor', state)))
    result, _raw = run_module(consul_peering_token, connection(server, peer_name='dc2'))
    assert result['changed'] is False
    assert 'token' not in result
    assert len(server.requests) == 1


def test_token_regenerate_rotates(server):
    server.script('GET', '/v1/peering/dc2', (200, make_peering('acceptor', 'ACTIVE')))
    server.script('POST', '/v1/peering/token', (200, {'PeeringToken': NEW_TOKEN}))
    result, _raw = run_module(consul_peering_token, connection(server, peer_name='dc2', regenerate=True))
    assert result['changed'] is True and result['token'] == NEW_TOKEN


def test_token_for_terminated_acceptor_deletes_waits_and_generates(server):
    server.script('GET', '/v1/peering/dc2', (200, make_peering('acceptor', 'TERMINATED')),
                  (200, make_peering('acceptor', 'DELETING', DeletedAt='2026-11-28T23:52:51Z')), (404, ''),
                  (200, make_peering('acceptor', 'PENDING')))
    server.script('DELETE', '/v1/peering/dc2', (200, ''))
    server.script('POST', '/v1/peering/token', (200, {'PeeringToken': NEW_TOKEN}))
    result, _raw = run_module(consul_peering_token, connection(server, peer_name='dc2'))
    assert result['actions'] == ['delete', 'wait_until_gone', 'generate_token']
    assert writes(server) == [('DELETE', '/v1/peering/dc2'), ('POST', '/v1/peering/token')]
    assert result['peering']['State'] == 'PENDING'


def test_token_check_mode_makes_no_write_and_diffs(server):
    server.script('GET', '/v1/peering/dc2', (404, ''))
    result, _raw = run_module(consul_peering_token, connection(server, peer_name='dc2'), check_mode=True, diff=True)
    assert result['changed'] is True
    assert 'token' not in result
    assert result['diff']['before'] == {'name': 'dc2', 'state': 'absent'}
    assert result['diff']['after']['state'] == 'PENDING'
    assert writes(server) == []


def test_token_check_mode_on_terminated_makes_no_write(server):
    server.script('GET', '/v1/peering/dc2', (200, make_peering('acceptor', 'TERMINATED')))
    result, _raw = run_module(consul_peering_token, connection(server, peer_name='dc2'), check_mode=True)
    assert result['changed'] is True
    assert len(server.requests) == 1


def test_token_on_a_dialer_name_fails_without_a_write(server):
    server.script('GET', '/v1/peering/dc1', (200, make_peering('dialer', 'ACTIVE')))
    result, _raw = run_module(consul_peering_token, connection(server, peer_name='dc1'))
    assert result['failed'] is True
    assert 'as the dialing side' in result['msg']
    assert writes(server) == []


@pytest.mark.parametrize('args, message', [
    (dict(peer_name='DC2'), 'not a valid peer name'),
    (dict(peer_name='dc_2'), 'not a valid peer name'),
    (dict(peer_name='dc2', server_external_addresses=['lb.example.com']), 'has no port'),
    (dict(peer_name='dc2', server_external_addresses=['lb.example.com:0']), 'from 1 to 65535'),
    (dict(peer_name='dc2', meta={'version': 2}), 'must be a string'),
])
def test_token_bad_input_fails_before_any_call(server, args, message):
    result, _raw = run_module(consul_peering_token, connection(server, **args))
    assert result['failed'] is True and message in result['msg']
    assert server.requests == []


# -- consul_peering ---------------------------------------------------------------------------

def test_establish_new_peering_waits_until_active(server):
    server.script('GET', '/v1/peering/dc1', (404, ''), (200, make_peering('dialer', 'ESTABLISHING')),
                  (200, make_peering('dialer', 'ACTIVE')))
    server.script('POST', '/v1/peering/establish', (200, {}))
    result, raw = run_module(consul_peering, connection(server, peer_name='dc1', peering_token=make_token()), diff=True)
    assert result['changed'] is True
    assert result['actions'] == ['establish', 'wait_until_active']
    assert result['peering']['State'] == 'ACTIVE'
    assert result['token_info']['peer_id'] == ACCEPTOR_ID
    assert result['diff']['after']['peer_id'] == ACCEPTOR_ID
    assert writes(server) == [('POST', '/v1/peering/establish')]
    assert_no_secrets(raw, *SECRETS, make_token())


def test_establish_rerun_with_the_same_token_makes_no_write(server):
    server.script('GET', '/v1/peering/dc1', (200, make_peering('dialer', 'ACTIVE')))
    result, raw = run_module(consul_peering, connection(server, peer_name='dc1', peering_token=make_token()))
    assert result['changed'] is False
    assert len(server.requests) == 1
    assert_no_secrets(raw, *SECRETS, make_token())


def test_establish_with_a_token_for_another_peering_replaces_the_dialer(server):
    server.script('GET', '/v1/peering/dc1', (200, make_peering('dialer', 'ACTIVE')), (404, ''),
                  (200, make_peering('dialer', 'ACTIVE', PeerID='6d1e0d7a-0000-4000-8000-00000000abcd')))
    server.script('DELETE', '/v1/peering/dc1', (200, ''))
    server.script('POST', '/v1/peering/establish', (200, {}))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', peering_token=NEW_TOKEN))
    assert result['changed'] is True
    assert result['actions'] == ['delete', 'wait_until_gone', 'establish', 'wait_until_active']
    assert writes(server) == [('DELETE', '/v1/peering/dc1'), ('POST', '/v1/peering/establish')]


def test_establish_check_mode_makes_no_write(server):
    server.script('GET', '/v1/peering/dc1', (404, ''))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', peering_token=make_token()),
                              check_mode=True, diff=True)
    assert result['changed'] is True
    assert result['diff']['after']['state'] == 'ESTABLISHING'
    assert len(server.requests) == 1


def test_establish_check_mode_without_token_predicts_and_warns(server):
    server.script('GET', '/v1/peering/dc1', (404, ''))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1'), check_mode=True)
    assert result['changed'] is True
    assert any('check mode' in warning for warning in result['warnings'])


def test_establish_without_token_for_a_missing_peering_fails(server):
    server.script('GET', '/v1/peering/dc1', (404, ''))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1'))
    assert result['failed'] is True and 'peering_token is required' in result['msg']
    assert writes(server) == []


@pytest.mark.parametrize('peering_token, message', [
    ('not-base64!', 'not valid base64'),
    ('aGVsbG8=', 'does not hold JSON'),
    (make_token(PeerID=None), 'missing PeerID'),
])
def test_malformed_token_fails_before_any_call(server, peering_token, message):
    result, raw = run_module(consul_peering, connection(server, peer_name='dc1', peering_token=peering_token))
    assert result['failed'] is True and message in result['msg']
    assert server.requests == []
    assert peering_token not in raw


def test_used_token_error_is_clear_and_hides_the_secret(server):
    server.script('GET', '/v1/peering/dc1', (404, ''))
    # Even if Consul echoed the secret, the module must not.
    server.script('POST', '/v1/peering/establish', (403, 'a new peering token must be generated: invalid peering '
                                                         'establishment secret %s' % SECRET))
    result, raw = run_module(consul_peering, connection(server, peer_name='dc1', peering_token=make_token()))
    assert result['failed'] is True
    assert ('The token was already used, a newer token was generated for that peering since, or the accepting '
            'side was deleted since the token was generated') in result['msg']
    assert_no_secrets(raw, *SECRETS, make_token())


def test_refused_token_is_fine_when_a_concurrent_run_established_the_same_peering(server):
    server.script('GET', '/v1/peering/dc1', (404, ''), (404, ''), (200, make_peering('dialer', 'ACTIVE')))
    server.script('POST', '/v1/peering/establish', (403, 'invalid peering establishment secret'))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', peering_token=make_token()))
    assert 'failed' not in result
    assert result['peering']['State'] == 'ACTIVE'
    assert writes(server) == [('POST', '/v1/peering/establish')]


def test_name_conflict_is_fine_when_a_concurrent_run_established_the_same_peering(server):
    # Seen on real Consul 1.14 when two role runs establish at the same moment: both exchange their secrets,
    # the second write finds the first one's peering.
    server.script('GET', '/v1/peering/dc1', (404, ''), (200, make_peering('dialer', 'ESTABLISHING')))
    server.script('POST', '/v1/peering/establish', (500, 'rpc error: code = Unknown desc = failed to write peering: '
                                                         'A peering already exists with the name "dc1" and a '
                                                         'different ID "16cdaffe"'))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', peering_token=make_token(),
                                                         wait=False))
    assert 'failed' not in result
    assert writes(server) == [('POST', '/v1/peering/establish')]


def test_name_conflict_without_a_matching_peering_fails_with_a_hint(server):
    server.script('GET', '/v1/peering/dc1', (404, ''))
    server.script('POST', '/v1/peering/establish', (500, 'failed to write peering: A peering already exists with '
                                                         'the name "dc1" and a different ID "16cdaffe"'))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', peering_token=make_token()))
    assert result['failed'] is True
    assert 'Consul rejected POST' in result['msg'] and 'at the same moment' in result['msg']
    assert writes(server) == [('POST', '/v1/peering/establish')]


def test_wait_timeout_reports_last_state_and_stream(server):
    server.script('GET', '/v1/peering/dc1', (200, make_peering('dialer', 'FAILING')))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', wait_timeout=3))
    assert result['failed'] is True
    assert "Timed out after 3s waiting for peering 'dc1' to become ACTIVE; state FAILING" in result['msg']
    assert 'last heartbeat' in result['msg']


def test_wait_survives_server_errors_and_succeeds(server):
    server.script('GET', '/v1/peering/dc1', (200, make_peering('dialer', 'ESTABLISHING')),
                  (503, 'restarting'), (503, 'restarting'), (503, 'restarting'), (503, 'restarting'),
                  (200, make_peering('dialer', 'ACTIVE')))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', wait_timeout=10))
    assert result['peering']['State'] == 'ACTIVE'


def test_wait_stops_early_when_the_peer_terminates(server):
    server.script('GET', '/v1/peering/dc1', (200, make_peering('dialer', 'ESTABLISHING')),
                  (200, make_peering('dialer', 'TERMINATED')))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', wait_timeout=30))
    assert 'is TERMINATED' in result['msg']


def test_delete_from_either_side_waits_until_gone(server):
    server.script('GET', '/v1/peering/dc1', (200, make_peering('dialer', 'ACTIVE')),
                  (200, make_peering('dialer', 'DELETING', DeletedAt='x')), (404, ''))
    server.script('DELETE', '/v1/peering/dc1', (200, ''))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', state='absent'), diff=True)
    assert result['changed'] is True
    assert result['peering'] is None
    assert result['diff']['after'] == {'name': 'dc1', 'state': 'absent'}
    assert writes(server) == [('DELETE', '/v1/peering/dc1')]


def test_delete_of_a_missing_peering_is_one_read(server):
    server.script('GET', '/v1/peering/dc1', (404, ''))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', state='absent'))
    assert result['changed'] is False
    assert len(server.requests) == 1


def test_delete_check_mode_makes_no_write(server):
    server.script('GET', '/v1/peering/dc1', (200, make_peering('dialer', 'ACTIVE')))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', state='absent'), check_mode=True)
    assert result['changed'] is True
    assert writes(server) == []


# -- waits ----------------------------------------------------------------------------------

class GoneAfterDeletes(ScriptedServer):
    """Answers GETs from the script until `deletes` DELETE calls came, and 404 from then on."""

    def __init__(self, deletes):
        super().__init__()
        self.deletes = deletes

    def _next_answer(self, method, path):
        if method == 'GET' and len(self.calls('DELETE')) >= self.deletes:
            return 404, ''
        return super()._next_answer(method, path)


@pytest.mark.parametrize('module, args', [
    (consul_peering, dict(peer_name='dc1', peering_token=make_token())),
    (consul_peering, dict(peer_name='dc1', peering_token=make_token(), wait=False)),
    (consul_peering, dict(peer_name='dc1')),
    (consul_peering, dict(peer_name='dc1', state='absent')),
    (consul_peering_token, dict(peer_name='dc2')),
])
@pytest.mark.parametrize('wait_timeout', [-5, 0, -1])
def test_a_wait_timeout_that_is_not_positive_fails_before_any_call(server, module, args, wait_timeout):
    result, _raw = run_module(module, connection(server, wait_timeout=wait_timeout, **args))
    assert result['failed'] is True
    assert result['msg'] == 'wait_timeout must be a positive number of seconds, not %d' % wait_timeout
    assert server.requests == []


@pytest.mark.parametrize('down', [RESET, (500, 'No cluster leader')], ids=['reset', 'no-leader'])
def test_a_wait_without_token_reads_through_a_server_that_is_down_at_its_first_read(server, down):
    # Six failures: more than the client's own retries of one read (four attempts), as after a restart.
    answers = [down] * 6 + [(200, make_peering('dialer', 'ESTABLISHING')), (200, make_peering('dialer', 'ACTIVE'))]
    server.script('GET', '/v1/peering/dc1', *answers)
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', wait_timeout=30))
    assert 'failed' not in result, result['msg']
    assert result['changed'] is False and result['actions'] == ['wait_until_active']
    assert result['peering']['State'] == 'ACTIVE'
    assert len(server.requests) == 8


def test_a_wait_ends_within_wait_timeout_when_the_server_stops_answering(server):
    server.script('GET', '/v1/peering/dc1', (200, make_peering('dialer', 'ESTABLISHING')),
                  ('slow', 5, 200, make_peering('dialer', 'ACTIVE')))
    started = time.monotonic()
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', wait_timeout=1))
    elapsed = time.monotonic() - started
    assert result['failed'] is True
    assert result['msg'].startswith("Timed out after 1s waiting for peering 'dc1' to become ACTIVE; last error: "
                                    'Consul did not answer GET')
    assert 'last state seen: state ESTABLISHING' in result['msg']
    assert elapsed < 1.8


def test_a_wait_on_a_terminated_accepting_side_says_to_generate_a_new_token_there(server):
    server.script('GET', '/v1/peering/dc2', (200, make_peering('acceptor', 'TERMINATED')))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc2'))
    assert result['failed'] is True
    assert "Peering 'dc2' is TERMINATED: the dialing cluster deleted its side. Generate a new token on this " \
        '(accepting) cluster with consul_peering_token' in result['msg']
    assert len(server.requests) == 1


def test_a_deletion_that_stands_still_is_sent_again_and_then_goes(monkeypatch):
    # Seen on Consul 1.14 when both sides of many peerings were deleted at once: the accepting side stayed
    # TERMINATED with DeletedAt set; a second DELETE removed it at once.
    monkeypatch.setattr(waiting, 'STALL_SECONDS', 0.3)
    stuck = make_peering('acceptor', 'TERMINATED', DeletedAt='2026-11-29T00:10:00Z')
    with GoneAfterDeletes(2) as consul:
        consul.script('GET', '/v1/peering/dc2', (200, make_peering('acceptor', 'ACTIVE')), (200, stuck))
        consul.script('DELETE', '/v1/peering/dc2', (200, ''))
        result, _raw = run_module(consul_peering, connection(consul, peer_name='dc2', state='absent',
                                                             wait_timeout=5))
    assert 'failed' not in result, result['msg']
    assert result['peering'] is None
    assert writes(consul) == [('DELETE', '/v1/peering/dc2'), ('DELETE', '/v1/peering/dc2')]
    assert any("Consul left peering 'dc2' marked for deletion (state TERMINATED, DeletedAt 2026-11-29T00:10:00Z) "
               'for 0.3s without removing it: sent the DELETE again' in warning for warning in result['warnings'])


REFUSED = (403, 'a new peering token must be generated: invalid peering establishment secret')
CAUSES = ('The token was already used, a newer token was generated for that peering since, or the accepting side '
          'was deleted since the token was generated.')


def test_a_refused_token_deletes_the_pending_dialing_side_this_run_created():
    with GoneAfterDeletes(1) as consul:
        consul.script('GET', '/v1/peering/dc1', (404, ''), (200, make_peering('dialer', 'PENDING')))
        consul.script('POST', '/v1/peering/establish', REFUSED)
        consul.script('DELETE', '/v1/peering/dc1', (200, ''))
        result, raw = run_module(consul_peering, connection(consul, peer_name='dc1', peering_token=make_token()))
    assert result['failed'] is True
    assert CAUSES in result['msg']
    assert result['msg'].endswith('The PENDING dialing side this run created on this cluster was deleted.')
    assert writes(consul) == [('POST', '/v1/peering/establish'), ('DELETE', '/v1/peering/dc1')]
    assert_no_secrets(raw, *SECRETS, make_token())


def test_a_refused_token_leaves_a_pending_dialing_side_that_existed_before_and_says_how_to_remove_it(server):
    server.script('GET', '/v1/peering/dc1', (200, make_peering('dialer', 'PENDING')))
    server.script('POST', '/v1/peering/establish', REFUSED)
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc1', peering_token=make_token()))
    assert result['failed'] is True
    assert CAUSES in result['msg']
    assert result['msg'].endswith('The PENDING dialing side on this cluster existed before this run, so it was '
                                  'left: remove it with consul.peering.consul_peering (peer_name: dc1, state: absent).')
    assert writes(server) == [('POST', '/v1/peering/establish')]


# -- consul_peering_info ----------------------------------------------------------------------

def test_info_reads_one_peering_in_one_call(server):
    server.script('GET', '/v1/peering/dc2', (200, make_peering()))
    result, _raw = run_module(consul_peering_info, connection(server, name='dc2'))
    assert (result['changed'], result['exists'], result['peering']) == (False, True, make_peering())
    assert 'peerings' not in result and 'failed' not in result
    assert len(server.requests) == 1


def test_info_of_a_missing_peering_is_not_an_error(server):
    server.script('GET', '/v1/peering/dc2', (404, ''))
    result, _raw = run_module(consul_peering_info, connection(server, name='dc2'))
    assert result['exists'] is False and result['peering'] is None and 'failed' not in result


def test_info_lists_without_a_name(server):
    server.script('GET', '/v1/peerings', (200, [make_peering()]))
    result, _raw = run_module(consul_peering_info, connection(server))
    assert [p['Name'] for p in result['peerings']] == ['dc2']


# -- shared behaviour -------------------------------------------------------------------------

def test_connection_from_environment_variables(server, monkeypatch, tmp_path):
    token_file = tmp_path / 'token'
    token_file.write_text(ACL_TOKEN)
    monkeypatch.setenv('CONSUL_HTTP_ADDR', 'http://127.0.0.1:%d' % server.port)
    monkeypatch.setenv('CONSUL_HTTP_TOKEN_FILE', str(token_file))
    server.script('GET', '/v1/peerings', (200, []))
    result, raw = run_module(consul_peering_info, {})
    assert result['peerings'] == []
    assert server.requests[0].headers['X-Consul-Token'] == ACL_TOKEN
    assert ACL_TOKEN not in raw


def test_http_auth_from_the_environment_is_sent_as_basic_auth_and_never_shown(server, monkeypatch):
    monkeypatch.setenv('CONSUL_HTTP_AUTH', 'ops:pr0xy-pass')
    # A proxy that refuses the call and echoes what it got: the module's error must still hide the password.
    server.script('GET', '/v1/peerings', (401, 'proxy refused the password pr0xy-pass'))
    result, raw = run_module(consul_peering_info, connection(server))
    assert server.requests[0].headers['Authorization'] == 'Basic b3BzOnByMHh5LXBhc3M='  # base64 of ops:pr0xy-pass
    assert result['failed'] is True and 'HTTP 401' in result['msg']
    assert 'pr0xy-pass' not in raw


def test_acl_token_echoed_by_a_server_is_masked(server):
    server.script('GET', '/v1/peerings', (400, 'bad token %s' % ACL_TOKEN))
    result, raw = run_module(consul_peering_info, connection(server))
    assert result['failed'] is True
    assert ACL_TOKEN not in raw


def test_token_from_a_file_echoed_by_a_server_is_masked(server, monkeypatch, tmp_path):
    token_file = tmp_path / 'token'
    token_file.write_text('file-acl-s3cret')
    monkeypatch.setenv('CONSUL_HTTP_TOKEN_FILE', str(token_file))
    server.script('GET', '/v1/peerings', (400, 'bad token file-acl-s3cret'))
    result, raw = run_module(consul_peering_info, {'host': '127.0.0.1', 'port': server.port})
    assert result['failed'] is True
    assert 'file-acl-s3cret' not in raw


def test_bad_environment_is_a_clear_failure(monkeypatch):
    monkeypatch.setenv('CONSUL_HTTP_ADDR', 'unix:///tmp/consul.sock')
    result, _raw = run_module(consul_peering_info, {})
    assert result['failed'] is True and 'unix sockets are not supported' in result['msg']


def test_validate_certs_false_warns(server):
    result, _raw = run_module(consul_peering_info, {'host': '127.0.0.1', 'port': 1, 'scheme': 'https',
                                                    'validate_certs': False, 'timeout': 1})
    assert any('validate_certs is false' in warning for warning in result['warnings'])


def test_missing_requests_gives_the_standard_message(monkeypatch):
    monkeypatch.setattr(module_util, 'HAS_REQUESTS', False)
    result, _raw = run_module(consul_peering_info, {})
    assert result['failed'] is True
    assert 'Failed to import the required Python library (requests)' in result['msg']
