# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Config entries that several writers share, edited by slices: a task changes its own part and keeps the rest.

The pure functions take the entry as Consul returns it (or None) and what a task wants, and return an
EntryPlan holding the entry to write. The executor at the end reads the entry, plans, writes with
compare-and-set on its ModifyIndex, and on a conflict plans again on what the other writer left.
The Consul 1.14 behaviour they rely on was measured on real servers; the modules' notes list it.
"""

from __future__ import annotations

import copy
import functools
import random
import time
from urllib.parse import quote

from ansible_collections.consul.peering.plugins.module_utils.errors import (
    ConsulAPIError, ConsulError, ConsulPermissionError,
)
from ansible_collections.consul.peering.plugins.module_utils.imports import FILTERED_HEADER
from ansible_collections.consul.peering.plugins.module_utils.module import PeeringModule
from ansible_collections.consul.peering.plugins.module_utils.peering import (
    ACTIVE, DELETING, Plan, PeeringError, is_deleting, validate_peer_name,
)

EXPORTED_SERVICES = 'exported-services'
SERVICE_INTENTIONS = 'service-intentions'
# Consul CE accepts one exported-services entry, named `default`; Enterprise names it after its partition.
EXPORTS_ENTRY = 'default'
PRESENT = 'present'
ABSENT = 'absent'

# Actions a plan can ask for.
WRITE_ENTRY = 'write_entry'
DELETE_ENTRY = 'delete_entry'

# Set by Consul on every entry it returns; never part of what a writer says.
ENTRY_INDEXES = ('CreateIndex', 'ModifyIndex')
# Computed by Consul for each intention source: sent back or not, they change nothing.
COMPUTED_SOURCE_FIELDS = ('Precedence', 'Type')
# Left on sources created through the legacy /v1/connect/intentions API. A config entry write refuses
# LegacyMeta ("Sources[0].LegacyMeta must be omitted") and Consul drops the other three on any such write.
LEGACY_SOURCE_FIELDS = ('LegacyID', 'LegacyMeta', 'LegacyCreateTime', 'LegacyUpdateTime')
_DEFAULT_TENANCY = (None, '', 'default')
_UNREAD = object()

# A conflict means another writer's write landed in between, so every attempt follows someone's progress;
# ten covers ten writers of one entry at the same moment. The pause spreads writers that collided.
CAS_ATTEMPTS = 10
CAS_PAUSE = 0.1  # seconds, times a random factor up to the attempt number

MESH_READ_RULE = 'mesh = "read"'
MESH_WRITE_RULE = 'mesh = "write"'


class EntryConflictError(PeeringError):
    """Other writers changed the entry between every read and write of this run."""


class EntriesFilteredError(PeeringError):
    """Consul left entries out of a list because the token may not read them."""


class EntryPlan(Plan):
    """A Plan for a slice of a config entry: `entry` is what to write, `added_peers` the peers it newly names,
    `notes` warnings about the write (given once, by the executor, for the plan it carried out)."""

    def __init__(self, actions, before, after, entry=None, added_peers=(), notes=()):
        super().__init__(actions, before, after)
        self.entry = entry
        self.added_peers = list(added_peers)
        self.notes = list(notes)

    @property
    def changed(self):
        return bool(self.actions)


# -- validation -----------------------------------------------------------------------------

def validate_name(name, option):
    """Fail unless `name` is a non-empty service name without white space around it."""
    if not isinstance(name, str) or not name.strip():
        raise PeeringError('%s is empty: give the name of a service' % option)
    if name != name.strip():
        raise PeeringError('%s %r has white space or a line break around it: remove it (Consul would take it '
                           'as another service)' % (option, name))


def validate_peer(peer, option):
    """Fail unless `peer` is a peer name Consul matches: never `*`, and lowercase, as Consul compares exactly."""
    if peer == '*':
        raise PeeringError("%s: '*' is not a peer name: Consul refuses to export to every peer (\"exporting to all "
                           "peers (wildcard) is not supported\"); list the peers by name" % option)
    if isinstance(peer, str) and peer != peer.lower() and _is_peer_name(peer.lower()):
        raise PeeringError('%s: %r is not a valid peer name: peer names are lowercase, and Consul matches them '
                           'exactly (an export to %r reaches no peering named %r)'
                           % (option, peer, peer, peer.lower()))
    validate_peer_name(peer, option=option)


def validate_peers(peers, option='peers'):
    """Fail unless every peer is valid and listed once."""
    seen = set()
    for peer in peers:
        validate_peer(peer, option)
        if peer in seen:
            raise PeeringError('%s lists %r more than once' % (option, peer))
        seen.add(peer)


def _is_peer_name(name):
    try:
        validate_peer_name(name)
    except PeeringError:
        return False
    return True


# -- shared pieces --------------------------------------------------------------------------

def entry_base(current, kind, name, partition=None):
    """What a new version of the entry starts from: the current one without Consul's indexes, or a bare one."""
    if current is None:
        entry = {'Kind': kind, 'Name': name}
        if partition:
            entry['Partition'] = partition
        return entry
    return dict((key, copy.deepcopy(value)) for key, value in current.items() if key not in ENTRY_INDEXES)


def _is_default_tenancy(item):
    # Enterprise returns the default namespace and partition by name; CE leaves them out.
    return item.get('Namespace') in _DEFAULT_TENANCY and item.get('Partition') in _DEFAULT_TENANCY


def _unique(values):
    return list(dict.fromkeys(values))


def _pick_actions(changed, remains):
    if not changed:
        return []
    return [WRITE_ENTRY] if remains else [DELETE_ENTRY]


# -- exported-services ----------------------------------------------------------------------

def _is_service(item, service):
    # service None: every service (removing peers from all of them).
    return (service is None or item.get('Name') == service) and _is_default_tenancy(item)


def export_consumers(entry, service):
    """The peers consuming `service` in an exported-services entry (or None), in stored order, each once."""
    return _unique(consumer['Peer'] for item in (entry or {}).get('Services') or [] if _is_service(item, service)
                   for consumer in item.get('Consumers') or [] if consumer.get('Peer'))


def merge_export(current, service, peers, state=PRESENT, exclusive=False):
    """The Services of an exported-services entry with only `service`'s peer consumers changed.

    present adds `peers` (exclusive: and removes the service's other peers); absent removes `peers`, or the
    whole service when `peers` is None. With `service` None (absent only), `peers` are removed from every
    service. Other services, partition consumers and the stored order are kept; new consumers and services go
    last. A service left without consumers is removed: Consul refuses one.
    """
    check_export_scope(service, peers, state)
    services = copy.deepcopy((current or {}).get('Services') or [])
    if state == ABSENT and peers is None:
        return [item for item in services if not _is_service(item, service)]
    wanted = list(peers or [])
    seen = set()
    for item in services:
        if not _is_service(item, service):
            continue
        kept = []
        for consumer in item.get('Consumers') or []:
            peer = consumer.get('Peer')
            unwanted = state == ABSENT and peer in wanted
            surplus = exclusive and (peer not in wanted or peer in seen)  # another peer, or a wanted one again
            if peer and (unwanted or surplus):
                continue
            seen.add(peer)
            kept.append(consumer)
        item['Consumers'] = kept
    if state == PRESENT:
        missing = [{'Peer': peer} for peer in wanted if peer not in seen]
        mine = [item for item in services if _is_service(item, service)]
        if mine:
            mine[0]['Consumers'].extend(missing)
        elif missing:
            services.append({'Name': service, 'Consumers': missing})
    return [item for item in services if not _is_service(item, service) or item['Consumers']]


def check_export_scope(service, peers, state):
    """Fail unless a change without `service` is the one it can be: absent, for peers that are named."""
    if service is None and (state != ABSENT or peers is None):
        raise PeeringError('Without a service, only state=absent with peers is possible: it makes those peers '
                           'consumers of no service')


def services_naming(entry, peers):
    """Names of the services (default namespace) that `peers` consume in an exported-services entry, in order."""
    return _unique(item.get('Name') for item in (entry or {}).get('Services') or [] if _is_service(item, None)
                   for consumer in item.get('Consumers') or [] if consumer.get('Peer') in peers)


def peers_view(entry, peers, names):
    """The diff's view of a removal of `peers` from every service: each service in `names` and its consumers."""
    return {'peers': list(peers), 'services': dict((name, export_consumers(entry, name)) for name in names)}


def plan_export(current, service, peers, state=PRESENT, exclusive=False, partition=None):
    """Plan consul_exported_services: the entry with this service's consumers as wanted, or nothing to do.

    The diff shows this service's consumers only; without `service`, every service that `peers` consumed,
    with its consumers. An entry left without services is deleted, unless it holds more than its services
    (Meta): then it is written without them, which Consul accepts.
    """
    services = merge_export(current, service, peers, state, exclusive)
    if service is None:
        named = services_naming(current, peers)
        before, after = peers_view(current, peers, named), peers_view({'Services': services}, peers, named)
        before_peers = after_peers = []
    else:
        before_peers = export_consumers(current, service)
        after_peers = export_consumers({'Services': services}, service)
        before, after = {'service': service, 'consumers': before_peers}, {'service': service, 'consumers': after_peers}
    changed = services != ((current or {}).get('Services') or [])
    entry = entry_base(current, EXPORTED_SERVICES, partition or EXPORTS_ENTRY, partition)
    entry.pop('Services', None)
    if services:
        entry['Services'] = services
    holds_more = any(value for key, value in entry.items() if key not in ('Kind', 'Name', 'Partition', 'Namespace'))
    actions = _pick_actions(changed, holds_more)
    return EntryPlan(actions, before, after, entry=entry if WRITE_ENTRY in actions else None,
                     added_peers=[peer for peer in after_peers if peer not in before_peers])


# -- service-intentions ---------------------------------------------------------------------

def _is_source(item, name, peer):
    # name None: every source of `peer` (removing a peer from an entry).
    return ((name is None or item.get('Name') == name) and (item.get('Peer') or None) == (peer or None)
            and _is_default_tenancy(item))


def _comparable(source):
    """A source as its writer wrote it: without what Consul computes or kept from the legacy API."""
    return dict((key, value) for key, value in source.items()
                if key not in COMPUTED_SOURCE_FIELDS + LEGACY_SOURCE_FIELDS and value not in ('', None))


def source_view(entry, source, source_peer=None):
    """The diff's view of one source rule of a service-intentions entry, or None when it has none."""
    for item in (entry or {}).get('Sources') or []:
        if _is_source(item, source, source_peer):
            view = {'source': source, 'source_peer': source_peer, 'action': item.get('Action'),
                    'description': item.get('Description') or None}
            if item.get('Permissions'):
                view['permissions'] = item['Permissions']
            return view
    return None


def peer_sources_view(entry, source_peer):
    """The diff's view of every source rule from `source_peer` in a service-intentions entry."""
    return {'source_peer': source_peer, 'sources': [
        source_view({'Sources': [item]}, item.get('Name'), source_peer)
        for item in (entry or {}).get('Sources') or [] if _is_source(item, None, source_peer)]}


def check_intention_scope(source, source_peer, state):
    """Fail unless a change without `source` is the one it can be: absent, for a peer that is named."""
    if source is None and (state != ABSENT or not source_peer):
        raise PeeringError('Without a source, only state=absent with source_peer is possible: it removes every '
                           'source rule from that peer')


def merge_intention(current, destination, source, source_peer=None, action=None, description=None, state=PRESENT):
    """The Sources of a service-intentions entry with only one source rule set or removed.

    With `source` None (absent only), every rule from `source_peer` is removed. An existing rule keeps its
    place and, with description None, its description. Rules with L7 Permissions are refused: this module
    manages the Action of a rule, not its HTTP permissions.
    """
    check_intention_scope(source, source_peer, state)
    sources = [_comparable(item) for item in (current or {}).get('Sources') or []]
    mine = [item for item in sources if _is_source(item, source, source_peer)]
    if state == ABSENT:
        return [item for item in sources if not _is_source(item, source, source_peer)]
    if mine and mine[0].get('Permissions'):
        raise PeeringError(
            'The intention from %s to %r has L7 Permissions, which this module does not manage; change that '
            'rule with "consul config write" instead' % (describe_source(source, source_peer), destination))
    if not mine:
        mine = [{'Name': source}]
        if source_peer:
            mine[0]['Peer'] = source_peer
        sources.append(mine[0])
    mine[0]['Action'] = action
    if description is not None:
        mine[0].pop('Description', None)
        if description:
            mine[0]['Description'] = description
    return sources


def describe_source(source, source_peer=None):
    """'"frontend" of peer dc2' or 'the local "frontend"', for messages."""
    return '%r of peer %r' % (source, source_peer) if source_peer else 'the local %r' % source


def legacy_sources(current):
    """Names of the sources that carry fields of the legacy intentions API, which a write drops."""
    return [item.get('Name') for item in (current or {}).get('Sources') or []
            if any(field in item for field in LEGACY_SOURCE_FIELDS)]


def plan_intention(current, destination, source, source_peer=None, action=None, description=None, state=PRESENT,
                   partition=None):
    """Plan consul_service_intentions: the destination's entry with this source rule as wanted.

    Precedence and Type, which Consul computes, never count as a difference. Consul refuses an entry
    without sources, so removing the last one deletes the entry. Without `source`, the diff lists the rules
    from `source_peer`.
    """
    sources = merge_intention(current, destination, source, source_peer, action, description, state)
    changed = sources != [_comparable(item) for item in (current or {}).get('Sources') or []]
    entry = entry_base(current, SERVICE_INTENTIONS, destination, partition)
    entry['Sources'] = sources
    actions = _pick_actions(changed, bool(sources))
    notes = []
    legacy = legacy_sources(current)
    if WRITE_ENTRY in actions and legacy:
        notes.append('The intentions on %r from %s were created through the legacy intentions API: this write '
                     'drops their legacy ID and Meta, as every config entry write does (Consul refuses '
                     'LegacyMeta in a config entry); their actions and descriptions are kept'
                     % (destination, ', '.join(repr(name) for name in legacy)))
    if source is None:
        before, after = peer_sources_view(current, source_peer), peer_sources_view({'Sources': sources}, source_peer)
    else:
        before = source_view(current, source, source_peer)
        after = source_view({'Sources': sources}, source, source_peer)
    return EntryPlan(actions, before, after, entry=entry if WRITE_ENTRY in actions else None,
                     added_peers=[source_peer] if changed and source_peer and state == PRESENT else [], notes=notes)


def plan_peer_removal(entries, source_peer, source=None, partition=None):
    """Plan removing the rules from `source_peer` (only `source`'s, when given) from every entry listed.

    `entries` is the list GET /v1/config/service-intentions returns. Returns {destination: EntryPlan} for
    the entries that change, in the order listed.
    """
    plans = {}
    for entry in entries or []:
        plan = plan_intention(entry, entry.get('Name'), source, source_peer, state=ABSENT, partition=partition)
        if plan.changed:
            plans[entry.get('Name')] = plan
    return plans


# -- peerings named by an entry -------------------------------------------------------------

def inactive_peer_warnings(peerings, peers, what):
    """Warnings for `peers` without an ACTIVE peering among `peerings` (as GET /v1/peerings lists them)."""
    states = dict((peering.get('Name'), DELETING if is_deleting(peering) else peering.get('State'))
                  for peering in peerings or [])
    warnings = []
    for peer in peers:
        state = states.get(peer)
        if state is None:
            warnings.append('%s names peer %r, and this cluster has no peering of that name: it applies once a '
                            'peering named %r is established, with whichever cluster that is' % (what, peer, peer))
        elif state != ACTIVE:
            warnings.append('%s names peer %r, whose peering on this cluster is %s, not ACTIVE: it applies once '
                            'the peering is ACTIVE' % (what, peer, state))
    return warnings


# -- reading and writing, with compare-and-set ----------------------------------------------

class EntryStore:
    """Reads one config entry (kind, name) and writes it with compare-and-set.

    `read_rule` and `write_rule` are the ACL policy rules that grant the permissions named in `read` and
    `write`; a 403 names both the permission and the rule.
    """

    def __init__(self, client, kind, name, partition=None, read=('mesh:read', MESH_READ_RULE),
                 write=('mesh:write', MESH_WRITE_RULE)):
        self.client = client
        self.kind = kind
        self.name = name
        self.partition = partition
        self.read_permission, self.read_rule = read
        self.write_permission, self.write_rule = write

    @property
    def path(self):
        return '/v1/config/%s/%s' % (self.kind, quote(self.name, safe=''))

    def _query(self, **params):
        if self.partition:
            params['partition'] = self.partition
        return params or None

    def read(self, deadline=None):
        """The entry as Consul stores it, or None when there is none."""
        status, data = self._call('GET', self.path, self.read_permission, self.read_rule, params=self._query(),
                                  allow_not_found=True, deadline=deadline)
        return None if status == 404 else data

    def write(self, entry, index):
        """Write `entry` if the stored one is still at ModifyIndex `index` (0: if there is none); True if written."""
        _status, data = self._call('PUT', '/v1/config', self.write_permission, self.write_rule,
                                   params=self._query(cas=index), body=entry)
        return self._outcome('PUT', data)

    def delete(self, index):
        """Delete the entry if it is still at ModifyIndex `index`; True if deleted (or already gone)."""
        _status, data = self._call('DELETE', self.path, self.write_permission, self.write_rule,
                                   params=self._query(cas=index))
        return self._outcome('DELETE', data)

    def _outcome(self, method, data):
        if not isinstance(data, bool):
            raise ConsulAPIError('Consul answered the compare-and-set %s of the %s entry %r with %r instead of true or '
                                 'false' % (method, self.kind, self.name, data))
        return data

    def _call(self, method, path, permission, rule, **kwargs):
        try:
            return self.client.request(method, path, permission, **kwargs)
        except ConsulPermissionError as exc:
            if 'ACL not found' in (exc.body or ''):
                raise
            raise ConsulPermissionError('%s. A policy rule that grants it: %s' % (exc, rule), status=exc.status,
                                        body=exc.body) from None


def list_entries(client, kind, permission, rule, partition=None):
    """Every entry of `kind` (GET /v1/config/:kind); fail when Consul left some out for the token (ACLs).

    Measured on Consul 1.14.11: the list holds only the entries the token may read, and says so with
    X-Consul-Results-Filtered-By-ACLs: true, also when it is not empty. A change meant for every entry
    cannot be made from such a list, so it fails, naming `rule`, before anything is written.
    """
    params = {'partition': partition} if partition else None
    _status, data, headers = client.request_with_headers('GET', '/v1/config/%s' % kind, permission, params=params)
    if (headers.get(FILTERED_HEADER) or '').lower() == 'true':
        raise EntriesFilteredError(
            'Consul left %s entries out of its list because the ACL token may not read them (%s: true), so they '
            'cannot all be changed; nothing was written. A policy rule that grants it: %s'
            % (kind, FILTERED_HEADER, rule))
    return data or []


def exports_to_peer_warning(client, peer, partition=None):
    """A warning when the cluster's exported-services entry still names `peer` as a consumer, else None.

    One read of the entry; a token that may not read it (403) skips the check without a word.
    """
    try:
        entry = EntryStore(client, EXPORTED_SERVICES, partition or EXPORTS_ENTRY, partition).read()
    except ConsulPermissionError:
        return None
    except ConsulError as exc:
        return 'Could not check whether the exported-services entry still exports to peer %r: %s' % (peer, exc)
    services = services_naming(entry, [peer])
    if not services:
        return None
    return ('The exported-services entry of this cluster still names peer %r as a consumer of %s: a peering '
            'created later under that name, with whichever cluster, imports them at once. Remove the peer from '
            'every export with consul.peering.consul_exported_services (peers: [%s], state: absent, no service)'
            % (peer, ', '.join(repr(name) for name in services), peer))


class ConfigEntryModule(PeeringModule):
    """A PeeringModule whose object is a slice of one config entry; execute() reads the entry after a write."""

    store = None

    def read(self, name, deadline=None):
        return self.store.read(deadline)

    def converge(self, store, plan_for, current=_UNREAD):
        """Read the entry, plan with plan_for(entry), and write with compare-and-set; on a conflict, plan again
        on the entry as the other writer left it. Return (the last plan, the entry after the run).

        `current` is the entry as just read (for example listed), so that it is not read again.
        Check mode writes nothing (execute() skips the writes) and returns the entry as it is.
        """
        self.store = store
        if current is _UNREAD:
            current = store.read()
        for attempt in range(1, CAS_ATTEMPTS + 1):
            plan = plan_for(current)
            answers = []
            after = self.execute(plan, store.name, current, self._steps(plan, current, answers))
            if answers != [False]:
                for note in plan.notes:
                    self.module.warn(note)
                return plan, after
            current = after
            time.sleep(random.uniform(0, CAS_PAUSE * attempt))
        raise EntryConflictError(
            'Gave up writing the %s entry %r after %d attempts: another writer changed it between every read and '
            'write of this run. Nothing of this run was written; run it again.' % (store.kind, store.name,
                                                                                   CAS_ATTEMPTS))

    def _steps(self, plan, current, answers):
        index = (current or {}).get('ModifyIndex', 0)

        def record(call, *args):
            answers.append(call(*args))
        return {WRITE_ENTRY: functools.partial(record, self.store.write, plan.entry, index),
                DELETE_ENTRY: functools.partial(record, self.store.delete, index)}

    def warn_about_peers(self, peers, what):
        """Warn about `peers` without an ACTIVE peering here; silently skipped when the token may not list them."""
        if not peers:
            return
        try:
            peerings = self.client.list_peerings()
        except ConsulPermissionError:
            return
        except ConsulAPIError as exc:
            self.module.warn('Could not check the peerings of this cluster for %s: %s' % (what, exc))
            return
        for warning in inactive_peer_warnings(peerings, peers, what):
            self.module.warn(warning)
