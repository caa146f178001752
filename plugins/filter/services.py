# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that turn the inventory's services (consul_exports, consul_intentions) into module options.

The inventory names clusters by their inventory names; Consul names a peer by the name the other cluster
gives it. Each cluster has one such name for all the others, `consul_peer_name` (default: its inventory
name), the same rule consul_peering_mesh follows, so the translation is one map for the whole inventory.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

INTENTION_KEYS = ('destination', 'source', 'from', 'action', 'description')
INTENTION_ACTIONS = ('allow', 'deny')


def cluster_peer_names(hosts, hostvars):
    """{inventory name: the peer name every other cluster gives it} for the cluster hosts."""
    return dict((host, hostvars[host].get('consul_peer_name') or host) for host in hosts)


def _paired_with(pairs, cluster):
    """Inventory names of the clusters `cluster` peers with in `pairs`, in order."""
    others = []
    for pair in pairs or []:
        for side, other in (('acceptor', 'dialer'), ('dialer', 'acceptor')):
            if pair.get(side) == cluster and pair.get(other) not in others:
                others.append(pair.get(other))
    return others


def _peer_of(cluster, other, peer_names, pairs, where):
    """The peer name `cluster` knows the cluster `other` by; fail unless `other` is a cluster paired with it."""
    if not isinstance(other, str) or other not in peer_names:
        raise AnsibleFilterError('%s: %r is not a cluster of the inventory (a host of consul_clusters); name '
                                 'clusters by their inventory names' % (where, other))
    if other == cluster:
        raise AnsibleFilterError('%s: %s names itself; a cluster exports to and allows other clusters only'
                                 % (where, cluster))
    if pairs is not None and other not in _paired_with(pairs, cluster):
        raise AnsibleFilterError('%s: %s and %s are not peered in this inventory: add the pair (consul_peerings, '
                                 'consul_peering_mesh or hub and spokes), or remove the name; unpeering cleans up '
                                 'only what names a pair of the inventory' % (where, cluster, other))
    return peer_names[other]


def service_exports(exports, cluster, peer_names, pairs=None):
    """The exports of `cluster`, from its consul_exports ({service: [inventory names]}), with peer names.

    Returns [{service, peers, consumers}] in the order given: `peers` for consul_exported_services, and
    `consumers`, the same clusters by inventory name.
    """
    if exports is None:
        return []
    if not isinstance(exports, dict):
        raise AnsibleFilterError('consul_exports of %s must map each service to the clusters that may import it, '
                                 'for example {web: [dc2, dc3]}' % cluster)
    result = []
    for service, consumers in exports.items():
        where = 'consul_exports of %s, service %r' % (cluster, service)
        if consumers is None:
            consumers = []
        if not isinstance(consumers, list):
            raise AnsibleFilterError('%s: give a list of clusters, not %r' % (where, consumers))
        if len(set(map(str, consumers))) != len(consumers):
            raise AnsibleFilterError('%s: lists a cluster more than once' % where)
        result.append({'service': service, 'consumers': list(consumers),
                       'peers': [_peer_of(cluster, other, peer_names, pairs, where) for other in consumers]})
    return result


def service_intentions(intentions, cluster, peer_names, pairs=None):
    """The intentions of `cluster` (the destinations' cluster), from its consul_intentions, with peer names.

    Each item is {destination, source, from, action, description}; `from` (the inventory name of the
    caller's cluster) becomes `source_peer`, and without it the source is a service of `cluster` itself.
    Keys not given are left out of the result (for `default(omit)`).
    """
    if intentions is None:
        return []
    if not isinstance(intentions, list):
        raise AnsibleFilterError('consul_intentions of %s must be a list of {destination, source, from, action}'
                                 % cluster)
    result = []
    for index, intention in enumerate(intentions):
        where = 'consul_intentions of %s, item %d' % (cluster, index + 1)
        if not isinstance(intention, dict):
            raise AnsibleFilterError('%s: must be a dict with destination, source, from and action' % where)
        unknown = sorted(set(intention) - set(INTENTION_KEYS))
        if unknown:
            raise AnsibleFilterError('%s: unknown key(s) %s; the keys are %s' % (
                where, ', '.join(map(str, unknown)), ', '.join(INTENTION_KEYS)))
        missing = [key for key in ('destination', 'source', 'action') if not intention.get(key)]
        if missing:
            raise AnsibleFilterError('%s: %s missing' % (where, ', '.join(missing)))
        if intention['action'] not in INTENTION_ACTIONS:
            raise AnsibleFilterError('%s: action must be allow or deny, not %r' % (where, intention['action']))
        item = {'destination': intention['destination'], 'source': intention['source'], 'action': intention['action']}
        if intention.get('from') is not None:
            item['from'] = intention['from']
            item['source_peer'] = _peer_of(cluster, intention['from'], peer_names, pairs, where)
        if intention.get('description') is not None:
            item['description'] = intention['description']
        result.append(item)
    return result


def paired_peers(pairs, cluster, peer_names):
    """The peer names `cluster` knows the clusters it is paired with by (what unpeering them removes)."""
    return [peer_names.get(other, other) for other in _paired_with(pairs, cluster)]


def service_clusters(hosts, hostvars):
    """The clusters of `hosts` that have service work, in their order: those whose consul_exports or
    consul_intentions is set (not empty), and every cluster another one's consul_exports names (a consumer
    waits there until it sees the service). The playbook ends the play early for the others.

    Malformed values count as work: the service filters then fail on them with their own messages.
    """
    working = set()
    for host in hosts:
        exports, intentions = hostvars[host].get('consul_exports'), hostvars[host].get('consul_intentions')
        if exports or intentions:
            working.add(host)
        if isinstance(exports, dict):
            for consumers in exports.values():
                working.update(consumer for consumer in consumers or [] if isinstance(consumer, str))
    return [host for host in hosts if host in working]


def _looped(registered):
    """The item results of a registered loop task that ran (neither skipped nor failed)."""
    if not isinstance(registered, dict):
        return []
    return [result for result in registered.get('results') or []
            if isinstance(result, dict) and not result.get('skipped') and not result.get('failed')]


def exports_to_verify(export_results, mesh_result, cluster):
    """Which consumers of `cluster`'s exports to check: every consumer of an export this run changed, and the
    consumer of each pair with `cluster` that this run peered.

    `export_results` is the registered loop over service_exports, `mesh_result` the registered
    consul_peering_mesh result. Returns [{service, consumers}] for the services that need a check; V(*)
    has no instances of its own to look for, so it is left out.
    """
    changed_pairs = set()
    for pair in (mesh_result or {}).get('pairs') or []:
        if pair.get('changed') and cluster in (pair.get('acceptor'), pair.get('dialer')):
            changed_pairs.update((pair.get('acceptor'), pair.get('dialer')))
    result = []
    for export in _looped(export_results):
        item = export.get('item') or {}
        if item.get('service') in (None, '*'):
            continue
        consumers = [other for other in item.get('consumers') or [] if export.get('changed') or other in changed_pairs]
        if consumers:
            result.append({'service': item['service'], 'consumers': consumers})
    return result


def import_waits(hostvars, cluster, hosts, peer_names, instances_variable):
    """The imports `cluster` should wait for: [{service, peer, exporter}] for each export to it, from the
    other hosts, whose exporter has a passing instance of its own.

    `instances_variable` names the variable each exporting host registered its loop over exports_to_verify in,
    reading its own instances with consul_imported_service_info.
    """
    waits = []
    for exporter in hosts:
        if exporter == cluster or instances_variable not in hostvars[exporter]:
            continue
        for read in _looped(hostvars[exporter][instances_variable]):
            item = read.get('item') or {}
            if cluster in (item.get('consumers') or []) and ((read.get('summary') or {}).get('passing') or 0) > 0:
                waits.append({'service': item['service'], 'peer': peer_names.get(exporter, exporter),
                              'exporter': exporter})
    return waits


class FilterModule:
    def filters(self):
        return {'cluster_peer_names': cluster_peer_names, 'service_exports': service_exports,
                'service_intentions': service_intentions, 'paired_peers': paired_peers,
                'exports_to_verify': exports_to_verify, 'import_waits': import_waits,
                'service_clusters': service_clusters}
