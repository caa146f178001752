# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Section 2, HTTP calls per operation: every call each module operation and the role make, from Consul's own
request log (peering and config entry endpoints alike), against the least each needs."""

from __future__ import annotations

from ansible_collections.consul.peering.tests.support.ansible_cli import run_playbook
from ansible_collections.consul.peering.tests.support.consul_state import WRITE_METHODS, unique_name

from ansible_collections.consul.peering.bench.consul_regimes import delete_all
from ansible_collections.consul.peering.bench.measure import HttpCalls, timed
from ansible_collections.consul.peering.bench.plays import module_task, role_play

# consul_peering with state=absent reads the exported-services entry to warn of consumers that still name the peer.
DELETE_WHY = 'read, GET the exported-services entry, DELETE, read until gone'


class CallTable:
    """The rows of the table: what each operation called, with names replaced by :name."""

    def __init__(self, *peer_names):
        self.peer_names = peer_names
        self.rows = []

    def add(self, counter, operation, minimum, why):
        """Add the calls `counter` saw as the row of `operation`."""
        calls = []
        for cluster, method, path in counter.calls():
            for name in self.peer_names:
                path = path.replace(name, ':name')
            calls.append((cluster, method, path))
        self.rows.append({'operation': operation, 'calls': ['%s %s %s' % call for call in calls], 'count': len(calls),
                          'writes': len([call for call in calls if call[1] in WRITE_METHODS]), 'minimum': minimum,
                          'why': why})

    def count(self, operation, minimum, why, clusters, **run_args):
        """Run a playbook (run_playbook(**run_args)) and add the calls it made on `clusters`."""
        counter = HttpCalls(clusters)
        timed(operation, run_playbook, **run_args)
        self.add(counter, operation, minimum, why)


def http_calls(dc1, dc2):
    """Every HTTP call each operation makes, from Consul's request log, against the least it needs."""
    # The names dc1 and dc2 give each other.
    acceptor_peer, dialer_peer = unique_name('calls-dc2'), unique_name('calls-dc1')
    table = CallTable(acceptor_peer, dialer_peer)

    def tasks(*task_list):
        return {'tasks': list(task_list)}

    table.count('info, one peering (none yet)', 1, 'GET the peering', [dc1],
                **tasks(module_task(dc1, 'consul_peering_info', name=acceptor_peer)))
    table.count('info, list', 1, 'GET the list', [dc1], **tasks(module_task(dc1, 'consul_peering_info')))
    # Token and establish in one playbook (the token goes from one task to the next), counted per cluster.
    on_dc1, on_dc2 = HttpCalls([dc1]), HttpCalls([dc2])
    timed('token + establish', run_playbook, tasks=[
        dict(module_task(dc1, 'consul_peering_token', peer_name=acceptor_peer), register='new_token'),
        module_task(dc2, 'consul_peering', peer_name=dialer_peer, peering_token='{{ new_token.token }}')])
    table.add(on_dc1, 'token, new', 3, 'read, POST token, read back the PENDING peering it returns')
    table.add(on_dc2, 'establish + wait, new', 3, 'read, POST establish, read until ACTIVE (at least once)')
    table.count('token, re-run', 1, 'read: the peering exists', [dc1],
                **tasks(module_task(dc1, 'consul_peering_token', peer_name=acceptor_peer)))
    table.count('establish, re-run (ACTIVE)', 1, 'read: already ACTIVE', [dc2],
                **tasks(module_task(dc2, 'consul_peering', peer_name=dialer_peer)))
    table.count('info, one peering (ACTIVE)', 1, 'GET the peering', [dc1],
                **tasks(module_task(dc1, 'consul_peering_info', name=acceptor_peer)))
    table.count('role, no-op re-run (both sides)', 2, 'one read per side', [dc1, dc2],
                plays=role_play(dc1, dc2, acceptor_peer, dialer_peer))
    table.count('delete + wait (dialing side)', 4, DELETE_WHY, [dc2],
                **tasks(module_task(dc2, 'consul_peering', peer_name=dialer_peer, state='absent')))
    table.count('delete + wait (accepting side, TERMINATED)', 4, DELETE_WHY, [dc1],
                **tasks(module_task(dc1, 'consul_peering', peer_name=acceptor_peer, state='absent')))
    delete_all([dc1, dc2])
    acceptor_peer, dialer_peer = unique_name('calls-dc2'), unique_name('calls-dc1')
    table.peer_names = (acceptor_peer, dialer_peer)
    table.count('role, cold run (both sides)', 6,
                'read each side, POST token, POST establish, read each side until ACTIVE',
                [dc1, dc2], plays=role_play(dc1, dc2, acceptor_peer, dialer_peer))
    # Services across the new peering: dc1 exports web to dc2 and lets dc2's frontend call it.
    export = dict(service='web', peers=[acceptor_peer])
    intention = dict(destination='web', source='frontend', source_peer=acceptor_peer, action='allow')
    # The least each needs, as the modules are documented: a write also lists the peerings (to warn of a
    # peer without an ACTIVE peering here) and reads the entry back (the result is what Consul stores).
    for run, least, why in (('new', 4, 'read the entry, list the peerings, PUT with cas, read it back'),
                            ('re-run', 1, 'read the entry, no change')):
        table.count('export, %s' % run, least, why, [dc1],
                    **tasks(module_task(dc1, 'consul_exported_services', **export)))
        table.count('intention from a peer, %s' % run, least, why, [dc1],
                    **tasks(module_task(dc1, 'consul_service_intentions', **intention)))
    table.count('imported service info, none imported', 2,
                'GET the instances; none: GET the peering, to say why', [dc2],
                **tasks(module_task(dc2, 'consul_imported_service_info', service='web', peer=dialer_peer)))
    table.count('export, removed', 3, 'read the entry, DELETE it (its last service) with cas, read it back', [dc1],
                **tasks(module_task(dc1, 'consul_exported_services', state='absent', **export)))
    table.count('intention from a peer, removed', 3,
                'read the entry, DELETE it (its last source) with cas, read it back', [dc1],
                **tasks(module_task(dc1, 'consul_service_intentions', state='absent',
                                    **dict((key, intention[key]) for key in ('destination', 'source', 'source_peer')))))
    table.count('role, state=absent (both sides)', 6, 'per side: read, DELETE, read until gone', [dc1, dc2],
                plays=role_play(dc1, dc2, acceptor_peer, dialer_peer, state='absent'))
    delete_all([dc1, dc2])
    return table.rows
