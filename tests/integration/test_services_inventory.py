# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Services from the inventory (consul_exports, consul_intentions) through the peer_clusters and unpeer_clusters
playbooks, against three real clusters (ACLs default deny, HTTPS).

Each test gives every cluster a fresh peer name (consul_peer_name) and registers fresh services, so the tests
share the clusters without seeing each other's peerings. What the playbooks did is read back from Consul
itself, and calls are counted in Consul's own request log.
"""

from __future__ import annotations

import os
import time

import pytest
import yaml

from ansible_collections.consul.peering.tests.support.ansible_cli import run_playbook
from ansible_collections.consul.peering.tests.support.consul_state import (
    EXPORTS, consumers, delete_everywhere, read_exports, read_peering, unique_name, write_calls,
)
from ansible_collections.consul.peering.tests.support.plays import task
from ansible_collections.consul.peering.tests.support.secret_scan import assert_no_secrets

PLAYBOOKS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'playbooks')
EXPORT_TASK = "Export each cluster's services to the clusters its consul_exports names"
INTENTIONS_TASK = "Set the intentions each cluster's consul_intentions lists"
UNEXPORT_TASK = 'Stop exporting any service to the clusters this run unpeers'
WAIT_TASK = 'Wait until each consumer sees the services exported to it that have a passing instance'


@pytest.fixture(scope='module')
def three(cluster_factory):
    return cluster_factory(3, acl=True, tls=True)


@pytest.fixture
def peer_names(three):
    """A fresh peer name for each cluster, by inventory name; at the end, every peering under them is deleted and
    every export and intention that names them is removed."""
    names = dict((cluster.name, unique_name('inv-%s' % cluster.name)) for cluster in three)
    yield names
    delete_everywhere(list(three), names.values())
    for cluster in three:
        clear_peers(cluster, names.values())


@pytest.fixture
def services(three):
    """register(cluster, prefix) registers a fresh service with a passing TTL check through the agent API (the
    agent's own node: catalog registrations there are undone by anti-entropy) and returns its name."""
    registered = []

    def register(cluster, prefix='web'):
        name = unique_name(prefix)
        cluster.api('PUT', '/v1/agent/service/register', json={
            'Name': name, 'ID': '%s-1' % name, 'Port': 8080, 'Check': {'TTL': '10m', 'Status': 'passing'}})
        registered.append((cluster, name))
        return name

    yield register
    for cluster, name in registered:
        cluster.api('PUT', '/v1/agent/service/deregister/%s-1' % name)


# -- Consul's own view ----------------------------------------------------------------------

def peers_consuming(cluster):
    """Every peer any service of the cluster is exported to."""
    return {consumer.get('Peer') for item in (read_exports(cluster) or {}).get('Services') or []
            for consumer in item['Consumers']}


def intention_sources(cluster):
    """(destination, source, peer, action) of every service-intentions source of the cluster."""
    return {(entry['Name'], source['Name'], source.get('Peer'), source.get('Action'))
            for entry in cluster.api('GET', '/v1/config/service-intentions').json() for source in entry['Sources']}


def imported(cluster, service, peer):
    """Instances of `service` imported from `peer`, as the health endpoint lists them (management token)."""
    return cluster.api('GET', '/v1/health/service/%s?peer=%s' % (service, peer)).json()


def clear_peers(cluster, peers):
    """Remove every export to and intention source from `peers` (clean-up, through the API)."""
    entry = read_exports(cluster)
    if entry:
        kept = [dict(item, Consumers=[c for c in item['Consumers'] if c.get('Peer') not in peers])
                for item in entry.get('Services') or []]
        kept = [item for item in kept if item['Consumers']]
        if kept:
            cluster.api('PUT', '/v1/config', json={'Kind': 'exported-services', 'Name': 'default', 'Services': kept})
        else:
            cluster.api('DELETE', EXPORTS)
    for entry in cluster.api('GET', '/v1/config/service-intentions').json():
        sources = [source for source in entry['Sources'] if source.get('Peer') not in peers]
        if not sources:
            cluster.api('DELETE', '/v1/config/service-intentions/%s' % entry['Name'])
        elif sources != entry['Sources']:
            cluster.api('PUT', '/v1/config', json={'Kind': 'service-intentions', 'Name': entry['Name'],
                                                   'Sources': sources})


def calls_since(cluster, mark):
    """(method, path) of the calls to the config, peering and health endpoints since the mark."""
    return [(call.method, call.url.split('?')[0]) for call in cluster.http_requests(since=mark)
            if call.url.startswith(('/v1/config', '/v1/peering', '/v1/health'))]


# -- the inventory --------------------------------------------------------------------------

def write_inventory(path, clusters, peer_names, host_vars=None, **group_vars):
    hosts = {}
    for cluster in clusters:
        hosts[cluster.name] = dict({'consul_connection': cluster.module_args(),
                                    'consul_peer_name': peer_names[cluster.name]},
                                   **(host_vars or {}).get(cluster.name, {}))
    with open(path, 'w') as handle:
        yaml.safe_dump({'all': {'children': {'consul_clusters': {'hosts': hosts, 'vars': group_vars}}}}, handle)
    return path


def playbook(name, inventory, **options):
    return run_playbook(playbook=os.path.join(PLAYBOOKS, '%s.yml' % name), inventory=inventory, **options)


def by_host(run, name):
    """{host: result} of the task `name` (its last result on each host)."""
    return dict((entry['host'], entry['result']) for entry in run.results if entry['task'] == name)


# -- peering, exporting, allowing, seeing ---------------------------------------------------

def test_playbook_exports_allows_and_each_consumer_sees_the_instance_healthy(three, tmp_path, peer_names, services):
    dc1, dc2, dc3 = three
    web, api = services(dc1, 'web'), services(dc2, 'api')
    unused = unique_name('unused')  # exported, but without an instance: nothing to wait for
    inventory = write_inventory(str(tmp_path / 'inventory.yml'), three, peer_names, host_vars={
        'dc1': {'consul_exports': {web: ['dc2', 'dc3'], unused: ['dc3']},
                'consul_intentions': [{'destination': web, 'source': 'frontend', 'from': 'dc2', 'action': 'allow'},
                                      {'destination': web, 'source': 'batch', 'action': 'deny'}]},
        'dc2': {'consul_exports': {api: ['dc1']}},
    }, consul_peering_mesh=['dc1', 'dc2', 'dc3'])

    run = playbook('peer_clusters', inventory)
    assert run.returncode == 0, run.report()
    # dc1 knows dc2 and dc3 by their peer names, and dc2 knows dc1 by its own.
    assert consumers(dc1, web) == [peer_names['dc2'], peer_names['dc3']]
    assert consumers(dc1, unused) == [peer_names['dc3']]
    assert consumers(dc2, api) == [peer_names['dc1']]
    assert {(s, p, a) for d, s, p, a in intention_sources(dc1) if d == web} == {
        ('frontend', peer_names['dc2'], 'allow'), ('batch', None, 'deny')}
    # The playbook waited: each consumer sees the instances the moment it ends, healthy.
    for cluster, service, exporter in ((dc2, web, 'dc1'), (dc3, web, 'dc1'), (dc1, api, 'dc2')):
        (instance,) = imported(cluster, service, peer_names[exporter])
        assert instance['Service']['PeerName'] == peer_names[exporter]
        assert [check['Status'] for check in instance['Checks']] == ['passing']
    waits = by_host(run, WAIT_TASK)
    assert sorted(item['item']['service'] for item in waits['dc2']['results']) == [web]
    assert sorted(item['item']['service'] for item in waits['dc3']['results']) == [web]
    assert [item['item']['service'] for item in waits['dc1']['results']] == [api]
    assert all(item['summary']['passing'] == 1 for host in waits.values() for item in host['results'])
    assert_no_secrets(run.output, *(cluster.token for cluster in three))


def test_rerun_makes_no_write_and_one_read_per_export_and_intention(three, tmp_path, peer_names, services):
    dc1, dc2, dc3 = three
    web = services(dc1, 'web')
    inventory = write_inventory(str(tmp_path / 'inventory.yml'), three, peer_names, host_vars={
        'dc1': {'consul_exports': {web: ['dc2', 'dc3']},
                'consul_intentions': [{'destination': web, 'source': 'frontend', 'from': 'dc2', 'action': 'allow'}]},
    }, consul_peering_mesh=['dc1', 'dc2', 'dc3'])
    assert playbook('peer_clusters', inventory).returncode == 0

    marks = [cluster.log_mark() for cluster in three]
    again = playbook('peer_clusters', inventory)
    assert again.returncode == 0, again.report()
    assert again.changed_tasks == []
    assert [write_calls(cluster, mark) for cluster, mark in zip(three, marks)] == [[], [], []]
    # The mesh reads each cluster once; dc1 reads its exports and web's intentions once each; nothing waits.
    assert calls_since(dc1, marks[0]) == [('GET', '/v1/peerings'), ('GET', EXPORTS),
                                          ('GET', '/v1/config/service-intentions/%s' % web)]
    assert calls_since(dc2, marks[1]) == [('GET', '/v1/peerings')]
    assert calls_since(dc3, marks[2]) == [('GET', '/v1/peerings')]


def test_check_mode_writes_nothing_and_shows_each_cluster_s_diff(three, tmp_path, peer_names, services):
    dc1, dc2, _dc3 = three
    web = services(dc1, 'web')
    inventory = write_inventory(str(tmp_path / 'inventory.yml'), three, peer_names, host_vars={
        'dc1': {'consul_exports': {web: ['dc2']}},
        'dc2': {'consul_intentions': [{'destination': 'api', 'source': 'web', 'from': 'dc1', 'action': 'allow'}]},
    }, consul_peerings=[{'acceptor': 'dc1', 'dialer': 'dc2'}])
    marks = [cluster.log_mark() for cluster in three]
    run = playbook('peer_clusters', inventory, check=True, diff=True)
    assert run.returncode == 0, run.report()
    assert [write_calls(cluster, mark) for cluster, mark in zip(three, marks)] == [[], [], []]
    (export,) = by_host(run, EXPORT_TASK)['dc1']['results']
    assert export['changed'] is True
    assert export['diff'] == {'before': {'service': web, 'consumers': []},
                              'after': {'service': web, 'consumers': [peer_names['dc2']]}}
    (intention,) = by_host(run, INTENTIONS_TASK)['dc2']['results']
    assert intention['diff'] == {'before': None, 'after': {'source': 'web', 'source_peer': peer_names['dc1'],
                                                           'action': 'allow', 'description': None}}
    assert '+++ after' in run.stdout and peer_names['dc2'] in run.stdout
    assert consumers(dc1, web) == []
    dc2.api('GET', '/v1/config/service-intentions/api', expect=(404,))
    assert read_peering(dc1, peer_names['dc2']) is None


@pytest.mark.parametrize('host_vars, message', [
    ({'dc1': {'consul_exports': {'web': ['dc9']}}}, "consul_exports of dc1, service 'web': 'dc9' is not a cluster"),
    ({'dc1': {'consul_exports': {'web': ['dc3']}}}, 'dc1 and dc3 are not peered in this inventory'),
    ({'dc2': {'consul_intentions': [{'destination': 'web', 'source': 'x', 'form': 'dc1', 'action': 'allow'}]}},
     'unknown key(s) form'),
], ids=['unknown-cluster', 'not-paired', 'typo'])
def test_bad_services_in_the_inventory_fail_before_any_call(three, tmp_path, peer_names, host_vars, message):
    inventory = write_inventory(str(tmp_path / 'inventory.yml'), three, peer_names, host_vars=host_vars,
                                consul_peerings=[{'acceptor': 'dc1', 'dialer': 'dc2'}])
    marks = [cluster.log_mark() for cluster in three]
    run = playbook('peer_clusters', inventory)
    assert run.returncode != 0
    assert message in run.stdout + run.stderr
    assert [calls_since(cluster, mark) for cluster, mark in zip(three, marks)] == [[], [], []]


# -- unpeering ------------------------------------------------------------------------------

def test_unpeer_leaves_no_grant_and_a_cluster_that_takes_the_old_name_imports_nothing(
        three, tmp_path, peer_names, services):
    dc1, dc2, dc3 = three
    web, api, theirs = services(dc1, 'web'), services(dc2, 'api'), services(dc1, 'theirs')
    inventory = write_inventory(str(tmp_path / 'inventory.yml'), [dc1, dc2], peer_names, host_vars={
        'dc1': {'consul_exports': {web: ['dc2']},
                'consul_intentions': [{'destination': web, 'source': 'frontend', 'from': 'dc2', 'action': 'allow'}]},
        'dc2': {'consul_exports': {api: ['dc1']},
                'consul_intentions': [{'destination': api, 'source': '*', 'from': 'dc1', 'action': 'deny'}]},
    }, consul_peerings=[{'acceptor': 'dc1', 'dialer': 'dc2'}])
    assert playbook('peer_clusters', inventory).returncode == 0
    # Grants made outside the inventory: to the peer being removed (must go), and to others (must stay).
    elsewhere = unique_name('elsewhere')
    exports = read_exports(dc1)
    exports.setdefault('Services', []).append(
        {'Name': theirs, 'Consumers': [{'Peer': peer_names['dc2']}, {'Peer': elsewhere}]})
    dc1.api('PUT', '/v1/config', json=dict((k, v) for k, v in exports.items() if not k.endswith('Index')))
    dc1.api('PUT', '/v1/config', json={'Kind': 'service-intentions', 'Name': theirs, 'Sources': [
        {'Name': '*', 'Peer': peer_names['dc2'], 'Action': 'allow'}, {'Name': 'local', 'Action': 'allow'}]})
    assert imported(dc2, web, peer_names['dc1'])

    marks = [cluster.log_mark() for cluster in three]
    check = playbook('unpeer_clusters', inventory, check=True, diff=True)
    assert check.returncode == 0, check.report()
    assert [write_calls(cluster, mark) for cluster, mark in zip(three, marks)] == [[], [], []]
    assert peer_names['dc2'] in consumers(dc1, web)
    stop = by_host(check, UNEXPORT_TASK)
    assert stop['dc1']['changed'] is True and stop['dc1']['diff']['after'] == {
        'peers': [peer_names['dc2']], 'services': {web: [], theirs: [elsewhere]}}
    assert stop['dc2']['diff']['before'] == {'peers': [peer_names['dc1']], 'services': {api: [peer_names['dc1']]}}

    run = playbook('unpeer_clusters', inventory)
    assert run.returncode == 0, run.report()
    assert read_peering(dc1, peer_names['dc2']) is None and read_peering(dc2, peer_names['dc1']) is None
    # Read back: no consumer and no intention source names a removed peer, on either side; the rest stays.
    assert peer_names['dc2'] not in peers_consuming(dc1) and peer_names['dc1'] not in peers_consuming(dc2)
    assert consumers(dc1, theirs) == [elsewhere]
    assert not [source for source in intention_sources(dc1) if source[2] == peer_names['dc2']]
    assert not [source for source in intention_sources(dc2) if source[2] == peer_names['dc1']]
    assert (theirs, 'local', None, 'allow') in intention_sources(dc1)
    again = playbook('unpeer_clusters', inventory)
    assert again.returncode == 0 and again.changed_tasks == []

    # dc3 now peers with dc1 under the name dc2 had: nothing of dc1's is exported to it.
    later = write_inventory(str(tmp_path / 'later.yml'), [dc1, dc3], dict(peer_names, dc3=peer_names['dc2']),
                            consul_peerings=[{'acceptor': 'dc1', 'dialer': 'dc3'}])
    assert playbook('peer_clusters', later).returncode == 0
    assert read_peering(dc3, peer_names['dc1'])['State'] == 'ACTIVE'
    deadline = time.monotonic() + 3  # Consul applies exports to a new peering within milliseconds
    while time.monotonic() < deadline:
        assert imported(dc3, web, peer_names['dc1']) == [] and imported(dc3, theirs, peer_names['dc1']) == []
        time.sleep(0.25)


def test_deleting_a_peering_that_exports_still_name_warns(three, peer_names, services):
    dc1, dc2, _dc3 = three
    web = services(dc1, 'web')
    token = dc1.api('POST', '/v1/peering/token', json={'PeerName': peer_names['dc2']}).json()['PeeringToken']
    dc2.api('POST', '/v1/peering/establish', json={'PeerName': peer_names['dc1'], 'PeeringToken': token})
    dc1.api('PUT', '/v1/config', json={'Kind': 'exported-services', 'Name': 'default', 'Services': [
        {'Name': web, 'Consumers': [{'Peer': peer_names['dc2']}]}]})
    run = run_playbook([task('Delete', dc1, 'consul_peering', peer_name=peer_names['dc2'], state='absent')])
    assert run.returncode == 0, run.report()
    (warning,) = run.result('Delete')['warnings']
    assert "still names peer %r as a consumer of %r" % (peer_names['dc2'], web) in warning
