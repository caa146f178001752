# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.consul.peering.plugins.module_utils.peering import (
    DELETE, ESTABLISH, GENERATE_TOKEN, WAIT_UNTIL_ACTIVE, WAIT_UNTIL_GONE, PeeringError, clean_peering_token, decode_peering_token,
    describe_stream,
    is_deleting, is_dialer, diff_view, plan_delete, plan_establish, plan_token, validate_meta, validate_peer_name,
    validate_server_addresses,
)

from ansible_collections.consul.peering.tests.support.consul_data import ACCEPTOR_ID, SECRET, make_peering, make_token


# -- validation -----------------------------------------------------------------------------

@pytest.mark.parametrize('name', ['dc2', 'a', '0', 'dc-2', 'a' * 63, 'x1-y2-z3'])
def test_valid_peer_names_pass(name):
    validate_peer_name(name)


@pytest.mark.parametrize('name', ['', 'DC2', 'dc_2', '-dc2', 'dc2-', 'a' * 64, 'dc.2', 'dc 2', None, 12])
def test_invalid_peer_names_fail_with_the_rule(name):
    with pytest.raises(PeeringError, match='not a valid peer name: Consul requires a DNS label'):
        validate_peer_name(name)


@pytest.mark.parametrize('addresses', [None, [], ['lb.example.com:8503'], ['10.0.0.1:1', '[::1]:65535']])
def test_valid_server_addresses_pass(addresses):
    validate_server_addresses(addresses)


@pytest.mark.parametrize('address, reason', [
    ('lb.example.com', 'has no port'),
    ('lb.example.com:0', 'port must be a number from 1 to 65535'),
    ('lb.example.com:65536', 'port must be a number from 1 to 65535'),
    ('lb.example.com:http', 'port must be a number'),
    (':8503', 'the host is empty'),
    ('::1:8503', 'must be written in brackets'),
    ('[::1', 'missing "]"'),
])
def test_invalid_server_addresses_fail_naming_the_address(address, reason):
    with pytest.raises(PeeringError, match=reason) as err:
        validate_server_addresses([address])
    assert repr(address) in str(err.value)


@pytest.mark.parametrize('meta', [None, {}, {'env': 'prod', 'team_a-1': 'x' * 512}])
def test_valid_meta_passes(meta):
    validate_meta(meta)


@pytest.mark.parametrize('meta, reason', [
    ({'env': 2}, 'must be a string, not int'),
    ({'env': True}, 'must be a string, not bool'),
    ({'bad key': 'x'}, 'is not valid'),
    ({'': 'x'}, 'is not valid'),
    ({'k' * 129: 'x'}, 'is not valid'),
    ({'consul-x': 'x'}, 'reserved by Consul'),
    ({'env': 'x' * 513}, 'longer than 512'),
    (dict(('k%d' % i, 'v') for i in range(65)), 'at most 64'),
])
def test_invalid_meta_fails(meta, reason):
    with pytest.raises(PeeringError, match=reason):
        validate_meta(meta)


# -- token decoding -------------------------------------------------------------------------

def test_decode_token_returns_info_without_secret():
    info, secret = decode_peering_token(make_token())
    assert secret == SECRET
    assert info == {
        'peer_id': ACCEPTOR_ID,
        'server_name': 'server.dc1.peering.78c3a864-c9fa-ae42-e992-f0cca4a95452.consul',
        'server_addresses': ['127.0.0.1:18503'],
        'manual_server_addresses': [],
        'ca_present': True,
        'remote_datacenter': 'dc1',
        'remote_partition': None,
    }
    assert SECRET not in json.dumps(info)


def test_decode_token_tolerates_surrounding_whitespace():
    info, _secret = decode_peering_token('\n  %s\n' % make_token())
    assert info['peer_id'] == ACCEPTOR_ID


def test_decode_token_keeps_manual_addresses():
    info, _secret = decode_peering_token(make_token(ManualServerAddresses=['lb:8503']))
    assert info['manual_server_addresses'] == ['lb:8503']


def _b64(data):
    return base64.b64encode(data if isinstance(data, bytes) else data.encode()).decode()


@pytest.mark.parametrize('token, reason', [
    ('', 'is empty'),
    ('   ', 'is empty'),
    (None, 'is empty'),
    ('not base64 at all!', 'not valid base64'),
    ('abc', 'not valid base64'),
    (_b64(b'\xff\xfe\x00'), 'does not hold JSON'),
    (_b64('hello'), 'does not hold JSON'),
    (_b64('[1, 2]'), 'not hold a JSON object'),
    (_b64('{}'), 'missing PeerID, ServerAddresses, EstablishmentSecret'),
    (make_token(PeerID=''), 'missing PeerID'),
    (make_token(EstablishmentSecret=None), 'missing EstablishmentSecret'),
    (make_token(ServerAddresses=[]), 'missing ServerAddresses'),
    (make_token(ServerName=''), 'missing ServerName'),
    (make_token(ServerAddresses='127.0.0.1:8503'), 'ServerAddresses .a list, not str'),
    (make_token(ServerAddresses=['127.0.0.1']), 'has no port'),
    (make_token(ManualServerAddresses=['lb:99999']), 'ManualServerAddresses'),
    (make_token(CA=['not a cert']), 'not a list of PEM certificates'),
])
def test_malformed_tokens_fail_without_echoing_the_token(token, reason):
    with pytest.raises(PeeringError, match=reason) as err:
        decode_peering_token(token)
    if token and token.strip():
        assert token.strip() not in str(err.value)
    assert SECRET not in str(err.value)


# -- reading peerings -----------------------------------------------------------------------

def test_roles_are_told_apart_by_peer_fields():
    assert is_dialer(make_peering('dialer'))
    assert not is_dialer(make_peering('acceptor'))
    # A dialer whose establish failed still stores the peer's ID and addresses.
    assert is_dialer(make_peering('dialer', 'PENDING'))


@pytest.mark.parametrize('fields, deleting', [
    ({}, False),
    ({'State': 'DELETING', 'DeletedAt': '2026-11-28T23:52:51Z'}, True),
    # The live overlay can still say ACTIVE for a moment after the delete was accepted.
    ({'DeletedAt': '2026-11-28T23:52:51Z'}, True),
])
def test_deletion_is_detected_by_deleted_at(fields, deleting):
    assert is_deleting(make_peering('acceptor', **fields)) is deleting


def test_view_of_a_missing_peering():
    assert diff_view(None, 'dc2') == {'name': 'dc2', 'state': 'absent'}


def test_view_of_a_dialer_has_peer_fields_and_no_volatile_ones():
    view = diff_view(make_peering('dialer'))
    assert view['role'] == 'dialer'
    assert view['peer_id'] == ACCEPTOR_ID
    assert view['peer_server_addresses'] == ['127.0.0.1:18503']
    assert 'ModifyIndex' not in view and 'StreamStatus' not in view and 'PeerCAPems' not in view


def test_view_of_an_acceptor_has_no_peer_fields():
    view = diff_view(make_peering('acceptor'))
    assert view['role'] == 'acceptor'
    assert 'peer_id' not in view
    assert view['meta'] == {'env': 'test'}


def test_describe_stream_names_state_and_heartbeats():
    text = describe_stream(make_peering('dialer', 'FAILING'))
    assert text.startswith('state FAILING')
    assert 'last heartbeat 2026-' in text
    assert 'imported services 0' in text


def test_describe_stream_of_a_pending_peering_says_never():
    assert 'last heartbeat never' in describe_stream(make_peering('acceptor', 'PENDING', StreamStatus={
        'LastHeartbeat': '1970-01-01T00:00:00Z'}))
    assert describe_stream(None) == 'the peering does not exist'


# -- plan_token ----------------------------------------------------------------------------

@pytest.mark.parametrize('current, regenerate, actions', [
    (None, False, [GENERATE_TOKEN]),
    (None, True, [GENERATE_TOKEN]),
    (make_peering('acceptor', 'PENDING'), False, []),
    (make_peering('acceptor', 'ACTIVE'), False, []),
    (make_peering('acceptor', 'FAILING'), False, []),
    (make_peering('acceptor', 'PENDING'), True, [GENERATE_TOKEN]),
    (make_peering('acceptor', 'ACTIVE'), True, [GENERATE_TOKEN]),
    (make_peering('acceptor', 'TERMINATED'), False, [DELETE, WAIT_UNTIL_GONE, GENERATE_TOKEN]),
    (make_peering('acceptor', 'TERMINATED'), True, [DELETE, WAIT_UNTIL_GONE, GENERATE_TOKEN]),
    (make_peering('acceptor', 'DELETING', DeletedAt='2026-11-28T23:52:51Z'), False, [WAIT_UNTIL_GONE, GENERATE_TOKEN]),
    (make_peering('acceptor', 'ACTIVE', DeletedAt='2026-11-28T23:52:51Z'), False, [WAIT_UNTIL_GONE, GENERATE_TOKEN]),
])
def test_plan_token(current, regenerate, actions):
    plan = plan_token(current, 'dc2', regenerate=regenerate)
    assert plan.actions == actions
    assert plan.changed is bool(actions)


def test_plan_token_for_a_new_peering_diffs_from_absent_to_pending():
    plan = plan_token(None, 'dc2', meta={'env': 'prod'})
    assert plan.diff == {
        'before': {'name': 'dc2', 'state': 'absent'},
        'after': {'name': 'dc2', 'state': 'PENDING', 'role': 'acceptor', 'id': None, 'meta': {'env': 'prod'}},
    }


def test_plan_token_noop_has_equal_before_and_after():
    plan = plan_token(make_peering('acceptor', 'ACTIVE'), 'dc2')
    assert plan.before == plan.after
    assert not plan.warnings


def test_plan_token_refuses_a_dialer_of_the_same_name():
    with pytest.raises(PeeringError, match='already exists on this cluster as the dialing side'):
        plan_token(make_peering('dialer', 'ACTIVE'), 'dc1')


def test_plan_token_warns_that_acceptor_meta_cannot_change():
    plan = plan_token(make_peering('acceptor', 'ACTIVE'), 'dc2', meta={'env': 'other'})
    assert plan.actions == []
    assert 'keeps the meta a peering was created with' in plan.warnings[0]


def test_plan_token_same_meta_does_not_warn():
    assert not plan_token(make_peering('acceptor', 'ACTIVE'), 'dc2', meta={'env': 'test'}).warnings


# -- plan_establish --------------------------------------------------------------------------

TOKEN_INFO = decode_peering_token(make_token())[0]
OTHER_TOKEN_INFO = decode_peering_token(make_token(PeerID='5e1f1a55-0000-4000-8000-000000000001'))[0]


@pytest.mark.parametrize('current, token_info, wait, actions', [
    (None, TOKEN_INFO, True, [ESTABLISH, WAIT_UNTIL_ACTIVE]),
    (None, TOKEN_INFO, False, [ESTABLISH]),
    # Same peering as the token: its secret was already exchanged, so nothing is written.
    (make_peering('dialer', 'ACTIVE'), TOKEN_INFO, True, [WAIT_UNTIL_ACTIVE]),
    (make_peering('dialer', 'ESTABLISHING'), TOKEN_INFO, True, [WAIT_UNTIL_ACTIVE]),
    (make_peering('dialer', 'FAILING'), TOKEN_INFO, False, []),
    # An establish that never completed leaves a PENDING dialer with the peer ID: try again.
    (make_peering('dialer', 'PENDING'), TOKEN_INFO, True, [ESTABLISH, WAIT_UNTIL_ACTIVE]),
    (make_peering('dialer', 'TERMINATED'), TOKEN_INFO, True, [ESTABLISH, WAIT_UNTIL_ACTIVE]),
    # Another peer ID: the acceptor was re-created or the token is for another cluster; replace the dialer.
    (make_peering('dialer', 'ACTIVE'), OTHER_TOKEN_INFO, True, [DELETE, WAIT_UNTIL_GONE, ESTABLISH, WAIT_UNTIL_ACTIVE]),
    (make_peering('dialer', 'TERMINATED'), OTHER_TOKEN_INFO, False, [DELETE, WAIT_UNTIL_GONE, ESTABLISH]),
    (make_peering('dialer', 'PENDING'), OTHER_TOKEN_INFO, False, [DELETE, WAIT_UNTIL_GONE, ESTABLISH]),
    (make_peering('dialer', 'DELETING', DeletedAt='2026-11-28T23:52:51Z'), TOKEN_INFO, True,
     [WAIT_UNTIL_GONE, ESTABLISH, WAIT_UNTIL_ACTIVE]),
    # Without a token, an existing peering (either side) is only waited for.
    (make_peering('dialer', 'ACTIVE'), None, True, [WAIT_UNTIL_ACTIVE]),
    (make_peering('acceptor', 'PENDING'), None, True, [WAIT_UNTIL_ACTIVE]),
    (make_peering('acceptor', 'PENDING'), None, False, []),
])
def test_plan_establish(current, token_info, wait, actions):
    plan = plan_establish(current, 'dc1', token_info, wait=wait)
    assert plan.actions == actions
    assert plan.changed is (ESTABLISH in actions)


def test_plan_establish_diff_shows_the_peer_from_the_token():
    plan = plan_establish(None, 'dc1', TOKEN_INFO, meta={'env': 'prod'})
    assert plan.before == {'name': 'dc1', 'state': 'absent'}
    assert plan.after == {
        'name': 'dc1', 'state': 'ESTABLISHING', 'role': 'dialer', 'id': None, 'meta': {'env': 'prod'},
        'peer_id': ACCEPTOR_ID, 'peer_server_name': TOKEN_INFO['server_name'],
        'peer_server_addresses': ['127.0.0.1:18503'], 'remote_datacenter': 'dc1',
    }


def test_plan_establish_diff_prefers_manual_addresses():
    info = decode_peering_token(make_token(ManualServerAddresses=['lb.example.com:8503']))[0]
    assert plan_establish(None, 'dc1', info).after['peer_server_addresses'] == ['lb.example.com:8503']


def test_plan_replacing_the_dialer_shows_the_new_peer_and_a_new_id():
    plan = plan_establish(make_peering('dialer', 'ACTIVE'), 'dc1', OTHER_TOKEN_INFO)
    assert plan.before['peer_id'] == ACCEPTOR_ID
    assert plan.after['peer_id'] == OTHER_TOKEN_INFO['peer_id']
    assert plan.after['id'] is None


def test_plan_reestablish_in_place_keeps_the_local_id():
    current = make_peering('dialer', 'PENDING')
    assert plan_establish(current, 'dc1', TOKEN_INFO).after['id'] == current['ID']


def test_plan_establish_requires_a_token_for_a_missing_peering():
    with pytest.raises(PeeringError, match='peering_token is required'):
        plan_establish(None, 'dc1', None)


def test_plan_establish_requires_a_token_while_the_old_peering_is_deleted():
    with pytest.raises(PeeringError, match='it is being deleted'):
        plan_establish(make_peering('dialer', 'DELETING', DeletedAt='x'), 'dc1', None)


def test_plan_establish_in_check_mode_without_token_reports_and_warns():
    plan = plan_establish(None, 'dc1', None, check_mode=True)
    assert plan.actions == [ESTABLISH, WAIT_UNTIL_ACTIVE]
    assert 'peer_id' not in plan.after
    assert 'check mode' in plan.warnings[0]


def test_plan_establish_refuses_an_acceptor_of_the_same_name():
    with pytest.raises(PeeringError, match='as the accepting side'):
        plan_establish(make_peering('acceptor', 'PENDING'), 'dc2', TOKEN_INFO)


def test_plan_establish_warns_about_dialer_meta_drift():
    plan = plan_establish(make_peering('dialer', 'ACTIVE'), 'dc1', TOKEN_INFO, meta={'env': 'x'})
    assert not plan.changed
    assert 'established with a fresh token' in plan.warnings[0]


# -- plan_delete -----------------------------------------------------------------------------

@pytest.mark.parametrize('current, wait, actions', [
    (None, True, []),
    (None, False, []),
    (make_peering('acceptor', 'ACTIVE'), True, [DELETE, WAIT_UNTIL_GONE]),
    (make_peering('dialer', 'ACTIVE'), False, [DELETE]),
    (make_peering('acceptor', 'TERMINATED'), True, [DELETE, WAIT_UNTIL_GONE]),
    (make_peering('dialer', 'PENDING'), True, [DELETE, WAIT_UNTIL_GONE]),
    # Someone else already deleted it: nothing to write, only wait.
    (make_peering('dialer', 'DELETING', DeletedAt='x'), True, [WAIT_UNTIL_GONE]),
    (make_peering('dialer', 'DELETING', DeletedAt='x'), False, []),
])
def test_plan_delete(current, wait, actions):
    plan = plan_delete(current, 'dc1', wait=wait)
    assert plan.actions == actions
    assert plan.changed is (DELETE in actions)


def test_plan_delete_diff_ends_absent():
    plan = plan_delete(make_peering('dialer', 'ACTIVE'), 'dc1')
    assert plan.before['state'] == 'ACTIVE'
    assert plan.after == {'name': 'dc1', 'state': 'absent'}


# -- input as it arrives from vaults, files and copy-paste --------------------------------------

@pytest.mark.parametrize('name', ['dc2\n', ' dc2', 'dc2 ', '\tdc2\r\n'])
def test_a_peer_name_with_white_space_around_it_is_refused_before_any_call(name):
    with pytest.raises(PeeringError, match='white space or a line break around it'):
        validate_peer_name(name)


def test_a_peer_name_with_a_final_newline_does_not_slip_through_the_pattern():
    # `$` matches before a final newline; the check must not.
    with pytest.raises(PeeringError):
        validate_peer_name('dc2\n\n')


@pytest.mark.parametrize('shape', ['around', 'wrapped at 76', 'folded by YAML', 'crlf'])
def test_a_token_with_white_space_around_or_inside_is_the_same_token(shape):
    token = make_token()
    pasted = {
        'around': '  %s\n' % token,
        'wrapped at 76': '\n'.join(token[i:i + 76] for i in range(0, len(token), 76)) + '\n',
        'folded by YAML': ' '.join(token[i:i + 60] for i in range(0, len(token), 60)),
        'crlf': '\r\n'.join(token[i:i + 64] for i in range(0, len(token), 64)),
    }[shape]
    assert clean_peering_token(pasted) == token
    assert decode_peering_token(pasted) == decode_peering_token(token)


@pytest.mark.parametrize('fields, named', [
    ({'PeerID': 12345}, 'PeerID (a string, not int)'),
    ({'ServerAddresses': '127.0.0.1:8503'}, 'ServerAddresses (a list, not str)'),
    ({'ServerName': ['x']}, 'ServerName (a string, not list)'),
    ({'EstablishmentSecret': {'a': 1}}, 'EstablishmentSecret (a string, not dict)'),
    ({'Remote': 'dc1'}, 'Remote (an object, not str)'),
    ({'ServerAddresses': [8503]}, 'is not a host:port string'),
])
def test_a_token_whose_fields_have_the_wrong_types_fails_before_any_call(fields, named):
    with pytest.raises(PeeringError) as err:
        decode_peering_token(make_token(**fields))
    assert named in str(err.value)
    assert SECRET not in str(err.value)


@pytest.mark.parametrize('address', ['https://lb:8503', 'lb:8503/grpc', 'grpc://10.0.0.1:8503'])
def test_a_url_as_a_server_address_says_to_write_host_port(address):
    with pytest.raises(PeeringError, match='is a URL; write the address as host:port without a scheme'):
        validate_server_addresses([address])


# -- waiting --------------------------------------------------------------------------------

from ansible_collections.consul.peering.plugins.module_utils.peering import (  # noqa: E402  pylint: disable=wrong-import-position
    left_by_refused_establish, reached_active,
)


@pytest.mark.parametrize('peering, done', [
    (make_peering('dialer', 'ACTIVE'), True),
    (make_peering('acceptor', 'ACTIVE'), True),
    (make_peering('dialer', 'ESTABLISHING'), False),
    (make_peering('dialer', 'FAILING'), False),
    (make_peering('dialer', 'PENDING'), False),
    (make_peering('acceptor', 'PENDING'), False),
    (make_peering('acceptor', 'FAILING'), False),
])
def test_reached_active_waits_on_until_active(peering, done):
    assert reached_active(peering, 'dc1') is done


@pytest.mark.parametrize('peering, message', [
    (None, "Peering 'dc1' disappeared while waiting for it to become ACTIVE"),
    (make_peering('dialer', 'DELETING', DeletedAt='2026-11-29T00:10:00Z'), "Peering 'dc1' is being deleted"),
    # Consul's live overlay can still say ACTIVE once DeletedAt is set.
    (make_peering('acceptor', 'ACTIVE', DeletedAt='2026-11-29T00:10:00Z'), "Peering 'dc1' is being deleted"),
    (make_peering('dialer', 'TERMINATED'),
     "Peering 'dc1' is TERMINATED: the accepting cluster deleted its side. Generate a new token on the accepting "
     'cluster and establish again on this cluster with it.'),
    (make_peering('acceptor', 'TERMINATED'),
     "Peering 'dc1' is TERMINATED: the dialing cluster deleted its side. Generate a new token on this (accepting) "
     'cluster with consul_peering_token, which deletes the TERMINATED side first, and establish with it on the '
     'dialing cluster; the cluster_peering role does both.'),
])
def test_reached_active_ends_the_wait_with_advice_for_this_side(peering, message):
    with pytest.raises(PeeringError) as err:
        reached_active(peering, 'dc1')
    assert str(err.value).startswith(message)


ONLY_PEER_ID = {'peer_id': ACCEPTOR_ID}


@pytest.mark.parametrize('peering, left', [
    (make_peering('dialer', 'PENDING'), True),
    (None, False),
    (make_peering('dialer', 'PENDING', PeerID='6d1e0d7a-0000-4000-8000-00000000abcd'), False),
    (make_peering('dialer', 'ACTIVE'), False),
    (make_peering('dialer', 'ESTABLISHING'), False),
    (make_peering('dialer', 'TERMINATED'), False),
    (make_peering('dialer', 'PENDING', DeletedAt='2026-11-29T00:10:00Z'), False),
    (make_peering('acceptor', 'PENDING'), False),
])
def test_left_by_refused_establish_is_only_a_pending_dialer_with_the_tokens_peer(peering, left):
    assert left_by_refused_establish(peering, ONLY_PEER_ID) is left
