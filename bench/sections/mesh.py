# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sections 5-6, full mesh: playbooks/peer_clusters.yml (one consul_peering_mesh task) against the 0.1.0
pairwise playbook (bench/baseline), same inventory, default forks, at several mesh sizes.

Each run is measured for wall and CPU time, module runs, HTTP calls to the peering endpoints (Consul's request
log), and the controller's peak memory. Kinds of run:
  cold        from no peerings to a full ACTIVE mesh (busy clusters: they just deleted the previous mesh)
  noop        a re-run on the peered mesh
  check       --check --diff on the peered mesh (a drift check that finds nothing)
  check_cold  --check --diff with no peerings (the preview before a first run); only when asked for
              (run.py --mesh-kinds), as the baseline's takes about as long as its cold run
New and baseline alternate, and which goes first alternates too, so drift in the machine's load hits both. Two
floors run in between: ansible-playbook with one no-op task, and one consul_peering_info task (one module run).
"""

from __future__ import annotations

import os

from ansible_collections.consul.peering.bench.consul_regimes import (
    check_mesh, check_no_peerings, churn, delete_all,
)
from ansible_collections.consul.peering.bench.machine import default_forks
from ansible_collections.consul.peering.bench.measure import (
    ControllerMemory, HttpCalls, TaskTimer, fit_line, median_phases, summary, timed,
)
from ansible_collections.consul.peering.bench.plays import (
    BASELINE_ENV, MESH_PLAYBOOKS, info_list_play, mesh_inventory, noop_play,
)

KINDS = ('cold', 'noop', 'check', 'check_cold')
DEFAULT_KINDS = ('cold', 'noop', 'check')
PLAYBOOK_ORDER = ('new', 'baseline')
FLOORS = ('noop_task', 'one_module_task')
FIT_KINDS = ('noop', 'check', 'cold')
PROJECT_TO = (20, 50)
# From this size up the baseline runs `baseline_repeat` times (its cold run of 10 clusters takes about a minute).
LARGE_MESH = 6


def peerings_of(size):
    """The number of pairs in a full mesh of `size` clusters."""
    return size * (size - 1) // 2


def mesh_run(mesh, size, playbook, kind):
    """The figures of one run kind of one playbook at one mesh size, or None."""
    return next((row for row in mesh['runs'] if (row['clusters'], row['playbook'], row['kind'])
                 == (size, playbook, kind)), None)


class Samples:
    """The figures of repeated runs of one kind."""

    FIELDS = ('wall', 'cpu', 'module_runs', 'peering_calls', 'peering_writes', 'memory', 'phases', 'changed_tasks')

    def __init__(self):
        self.values = dict((field, []) for field in self.FIELDS)

    def add(self, **figures):
        """Add one run's figures."""
        for field, value in figures.items():
            self.values[field].append(value)

    def figures(self):
        """Summaries: medians with their spread; the memory of the run with the highest PSS."""
        values = self.values
        figures = {'wall': summary(values['wall'], 2), 'cpu': summary(values['cpu'], 2),
                   'module_runs': summary(values['module_runs'], 0),
                   'peering_calls': summary(values['peering_calls'], 0),
                   'peering_writes': summary(values['peering_writes'], 0),
                   'memory': max(values['memory'], key=lambda memory: memory['tree_pss_mib']),
                   'changed_tasks': sorted(set(name for names in values['changed_tasks'] for name in names))}
        if values['phases']:
            figures['phases'] = median_phases(values['phases'])
        return figures


class MeshBench:
    """Runs the playbooks against meshes of the harness's clusters and keeps every run's figures."""

    def __init__(self, clusters, workdir):
        self.clusters, self.workdir = clusters, workdir
        self.consul_pids = [cluster.pid for cluster in clusters]
        self.samples = {}
        self.floor_samples = dict((floor, Samples()) for floor in FLOORS)

    def _measure(self, samples, members, what, **run_args):
        """Run a playbook with the task timer, the memory sampler and the call counter on."""
        timer = TaskTimer(self.workdir)
        calls = HttpCalls(members)
        memory = ControllerMemory(exclude=self.consul_pids)
        try:
            result, wall, cpu = timed(what, timer.run, **run_args)
        finally:
            peak = memory.stop()
        peering_calls = calls.peering_calls()
        samples.add(wall=wall, cpu=cpu, module_runs=timer.module_runs(), peering_calls=len(peering_calls),
                    peering_writes=len([call for call in peering_calls if call[1] != 'GET']), memory=peak,
                    phases=timer.phases(), changed_tasks=result.changed_tasks)
        return result

    def run(self, size, playbook, kind, members, inventory):
        """One run of `playbook` ('new' or 'baseline') of `kind` on the mesh of `members`."""
        samples = self.samples.setdefault((size, playbook, kind), Samples())
        check = kind in ('check', 'check_cold')
        self._measure(samples, members, '%s %s, mesh of %d' % (playbook, kind, size),
                      playbook=MESH_PLAYBOOKS[playbook], inventory=inventory, check=check, diff=check,
                      env=BASELINE_ENV if playbook == 'baseline' else None)
        if kind == 'check_cold':
            check_no_peerings(members)
        else:
            check_mesh(members)

    def floors(self, cluster):
        """One run of each floor."""
        self._measure(self.floor_samples['noop_task'], [cluster], 'one no-op task', plays=noop_play())
        self._measure(self.floor_samples['one_module_task'], [cluster], 'one module task',
                      plays=info_list_play(cluster))

    def mesh(self, size, repeat, baseline_repeat, kinds):
        """`repeat` rounds on the mesh of the first `size` clusters; the baseline in `baseline_repeat` of them."""
        members = self.clusters[:size]
        inventory = mesh_inventory(members, os.path.join(self.workdir, 'mesh-%d.yml' % size))
        baseline_rounds = repeat if size < LARGE_MESH else min(repeat, baseline_repeat)
        for round_number in range(repeat):
            order = PLAYBOOK_ORDER if round_number % 2 == 0 else PLAYBOOK_ORDER[::-1]
            order = [playbook for playbook in order if playbook == 'new' or round_number < baseline_rounds]
            if 'check_cold' in kinds:
                churn(members)
                for playbook in order:
                    self.run(size, playbook, 'check_cold', members, inventory)
            for index, playbook in enumerate(order):
                churn(members)  # also deletes the previous run's peerings; see consul_regimes
                self.run(size, playbook, 'cold', members, inventory)
                if index == 0:
                    # The peered mesh is the same whichever playbook made it: both re-run it, interleaved.
                    for kind in ('noop', 'check'):
                        if kind in kinds:
                            for other in order:
                                self.run(size, other, kind, members, inventory)
            self.floors(members[0])
        delete_all(members)

    def report(self, sizes, repeat, baseline_repeat):
        """The figures of every run kind, the floors, the lines fitted to wall time against N, and projections."""
        rows = []
        for (size, playbook, kind), samples in sorted(self.samples.items(), key=lambda item: (
                item[0][0], KINDS.index(item[0][2]), PLAYBOOK_ORDER.index(item[0][1]))):
            row = {'clusters': size, 'peerings': peerings_of(size), 'playbook': playbook, 'kind': kind}
            row.update(samples.figures())
            rows.append(row)
        result = {'sizes': list(sizes), 'repeat': repeat, 'baseline_repeat': baseline_repeat,
                  'baseline_repeat_from_clusters': LARGE_MESH, 'forks': default_forks(),
                  'floors': dict((floor, samples.figures()) for floor, samples in self.floor_samples.items()),
                  'runs': rows, 'fits': {}, 'projections': {}}
        for playbook in PLAYBOOK_ORDER:
            for kind in FIT_KINDS:
                points = [(row['clusters'], row['wall']['median']) for row in rows
                          if row['playbook'] == playbook and row['kind'] == kind]
                if len(points) < 3:
                    continue
                fit = fit_line([size for size, _wall in points], [wall for _size, wall in points])
                result['fits'].setdefault(playbook, {})[kind] = fit
                result['projections'].setdefault(playbook, {})[kind] = dict(
                    (str(size), round(fit['slope'] * size + fit['intercept'], 2)) for size in PROJECT_TO)
        return result


def mesh_scale(clusters, sizes, repeat, baseline_repeat, workdir, kinds=DEFAULT_KINDS):
    """Every run kind on every mesh size, new and baseline playbook; see the module's docstring."""
    bench = MeshBench(clusters, workdir)
    for size in sizes:
        bench.mesh(size, repeat, baseline_repeat, kinds)
    return bench.report(sizes, repeat, baseline_repeat)
