# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmarks' report: Markdown tables of every section (what docs/performance.md shows), and the JSON."""

from __future__ import annotations

import itertools
import json
import os

from ansible_collections.consul.peering.bench.sections.mesh import KINDS, PROJECT_TO, mesh_run

KIND_LABELS = {'cold': 'cold', 'noop': 'no-op re-run', 'check': 'check mode (peered)',
               'check_cold': 'check mode (no peerings)'}


def seconds(stats):
    """'1.23 s (1.01–1.50)': median (min–max)."""
    return '%.2f s (%.2f–%.2f)' % (stats['median'], stats['min'], stats['max'])


def verdict(value, target):
    """'met', or by how much it was missed."""
    return 'met' if value <= target else 'missed by %.0f%%' % ((value / target - 1) * 100)


def phase_name(name):
    return name.replace('consul.peering.cluster_peering : ', '').replace('cluster_peering : ', '')


def merged_phases(phases):
    """[(name, seconds)] with the phases of one task on several hosts in a row (a meta task starts once per
    host) summed into one, named 'name (x N hosts)'."""
    merged = []
    for name, seconds in phases:
        if merged and merged[-1][0] == name:
            merged[-1][1] += seconds
            merged[-1][2] += 1
        else:
            merged.append([name, seconds, 1])
    return [(name if count == 1 else '%s (x %d hosts)' % (name, count), seconds) for name, seconds, count in merged]


def compress_calls(calls):
    """'dc2 GET /v1/peering/:name ×3' for runs of the same call."""
    groups = [(call, len(list(run))) for call, run in itertools.groupby(calls)]
    return ', '.join(call if count == 1 else '%s ×%d' % (call, count) for call, count in groups)


def report_overhead(overhead):
    lines = ['', '### 1. Module overhead (ad hoc, connection from CONSUL_* variables, n = %d)' % overhead['info']['n'],
             '', '| command | wall time | ratio | target |', '| --- | --- | --- | --- |',
             '| `ansible localhost -m ansible.builtin.ping` | %s | 1 | |' % seconds(overhead['ping']),
             '| `ansible localhost -m consul.peering.consul_peering_info` | %s | **%.2f×** | ≤ %.2f× (%s) |'
             % (seconds(overhead['info']), overhead['ratio'], overhead['target'],
                verdict(overhead['ratio'], overhead['target'])),
             '', '| what the module process imports (`python -c`) | wall time |', '| --- | --- |']
    return lines + ['| %s | %s |' % (label, seconds(stats)) for label, stats in overhead['imports'].items()]


def report_calls(rows):
    lines = ['', "### 2. HTTP calls per operation (Consul's own request log)", '',
             '| operation | calls | writes | least needed | calls made |', '| --- | --- | --- | --- | --- |']
    for row in rows:
        extra = '' if row['count'] <= row['minimum'] else ' (+%d)' % (row['count'] - row['minimum'])
        lines.append('| %s | %d%s | %d | %d: %s | %s |' % (
            row['operation'], row['count'], extra, row['writes'], row['minimum'], row['why'],
            compress_calls(row['calls'])))
    return lines


def report_cold(cold):
    rested, busy, targets = cold['rested'], cold['busy'], cold['targets']
    floor = cold['playbook_floor']
    lines = ['', '### 3-4. Two clusters to ACTIVE on both sides (n = %d each)' % rested['role']['wall']['n'], '',
             'Rested: the dialing cluster had no peering change for %d s before. Busy: it had one just before (as '
             'after another peering run). "Consul" is what Consul itself took in the same runs: from answering the '
             'establish call to opening the peering stream, from its log.' % cold['rest_seconds'], '',
             '| run | rested | Consul | busy | Consul | CPU (rested) | module runs | ratio rested / busy | target |',
             '| --- | --- | --- | --- | --- | --- | --- | --- | --- |']

    def cell(regime, key):
        if key not in regime:
            return ' | '
        wait = regime[key].get('consul_wait')
        return '%s | %s' % (seconds(regime[key]['wall']), '%.2f s' % wait['median'] if wait else '')

    def row(label, key, ratio='', target=''):
        cpu = rested[key]['cpu']['median']
        runs = rested[key].get('module_runs')
        lines.append('| %s | %s | %s | %s | %s | %s | %s |' % (
            label, cell(rested, key), cell(busy, key), '%.2f s' % cpu if cpu else '',
            '%d' % runs['median'] if runs else '', ratio, target))

    def verdicts(key, target_key=None):
        limit = targets[target_key or key]
        return '≤ %.1f× (%s; %s)' % (limit, verdict(rested[key], limit), verdict(busy[key], limit))

    row("Consul's floor: establish call → both sides ACTIVE, polled every 20 ms", 'floor')
    row('`bench/cli_peering.sh`: consul CLI generate-token, establish, `read` every 0.25 s', 'cli', '1')
    lines.append("| ansible-playbook running one no-op task (Ansible's floor) | %s | | | | | | %.2f× / %.2f× CLI | |" % (
        seconds(floor), floor['median'] / rested['cli']['wall']['median'],
        floor['median'] / busy['cli']['wall']['median']))
    row('role (one consul_peering_mesh task), cold', 'role',
        '**%.2f× / %.2f×** CLI' % (rested['role_vs_cli'], busy['role_vs_cli']), verdicts('role_vs_cli'))
    row('', 'role', '**%.2f× / %.2f×** floor, Consul taken out' % (
        rested['role_vs_floor_plus_consul'], busy['role_vs_floor_plus_consul']), verdicts('role_vs_floor_plus_consul'))
    if 'role_pipelining' in rested:
        row('role, cold, `ANSIBLE_PIPELINING=True`', 'role_pipelining', '%.2f× CLI' % rested['role_pipelining_vs_cli'])
    row('role, no-op re-run', 'noop', '**%.2f× / %.2f×** cold' % (rested['noop_vs_cold'], busy['noop_vs_cold']),
        verdicts('noop_vs_cold'))
    if 'baseline_role' in rested:
        row('0.1.0 role (six module tasks), cold', 'baseline_role', '%.2f× / %.2f× CLI; %.2f× / %.2f× floor, Consul '
            'taken out' % (rested['baseline_role_vs_cli'], busy['baseline_role_vs_cli'],
                           rested['baseline_role_vs_floor_plus_consul'], busy['baseline_role_vs_floor_plus_consul']))
        row('0.1.0 role, no-op re-run', 'baseline_noop', '%.2f× / %.2f× cold' % (
            rested['baseline_noop_vs_cold'], busy['baseline_noop_vs_cold']))
    if cold['noop_changed_tasks']:
        lines.append('WARNING: a no-op re-run changed: %s' % ', '.join(sorted(set(cold['noop_changed_tasks']))))
    lines += ['', 'Where the role spends its time (median per phase; a phase lasts until the next task starts):', '',
              '| phase | cold, rested | cold, busy | no-op re-run |', '| --- | --- | --- | --- |']
    busy_phases, noop_phases = dict(busy['role']['phases']), dict(rested['noop']['phases'])
    for name, phase_seconds in rested['role']['phases']:
        lines.append('| %s | %.2f s | %s | %s |' % (
            phase_name(name), phase_seconds, '%.2f s' % busy_phases[name] if name in busy_phases else '',
            '%.2f s' % noop_phases[name] if name in noop_phases else ''))
    return lines


def _memory_cell(memory):
    return '%.0f MiB' % memory['tree_pss_mib']


def report_mesh(mesh):
    lines = ['', '### 5-6. Full mesh: playbooks/peer_clusters.yml (new) against the 0.1.0 pairwise playbook '
             '(baseline), same inventory, %d forks' % mesh['forks'], '',
             'n = %d for the new playbook and for the baseline below %d clusters, %d for the baseline from %d clusters. '
             'Module runs: AnsiballZ runs, counted by bench/module_interpreter.sh; calls: HTTP calls to the peering '
             'endpoints in Consul\'s request logs; PSS: the peak of the controller\'s process tree.' % (
                 mesh['repeat'], mesh['baseline_repeat_from_clusters'], min(mesh['repeat'], mesh['baseline_repeat']),
                 mesh['baseline_repeat_from_clusters']), '',
             '| clusters (peerings) | run | baseline: wall | module runs | calls | PSS | new: wall | module runs | '
             'calls | PSS | new / baseline |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |']
    for size in mesh['sizes']:
        for kind in KINDS:
            new, baseline = mesh_run(mesh, size, 'new', kind), mesh_run(mesh, size, 'baseline', kind)
            if not new:
                continue
            cells = []
            for run in (baseline, new):
                cells += ([seconds(run['wall']), '%d' % run['module_runs']['median'],
                           '%d' % run['peering_calls']['median'], _memory_cell(run['memory'])] if run else [''] * 4)
            ratio = '**%.2f×**' % (new['wall']['median'] / baseline['wall']['median']) if baseline else ''
            lines.append('| %d (%d) | %s | %s | %s |' % (size, new['peerings'], KIND_LABELS[kind], ' | '.join(cells),
                                                         ratio))
    changed = [(row['clusters'], row['playbook'], row['kind'], row['changed_tasks']) for row in mesh['runs']
               if row['kind'] in ('noop', 'check') and row['changed_tasks']]
    for size, playbook, kind, tasks in changed:
        lines.append('WARNING: %s %s on %d clusters reported changes: %s' % (playbook, kind, size, ', '.join(tasks)))
    floors = mesh['floors']
    lines += ['', 'Floors, measured between the mesh runs (n = %d):' % floors['noop_task']['wall']['n'], '',
              '| floor | wall | module runs | calls | PSS |', '| --- | --- | --- | --- | --- |']
    for key, label in (('noop_task', 'ansible-playbook, one no-op task'),
                       ('one_module_task', 'ansible-playbook, one consul_peering_info task (list mode)')):
        floor = floors[key]
        lines.append('| %s | %s | %d | %d | %s |' % (label, seconds(floor['wall']), floor['module_runs']['median'],
                                                     floor['peering_calls']['median'], _memory_cell(floor['memory'])))
    module_cost = floors['one_module_task']['wall']['median'] - floors['noop_task']['wall']['median']
    lines.append('')
    lines.append('One module run costs %.2f s over the no-op floor: the most an in-controller (action plugin) variant '
                 'could save per run of the new playbook.' % module_cost)
    lines += ['', 'Wall time fitted to a line in N (clusters), medians of N = %s:' % ', '.join(
        str(size) for size in mesh['sizes']), '',
        '| playbook | run | slope | intercept | R² | %s |' % ' | '.join('%d clusters' % size for size in PROJECT_TO),
        '| --- | --- | --- | --- | --- |%s' % (' --- |' * len(PROJECT_TO))]
    for playbook, fits in mesh['fits'].items():
        for kind, fit in fits.items():
            projection = mesh['projections'][playbook][kind]
            lines.append('| %s | %s | %.3f s | %.2f s | %.3f | %s |' % (
                playbook, KIND_LABELS[kind], fit['slope'], fit['intercept'], fit['r_squared'],
                ' | '.join('%.1f s' % projection[str(size)] for size in PROJECT_TO)))
    largest = mesh_run(mesh, max(mesh['sizes']), 'new', 'cold')
    if largest and largest.get('phases'):
        noop = mesh_run(mesh, max(mesh['sizes']), 'new', 'noop')
        noop_phases = dict(merged_phases(noop['phases'])) if noop and noop.get('phases') else {}
        lines += ['', 'Where the new playbook spends its time, %d clusters (median per phase):' % max(mesh['sizes']),
                  '', '| phase | cold | no-op re-run |', '| --- | --- | --- |']
        for name, phase_seconds in merged_phases(largest['phases']):
            lines.append('| %s | %.2f s | %s |' % (phase_name(name), phase_seconds,
                                                   '%.2f s' % noop_phases[name] if name in noop_phases else ''))
    return lines


def report_sync_loop(sync):
    lines = ['', "### 7. Consul's sync loop: each dialer's establishes back to back, or one pair at a time "
             '(raw API calls, busy mesh of %d clusters, %d peerings, n = %d)' % (
                 sync['clusters'], sync['peerings'], sync['repeat']), '',
             '| order | wall: first call → every pair ACTIVE | stream openings seen | sync-loop runs that opened them '
             '(all dialers) |', '| --- | --- | --- | --- |']
    for order, label in (('batched', 'batched (consul_peering_mesh): tokens, each dialer\'s establishes, one wait'),
                         ('one_by_one', 'one pair at a time: token, establish, wait')):
        data = sync[order]
        opened = sum(entry['peerings'] for entry in data['dialers_last_run'].values() if entry)
        lines.append('| %s | %s | %d | %s |' % (label, seconds(data['wall']), opened,
                                                '%d (%d–%d)' % (data['loop_runs']['median'], data['loop_runs']['min'],
                                                                data['loop_runs']['max'])))
    lines += ['', 'One pair at a time takes **%.2f×** as long. Per dialer, last run of each order (peerings / loop '
              'runs / first establish → last stream open):' % sync['one_by_one_vs_batched'], '',
              '| dialer | batched | one by one |', '| --- | --- | --- |']
    for name in sorted(sync['batched']['dialers_last_run'], key=lambda label: int(label[2:])):
        cells = []
        for order in ('batched', 'one_by_one'):
            entry = sync[order]['dialers_last_run'].get(name)
            cells.append('%d / %d / %.2f s' % (entry['peerings'], entry['loop_runs'],
                                               entry['first_establish_to_last_stream']) if entry else '')
        lines.append('| %s | %s |' % (name, ' | '.join(cells)))
    return lines


def report_targets(targets):
    lines = ['', '### Issue 14 targets', '', '| target | result | verdict |', '| --- | --- | --- |']
    for target in targets:
        lines.append('| %s | %s | %s |' % (target['target'], target['shown'], '**%s**' % target['verdict']
                                           if target['verdict'] == 'missed' else target['verdict']))
    return lines


SECTION_REPORTS = (('module_overhead', report_overhead), ('http_calls', report_calls), ('cold_peering', report_cold),
                   ('mesh', report_mesh), ('sync_loop', report_sync_loop), ('issue_14_targets', report_targets))


def render(report):
    """The whole report as Markdown."""
    machine = report['machine']
    lines = ['consul.peering benchmarks, %s: %d CPUs (%s), %.1f GiB, Python %s, %s, requests %s, %s'
             % (report['date'], machine['nproc'], machine['cpu'], machine['memory_gib'], machine['python'],
                machine['ansible'], machine['requests'], machine['consul']),
             'Figures: median (min–max) of n runs.']
    tree = report.get('work_tree')
    if tree:
        lines.append('Measured: commit %s%s%s.' % (
            tree['commit'][:10], ' (tree %s)' % tree['tree'][:10] if tree.get('tree') else '',
            ', with uncommitted changes to %s' % ', '.join(tree['uncommitted']) if tree['uncommitted'] else ''))
    others = ['%s: %d other Consul servers, %d other Python/Ansible processes' % (
        section, seen['other_consul'], seen['other_python_or_ansible'])
        for section, seen in report['activity'].items() if seen['other_consul'] or seen['other_python_or_ansible']]
    loads = ', '.join('%s %.2f' % (section, seen['load_1min']) for section, seen in report['activity'].items())
    lines.append('Load (1 min) at the start of each section: %s.' % loads)
    if report.get('load'):
        lines.append('Load (1 min) over the whole run, sampled every 15 s: median %(median).2f (%(min).2f–%(max).2f).'
                     % report['load'])
    if others or report['activity']['start']['load_1min'] > 1.0:
        lines.append('WARNING: the machine was not idle (load %.2f at the start; %s): timings are noisier than usual.'
                     % (report['activity']['start']['load_1min'], '; '.join(others) or 'no other servers seen'))
    for key, render_section in SECTION_REPORTS:
        if report.get(key):
            lines += render_section(report[key])
    if 'error' in report:
        lines += ['', 'ERROR (the run stopped here): %s' % report['error'].splitlines()[0]]
    cleanup = report.get('cleanup')
    if cleanup:
        lines += ['', 'Clean-up: %d Consul servers started, %d left running (pgrep -x consul lists %d others, '
                  'not ours).' % (cleanup['started'], len(cleanup['ours_left']), len(cleanup['others']))]
    return '\n'.join(lines)


def write_json(report, path):
    """Write the report as JSON to `path`, making its folder if needed."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(report, handle, indent=2)
