# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Taking a peer out of every export and intention, reading a cluster's own instances, and the warning of
consul_peering about exports left to a deleted peer: in-process, against a scripted server answering as
Consul 1.14.11 did (calls made, bodies sent, results)."""

from __future__ import annotations

import pytest

from ansible_collections.consul.peering.plugins.modules import (
    consul_exported_services, consul_imported_service_info, consul_peering, consul_service_intentions,
)
from ansible_collections.consul.peering.tests.support.consul_data import ACL_TOKEN, exports, make_peering
from ansible_collections.consul.peering.tests.support.loopback_servers import calls, query, writes
from ansible_collections.consul.peering.tests.support.module_runner import connection, run_module

EXPORTS = '/v1/config/exported-services/default'
INTENTIONS = '/v1/config/service-intentions'
FILTERED = 'X-Consul-Results-Filtered-By-ACLs'
DENIED = "Permission denied: token with AccessorID '7558d477-2c7a-64d1-708e-3f18aad0c624' lacks permission '%s'"

pytestmark = pytest.mark.usefixtures('clean_environment', 'no_cas_pause')


def intentions(name, index, *sources):
    """A service-intentions entry as Consul 1.14 lists it; sources as (name, peer or None, action)."""
    return {'Kind': 'service-intentions', 'Name': name, 'CreateIndex': index, 'ModifyIndex': index, 'Sources': [
        dict({'Name': source, 'Action': action, 'Precedence': 9, 'Type': 'consul'}, **({'Peer': peer} if peer else {}))
        for source, peer, action in sources]}


# -- consul_exported_services without a service --------------------------------------------

def test_export_without_a_service_removes_the_peer_from_every_service_in_one_write(server):
    server.script('GET', EXPORTS, (200, exports(36, ('web', ['dc2', 'dc3']), ('api', ['dc2']), ('db', ['dc3']))),
                  (200, exports(37, ('web', ['dc3']), ('db', ['dc3']))))
    server.script('PUT', '/v1/config', (200, True))
    result, raw = run_module(consul_exported_services, connection(server, peers=['dc2'], state='absent'), diff=True)
    assert result['changed'] is True and result['actions'] == ['write_entry']
    (put,) = writes(server)
    assert query(put) == {'cas': '36'}
    assert put.body == {'Kind': 'exported-services', 'Name': 'default', 'Services': [
        {'Name': 'web', 'Consumers': [{'Peer': 'dc3'}]}, {'Name': 'db', 'Consumers': [{'Peer': 'dc3'}]}]}
    assert result['services'] == {'web': ['dc3'], 'api': []}
    assert result['diff'] == {'before': {'peers': ['dc2'], 'services': {'web': ['dc2', 'dc3'], 'api': ['dc2']}},
                              'after': {'peers': ['dc2'], 'services': {'web': ['dc3'], 'api': []}}}
    assert 'consumers' not in result
    assert calls(server) == [('GET', EXPORTS), ('PUT', '/v1/config'), ('GET', EXPORTS)]
    assert ACL_TOKEN not in raw


def test_export_without_a_service_rerun_is_one_read(server):
    server.script('GET', EXPORTS, (200, exports(37, ('web', ['dc3']))))
    result, _raw = run_module(consul_exported_services, connection(server, peers=['dc2'], state='absent'))
    assert result['changed'] is False and result['services'] == {}
    assert calls(server) == [('GET', EXPORTS)]


def test_export_without_a_service_in_check_mode_makes_no_write(server):
    server.script('GET', EXPORTS, (200, exports(36, ('web', ['dc2']))))
    result, _raw = run_module(consul_exported_services, connection(server, peers=['dc2'], state='absent'),
                              check_mode=True, diff=True)
    assert result['changed'] is True and result['actions'] == ['delete_entry']
    assert result['services'] == {'web': []}
    assert writes(server) == []


@pytest.mark.parametrize('args', [{'peers': ['dc2']}, {'state': 'absent'}, {'state': 'absent', 'peers': []}],
                         ids=['present', 'no-peers', 'empty-peers'])
def test_export_without_a_service_needs_absent_and_peers_before_any_call(server, args):
    result, _raw = run_module(consul_exported_services, connection(server, **args))
    assert result['failed'] is True
    assert 'service is required, except with state=absent and a list of peers' in result['msg']
    assert server.requests == []


# -- consul_service_intentions without a destination -----------------------------------------

def test_intentions_without_a_destination_remove_the_peer_from_every_entry_that_names_it(server):
    listed = [intentions('api', 20, ('frontend', 'dc2', 'allow')),
              intentions('db', 21, ('frontend', 'dc3', 'allow')),
              intentions('web', 22, ('frontend', 'dc2', 'allow'), ('batch', None, 'deny'), ('*', 'dc2', 'deny'))]
    server.script('GET', INTENTIONS, (200, listed))
    server.script('DELETE', INTENTIONS + '/api', (200, True))
    server.script('GET', INTENTIONS + '/api', (404, 'Config entry not found'))
    server.script('PUT', '/v1/config', (200, True))
    server.script('GET', INTENTIONS + '/web', (200, intentions('web', 30, ('batch', None, 'deny'))))
    result, raw = run_module(consul_service_intentions, connection(server, source_peer='dc2', state='absent'),
                             diff=True)
    assert result['changed'] is True
    assert result['destinations'] == ['api', 'web'] and result['actions'] == ['delete_entry', 'write_entry']
    delete, put = writes(server)
    assert query(delete) == {'cas': '20'} and query(put) == {'cas': '22'}
    assert put.body == {'Kind': 'service-intentions', 'Name': 'web', 'Sources': [{'Name': 'batch', 'Action': 'deny'}]}
    # One list decides; each entry is read again only after its write.
    assert calls(server) == [('GET', INTENTIONS), ('DELETE', INTENTIONS + '/api'), ('GET', INTENTIONS + '/api'),
                             ('PUT', '/v1/config'), ('GET', INTENTIONS + '/web')]
    assert result['diff']['before'] == {'source_peer': 'dc2', 'destinations': {
        'api': [{'source': 'frontend', 'source_peer': 'dc2', 'action': 'allow', 'description': None}],
        'web': [{'source': 'frontend', 'source_peer': 'dc2', 'action': 'allow', 'description': None},
                {'source': '*', 'source_peer': 'dc2', 'action': 'deny', 'description': None}]}}
    assert result['diff']['after'] == {'source_peer': 'dc2', 'destinations': {'api': [], 'web': []}}
    assert ACL_TOKEN not in raw


def test_intentions_without_a_destination_rerun_is_one_list_read(server):
    server.script('GET', INTENTIONS, (200, [intentions('web', 30, ('batch', None, 'deny'))]))
    result, _raw = run_module(consul_service_intentions, connection(server, source_peer='dc2', state='absent'))
    assert result['changed'] is False and result['destinations'] == [] and result['actions'] == []
    assert calls(server) == [('GET', INTENTIONS)]


def test_intentions_without_a_destination_in_check_mode_make_no_write(server):
    server.script('GET', INTENTIONS, (200, [intentions('web', 22, ('frontend', 'dc2', 'allow'))]))
    result, _raw = run_module(consul_service_intentions, connection(server, source_peer='dc2', state='absent'),
                              check_mode=True)
    assert result['changed'] is True and result['destinations'] == ['web']
    assert calls(server) == [('GET', INTENTIONS)]


def test_intentions_without_a_destination_retry_a_conflict_on_the_entry(server):
    server.script('GET', INTENTIONS, (200, [intentions('web', 22, ('frontend', 'dc2', 'allow'), ('b', None, 'deny'))]))
    server.script('PUT', '/v1/config', (200, False), (200, True))
    server.script('GET', INTENTIONS + '/web',
                  (200, intentions('web', 23, ('frontend', 'dc2', 'allow'), ('b', None, 'deny'), ('c', None, 'deny'))),
                  (200, intentions('web', 24, ('b', None, 'deny'), ('c', None, 'deny'))))
    result, _raw = run_module(consul_service_intentions, connection(server, source_peer='dc2', state='absent'))
    assert result['changed'] is True
    first, second = writes(server)
    assert query(first) == {'cas': '22'} and query(second) == {'cas': '23'}
    assert second.body['Sources'] == [{'Name': 'b', 'Action': 'deny'}, {'Name': 'c', 'Action': 'deny'}]


def test_intentions_without_a_destination_fail_on_a_list_filtered_by_acls_before_any_write(server):
    server.script('GET', INTENTIONS, ('headers', 200, [intentions('web', 22, ('frontend', 'dc2', 'allow'))],
                                      {FILTERED: 'true'}))
    result, _raw = run_module(consul_service_intentions, connection(server, source_peer='dc2', state='absent'))
    assert result['failed'] is True
    assert 'left service-intentions entries out of its list because the ACL token may not read them' in result['msg']
    assert 'nothing was written' in result['msg']
    assert 'service_prefix "" { policy = "read" intentions = "write" }' in result['msg']
    assert writes(server) == []


def test_intentions_of_one_destination_without_a_source_remove_every_rule_of_the_peer(server):
    server.script('GET', INTENTIONS + '/web',
                  (200, intentions('web', 22, ('frontend', 'dc2', 'allow'), ('*', 'dc2', 'deny'), ('x', 'dc3', 'allow'))),
                  (200, intentions('web', 23, ('x', 'dc3', 'allow'))))
    server.script('PUT', '/v1/config', (200, True))
    result, _raw = run_module(consul_service_intentions, connection(server, destination='web', source_peer='dc2',
                                                                    state='absent'))
    assert result['changed'] is True and 'intention' not in result
    assert writes(server)[0].body['Sources'] == [{'Name': 'x', 'Peer': 'dc3', 'Action': 'allow'}]
    assert result['entry']['ModifyIndex'] == 23


@pytest.mark.parametrize('args, message', [
    ({'state': 'absent'}, 'destination is required, except with state=absent and source_peer'),
    ({'source_peer': 'dc2', 'action': 'allow'}, 'destination is required, except with state=absent and source_peer'),
    ({'destination': 'web', 'source_peer': 'dc2', 'action': 'allow'}, 'source is required, except with state=absent'),
    ({'source_peer': 'DC2', 'state': 'absent'}, 'peer names are lowercase'),
])
def test_intentions_without_a_destination_or_source_need_absent_and_a_peer_before_any_call(server, args, message):
    result, _raw = run_module(consul_service_intentions, connection(server, **args))
    assert result['failed'] is True and message in result['msg']
    assert server.requests == []


# -- consul_imported_service_info without a peer ---------------------------------------------

def local_instance(status='passing'):
    return {'Node': {'Node': 'dc1-server', 'Datacenter': 'dc1', 'Address': '127.0.0.1'},
            'Service': {'ID': 'web-1', 'Service': 'web', 'Port': 8080, 'Tags': [], 'Meta': {}},
            'Checks': [{'CheckID': 'service:web-1', 'Name': 'ttl', 'Status': status, 'Output': ''}]}


def test_import_info_without_a_peer_reads_the_cluster_s_own_instances(server):
    server.script('GET', '/v1/health/service/web', (200, [local_instance()]))
    result, _raw = run_module(consul_imported_service_info, connection(server, service='web'))
    assert result['summary'] == {'total': 1, 'passing': 1, 'warning': 0, 'critical': 0}
    assert result['instances'][0]['peer'] is None and result['instances'][0]['datacenter'] == 'dc1'
    assert 'peer' not in query(server.requests[0])
    assert calls(server) == [('GET', '/v1/health/service/web')]  # no peering read when there is no peer


def test_import_info_without_a_peer_and_no_instance_neither_warns_nor_reads_a_peering(server):
    server.script('GET', '/v1/health/service/web', (200, []))
    result, _raw = run_module(consul_imported_service_info, connection(server, service='web'))
    assert result['summary']['total'] == 0 and 'warnings' not in result
    assert calls(server) == [('GET', '/v1/health/service/web')]


def test_import_info_without_a_peer_filtered_by_acls_names_the_local_rules(server):
    server.script('GET', '/v1/health/service/web', ('headers', 200, [], {FILTERED: 'true'}))
    result, _raw = run_module(consul_imported_service_info, connection(server, service='web'))
    assert result['failed'] is True
    assert "instances of 'web' in this cluster" in result['msg']
    assert 'service "web" { policy = "read" } and node_prefix "" { policy = "read" }' in result['msg']


def test_import_info_without_a_peer_waits_for_a_passing_instance(server):
    server.script('GET', '/v1/health/service/web', ('headers', 200, [local_instance('critical')],
                                                    {'X-Consul-Index': '5'}),
                  ('headers', 200, [local_instance()], {'X-Consul-Index': '6'}))
    result, _raw = run_module(consul_imported_service_info, connection(server, service='web', wait=True,
                                                                       wait_timeout=5))
    assert result['summary']['passing'] == 1
    assert query(server.requests[1])['index'] == '5' and 'peer' not in query(server.requests[1])


# -- consul_peering state=absent: exports left to the peer ----------------------------------

def test_deleting_a_peering_that_exports_still_name_warns(server):
    server.script('GET', '/v1/peering/dc2', (200, make_peering('acceptor', 'ACTIVE', Name='dc2')), (404, ''))
    server.script('DELETE', '/v1/peering/dc2', (200, ''))
    server.script('GET', EXPORTS, (200, exports(36, ('web', ['dc2', 'dc3']), ('api', ['dc3']), ('db', ['dc2']))))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc2', state='absent'))
    assert result['changed'] is True
    (warning,) = result['warnings']
    assert "still names peer 'dc2' as a consumer of 'web', 'db'" in warning
    assert 'consul.peering.consul_exported_services (peers: [dc2], state: absent, no service)' in warning
    assert calls(server).count(('GET', EXPORTS)) == 1


@pytest.mark.parametrize('answer', [(200, exports(36, ('web', ['dc3']))), (404, 'Config entry not found'),
                                    (403, DENIED % 'mesh:read')], ids=['other-peers', 'no-entry', 'forbidden'])
def test_deleting_a_peering_no_export_names_or_that_may_not_be_read_does_not_warn(server, answer):
    server.script('GET', '/v1/peering/dc2', (200, make_peering('acceptor', 'ACTIVE', Name='dc2')), (404, ''))
    server.script('DELETE', '/v1/peering/dc2', (200, ''))
    server.script('GET', EXPORTS, answer)
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc2', state='absent'))
    assert result['changed'] is True and 'warnings' not in result
    assert calls(server).count(('GET', EXPORTS)) == 1


def test_deleting_in_check_mode_warns_too_and_writes_nothing(server):
    server.script('GET', '/v1/peering/dc2', (200, make_peering('acceptor', 'ACTIVE', Name='dc2')))
    server.script('GET', EXPORTS, (200, exports(36, ('web', ['dc2']))))
    result, _raw = run_module(consul_peering, connection(server, peer_name='dc2', state='absent'), check_mode=True)
    assert result['changed'] is True and "consumer of 'web'" in result['warnings'][0]
    assert writes(server) == []
