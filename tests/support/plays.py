# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the tests, the benchmarks and the demo hand to Ansible: a task aimed at a cluster, a play applying the
cluster_peering role to a pair, and an inventory of clusters for the playbooks."""

from __future__ import annotations

import yaml

ROLE = 'consul.peering.cluster_peering'


def task(title, cluster, module, **args):
    """A playbook task running consul.peering.<module> against `cluster` with its connection options."""
    merged = dict(cluster.module_args())
    merged.update(args)
    return {"name": title, "consul.peering.%s" % module: merged}


def role_play(acceptor, dialer, on_acceptor, on_dialer, state='present', labels=True, **role_vars):
    """A play applying the cluster_peering role to one pair: `acceptor` generates the token and calls its peer
    `on_acceptor`, `dialer` establishes and calls its peer `on_dialer`. Each side is labelled with its cluster's
    name unless labels=False (task names then stay the same whichever clusters a play uses); `role_vars`
    (cluster_peering_*) replace any of the role's variables."""
    def side(cluster, peer_name):
        described = {'connection': cluster.module_args(), 'peer_name': peer_name}
        if labels:
            described['label'] = cluster.name
        return described

    variables = {'cluster_peering_state': state, 'cluster_peering_acceptor': side(acceptor, on_acceptor),
                 'cluster_peering_dialer': side(dialer, on_dialer)}
    variables.update(role_vars)
    return [{'name': 'Peer %s and %s' % (acceptor.name, dialer.name), 'hosts': 'localhost', 'gather_facts': False,
             'tasks': [{'name': 'Apply the role', 'ansible.builtin.include_role': {'name': ROLE}, 'vars': variables}]}]


def write_inventory(path, clusters, connection=None, host_vars=None, **group_vars):
    """Write the inventory a user would write for the collection's playbooks to `path` and return `path`: each
    cluster a host of the group consul_clusters, with its connection options as `consul_connection` (built by
    connection(cluster) when given, e.g. to keep tokens out of the file) and host_vars[cluster name], and
    `group_vars` for the group (consul_peerings, consul_peering_mesh, ...)."""
    hosts = {}
    for cluster in clusters:
        hosts[cluster.name] = {'consul_connection': connection(cluster) if connection else cluster.module_args()}
        hosts[cluster.name].update((host_vars or {}).get(cluster.name) or {})
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump({'all': {'children': {'consul_clusters': {'hosts': hosts, 'vars': group_vars}}}}, handle,
                       sort_keys=False)
    return path
