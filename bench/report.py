# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmarks' report: Markdown tables of every section (what docs/performance.md shows), and the JSON."""

from __future__ import annotations

import itertools
import json
import os



def seconds(stats):
    """'1.23 s (1.01–1.50)': median (min–max)."""
    return '%.2f s (%.2f–%.2f)' % (stats['median'], stats['min'], stats['max'])


def verdict(value, target):
    """'met', or by how much it was missed."""
    return 'met' if value <= target else 'missed by %.0f%%' % ((value / target - 1) * 100)


def phase_name(name):
    return name.replace('consul.peering.cluster_peering : ', '').replace('cluster_peering : ', '')


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


def report_mesh(rows):
    lines = ['', '### 5-6. Full mesh with playbooks/peer_clusters.yml (busy clusters, n = %d each)'
             % rows[0]['seconds']['n'], '',
             '| clusters | peerings | forks | wall time | per peering | CPU time | peak controller memory: tree PSS / '
             'tree RSS / largest process RSS |', '| --- | --- | --- | --- | --- | --- | --- |']
    for row in rows:
        memory = row['memory']
        lines.append('| %d | %d | %d%s | %s | %.2f s | %.1f s | %.0f / %.0f / %.0f MiB (%d processes) |' % (
            row['clusters'], row['peerings'], row['forks'], ' (default)' if row['forks_default'] else '',
            seconds(row['seconds']), row['seconds_per_peering'], row['cpu_seconds']['median'], memory['tree_pss_mib'],
            memory['tree_rss_mib'], memory['largest_process_rss_mib'], memory['processes']))
    largest = [row for row in rows if row['clusters'] == rows[-1]['clusters']]
    lines += ['', 'Where the largest mesh spends its time (median per phase):', '',
              '| phase | %s |' % ' | '.join('forks %d' % row['forks'] for row in largest),
              '| --- |%s' % (' --- |' * len(largest))]
    for index, (name, _seconds) in enumerate(largest[0]['phases']):
        cells = ['%.2f s' % row['phases'][index][1] if index < len(row['phases']) else '' for row in largest]
        lines.append('| %s | %s |' % (phase_name(name), ' | '.join(cells)))
    return lines


SECTION_REPORTS = (('module_overhead', report_overhead), ('http_calls', report_calls), ('cold_peering', report_cold),
                   ('mesh', report_mesh))


def render(report):
    """The whole report as Markdown."""
    machine = report['machine']
    lines = ['consul.peering benchmarks, %s: %d CPUs (%s), %.1f GiB, Python %s, %s, requests %s, %s'
             % (report['date'], machine['nproc'], machine['cpu'], machine['memory_gib'], machine['python'],
                machine['ansible'], machine['requests'], machine['consul']),
             'Figures: median (min–max) of n runs.']
    others = ['%s: %d other Consul servers, %d other Python/Ansible processes' % (
        section, seen['other_consul'], seen['other_python_or_ansible'])
        for section, seen in report['activity'].items() if seen['other_consul'] or seen['other_python_or_ansible']]
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
