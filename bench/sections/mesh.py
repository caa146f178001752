# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sections 5-6, full mesh: playbooks/peer_clusters.yml on meshes of N clusters from no peerings, with the
default forks and with forks=10, and the controller's peak memory while each runs."""

from __future__ import annotations

import os
import statistics

from ansible_collections.consul.peering.bench.consul_regimes import check_mesh, churn, delete_all
from ansible_collections.consul.peering.bench.machine import default_forks
from ansible_collections.consul.peering.bench.measure import ControllerMemory, TaskTimer, median_phases, summary, timed
from ansible_collections.consul.peering.bench.plays import PEER_CLUSTERS, mesh_inventory

MORE_FORKS = 10


def mesh_scale(clusters, sizes, repeat, workdir):
    """Each mesh size `repeat` times with the default forks, and with MORE_FORKS where it has more pairs."""
    consul_pids = [cluster.pid for cluster in clusters]
    forks_default = default_forks()
    rows = []
    for size in sizes:
        members = clusters[:size]
        inventory = mesh_inventory(members, os.path.join(workdir, 'mesh-%d.yml' % size))
        peerings = size * (size - 1) // 2
        for forks in (None, MORE_FORKS):
            if forks and peerings <= forks_default:
                continue  # every pair runs at once already: the same run as the default
            walls, cpus, memory, phases = [], [], [], []
            for _ in range(repeat):
                churn(members)  # also deletes the previous run's peerings; see consul_regimes
                timer = TaskTimer(workdir)
                sampler = ControllerMemory(exclude=consul_pids)
                try:
                    _result, wall, cpu = timed('mesh of %d' % size, timer.run, playbook=PEER_CLUSTERS,
                                               inventory=inventory, extra_args=['--forks', str(forks)] if forks else [])
                finally:
                    peak = sampler.stop()
                check_mesh(members)
                walls.append(wall)
                cpus.append(cpu)
                memory.append(peak)
                phases.append(timer.phases())
            rows.append({
                'clusters': size, 'peerings': peerings, 'forks': forks or forks_default, 'forks_default': forks is None,
                'seconds': summary(walls, 2), 'seconds_per_peering': round(statistics.median(walls) / peerings, 2),
                'cpu_seconds': summary(cpus, 2), 'memory': max(memory, key=lambda peaks: peaks['tree_pss_mib']),
                'phases': median_phases(phases),
            })
        delete_all(members)
    return rows
