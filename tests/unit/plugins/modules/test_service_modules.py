# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""consul_exported_services, consul_service_intentions and consul_imported_service_info end to end in-process,
against a scripted HTTP server answering as Consul 1.14.11 did: calls made, bodies sent, results."""

from __future__ import annotations

import time

import pytest

from ansible_collections.consul.peering.plugins.module_utils import config_entries
from ansible_collections.consul.peering.plugins.modules import (
    consul_exported_services, consul_imported_service_info, consul_service_intentions,
)
from ansible_collections.consul.peering.tests.support.consul_data import ACL_TOKEN, exports
from ansible_collections.consul.peering.tests.support.loopback_servers import calls, query, writes
from ansible_collections.consul.peering.tests.support.module_runner import connection, run_module

EXPORTS = '/v1/config/exported-services/default'
WEB_INTENTIONS = '/v1/config/service-intentions/web'
HEALTH = '/v1/health/service/web'
FILTERED = {'X-Consul-Results-Filtered-By-ACLs': 'true', 'X-Consul-Index': '12'}
DENIED = "Permission denied: token with AccessorID '7558d477-2c7a-64d1-708e-3f18aad0c624' lacks permission '%s'"


pytestmark = pytest.mark.usefixtures('clean_environment', 'no_cas_pause')


def peerings(*states):
    return [{'ID': 'id-%s' % name, 'Name': name, 'State': state} for name, state in states]


# -- consul_exported_services ---------------------------------------------------------------

def test_export_creates_the_entry_with_cas_0(server):
    server.script('GET', EXPORTS, (404, 'Config entry not found for "exported-services" / "default"'),
                  (200, exports(30, ('web', ['dc2']))))
    server.script('PUT', '/v1/config', (200, True))
    server.script('GET', '/v1/peerings', (200, peerings(('dc2', 'ACTIVE'))))
    result, raw = run_module(consul_exported_services, connection(server, service='web', peers=['dc2']), diff=True)
    assert result['changed'] is True and result['actions'] == ['write_entry']
    put = writes(server)[0]
    assert query(put) == {'cas': '0'}
    assert put.body == {'Kind': 'exported-services', 'Name': 'default',
                        'Services': [{'Name': 'web', 'Consumers': [{'Peer': 'dc2'}]}]}
    assert result['diff'] == {'before': {'service': 'web', 'consumers': []},
                              'after': {'service': 'web', 'consumers': ['dc2']}}
    assert result['consumers'] == ['dc2'] and result['entry']['ModifyIndex'] == 30
    assert 'warnings' not in result
    assert calls(server) == [('GET', EXPORTS), ('PUT', '/v1/config'), ('GET', EXPORTS), ('GET', '/v1/peerings')]
    assert ACL_TOKEN not in raw


def test_export_keeps_other_services_consumers_meta_and_order(server):
    current = exports(36, ('api', ['dc3']), ('web', ['dc3']), Meta={'owner': 'team-a'})
    server.script('GET', EXPORTS, (200, current), (200, exports(37)))
    server.script('PUT', '/v1/config', (200, True))
    server.script('GET', '/v1/peerings', (200, peerings(('dc2', 'ACTIVE'), ('dc3', 'ACTIVE'))))
    result, _raw = run_module(consul_exported_services, connection(server, service='web', peers=['dc2', 'dc3']))
    put = writes(server)[0]
    assert query(put) == {'cas': '36'}
    assert put.body == {'Kind': 'exported-services', 'Name': 'default', 'Meta': {'owner': 'team-a'},
                        'Services': [{'Name': 'api', 'Consumers': [{'Peer': 'dc3'}]},
                                     {'Name': 'web', 'Consumers': [{'Peer': 'dc3'}, {'Peer': 'dc2'}]}]}
    assert result['changed'] is True


def test_export_rerun_makes_one_read_and_no_write(server):
    server.script('GET', EXPORTS, (200, exports(36, ('web', ['dc3', 'dc2']))))
    result, _raw = run_module(consul_exported_services, connection(server, service='web', peers=['dc2', 'dc3']))
    assert result['changed'] is False and result['actions'] == []
    assert calls(server) == [('GET', EXPORTS)]


def test_export_conflict_reads_again_and_merges_with_the_other_writer(server):
    # Another writer exported api between this run's read and its write: Consul refuses the stale index.
    server.script('GET', EXPORTS, (200, exports(36, ('web', ['dc3']))),
                  (200, exports(37, ('web', ['dc3']), ('api', ['dc4']))),
                  (200, exports(38, ('web', ['dc3', 'dc2']), ('api', ['dc4']))))
    server.script('PUT', '/v1/config', (200, False), (200, True))
    server.script('GET', '/v1/peerings', (200, peerings(('dc2', 'ACTIVE'))))
    result, _raw = run_module(consul_exported_services, connection(server, service='web', peers=['dc2']))
    assert result['changed'] is True
    first, second = writes(server)
    assert query(first) == {'cas': '36'} and query(second) == {'cas': '37'}
    assert second.body['Services'] == [{'Name': 'web', 'Consumers': [{'Peer': 'dc3'}, {'Peer': 'dc2'}]},
                                       {'Name': 'api', 'Consumers': [{'Peer': 'dc4'}]}]
    assert result['entry']['ModifyIndex'] == 38
    assert calls(server) == [('GET', EXPORTS), ('PUT', '/v1/config'), ('GET', EXPORTS), ('PUT', '/v1/config'),
                             ('GET', EXPORTS), ('GET', '/v1/peerings')]


def test_export_conflict_with_a_writer_that_made_the_same_change_is_no_change(server):
    server.script('GET', EXPORTS, (200, exports(36, ('web', ['dc3']))), (200, exports(37, ('web', ['dc3', 'dc2']))))
    server.script('PUT', '/v1/config', (200, False))
    result, _raw = run_module(consul_exported_services, connection(server, service='web', peers=['dc2']))
    assert result['changed'] is False  # decided from content, not from the write's answer
    assert len(writes(server)) == 1


def test_export_gives_up_after_bounded_conflicts(server):
    server.script('GET', EXPORTS, *[(200, exports(40 + index, ('api', ['dc%d' % (index + 3)]))) for index in range(12)])
    server.script('PUT', '/v1/config', (200, False))
    result, _raw = run_module(consul_exported_services, connection(server, service='web', peers=['dc2']))
    assert result['failed'] is True
    assert 'after 10 attempts: another writer changed it between every read and write' in result['msg']
    assert len(writes(server)) == config_entries.CAS_ATTEMPTS


def test_export_check_mode_makes_no_write_and_diffs(server):
    server.script('GET', EXPORTS, (200, exports(36, ('web', ['dc3', 'dc4']))))
    server.script('GET', '/v1/peerings', (200, peerings(('dc2', 'ACTIVE'))))
    args = connection(server, service='web', peers=['dc2'], exclusive=True)
    result, _raw = run_module(consul_exported_services, args, check_mode=True, diff=True)
    assert result['changed'] is True and result['actions'] == ['write_entry']
    assert result['diff'] == {'before': {'service': 'web', 'consumers': ['dc3', 'dc4']},
                              'after': {'service': 'web', 'consumers': ['dc2']}}
    assert result['consumers'] == ['dc2']
    assert result['entry']['ModifyIndex'] == 36
    assert writes(server) == []


def test_export_absent_of_the_last_consumer_deletes_the_entry_with_cas(server):
    server.script('GET', EXPORTS, (200, exports(36, ('web', ['dc2']))), (404, 'Config entry not found'))
    server.script('DELETE', EXPORTS, (200, True))
    result, _raw = run_module(consul_exported_services, connection(server, service='web', peers=['dc2'],
                                                                   state='absent'))
    assert result['changed'] is True and result['actions'] == ['delete_entry']
    assert [(r.method, query(r)) for r in writes(server)] == [('DELETE', {'cas': '36'})]
    assert result['entry'] is None and result['consumers'] == []


def test_export_absent_keeps_an_entry_with_meta(server):
    server.script('GET', EXPORTS, (200, exports(36, ('web', ['dc2']), Meta={'owner': 'x'})),
                  (200, exports(37, Meta={'owner': 'x'})))
    server.script('PUT', '/v1/config', (200, True))
    result, _raw = run_module(consul_exported_services, connection(server, service='web', state='absent'))
    assert writes(server)[0].body == {'Kind': 'exported-services', 'Name': 'default', 'Meta': {'owner': 'x'}}
    assert result['changed'] is True


@pytest.mark.parametrize('args, message', [
    ({'service': 'web', 'peers': ['*']}, "peers: '*' is not a peer name"),
    ({'service': 'web', 'peers': ['DC2']}, 'peer names are lowercase'),
    ({'service': 'web', 'peers': ['']}, "peers '' is not a valid peer name"),
    ({'service': 'web', 'peers': ['dc2', 'dc2']}, "peers lists 'dc2' more than once"),
    ({'service': '', 'peers': ['dc2']}, 'service is empty'),
    ({'service': 'web'}, 'peers is required with state=present'),
    ({'service': 'web', 'peers': []}, 'peers is required with state=present'),
    ({'service': 'web', 'state': 'absent', 'exclusive': True}, 'exclusive applies to state=present only'),
])
def test_export_bad_input_fails_before_any_call(server, args, message):
    result, _raw = run_module(consul_exported_services, connection(server, **args))
    assert result['failed'] is True and message in result['msg']
    assert server.requests == []


def test_export_warns_about_peers_without_an_active_peering(server):
    server.script('GET', EXPORTS, (404, ''), (200, exports(30, ('web', ['dc2', 'dc3', 'dc9']))))
    server.script('PUT', '/v1/config', (200, True))
    server.script('GET', '/v1/peerings', (200, peerings(('dc2', 'ACTIVE'), ('dc3', 'PENDING'))))
    result, _raw = run_module(consul_exported_services, connection(server, service='web', peers=['dc2', 'dc3', 'dc9']))
    assert result['changed'] is True
    assert len(result['warnings']) == 2
    assert "'dc3', whose peering on this cluster is PENDING, not ACTIVE" in result['warnings'][0]
    assert "names peer 'dc9', and this cluster has no peering of that name" in result['warnings'][1]


def test_export_skips_the_peer_check_silently_when_the_token_may_not_list_peerings(server):
    server.script('GET', EXPORTS, (404, ''), (200, exports(30, ('web', ['dc9']))))
    server.script('PUT', '/v1/config', (200, True))
    server.script('GET', '/v1/peerings', (403, DENIED % 'peering:read'))
    result, _raw = run_module(consul_exported_services, connection(server, service='web', peers=['dc9']))
    assert result['changed'] is True and 'warnings' not in result


def test_export_403_on_write_names_mesh_write_and_a_rule(server):
    server.script('GET', EXPORTS, (404, ''))
    server.script('PUT', '/v1/config', (403, DENIED % 'mesh:write'))
    result, raw = run_module(consul_exported_services, connection(server, service='web', peers=['dc2']))
    assert result['failed'] is True
    assert 'needs the mesh:write permission' in result['msg']
    assert 'A policy rule that grants it: mesh = "write"' in result['msg']
    assert ACL_TOKEN not in raw


def test_export_403_on_read_names_mesh_read(server):
    server.script('GET', EXPORTS, (403, DENIED % 'mesh:read'))
    result, _raw = run_module(consul_exported_services, connection(server, service='web', peers=['dc2']))
    assert 'needs the mesh:read permission' in result['msg'] and 'mesh = "read"' in result['msg']
    assert writes(server) == []


def test_export_validation_error_from_consul_is_shown(server):
    server.script('GET', EXPORTS, (404, ''))
    server.script('PUT', '/v1/config', (500, 'Services[0]: must have at least one consumer'))
    result, _raw = run_module(consul_exported_services, connection(server, service='web', peers=['dc2']))
    assert 'must have at least one consumer' in result['msg']
    assert len(writes(server)) == 1  # a refused write is not repeated


# -- consul_service_intentions --------------------------------------------------------------

def intentions(index, *sources):
    return {'Kind': 'service-intentions', 'Name': 'web', 'CreateIndex': 49, 'ModifyIndex': index,
            'Sources': [dict(source, Precedence=9, Type='consul') for source in sources]}


DENY_ALL = {'Name': '*', 'Action': 'deny'}
FRONTEND = {'Name': 'frontend', 'Peer': 'dc2', 'Action': 'allow'}


def intention_args(server, **args):
    base = dict(destination='web', source='frontend', source_peer='dc2', action='allow')
    base.update(args)
    return connection(server, **dict((key, value) for key, value in base.items() if value is not None))


def test_intention_adds_a_peer_source_and_keeps_the_others(server):
    server.script('GET', WEB_INTENTIONS, (200, intentions(49, DENY_ALL)), (200, intentions(50, DENY_ALL, FRONTEND)))
    server.script('PUT', '/v1/config', (200, True))
    server.script('GET', '/v1/peerings', (200, peerings(('dc2', 'ACTIVE'))))
    result, _raw = run_module(consul_service_intentions, intention_args(server), diff=True)
    put = writes(server)[0]
    assert query(put) == {'cas': '49'}
    assert put.body == {'Kind': 'service-intentions', 'Name': 'web', 'Sources': [DENY_ALL, FRONTEND]}
    assert result['changed'] is True
    assert result['intention'] == {'source': 'frontend', 'source_peer': 'dc2', 'action': 'allow', 'description': None}
    assert result['diff']['before'] is None and result['diff']['after']['action'] == 'allow'


def test_intention_rerun_ignores_precedence_and_type(server):
    server.script('GET', WEB_INTENTIONS, (200, intentions(50, DENY_ALL, FRONTEND)))
    result, _raw = run_module(consul_service_intentions, intention_args(server))
    assert result['changed'] is False
    assert calls(server) == [('GET', WEB_INTENTIONS)]


def test_intention_conflict_is_retried(server):
    server.script('GET', WEB_INTENTIONS, (404, ''), (200, intentions(51, DENY_ALL)),
                  (200, intentions(52, DENY_ALL, FRONTEND)))
    server.script('PUT', '/v1/config', (200, False), (200, True))
    server.script('GET', '/v1/peerings', (200, peerings(('dc2', 'ACTIVE'))))
    result, _raw = run_module(consul_service_intentions, intention_args(server))
    first, second = writes(server)
    assert query(first) == {'cas': '0'} and query(second) == {'cas': '51'}
    assert second.body['Sources'] == [DENY_ALL, FRONTEND]
    assert result['changed'] is True


def test_intention_absent_of_the_last_source_deletes_the_entry(server):
    server.script('GET', WEB_INTENTIONS, (200, intentions(50, FRONTEND)), (404, ''))
    server.script('DELETE', WEB_INTENTIONS, (200, True))
    result, _raw = run_module(consul_service_intentions, intention_args(server, state='absent', action=None))
    assert [(r.method, query(r)) for r in writes(server)] == [('DELETE', {'cas': '50'})]
    assert result['changed'] is True and result['intention'] is None


def test_intention_check_mode_makes_no_write(server):
    server.script('GET', WEB_INTENTIONS, (200, intentions(50, FRONTEND)))
    result, _raw = run_module(consul_service_intentions, intention_args(server, action='deny'), check_mode=True,
                              diff=True)
    assert result['changed'] is True and result['intention']['action'] == 'deny'
    assert result['diff']['before']['action'] == 'allow'
    assert writes(server) == []


def test_intention_403_names_intentions_write_on_the_destination(server):
    server.script('GET', WEB_INTENTIONS, (404, ''))
    server.script('PUT', '/v1/config', (403, "Permission denied: token with AccessorID 'x' lacks permission "
                                             "'intention:write' on \"web\""))
    result, _raw = run_module(consul_service_intentions, intention_args(server))
    assert 'needs the intentions:write permission' in result['msg']
    assert 'service "web" { policy = "read" intentions = "write" }' in result['msg']


def test_intention_403_on_the_wildcard_destination_names_a_prefix_rule(server):
    server.script('GET', '/v1/config/service-intentions/%2A',
                  (403, "Permission denied: token with AccessorID 'x' lacks permission 'intention:read' on \"*\""))
    result, _raw = run_module(consul_service_intentions, intention_args(server, destination='*'))
    assert 'needs the intentions:read permission' in result['msg']
    assert 'service_prefix "" { policy = "read" intentions = "read" }' in result['msg']
    assert server.requests[0].path == '/v1/config/service-intentions/%2A'


def test_intention_without_connect_says_how_to_turn_it_on(server):
    server.script('GET', WEB_INTENTIONS, (404, ''))
    server.script('PUT', '/v1/config', (500, 'Connect must be enabled in order to use this endpoint'))
    result, _raw = run_module(consul_service_intentions, intention_args(server))
    assert result['failed'] is True
    assert 'Connect is off on this Consul cluster' in result['msg']
    assert 'connect { enabled = true }' in result['msg']
    assert len(writes(server)) == 1


@pytest.mark.parametrize('args, message', [
    ({'source_peer': '*'}, "source_peer: '*' is not a peer name"),
    ({'source_peer': 'Dc2'}, 'peer names are lowercase'),
    ({'destination': ''}, 'destination is empty'),
    ({'source': ' frontend'}, 'white space'),
    ({'action': None}, 'action is required with state=present'),
])
def test_intention_bad_input_fails_before_any_call(server, args, message):
    result, _raw = run_module(consul_service_intentions, intention_args(server, **args))
    assert result['failed'] is True and message in result['msg']
    assert server.requests == []


def test_intention_warns_once_about_legacy_sources(server):
    legacy = {'Name': 'batch', 'Action': 'allow', 'LegacyID': '627dfa95', 'LegacyMeta': {'a': 'b'}}
    server.script('GET', WEB_INTENTIONS, (200, intentions(50, legacy)), (200, intentions(51, legacy)),
                  (200, intentions(52, {'Name': 'batch', 'Action': 'allow'}, FRONTEND)))
    server.script('PUT', '/v1/config', (200, False), (200, True))
    server.script('GET', '/v1/peerings', (200, peerings(('dc2', 'ACTIVE'))))
    result, _raw = run_module(consul_service_intentions, intention_args(server))
    assert writes(server)[-1].body['Sources'] == [{'Name': 'batch', 'Action': 'allow'}, FRONTEND]
    assert [warning for warning in result['warnings'] if 'legacy intentions API' in warning] == [result['warnings'][0]]
    assert len(result['warnings']) == 1


# -- consul_imported_service_info -----------------------------------------------------------

def imported(service_id, status='passing'):
    return {'Node': {'Node': 'dc1-server', 'Address': '127.0.0.1', 'Datacenter': 'dc1', 'PeerName': 'dc1'},
            'Service': {'ID': service_id, 'Service': 'web', 'Tags': [], 'Address': '', 'Port': 8080, 'PeerName': 'dc1'},
            'Checks': [{'CheckID': '%s:overall-check' % service_id, 'Name': 'overall-check', 'Status': status,
                        'Output': ''}]}


def import_args(server, **args):
    base = dict(service='web', peer='dc1')
    base.update(args)
    return connection(server, **base)


def test_import_returns_instances_and_a_summary(server):
    server.script('GET', HEALTH, ('headers', 200, [imported('web-1'), imported('web-2', 'critical')],
                                  {'X-Consul-Index': '41'}))
    result, _raw = run_module(consul_imported_service_info, import_args(server))
    assert result['changed'] is False
    assert result['summary'] == {'total': 2, 'passing': 1, 'warning': 0, 'critical': 1}
    assert [(i['id'], i['status'], i['peer']) for i in result['instances']] == [('web-1', 'passing', 'dc1'),
                                                                                ('web-2', 'critical', 'dc1')]
    assert query(server.requests[0]) == {'peer': 'dc1'}
    assert calls(server) == [('GET', HEALTH)]


def test_import_filtered_by_acls_is_missing_rights_not_no_instances(server):
    server.script('GET', HEALTH, ('headers', 200, [], FILTERED))
    result, _raw = run_module(consul_imported_service_info, import_args(server))
    assert result['failed'] is True
    assert 'X-Consul-Results-Filtered-By-ACLs: true' in result['msg']
    assert 'service:read and node:read' in result['msg']
    assert 'service_prefix "" { policy = "read" } and node_prefix "" { policy = "read" }' in result['msg']


def test_import_filtered_by_acls_fails_a_wait_at_once(server):
    server.script('GET', HEALTH, ('headers', 200, [], FILTERED))
    started = time.monotonic()
    result, _raw = run_module(consul_imported_service_info, import_args(server, wait=True, wait_timeout=30))
    assert result['failed'] is True and 'service:read and node:read' in result['msg']
    assert time.monotonic() - started < 5 and len(server.requests) == 1


def test_import_nothing_found_warns_about_the_peering(server):
    server.script('GET', HEALTH, ('headers', 200, [], {'X-Consul-Index': '1'}))
    server.script('GET', '/v1/peering/dc1', (404, ''))
    result, _raw = run_module(consul_imported_service_info, import_args(server))
    assert result['instances'] == [] and result['summary']['total'] == 0
    assert result['warnings'] == ["No instance of 'web' is imported from peer 'dc1': this cluster has no peering "
                                  "named 'dc1'"]


def test_import_nothing_found_without_peering_rights_does_not_warn(server):
    server.script('GET', HEALTH, ('headers', 200, [], {'X-Consul-Index': '1'}))
    server.script('GET', '/v1/peering/dc1', (403, DENIED % 'peering:read'))
    result, _raw = run_module(consul_imported_service_info, import_args(server))
    assert not result.get('failed') and 'warnings' not in result


def test_import_wait_blocks_on_the_index_until_an_instance_passes(server):
    server.script('GET', HEALTH, ('headers', 200, [], {'X-Consul-Index': '35'}),
                  ('headers', 200, [imported('web-1', 'critical')], {'X-Consul-Index': '40'}),
                  ('headers', 200, [imported('web-1')], {'X-Consul-Index': '41'}))
    server.script('GET', '/v1/peering/dc1', (200, {'Name': 'dc1', 'State': 'ACTIVE'}))
    result, _raw = run_module(consul_imported_service_info, import_args(server, wait=True, wait_timeout=60))
    assert result['summary']['passing'] == 1
    health = [query(r) for r in server.requests if r.path.startswith(HEALTH)]
    assert health[0] == {'peer': 'dc1'}
    # Blocking queries: each read asks Consul to hold its answer until the index moves, within the timeout.
    assert health[1] == {'peer': 'dc1', 'index': '35', 'wait': '24s'}
    assert health[2] == {'peer': 'dc1', 'index': '40', 'wait': '24s'}


def test_import_wait_reads_through_a_burst_of_server_errors(server):
    # More 503s than the client retries in one read: the wait reads again after them.
    server.script('GET', HEALTH, *([(503, 'rpc error: No cluster leader')] * 6 +
                                   [('headers', 200, [imported('web-1')], {'X-Consul-Index': '41'})]))
    result, _raw = run_module(consul_imported_service_info, import_args(server, wait=True, wait_timeout=30))
    assert result['summary']['passing'] == 1
    assert len(server.requests) == 7


def test_import_wait_times_out_with_the_last_state_seen(server):
    server.script('GET', HEALTH, ('headers', 200, [imported('web-1', 'critical')], {'X-Consul-Index': '0'}))
    result, _raw = run_module(consul_imported_service_info, import_args(server, wait=True, wait_timeout=1))
    assert result['failed'] is True
    assert result['msg'] == ("Timed out after 1s waiting for a passing instance of 'web' imported from peer 'dc1'; "
                             "last seen: 1 instance, none passing (web-1 critical)")


def test_import_wait_never_reads_past_its_deadline(server):
    # A server that holds every answer for 20 s: the wait's deadline cuts the read short.
    server.script('GET', HEALTH, ('slow', 20, 200, []))
    started = time.monotonic()
    result, _raw = run_module(consul_imported_service_info, import_args(server, wait=True, wait_timeout=2))
    elapsed = time.monotonic() - started
    assert result['failed'] is True and 'Timed out after 2s' in result['msg']
    assert 'last error' not in result['msg']
    assert elapsed < 4


@pytest.mark.parametrize('args, message', [
    ({'peer': '*'}, "peer: '*' is not a peer name"), ({'peer': 'DC1'}, 'peer names are lowercase'),
    ({'service': ''}, 'service is empty'), ({'wait_timeout': 0}, 'wait_timeout must be a positive number'),
])
def test_import_bad_input_fails_before_any_call(server, args, message):
    result, _raw = run_module(consul_imported_service_info, import_args(server, **args))
    assert result['failed'] is True and message in result['msg']
    assert server.requests == []
