# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 14's targets, judged from the figures of one run (the mesh and cold sections). Nothing is asserted:
each target gets its value, its limit and a verdict, which the report prints and the JSON keeps."""

from __future__ import annotations

from ansible_collections.consul.peering.bench.sections.mesh import mesh_run

NOOP_VS_BASELINE = 0.15    # no-op re-run and check mode: at most 0.15 times the baseline's wall time
NOOP_VS_FLOOR = 6.0        # ... and at most 6 times ansible-playbook running one no-op task
COLD_VS_BASELINE = 0.5     # cold mesh: at most half the baseline's wall time
MODULE_RUNS_PER_PEERING = 2  # cold mesh: at most two module runs per new peering
ROLE_VS_FLOOR = 2.5        # cold two-cluster role: at most 2.5 times Ansible's floor plus Consul's own time


def _target(name, value, limit, shown, met=None):
    return {'target': name, 'value': value, 'limit': limit, 'shown': shown,
            'verdict': ('met' if value <= limit else 'missed') if met is None else met}


def _steady_state_targets(mesh, size, kind, label):
    new, baseline = mesh_run(mesh, size, 'new', kind), mesh_run(mesh, size, 'baseline', kind)
    if not new:
        return []
    floor = mesh['floors']['noop_task']['wall']['median']
    wall = new['wall']['median']
    found = [
        _target('%s, %d clusters: HTTP calls to the peering endpoints <= N' % (label, size),
                new['peering_calls']['median'], size, '%d calls (N = %d)' % (new['peering_calls']['median'], size)),
        _target('%s, %d clusters: module runs <= N' % (label, size), new['module_runs']['median'], size,
                '%d module run(s)' % new['module_runs']['median']),
        _target('%s, %d clusters: wall <= %.1fx the one-no-op-task floor' % (label, size, NOOP_VS_FLOOR),
                round(wall / floor, 2), NOOP_VS_FLOOR, '%.2f s / %.2f s = %.2fx' % (wall, floor, wall / floor)),
    ]
    if baseline:
        ratio = wall / baseline['wall']['median']
        found.insert(2, _target('%s, %d clusters: wall <= %.2fx the baseline' % (label, size, NOOP_VS_BASELINE),
                                round(ratio, 3), NOOP_VS_BASELINE, '%.2f s / %.2f s = %.3fx' % (
                                    wall, baseline['wall']['median'], ratio)))
    return found


def _cold_mesh_targets(mesh, size):
    new, baseline = mesh_run(mesh, size, 'new', 'cold'), mesh_run(mesh, size, 'baseline', 'cold')
    if not new:
        return []
    peerings = new['peerings']
    runs = new['module_runs']['median']
    found = [_target('cold mesh, %d clusters: module runs <= %d per new peering' % (size, MODULE_RUNS_PER_PEERING),
                     round(runs / peerings, 3), MODULE_RUNS_PER_PEERING,
                     '%d run(s) for %d peerings = %.2f per peering' % (runs, peerings, runs / peerings))]
    if baseline:
        ratio = new['wall']['median'] / baseline['wall']['median']
        found.insert(0, _target('cold mesh, %d clusters: wall <= %.1fx the baseline' % (size, COLD_VS_BASELINE),
                                round(ratio, 3), COLD_VS_BASELINE, '%.2f s / %.2f s = %.2fx' % (
                                    new['wall']['median'], baseline['wall']['median'], ratio)))
    return found


def _cold_role_targets(cold):
    found = []
    floor = cold['playbook_floor']['median']
    for regime in ('rested', 'busy'):
        figures = cold[regime]
        role = figures['role']
        consul_wait = role.get('consul_wait', {}).get('median', 0.0)
        limit_seconds = ROLE_VS_FLOOR * floor + consul_wait
        before = figures.get('baseline_role_vs_floor_plus_consul')
        found.append(_target(
            'cold two-cluster role, %s dialer: wall <= %.1fx the one-no-op-task floor + Consul'
            % (regime, ROLE_VS_FLOOR),
            figures['role_vs_floor_plus_consul'], ROLE_VS_FLOOR,
            '(%.2f s - %.2f s Consul) / %.2f s = %.2fx (limit %.2f s)%s' % (
                role['wall']['median'], consul_wait, floor, figures['role_vs_floor_plus_consul'], limit_seconds,
                '; 0.1.0 role %.2fx' % before if before is not None else '')))
    return found


def _growth(mesh):
    """The fitted lines, reported: the issue asks for the fit and projections, not for a limit."""
    found = []
    for kind, label in (('noop', 'no-op re-run'), ('check', 'check mode')):
        fit = mesh['fits'].get('new', {}).get(kind)
        if not fit:
            continue
        projection = mesh['projections']['new'][kind]
        found.append(_target(
            'growth of the %s in N: a straight line fitted to the medians' % label, fit['slope'], None,
            '%.3f s per cluster + %.2f s, R^2 = %.3f; 20 clusters %.1f s, 50 clusters %.1f s' % (
                fit['slope'], fit['intercept'], fit['r_squared'], projection['20'], projection['50']),
            met='reported'))
    return found


def _memory(mesh, size):
    new, baseline = mesh_run(mesh, size, 'new', 'cold'), mesh_run(mesh, size, 'baseline', 'cold')
    if not (new and baseline):
        return []
    return [_target('memory, cold mesh of %d clusters: peak controller PSS' % size, new['memory']['tree_pss_mib'],
                    baseline['memory']['tree_pss_mib'], '%.0f MiB against the baseline\'s %.0f MiB' % (
                        new['memory']['tree_pss_mib'], baseline['memory']['tree_pss_mib']), met='reported')]


def evaluate(report):
    """Every issue 14 target the report has the figures for, at the largest mesh measured."""
    found = []
    mesh = report.get('mesh')
    if mesh and mesh.get('runs'):
        size = max(mesh['sizes'])
        found += _steady_state_targets(mesh, size, 'noop', 'no-op re-run')
        found += _steady_state_targets(mesh, size, 'check', 'check mode')
        found += _cold_mesh_targets(mesh, size)
    if report.get('cold_peering'):
        found += _cold_role_targets(report['cold_peering'])
    if mesh and mesh.get('runs'):
        found += _growth(mesh) + _memory(mesh, max(mesh['sizes']))
    return found
