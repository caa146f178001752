# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that let the role and playbooks decide from data instead of long Jinja expressions."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.consul.peering.plugins.module_utils.peering import pair_status


def peering_pair_status(acceptor, dialer):
    """Compare the accepting and dialing sides of one peering (each a peering object or None)."""
    for side, value in (('acceptor', acceptor), ('dialer', dialer)):
        if value is not None and not isinstance(value, dict):
            raise AnsibleFilterError('peering_pair_status: the %s side must be a peering object or null' % side)
    return pair_status(acceptor, dialer)


def peering_pairs(pairs=None, mesh=None, hub=None, spokes=None):
    """Expand explicit pairs, a full mesh and a hub-and-spoke into one list of {acceptor, dialer} pairs.

    In a mesh, each cluster accepts from the ones listed after it; in hub-and-spoke the hub accepts.
    A pair listed twice (in either direction) is kept once, in its first direction.
    """
    wanted = []
    for pair in pairs or []:
        if not isinstance(pair, dict) or not pair.get('acceptor') or not pair.get('dialer'):
            raise AnsibleFilterError('peering_pairs: each pair needs "acceptor" and "dialer", got %r' % (pair,))
        wanted.append((pair['acceptor'], pair['dialer']))
    mesh = list(mesh or [])
    wanted.extend((mesh[i], mesh[j]) for i in range(len(mesh)) for j in range(i + 1, len(mesh)))
    if spokes and not hub:
        raise AnsibleFilterError('peering_pairs: spokes need a hub')
    wanted.extend((hub, spoke) for spoke in spokes or [] if spoke != hub)

    seen, result = set(), []
    for acceptor, dialer in wanted:
        if acceptor == dialer:
            raise AnsibleFilterError('peering_pairs: %s cannot peer with itself' % acceptor)
        key = frozenset((acceptor, dialer))
        if key not in seen:
            seen.add(key)
            result.append({'acceptor': acceptor, 'dialer': dialer})
    return result


# Inventory variable of a cluster host -> key of a consul_peering_mesh cluster.
MESH_HOST_VARS = (('consul_connection', 'connection'), ('consul_peer_name', 'peer_name'),
                  ('consul_peering_meta', 'meta'), ('consul_server_external_addresses', 'server_external_addresses'))


def mesh_clusters(hosts, hostvars):
    """The `clusters` of consul_peering_mesh for inventory hosts, from their consul_* variables."""
    clusters = []
    for host in hosts:
        variables = hostvars[host]
        cluster = {'name': host}
        for variable, key in MESH_HOST_VARS:
            if variable in variables and variables[variable] is not None:
                cluster[key] = variables[variable]
        if not isinstance(cluster.get('connection', {}), dict):
            raise AnsibleFilterError('mesh_clusters: consul_connection of %s must be a dict of connection options'
                                     % host)
        clusters.append(cluster)
    return clusters


class FilterModule:
    def filters(self):
        return {'peering_pair_status': peering_pair_status, 'peering_pairs': peering_pairs,
                'mesh_clusters': mesh_clusters}
