# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The pure slices of shared config entries: merges, plans and diffs, as tables of entries shaped like Consul 1.14's."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.consul.peering.plugins.module_utils.config_entries import (
    ABSENT, DELETE_ENTRY, PRESENT, WRITE_ENTRY, export_consumers, inactive_peer_warnings, merge_export,
    merge_intention, plan_export, plan_intention, plan_peer_removal, services_naming, source_view, validate_name,
    validate_peers,
)
from ansible_collections.consul.peering.plugins.module_utils.peering import PeeringError


def exports(*services, **extra):
    """An exported-services entry as Consul returns it: services given as (name, [consumer peers])."""
    entry = {'Kind': 'exported-services', 'Name': 'default', 'CreateIndex': 28, 'ModifyIndex': 36}
    entry.update(extra)
    if services:
        entry['Services'] = [{'Name': name, 'Consumers': [consumer if isinstance(consumer, dict) else {'Peer': consumer}
                                                          for consumer in consumers]}
                             for name, consumers in services]
    return entry


def services_of(services):
    return [(item['Name'], [consumer.get('Peer', consumer) for consumer in item['Consumers']]) for item in services]


# -- validation -----------------------------------------------------------------------------

@pytest.mark.parametrize('peers, message', [
    (['*'], "'\\*' is not a peer name: Consul refuses to export to every peer"),
    (['DC2'], "'DC2' is not a valid peer name: peer names are lowercase, and Consul matches them exactly"),
    ([''], "'' is not a valid peer name"),
    (['dc 2'], "is not a valid peer name"),
    (['dc2', 'dc3', 'dc2'], "peers lists 'dc2' more than once"),
    ([' dc2'], 'white space'),
    ([None], 'None is not a valid peer name'),
])
def test_bad_peers_fail_before_any_call(peers, message):
    with pytest.raises(PeeringError, match=message):
        validate_peers(peers)


def test_good_peers_pass():
    validate_peers(['dc2', 'dc-3', 'a' * 63])
    validate_peers([])


@pytest.mark.parametrize('name, message', [
    ('', 'service is empty'), ('   ', 'service is empty'), (None, 'service is empty'),
    (' web', 'white space or a line break around it'), ('web\n', 'white space or a line break around it'),
])
def test_bad_service_names_fail(name, message):
    with pytest.raises(PeeringError, match=message):
        validate_name(name, 'service')


# -- exported-services: merge ---------------------------------------------------------------

MERGES = [
    # (current services, service, peers, state, exclusive, services after)
    ('new entry', [], 'web', ['dc2'], PRESENT, False, [('web', ['dc2'])]),
    ('new service goes last, others kept', [('api', ['dc3'])], 'web', ['dc2', 'dc4'], PRESENT, False,
     [('api', ['dc3']), ('web', ['dc2', 'dc4'])]),
    ('new peer goes last, other consumers kept', [('web', ['dc3'])], 'web', ['dc2'], PRESENT, False,
     [('web', ['dc3', 'dc2'])]),
    ('already there: nothing moves', [('web', ['dc3', 'dc2']), ('api', ['dc2'])], 'web', ['dc2'], PRESENT, False,
     [('web', ['dc3', 'dc2']), ('api', ['dc2'])]),
    ('exclusive removes other peers, keeps order of the rest', [('web', ['dc3', 'dc2', 'dc4'])], 'web', ['dc4', 'dc2'],
     PRESENT, True, [('web', ['dc2', 'dc4'])]),
    ('exclusive keeps partition consumers', [('web', [{'Partition': 'team-a'}, 'dc3'])], 'web', ['dc2'], PRESENT,
     True, [('web', [{'Partition': 'team-a'}, 'dc2'])]),
    ('exclusive with no peers unexports', [('web', ['dc3']), ('api', ['dc3'])], 'web', [], PRESENT, True,
     [('api', ['dc3'])]),
    ('exclusive drops duplicate consumers', [('web', ['dc2', 'dc2'])], 'web', ['dc2'], PRESENT, True,
     [('web', ['dc2'])]),
    ('present leaves duplicates of others alone', [('web', ['dc3', 'dc3'])], 'web', ['dc2'], PRESENT, False,
     [('web', ['dc3', 'dc3', 'dc2'])]),
    ('absent removes only the peers named', [('web', ['dc2', 'dc3']), ('api', ['dc2'])], 'web', ['dc2'], ABSENT,
     False, [('web', ['dc3']), ('api', ['dc2'])]),
    ('absent of the last consumer removes the service', [('api', ['dc2']), ('web', ['dc2'])], 'web', ['dc2'],
     ABSENT, False, [('api', ['dc2'])]),
    ('absent without peers removes the service', [('web', ['dc2', {'Partition': 'p'}]), ('api', ['dc2'])], 'web',
     None, ABSENT, False, [('api', ['dc2'])]),
    ('absent with an empty list removes nothing', [('web', ['dc2'])], 'web', [], ABSENT, False, [('web', ['dc2'])]),
    ('absent of a peer that is not there', [('web', ['dc2'])], 'web', ['dc9'], ABSENT, False, [('web', ['dc2'])]),
    ('absent on a missing entry', [], 'web', ['dc2'], ABSENT, False, []),
    ('wildcard service is an item of its own', [('web', ['dc2'])], '*', ['dc2'], PRESENT, False,
     [('web', ['dc2']), ('*', ['dc2'])]),
    ('a service listed twice: the peer is found in the second', [('web', ['dc3']), ('web', ['dc2'])], 'web',
     ['dc2'], PRESENT, False, [('web', ['dc3']), ('web', ['dc2'])]),
    ('a service listed twice: absent clears both', [('web', ['dc2']), ('api', ['dc3']), ('web', ['dc2', 'dc4'])],
     'web', ['dc2'], ABSENT, False, [('api', ['dc3']), ('web', ['dc4'])]),
]


@pytest.mark.parametrize('case, current, service, peers, state, exclusive, expected', MERGES, ids=[m[0] for m in MERGES])
def test_merge_export_changes_only_its_own_slice(case, current, service, peers, state, exclusive, expected):
    entry = exports(*current)
    original = copy.deepcopy(entry)
    merged = merge_export(entry, service, peers, state, exclusive)
    assert services_of(merged) == expected, case
    assert entry == original  # the current entry is never modified in place


def test_merge_export_keeps_other_fields_of_items_and_consumers():
    entry = exports(('web', [{'Peer': 'dc3', 'Extra': 1}]))
    entry['Services'][0]['Namespace'] = 'default'
    merged = merge_export(entry, 'web', ['dc2'], PRESENT)
    assert merged == [{'Name': 'web', 'Namespace': 'default', 'Consumers': [{'Peer': 'dc3', 'Extra': 1}, {'Peer': 'dc2'}]}]


def test_merge_export_leaves_other_namespaces_alone():
    entry = exports(('web', ['dc3']))
    entry['Services'][0]['Namespace'] = 'team-a'
    merged = merge_export(entry, 'web', ['dc2'], PRESENT)
    assert merged[0] == entry['Services'][0]
    assert merged[1] == {'Name': 'web', 'Consumers': [{'Peer': 'dc2'}]}


# -- exported-services: plans ---------------------------------------------------------------

def test_plan_export_creates_the_entry():
    plan = plan_export(None, 'web', ['dc2'])
    assert plan.actions == [WRITE_ENTRY] and plan.changed
    assert plan.entry == {'Kind': 'exported-services', 'Name': 'default',
                          'Services': [{'Name': 'web', 'Consumers': [{'Peer': 'dc2'}]}]}
    assert plan.diff == {'before': {'service': 'web', 'consumers': []}, 'after': {'service': 'web', 'consumers': ['dc2']}}
    assert plan.added_peers == ['dc2']


def test_plan_export_keeps_meta_order_and_drops_consul_indexes():
    current = exports(('api', ['dc3']), ('web', ['dc3']), Meta={'owner': 'team-a'})
    plan = plan_export(current, 'web', ['dc2'])
    assert plan.entry == {'Kind': 'exported-services', 'Name': 'default', 'Meta': {'owner': 'team-a'},
                          'Services': [{'Name': 'api', 'Consumers': [{'Peer': 'dc3'}]},
                                       {'Name': 'web', 'Consumers': [{'Peer': 'dc3'}, {'Peer': 'dc2'}]}]}
    assert plan.diff['after'] == {'service': 'web', 'consumers': ['dc3', 'dc2']}
    assert plan.added_peers == ['dc2']


@pytest.mark.parametrize('current, service, peers, state, exclusive', [
    (exports(('web', ['dc2'])), 'web', ['dc2'], PRESENT, False),
    (exports(('web', ['dc3', 'dc2'])), 'web', ['dc2', 'dc3'], PRESENT, True),
    (exports(('web', ['dc2'])), 'web', ['dc9'], ABSENT, False),
    (exports(('api', ['dc2'])), 'web', None, ABSENT, False),
    (None, 'web', None, ABSENT, False),
    (None, 'web', ['dc2'], ABSENT, False),
    # An empty entry someone else left: not ours to delete.
    (exports(), 'web', None, ABSENT, False),
])
def test_plan_export_without_a_difference_does_nothing(current, service, peers, state, exclusive):
    plan = plan_export(current, service, peers, state, exclusive)
    assert plan.actions == [] and not plan.changed
    assert plan.diff['before'] == plan.diff['after']
    assert plan.entry is None and plan.added_peers == []


def test_plan_export_deletes_an_entry_left_empty():
    plan = plan_export(exports(('web', ['dc2'])), 'web', ['dc2'], ABSENT)
    assert plan.actions == [DELETE_ENTRY]
    assert plan.diff == {'before': {'service': 'web', 'consumers': ['dc2']}, 'after': {'service': 'web', 'consumers': []}}


def test_plan_export_writes_an_entry_with_meta_without_services():
    plan = plan_export(exports(('web', ['dc2']), Meta={'owner': 'x'}), 'web', None, ABSENT)
    assert plan.actions == [WRITE_ENTRY]
    assert plan.entry == {'Kind': 'exported-services', 'Name': 'default', 'Meta': {'owner': 'x'}}


def test_plan_export_names_only_newly_added_peers():
    plan = plan_export(exports(('web', ['dc2', 'dc3'])), 'web', ['dc3', 'dc4'], PRESENT, True)
    assert plan.added_peers == ['dc4']
    assert plan.diff['after']['consumers'] == ['dc3', 'dc4']


def test_plan_export_on_enterprise_names_the_entry_after_the_partition():
    plan = plan_export(None, 'web', ['dc2'], partition='team-a')
    assert plan.entry['Name'] == 'team-a' and plan.entry['Partition'] == 'team-a'


def test_export_consumers_lists_each_peer_once_in_stored_order():
    entry = exports(('web', ['dc3', {'Partition': 'p'}, 'dc2']), ('api', ['dc4']), ('web', ['dc3', 'dc5']))
    assert export_consumers(entry, 'web') == ['dc3', 'dc2', 'dc5']
    assert export_consumers(None, 'web') == []


# -- exported-services: peers removed from every service ------------------------------------

PEER_REMOVALS = [
    # (case, current services, peers, services after)
    ('from every service, others kept', [('web', ['dc2', 'dc3']), ('api', ['dc2']), ('db', ['dc3'])], ['dc2'],
     [('web', ['dc3']), ('db', ['dc3'])]),
    ('several peers at once', [('web', ['dc2', 'dc3', 'dc4'])], ['dc2', 'dc3'], [('web', ['dc4'])]),
    ('the wildcard service too', [('*', ['dc2']), ('web', ['dc3'])], ['dc2'], [('web', ['dc3'])]),
    ('partition consumers kept', [('web', [{'Partition': 'team-a'}, 'dc2'])], ['dc2'],
     [('web', [{'Partition': 'team-a'}])]),
    ('duplicates of the peer all go', [('web', ['dc2', 'dc3', 'dc2']), ('web', ['dc2'])], ['dc2'],
     [('web', ['dc3'])]),
]


@pytest.mark.parametrize('case, current, peers, expected', PEER_REMOVALS, ids=[r[0] for r in PEER_REMOVALS])
def test_merge_export_without_a_service_removes_the_peers_everywhere(case, current, peers, expected):
    entry = exports(*current)
    original = copy.deepcopy(entry)
    assert services_of(merge_export(entry, None, peers, ABSENT)) == expected, case
    assert entry == original


def test_merge_export_without_a_service_leaves_other_namespaces_alone():
    entry = exports(('web', ['dc2']), ('web', ['dc2', 'dc3']))
    entry['Services'][0]['Namespace'] = 'team-a'
    assert merge_export(entry, None, ['dc2'], ABSENT) == [entry['Services'][0], {'Name': 'web', 'Consumers': [
        {'Peer': 'dc3'}]}]


def test_plan_export_without_a_service_diffs_every_service_the_peers_consumed():
    current = exports(('web', ['dc2', 'dc3']), ('api', ['dc2']), ('db', ['dc3']), Meta={'owner': 'x'})
    plan = plan_export(current, None, ['dc2'], ABSENT)
    assert plan.actions == [WRITE_ENTRY]
    assert plan.entry == {'Kind': 'exported-services', 'Name': 'default', 'Meta': {'owner': 'x'}, 'Services': [
        {'Name': 'web', 'Consumers': [{'Peer': 'dc3'}]}, {'Name': 'db', 'Consumers': [{'Peer': 'dc3'}]}]}
    assert plan.diff == {'before': {'peers': ['dc2'], 'services': {'web': ['dc2', 'dc3'], 'api': ['dc2']}},
                         'after': {'peers': ['dc2'], 'services': {'web': ['dc3'], 'api': []}}}
    assert plan.added_peers == []


def test_plan_export_without_a_service_deletes_an_entry_left_empty_and_is_a_noop_when_nothing_names_them():
    assert plan_export(exports(('web', ['dc2']), ('api', ['dc2'])), None, ['dc2'], ABSENT).actions == [DELETE_ENTRY]
    for current in (None, exports(('web', ['dc3'])), exports()):
        plan = plan_export(current, None, ['dc2'], ABSENT)
        assert plan.actions == [] and plan.entry is None
        assert plan.diff == {'before': {'peers': ['dc2'], 'services': {}}, 'after': {'peers': ['dc2'], 'services': {}}}


@pytest.mark.parametrize('peers, state', [(['dc2'], PRESENT), (None, ABSENT)])
def test_plan_export_without_a_service_is_only_a_removal_of_named_peers(peers, state):
    with pytest.raises(PeeringError, match='Without a service, only state=absent with peers'):
        plan_export(exports(('web', ['dc2'])), None, peers, state)


def test_services_naming_lists_each_service_once_in_stored_order():
    entry = exports(('web', ['dc3', 'dc2']), ('api', ['dc4']), ('db', ['dc2']), ('web', ['dc2']))
    assert services_naming(entry, ['dc2']) == ['web', 'db']
    assert services_naming(entry, ['dc2', 'dc4']) == ['web', 'api', 'db']
    assert services_naming(None, ['dc2']) == []


# -- service-intentions ---------------------------------------------------------------------

def intentions(*sources, **extra):
    """A service-intentions entry as Consul 1.14 returns it, with the fields Consul computes."""
    entry = {'Kind': 'service-intentions', 'Name': 'web', 'CreateIndex': 49, 'ModifyIndex': 49}
    entry.update(extra)
    entry['Sources'] = [dict(source, Precedence=9, Type='consul') for source in sources]
    return entry


FRONTEND_DC2 = {'Name': 'frontend', 'Peer': 'dc2', 'Action': 'allow'}
LOCAL_DENY_ALL = {'Name': '*', 'Action': 'deny'}


def test_plan_intention_creates_the_entry():
    plan = plan_intention(None, 'web', 'frontend', 'dc2', 'allow', 'from dc2')
    assert plan.actions == [WRITE_ENTRY]
    assert plan.entry == {'Kind': 'service-intentions', 'Name': 'web', 'Sources': [
        {'Name': 'frontend', 'Peer': 'dc2', 'Action': 'allow', 'Description': 'from dc2'}]}
    assert plan.diff == {'before': None, 'after': {'source': 'frontend', 'source_peer': 'dc2', 'action': 'allow',
                                                   'description': 'from dc2'}}
    assert plan.added_peers == ['dc2']


def test_plan_intention_ignores_precedence_and_type():
    plan = plan_intention(intentions(FRONTEND_DC2, LOCAL_DENY_ALL), 'web', 'frontend', 'dc2', 'allow')
    assert plan.actions == [] and plan.added_peers == []


def test_plan_intention_changes_only_its_rule_and_keeps_the_others_in_place():
    current = intentions(LOCAL_DENY_ALL, dict(FRONTEND_DC2, Description='old'), {'Name': 'frontend', 'Action': 'allow'},
                         Meta={'owner': 'x'})
    plan = plan_intention(current, 'web', 'frontend', 'dc2', 'deny')
    assert plan.entry == {'Kind': 'service-intentions', 'Name': 'web', 'Meta': {'owner': 'x'}, 'Sources': [
        LOCAL_DENY_ALL, {'Name': 'frontend', 'Peer': 'dc2', 'Action': 'deny', 'Description': 'old'},
        {'Name': 'frontend', 'Action': 'allow'}]}
    assert plan.diff['before']['action'] == 'allow' and plan.diff['after']['action'] == 'deny'


@pytest.mark.parametrize('description, expected', [(None, 'old'), ('', None), ('new', 'new')])
def test_plan_intention_description(description, expected):
    plan = plan_intention(intentions(dict(FRONTEND_DC2, Description='old')), 'web', 'frontend', 'dc2', 'allow',
                          description)
    assert plan.diff['after']['description'] == expected
    assert plan.changed == (expected != 'old')


def test_a_local_source_and_a_peer_source_of_the_same_name_are_different_rules():
    current = intentions({'Name': 'frontend', 'Action': 'deny'})
    plan = plan_intention(current, 'web', 'frontend', 'dc2', 'allow')
    assert [source.get('Peer') for source in plan.entry['Sources']] == [None, 'dc2']
    assert plan.diff['before'] is None


def test_plan_intention_absent_removes_the_rule_or_deletes_the_entry():
    plan = plan_intention(intentions(FRONTEND_DC2, LOCAL_DENY_ALL), 'web', 'frontend', 'dc2', state=ABSENT)
    assert plan.actions == [WRITE_ENTRY] and plan.entry['Sources'] == [LOCAL_DENY_ALL]
    assert plan.diff['after'] is None
    plan = plan_intention(intentions(FRONTEND_DC2, Meta={'owner': 'x'}), 'web', 'frontend', 'dc2', state=ABSENT)
    assert plan.actions == [DELETE_ENTRY]  # Consul refuses an entry without sources, Meta or not
    assert plan_intention(None, 'web', 'frontend', 'dc2', state=ABSENT).actions == []
    assert plan_intention(intentions(LOCAL_DENY_ALL), 'web', 'frontend', 'dc2', state=ABSENT).actions == []


def test_plan_intention_refuses_a_rule_with_l7_permissions():
    current = intentions({'Name': 'frontend', 'Peer': 'dc2', 'Permissions': [{'Action': 'allow', 'HTTP': {}}]})
    with pytest.raises(PeeringError, match='has L7 Permissions'):
        plan_intention(current, 'web', 'frontend', 'dc2', 'allow')


def test_plan_intention_drops_legacy_fields_and_says_so_only_when_it_writes():
    legacy = {'Name': 'batch', 'Action': 'allow', 'LegacyID': '627dfa95', 'LegacyMeta': {'a': 'b'},
              'LegacyCreateTime': '2026-12-01T09:20:14Z', 'LegacyUpdateTime': '2026-12-01T09:20:14Z'}
    current = intentions(legacy)
    plan = plan_intention(current, 'web', 'frontend', 'dc2', 'allow')
    assert plan.entry['Sources'][0] == {'Name': 'batch', 'Action': 'allow'}
    assert 'legacy intentions API' in plan.notes[0] and "'batch'" in plan.notes[0]
    assert plan_intention(current, 'web', 'batch', None, 'allow').actions == []


def test_merge_intention_keeps_the_current_entry_unchanged():
    current = intentions(FRONTEND_DC2)
    original = copy.deepcopy(current)
    merge_intention(current, 'web', 'frontend', 'dc2', 'deny', 'x')
    assert current == original


def test_source_view_of_a_missing_rule_is_none():
    assert source_view(None, 'frontend', 'dc2') is None
    assert source_view(intentions(FRONTEND_DC2), 'frontend', None) is None


# -- service-intentions: every rule from a peer ---------------------------------------------

FRONTEND_DC3 = {'Name': 'frontend', 'Peer': 'dc3', 'Action': 'allow'}
ALL_OF_DC2 = {'Name': '*', 'Peer': 'dc2', 'Action': 'deny'}
LOCAL_FRONTEND = {'Name': 'frontend', 'Action': 'allow'}
L7_FROM_DC2 = {'Name': 'api', 'Peer': 'dc2', 'Permissions': [{'Action': 'allow', 'HTTP': {'PathPrefix': '/'}}]}

SOURCE_REMOVALS = [
    # (case, current sources, sources after)
    ('every rule of the peer, local and other peers kept',
     [LOCAL_DENY_ALL, FRONTEND_DC2, FRONTEND_DC3, ALL_OF_DC2, LOCAL_FRONTEND], [LOCAL_DENY_ALL, FRONTEND_DC3, LOCAL_FRONTEND]),
    ('rules with L7 permissions go too', [L7_FROM_DC2, FRONTEND_DC3], [FRONTEND_DC3]),
]


@pytest.mark.parametrize('case, current, expected', SOURCE_REMOVALS, ids=[r[0] for r in SOURCE_REMOVALS])
def test_merge_intention_without_a_source_removes_every_rule_from_the_peer(case, current, expected):
    entry = intentions(*current)
    original = copy.deepcopy(entry)
    assert merge_intention(entry, 'web', None, 'dc2', state=ABSENT) == expected, case
    assert entry == original


def test_plan_intention_without_a_source_diffs_the_rules_of_the_peer():
    plan = plan_intention(intentions(FRONTEND_DC2, ALL_OF_DC2, LOCAL_FRONTEND), 'web', None, 'dc2', state=ABSENT)
    assert plan.actions == [WRITE_ENTRY] and plan.entry['Sources'] == [LOCAL_FRONTEND]
    assert plan.diff == {
        'before': {'source_peer': 'dc2', 'sources': [
            {'source': 'frontend', 'source_peer': 'dc2', 'action': 'allow', 'description': None},
            {'source': '*', 'source_peer': 'dc2', 'action': 'deny', 'description': None}]},
        'after': {'source_peer': 'dc2', 'sources': []}}
    assert plan_intention(intentions(FRONTEND_DC2), 'web', None, 'dc2', state=ABSENT).actions == [DELETE_ENTRY]
    assert plan_intention(intentions(FRONTEND_DC3), 'web', None, 'dc2', state=ABSENT).actions == []


@pytest.mark.parametrize('source_peer, state', [('dc2', PRESENT), (None, ABSENT)])
def test_plan_intention_without_a_source_is_only_a_removal_of_a_named_peer(source_peer, state):
    with pytest.raises(PeeringError, match='Without a source, only state=absent with source_peer'):
        plan_intention(intentions(FRONTEND_DC2), 'web', None, source_peer, 'allow', state=state)


def test_plan_peer_removal_plans_only_the_entries_that_hold_rules_from_the_peer():
    entries = [intentions(FRONTEND_DC2, LOCAL_FRONTEND, Name='web'), intentions(FRONTEND_DC3, Name='api'),
               intentions(ALL_OF_DC2, Name='db'), intentions(dict(FRONTEND_DC2, Name='batch'), Name='*')]
    plans = plan_peer_removal(entries, 'dc2')
    assert list(plans) == ['web', 'db', '*']
    assert plans['web'].actions == [WRITE_ENTRY] and plans['web'].entry['Sources'] == [LOCAL_FRONTEND]
    assert plans['web'].entry['Name'] == 'web'
    assert plans['db'].actions == [DELETE_ENTRY] and plans['*'].actions == [DELETE_ENTRY]
    assert list(plan_peer_removal(entries, 'dc2', source='frontend')) == ['web']
    assert plan_peer_removal(entries, 'dc9') == {} and plan_peer_removal([], 'dc2') == {}


# -- peerings -------------------------------------------------------------------------------

def test_inactive_peer_warnings():
    peerings = [{'Name': 'dc2', 'State': 'ACTIVE'}, {'Name': 'dc3', 'State': 'PENDING'},
                {'Name': 'dc4', 'State': 'ACTIVE', 'DeletedAt': '2026-12-01T09:20:14Z'}]
    warnings = inactive_peer_warnings(peerings, ['dc2', 'dc3', 'dc4', 'dc9'], 'The export of web')
    assert len(warnings) == 3
    assert "peer 'dc3', whose peering on this cluster is PENDING, not ACTIVE" in warnings[0]
    assert 'is DELETING' in warnings[1]
    assert "no peering of that name" in warnings[2] and "'dc9'" in warnings[2]
    assert inactive_peer_warnings(peerings, ['dc2'], 'x') == []
