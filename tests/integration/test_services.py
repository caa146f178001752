# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Services across peers against real Consul (ACLs and HTTPS on): exports, intentions and imports.

dc1 exports, dc2 imports. Services are registered on dc1 through the agent API (catalog registrations on
the agent's own node are undone by anti-entropy). Every test names its own services, so the shared
exported-services entry of dc1 only ever holds what the tests that run put there, and each test removes
what it exported. Calls are counted in Consul's own request log.
"""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from ansible_collections.consul.peering.tests.support.ansible_cli import collections_path, run_playbook, user_environ
from ansible_collections.consul.peering.tests.support.consul_state import (
    EXPORTS, acl_token, consumers, delete_everywhere, read_exports, unique_name, wait_for, write_calls,
)
from ansible_collections.consul.peering.tests.support.fault_proxy import PASS, FaultProxy
from ansible_collections.consul.peering.tests.support.plays import task
from ansible_collections.consul.peering.tests.support.secret_scan import assert_no_secrets

IMPORT_RULES = 'service_prefix "" { policy = "read" }\nnode_prefix "" { policy = "read" }'


# -- Consul's own view, and changes made by "someone else" ----------------------------------------

def edit_exports(cluster, change):
    """Change the exported-services entry through the API with compare-and-set, as another tool would."""
    for _attempt in range(20):
        entry = read_exports(cluster) or {'Kind': 'exported-services', 'Name': 'default'}
        index = entry.pop('ModifyIndex', 0)
        entry.pop('CreateIndex', None)
        change(entry)
        if entry.get('Services') or entry.get('Meta'):
            answer = cluster.api('PUT', '/v1/config?cas=%d' % index, json=entry).json()
        else:
            answer = cluster.api('DELETE', '%s?cas=%d' % (EXPORTS, index)).json()
        if answer is True:
            return
    raise AssertionError('could not edit the exported-services entry of %s' % cluster.name)


def unexport(cluster, *services):
    edit_exports(cluster, lambda entry: entry.update(
        Services=[item for item in entry.get('Services') or [] if item['Name'] not in services]))


def imported(cluster, service, peer):
    """Instances of `service` imported from `peer`, as Consul's health endpoint lists them (management token)."""
    return cluster.api('GET', '/v1/health/service/%s?peer=%s' % (service, peer)).json()


def config_calls(cluster, since):
    return [(call.method, call.url.split('?')[0]) for call in cluster.http_requests(since=since)
            if call.url.startswith(('/v1/config', '/v1/peering', '/v1/health'))]


# -- fixtures -------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def peers(dc1, dc2):
    """dc1 and dc2 peered under fresh names: `dc2` is what dc1 calls dc2, `dc1` what dc2 calls dc1."""
    names = SimpleNamespace(dc2=unique_name('svc-dc2'), dc1=unique_name('svc-dc1'))
    token = dc1.api('POST', '/v1/peering/token', json={'PeerName': names.dc2}).json()['PeeringToken']
    dc2.api('POST', '/v1/peering/establish', json={'PeerName': names.dc1, 'PeeringToken': token})
    wait_for(lambda: all(cluster.api('GET', '/v1/peering/%s' % name).json()['State'] == 'ACTIVE'
                         for cluster, name in ((dc1, names.dc2), (dc2, names.dc1))), what='both sides ACTIVE')
    yield names
    delete_everywhere([dc1], [names.dc2])
    delete_everywhere([dc2], [names.dc1])


@pytest.fixture
def services(dc1):
    """register(prefix) registers a fresh service on dc1 through the agent API, with a passing TTL check, and
    returns its name; at the end, each is deregistered and removed from the exported-services entry."""
    registered = []

    def register(prefix='web', status='passing'):
        name = unique_name(prefix)
        dc1.api('PUT', '/v1/agent/service/register', json={
            'Name': name, 'ID': '%s-1' % name, 'Port': 8080, 'Check': {'TTL': '10m', 'Status': status}})
        registered.append(name)
        return name

    yield register
    unexport(dc1, *registered)
    for name in registered:
        dc1.api('PUT', '/v1/agent/service/deregister/%s-1' % name)


@pytest.fixture(scope='module')
def plain_without_connect(cluster_factory):
    """One cluster with Connect off and plain HTTP (for the fault proxy): ACLs on, default deny."""
    return cluster_factory(1, acl=True, tls=False, config_overrides={'connect': {'enabled': False}})[0]


# A module run in a process of its own that starts at a given moment (time.time()); arguments on stdin.
_RUN_AT = """
import json, sys, time
from importlib import import_module
from ansible_collections.consul.peering.tests.support.module_runner import run_module
module = import_module('ansible_collections.consul.peering.plugins.modules.' + sys.argv[1])
args = json.load(sys.stdin)
time.sleep(max(0, float(sys.argv[2]) - time.time()))
print(json.dumps(run_module(module, args)[0]))
"""


def run_at(start, module, args):
    """Run `module` with `args` in a new Python process, from the moment `start` on; return its result."""
    process = subprocess.run([sys.executable, '-c', _RUN_AT, module, repr(start)], input=json.dumps(args),
                             capture_output=True, text=True, timeout=120, check=False,
                             env=user_environ(PYTHONPATH=collections_path()))
    assert process.returncode == 0, process.stderr[-3000:]
    return json.loads(process.stdout.strip().splitlines()[-1])


def export(cluster, service, *peer_names, **args):
    return task('Export %s' % service, cluster, 'consul_exported_services', service=service, peers=list(peer_names),
                **args)


# -- exporting and importing ----------------------------------------------------------------

def test_exported_service_is_seen_healthy_on_the_peer_and_gone_after_absent(dc1, dc2, peers, services):
    web = services('web')
    run = run_playbook([
        export(dc1, web, peers.dc2),
        dict(task('Wait for the import on dc2', dc2, 'consul_imported_service_info', service=web, peer=peers.dc1,
                  wait=True, wait_timeout=30)),
    ], diff=True)
    assert run.returncode == 0, run.report()
    exported = run.result('Export %s' % web)
    assert exported['changed'] is True and exported['actions'] == ['write_entry']
    assert exported['consumers'] == [peers.dc2]
    assert exported['diff'] == {'before': {'service': web, 'consumers': []},
                                'after': {'service': web, 'consumers': [peers.dc2]}}
    assert 'warnings' not in exported  # the peering is ACTIVE
    seen = run.result('Wait for the import on dc2')
    assert seen['summary'] == {'total': 1, 'passing': 1, 'warning': 0, 'critical': 0}
    assert seen['instances'][0]['id'] == '%s-1' % web and seen['instances'][0]['peer'] == peers.dc1
    # Consul's own view on both sides.
    assert consumers(dc1, web) == [peers.dc2]
    assert [entry['Service']['ID'] for entry in imported(dc2, web, peers.dc1)] == ['%s-1' % web]

    run = run_playbook([task('Unexport', dc1, 'consul_exported_services', service=web, state='absent')])
    assert run.returncode == 0, run.report()
    assert run.result('Unexport')['changed'] is True and consumers(dc1, web) == []
    wait_for(lambda: imported(dc2, web, peers.dc1) == [], timeout=10, what='the import gone on dc2')
    run = run_playbook([task('Read the import', dc2, 'consul_imported_service_info', service=web, peer=peers.dc1)])
    assert run.returncode == 0, run.report()
    assert run.result('Read the import')['summary']['total'] == 0


def test_a_critical_instance_is_reported_and_not_waited_into_passing(dc1, dc2, peers, services):
    web = services('sick', status='critical')
    assert run_playbook([export(dc1, web, peers.dc2)]).returncode == 0
    wait_for(lambda: imported(dc2, web, peers.dc1), timeout=10, what='the import on dc2')
    run = run_playbook([task('Wait', dc2, 'consul_imported_service_info', service=web, peer=peers.dc1, wait=True,
                             wait_timeout=3)])
    assert run.returncode != 0
    assert "last seen: 1 instance, none passing (%s-1 critical)" % web in run.result('Wait')['msg']


def test_concurrent_exports_of_different_services_all_land(dc1, peers, services, harness_note):
    rounds, conflicts = 5, 0
    for _round in range(rounds):
        names = [services('race'), services('race')]
        mark = dc1.log_mark()
        start = time.time() + 3  # both processes import everything first, then start in the same millisecond
        with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
            results = list(pool.map(lambda name: run_at(start, 'consul_exported_services', dict(
                dc1.module_args(), service=name, peers=[peers.dc2])), names))
        assert all(result.get('changed') is True for result in results), results
        for name in names:
            assert consumers(dc1, name) == [peers.dc2], name
        conflicts += len([call for call in write_calls(dc1, mark) if call.url.startswith('/v1/config')]) - len(names)
    harness_note('concurrent exports: %d conflicting write(s) retried in %d rounds of 2 processes' % (conflicts, rounds))


def test_a_conflicting_write_is_retried_on_real_consul(plain_without_connect):
    cluster = plain_without_connect
    with FaultProxy(cluster.address) as proxy:
        # Hold the module's first write for 1.5 s; as soon as it arrives, another writer exports "api".
        proxy.inject('PUT', '/v1/config', ('delay', 1.5), PASS)

        def write_while_the_module_writes():
            wait_for(lambda: any(call[0] == 'PUT' for call in proxy.calls), timeout=120, interval=0.02,
                     what="the module's write")
            edit_exports(cluster, lambda entry: entry.setdefault('Services', []).append(
                {'Name': 'api', 'Consumers': [{'Peer': 'dc9'}]}))
        other = threading.Thread(target=write_while_the_module_writes)
        other.start()
        args = dict(cluster.module_args(), port=proxy.port)
        run = run_playbook([{'name': 'Export web', 'consul.peering.consul_exported_services': dict(
            args, service='web', peers=['dc2'])}])
        other.join()
    assert run.returncode == 0, run.report()
    assert run.result('Export web')['changed'] is True
    puts = [call for call in proxy.calls if call[0] == 'PUT']
    assert len(puts) == 2 and 'cas=0' in puts[0][1] and 'cas=0' not in puts[1][1]
    assert consumers(cluster, 'api') == ['dc9'] and consumers(cluster, 'web') == ['dc2']
    unexport(cluster, 'api', 'web')


def test_an_export_written_by_someone_else_survives_every_module_run(dc1, peers, services):
    web, theirs = services('web'), services('theirs')
    edit_exports(dc1, lambda entry: (entry.setdefault('Services', []).append(
        {'Name': theirs, 'Consumers': [{'Peer': peers.dc2}, {'Peer': 'elsewhere'}]}),
        entry.update(Meta={'owner': 'someone-else'})))
    before = [item for item in read_exports(dc1)['Services'] if item['Name'] == theirs]
    try:
        for args in ({'peers': [peers.dc2]}, {'peers': [peers.dc2, 'later'], 'exclusive': True},
                     {'peers': ['later'], 'state': 'absent'}, {'state': 'absent'}):
            run = run_playbook([task('Export', dc1, 'consul_exported_services', service=web, **args)])
            assert run.returncode == 0, run.report()
            entry = read_exports(dc1)
            assert [item for item in entry['Services'] if item['Name'] == theirs] == before, args
            assert entry['Meta'] == {'owner': 'someone-else'}
        # Their export still works, too.
        assert consumers(dc1, theirs) == [peers.dc2, 'elsewhere']
    finally:
        edit_exports(dc1, lambda entry: entry.pop('Meta', None))


def test_rerun_makes_one_read_and_no_write(dc1, peers, services):
    web = services('web')
    tasks = [export(dc1, web, peers.dc2),
             task('Allow', dc1, 'consul_service_intentions', destination=web, source='frontend',
                  source_peer=peers.dc2, action='allow')]
    try:
        assert run_playbook(tasks).returncode == 0
        for one in tasks:
            mark = dc1.log_mark()
            run = run_playbook([one])
            assert run.returncode == 0, run.report()
            assert run.changed_tasks == []
            calls = config_calls(dc1, mark)
            assert len(calls) == 1 and calls[0][0] == 'GET', calls
            assert write_calls(dc1, mark) == []
    finally:
        dc1.api('DELETE', '/v1/config/service-intentions/%s' % web)


def test_check_mode_makes_no_write(dc1, peers, services):
    web = services('web')
    mark = dc1.log_mark()
    run = run_playbook([export(dc1, web, peers.dc2),
                        task('Allow', dc1, 'consul_service_intentions', destination=web, source='*',
                             source_peer=peers.dc2, action='deny')], check=True, diff=True)
    assert run.returncode == 0, run.report()
    assert run.result('Export %s' % web)['changed'] is True
    assert run.result('Export %s' % web)['diff']['after']['consumers'] == [peers.dc2]
    assert run.result('Allow')['changed'] is True and run.result('Allow')['diff']['before'] is None
    assert write_calls(dc1, mark) == []
    assert consumers(dc1, web) == []
    dc1.api('GET', '/v1/config/service-intentions/%s' % web, expect=(404,))


# -- intentions -----------------------------------------------------------------------------

def test_intention_for_a_peer_source_merges_with_other_sources(dc1, peers, services):
    web = services('web')
    path = '/v1/config/service-intentions/%s' % web
    dc1.api('PUT', '/v1/config', json={'Kind': 'service-intentions', 'Name': web,
                                       'Sources': [{'Name': 'batch', 'Action': 'deny'}]})
    try:
        run = run_playbook([task('Allow', dc1, 'consul_service_intentions', destination=web, source='frontend',
                                 source_peer=peers.dc2, action='allow', description='frontend of dc2')])
        assert run.returncode == 0, run.report()
        assert run.result('Allow')['intention'] == {'source': 'frontend', 'source_peer': peers.dc2,
                                                    'action': 'allow', 'description': 'frontend of dc2'}
        sources = dc1.api('GET', path).json()['Sources']
        assert [(source['Name'], source.get('Peer'), source['Action']) for source in sources] == [
            ('batch', None, 'deny'), ('frontend', peers.dc2, 'allow')]
        match = dc1.api('GET', '/v1/connect/intentions/match?by=destination&name=%s' % web).json()[web]
        assert {(i['SourceName'], i.get('SourcePeer')) for i in match} == {('batch', None), ('frontend', peers.dc2)}

        run = run_playbook([task('Remove', dc1, 'consul_service_intentions', destination=web, source='frontend',
                                 source_peer=peers.dc2, state='absent'),
                            task('Remove batch', dc1, 'consul_service_intentions', destination=web, source='batch',
                                 state='absent')])
        assert run.returncode == 0, run.report()
        assert run.result('Remove')['changed'] is True and run.result('Remove')['entry']['Sources'][0]['Name'] == 'batch'
        # The last source gone: Consul refuses an entry without sources, so the module deleted it.
        assert run.result('Remove batch')['actions'] == ['delete_entry']
        dc1.api('GET', path, expect=(404,))
    finally:
        dc1.api('DELETE', path)


# -- least privilege ------------------------------------------------------------------------

def test_exporting_needs_exactly_mesh_write(dc1, peers, services):
    web = services('web')
    enough, read_only, peering_only = (acl_token(dc1, rules) for rules in (
        'mesh = "write"\npeering = "read"', 'mesh = "read"', 'peering = "read"'))
    run = run_playbook([export(dc1, web, peers.dc2, token=read_only)])
    assert run.returncode != 0
    message = run.result('Export %s' % web)['msg']
    assert "lacks permission 'mesh:write'" in message and 'A policy rule that grants it: mesh = "write"' in message
    run = run_playbook([export(dc1, web, peers.dc2, token=peering_only)])
    assert "lacks permission 'mesh:read'" in run.result('Export %s' % web)['msg']
    assert consumers(dc1, web) == []

    run = run_playbook([export(dc1, web, peers.dc2, 'nowhere', token=enough)])
    assert run.returncode == 0, run.report()
    assert consumers(dc1, web) == [peers.dc2, 'nowhere']
    warnings = run.result('Export %s' % web)['warnings']
    assert len(warnings) == 1 and "names peer 'nowhere', and this cluster has no peering of that name" in warnings[0]
    assert_no_secrets(run.output, enough, dc1.token)


def test_without_peering_read_the_peer_check_is_skipped_silently(dc1, services):
    web = services('web')
    run = run_playbook([export(dc1, web, 'nowhere', token=acl_token(dc1, 'mesh = "write"'))])
    assert run.returncode == 0, run.report()
    assert 'warnings' not in run.result('Export %s' % web)
    assert consumers(dc1, web) == ['nowhere']


def test_intentions_need_intentions_write_on_the_destination(dc1, peers, services):
    web = services('web')
    rule = 'service "%s" { policy = "read"\n  intentions = "%s" }'
    enough, one_less = acl_token(dc1, rule % (web, 'write')), acl_token(dc1, rule % (web, 'read'))
    allow = {'destination': web, 'source': 'frontend', 'source_peer': peers.dc2, 'action': 'allow'}
    try:
        run = run_playbook([task('Allow', dc1, 'consul_service_intentions', token=one_less, **allow)])
        assert run.returncode != 0
        message = run.result('Allow')['msg']
        assert "lacks permission 'intention:write' on \"%s\"" % web in message
        assert 'needs the intentions:write permission' in message
        assert 'service "%s" { policy = "read" intentions = "write" }' % web in message
        run = run_playbook([task('Allow', dc1, 'consul_service_intentions', token=enough, **allow)])
        assert run.returncode == 0, run.report()
        assert run.result('Allow')['changed'] is True
    finally:
        dc1.api('DELETE', '/v1/config/service-intentions/%s' % web)


def test_reading_imports_needs_service_and_node_read_on_everything(dc1, dc2, peers, services):
    web = services('web')
    assert run_playbook([export(dc1, web, peers.dc2)]).returncode == 0
    wait_for(lambda: imported(dc2, web, peers.dc1), timeout=10, what='the import on dc2')
    for rules in ('service_prefix "" { policy = "read" }', 'service "%s" { policy = "read" }\n'
                  'node_prefix "" { policy = "read" }' % web):
        run = run_playbook([task('Read', dc2, 'consul_imported_service_info', service=web, peer=peers.dc1,
                                 token=acl_token(dc2, rules))])
        assert run.returncode != 0, rules.report()
        message = run.result('Read')['msg']
        assert 'X-Consul-Results-Filtered-By-ACLs: true' in message and 'service:read and node:read' in message
    run = run_playbook([task('Read', dc2, 'consul_imported_service_info', service=web, peer=peers.dc1, wait=True,
                             wait_timeout=10, token=acl_token(dc2, IMPORT_RULES))])
    assert run.returncode == 0, run.report()
    assert run.result('Read')['summary']['passing'] == 1


# -- bad input ------------------------------------------------------------------------------

BAD_EXPORTS = [
    ('wildcard-peer', {'service': 'web', 'peers': ['*']}, "'*' is not a peer name: Consul refuses to export"),
    ('wrong-case-peer', {'service': 'web', 'peers': ['DC2']}, 'peer names are lowercase'),
    ('empty-service', {'service': '', 'peers': ['dc2']}, 'service is empty'),
    ('duplicate-peers', {'service': 'web', 'peers': ['dc2', 'dc2']}, "peers lists 'dc2' more than once"),
    ('no-peers', {'service': 'web'}, 'peers is required with state=present'),
]


@pytest.mark.parametrize('case, args, message', BAD_EXPORTS, ids=[case[0] for case in BAD_EXPORTS])
def test_bad_export_input_fails_clearly_without_a_call(dc1, case, args, message):
    mark = dc1.log_mark()
    run = run_playbook([task('Export', dc1, 'consul_exported_services', **args)])
    assert run.returncode != 0, case.report()
    result = run.result('Export')
    assert message in result['msg'] and 'Traceback' not in run.output
    assert config_calls(dc1, mark) == [] and write_calls(dc1, mark) == []


def test_a_destination_without_connect_gets_a_clear_message(plain_without_connect):
    cluster = plain_without_connect
    mark = cluster.log_mark()
    run = run_playbook([task('Allow', cluster, 'consul_service_intentions', destination='web', source='frontend',
                             source_peer='dc2', action='allow')])
    assert run.returncode != 0
    message = run.result('Allow')['msg']
    assert 'Connect must be enabled in order to use this endpoint' in message
    assert 'Connect is off on this Consul cluster' in message and 'connect { enabled = true }' in message
    # The one write was refused, and nothing was stored.
    assert [call.method for call in write_calls(cluster, mark)] == ['PUT']
    cluster.api('GET', '/v1/config/service-intentions/web', expect=(404,))
