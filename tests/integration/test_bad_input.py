# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Bad input, table-driven: each case fails with a clear message, no traceback, no write, Consul unchanged."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.consul.peering.tests.support.ansible_cli import run_playbook
from ansible_collections.consul.peering.tests.support.consul_state import write_calls
from ansible_collections.consul.peering.tests.support.plays import role_play


def b64(data):
    return base64.b64encode(data.encode()).decode()


TOKEN_MISSING_FIELDS = b64(json.dumps({'CA': None, 'ServerAddresses': ['127.0.0.1:8503'], 'PeerID': 'x'}))
TOKEN_WRONG_TYPES = b64(json.dumps({'CA': None, 'ServerAddresses': '127.0.0.1:8503', 'PeerID': 12345,
                                    'EstablishmentSecret': 'e5c1-not-a-real-secret'}))

# (case id, module, task arguments, environment, expected text in the message)
MODULE_CASES = [
    ('uppercase-name', 'consul_peering_token', {'peer_name': 'DC2'}, {}, 'not a valid peer name'),
    ('underscore-name', 'consul_peering_token', {'peer_name': 'dc_2'}, {}, 'not a valid peer name'),
    ('too-long-name', 'consul_peering', {'peer_name': 'a' * 64, 'state': 'absent'}, {}, 'not a valid peer name'),
    ('empty-name', 'consul_peering_token', {'peer_name': ''}, {}, 'not a valid peer name'),
    ('leading-hyphen', 'consul_peering_info', {'name': '-dc2'}, {}, 'not a valid peer name'),
    ('token-not-base64', 'consul_peering', {'peer_name': 'dc1', 'peering_token': 'this is not base64!'}, {},
     'not valid base64'),
    ('token-base64-not-json', 'consul_peering', {'peer_name': 'dc1', 'peering_token': b64('hello consul')}, {},
     'does not hold JSON'),
    ('token-missing-fields', 'consul_peering', {'peer_name': 'dc1', 'peering_token': TOKEN_MISSING_FIELDS}, {},
     'missing EstablishmentSecret'),
    ('address-without-port', 'consul_peering_token',
     {'peer_name': 'dc2', 'server_external_addresses': ['lb.example.com']}, {}, 'has no port'),
    ('address-bad-port', 'consul_peering_token',
     {'peer_name': 'dc2', 'server_external_addresses': ['lb.example.com:99999']}, {}, 'from 1 to 65535'),
    ('meta-not-string', 'consul_peering_token', {'peer_name': 'dc2', 'meta': {'version': 2}}, {},
     'must be a string'),
    ('meta-bad-key', 'consul_peering', {'peer_name': 'dc1', 'state': 'absent', 'meta': {'bad key': 'x'}}, {},
     'meta key'),
    ('meta-reserved-key', 'consul_peering_token', {'peer_name': 'dc2', 'meta': {'consul-x': 'y'}}, {},
     'reserved by Consul'),
    ('client-key-without-cert', 'consul_peering_info', {'client_key': '/etc/hosts'}, {}, 'client_cert'),
    ('unknown-scheme', 'consul_peering_info', {'scheme': 'ftp'}, {}, 'scheme'),
    ('missing-ca-path', 'consul_peering_info', {'ca_path': '/nonexistent/ca.pem'}, {},
     'ca_path /nonexistent/ca.pem does not exist'),
    ('unknown-state', 'consul_peering', {'peer_name': 'dc1', 'state': 'gone'}, {}, 'state'),
    ('wait-timeout-not-int', 'consul_peering', {'peer_name': 'dc1', 'wait_timeout': 'soon'}, {}, 'wait_timeout'),
    ('zero-timeout', 'consul_peering_info', {'timeout': 0}, {}, 'timeout must be a positive number'),
    ('malformed-consul-http-addr', 'consul_peering_info', {'host': None, 'port': None, 'scheme': None},
     {'CONSUL_HTTP_ADDR': 'https://h:port/'}, 'CONSUL_HTTP_ADDR'),
    ('unix-consul-http-addr', 'consul_peering_info', {'host': None, 'port': None, 'scheme': None},
     {'CONSUL_HTTP_ADDR': 'unix:///var/run/consul.sock'}, 'unix sockets are not supported'),
    ('missing-token-file', 'consul_peering_info', {'token': None},
     {'CONSUL_HTTP_TOKEN_FILE': '/nonexistent/token'}, 'CONSUL_HTTP_TOKEN_FILE points to /nonexistent/token'),
    ('empty-token-file', 'consul_peering_info', {'token': None}, {'CONSUL_HTTP_TOKEN_FILE': '/dev/null'},
     'needs the peering:read permission'),
    # What operators paste: URLs where host names belong, names and tokens with line breaks, odd numbers.
    ('url-as-host', 'consul_peering_info', {'host': 'https://127.0.0.1:8501'}, {}, 'is a URL'),
    ('host-with-slash', 'consul_peering_info', {'host': '127.0.0.1/'}, {}, 'is a URL'),
    ('host-with-hash', 'consul_peering_info', {'host': '127.0.0.1#'}, {}, 'is a URL'),
    ('host-with-credentials', 'consul_peering_info', {'host': 'evil@127.0.0.1'}, {}, 'without user:password@'),
    ('host-with-port', 'consul_peering_info', {'host': '127.0.0.1:8501'}, {}, 'put a port in port'),
    ('nan-timeout', 'consul_peering_info', {'timeout': 'nan'}, {}, 'timeout must be a positive number'),
    ('inf-timeout', 'consul_peering_info', {'timeout': 'inf'}, {}, 'timeout must be a positive number'),
    ('name-with-newline', 'consul_peering_token', {'peer_name': 'dc2\n'}, {}, 'white space or a line break'),
    ('info-name-with-newline', 'consul_peering_info', {'name': 'dc2\n'}, {}, 'white space or a line break'),
    ('token-wrong-types', 'consul_peering', {'peer_name': 'dc1', 'peering_token': TOKEN_WRONG_TYPES}, {},
     'PeerID (a string, not int)'),
    ('address-is-a-url', 'consul_peering_token',
     {'peer_name': 'dc2', 'server_external_addresses': ['https://lb:8503']}, {}, 'without a scheme'),
    ('acl-token-with-a-comment-line', 'consul_peering_info', {'token': '# dc1 token\n0f1e2d3c-not-a-token'}, {},
     'token holds a line break'),
    ('consul-http-token-with-a-comment-line', 'consul_peering_info', {'token': None},
     {'CONSUL_HTTP_TOKEN': '# dc1 token\n0f1e2d3c-not-a-token'}, 'CONSUL_HTTP_TOKEN holds a line break'),
    ('bad-ssl-verify-variable', 'consul_peering_info', {}, {'CONSUL_HTTP_SSL_VERIFY': 'maybe'},
     'CONSUL_HTTP_SSL_VERIFY'),
]


def peerings(cluster):
    return sorted(p['Name'] for p in cluster.api('GET', '/v1/peerings').json())


@pytest.mark.parametrize('case, module, args, env, message', MODULE_CASES, ids=[case[0] for case in MODULE_CASES])
def test_module_bad_input(dc1, case, module, args, env, message):
    before = peerings(dc1)
    merged = dict(dc1.module_args())
    merged.update(args)
    merged = dict((key, value) for key, value in merged.items() if value is not None)
    mark = dc1.log_mark()
    run = run_playbook([{'name': 'Bad input', 'consul.peering.%s' % module: merged}], env=env)
    assert run.returncode != 0, case.report()
    assert message in run.result('Bad input')['msg']
    assert 'Traceback' not in run.output
    assert write_calls(dc1, mark) == []
    assert peerings(dc1) == before


ROLE_CASES = [
    ('unknown-state', {'cluster_peering_state': 'peered'}, 'cluster_peering_state'),
    ('missing-peer-name', {'cluster_peering_dialer': {'connection': {}}}, 'peer_name'),
    ('invalid-peer-name', {'cluster_peering_acceptor': {'connection': {}, 'peer_name': 'Not_Valid'}},
     'not a valid peer name'),
    ('unknown-connection-option', {'cluster_peering_acceptor': {'connection': {'hots': 'x'}, 'peer_name': 'dc2'}},
     'hots'),
    ('wait-timeout-not-int', {'cluster_peering_wait_timeout': 'soon'}, 'cluster_peering_wait_timeout'),
]


@pytest.mark.parametrize('case, overrides, message', ROLE_CASES, ids=[case[0] for case in ROLE_CASES])
def test_role_bad_input(dc1, dc2, case, overrides, message):
    before = peerings(dc1), peerings(dc2)
    marks = dc1.log_mark(), dc2.log_mark()
    run = run_playbook(plays=role_play(dc1, dc2, 'bad-input-dc2', 'bad-input-dc1', labels=False, **overrides))
    assert run.returncode != 0, case.report()
    assert message in run.stdout + run.stderr
    assert 'Traceback' not in run.output
    assert write_calls(dc1, marks[0]) == [] and write_calls(dc2, marks[1]) == []
    assert (peerings(dc1), peerings(dc2)) == before


def test_token_from_the_dialing_cluster_itself_changes_nothing(dc2):
    """A token for the wrong cluster (this very one): Consul refuses it; nothing is created."""
    token = dc2.api('POST', '/v1/peering/token', json={'PeerName': 'wrong-cluster'}).json()['PeeringToken']
    try:
        run = run_playbook([{'name': 'Establish', 'consul.peering.consul_peering': dict(
            dc2.module_args(), peer_name='wrong-cluster-dial', peering_token=token)}])
        assert run.returncode != 0
        assert 'generated by this same cluster' in run.result('Establish')['msg']
        assert 'wrong-cluster-dial' not in peerings(dc2)
    finally:
        dc2.api('DELETE', '/v1/peering/wrong-cluster')
