# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmarks for consul.peering: every figure next to its baseline, measured in the same run.

Starts its own Consul clusters with the test harness (HTTPS, ACLs on), then measures, by section:
  overhead  module overhead: `ansible localhost -m consul.peering.consul_peering_info` vs `-m ansible.builtin.ping`
  calls     HTTP calls per operation, counted from Consul's own request log
  cold      two clusters to ACTIVE: the role (also with ANSIBLE_PIPELINING) and the 0.1.0 role vs
            bench/cli_peering.sh (the consul CLI), with Consul's own time from the establish call to ACTIVE as the
            floor; each with a rested and with a busy dialing cluster; a no-op re-run; Ansible's own floor
  mesh      full meshes of N clusters: playbooks/peer_clusters.yml vs the 0.1.0 pairwise playbook
            (bench/baseline), cold, no-op re-run and check mode: wall and CPU time, module runs, HTTP calls to
            the peering endpoints, peak controller memory; two floors; lines fitted to wall time against N
  sync      Consul's rate-limited sync loop: each dialer's establishes back to back vs one pair at a time
Then it judges issue 14's targets (bench/targets.py), prints Markdown tables, writes JSON
(bench/results/latest.json by default) and stops every server it started. Nothing is asserted: targets are
printed next to the figures. `make bench` runs it.
The code: measure.py (timing, CPU, memory, module runs, HTTP calls, fits), consul_regimes.py (Consul's state,
regimes and floor), machine.py, plays.py, sections/ (one module per section), targets.py, report.py (Markdown
and JSON).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import time
import traceback

from ansible_collections.consul.peering.tests.support.clusters import ClusterSet

from ansible_collections.consul.peering.bench import targets
from ansible_collections.consul.peering.bench.machine import LoadWatch, activity, leftover_consul, machine, work_tree
from ansible_collections.consul.peering.bench.measure import BENCH, hide_secrets, scrub
from ansible_collections.consul.peering.bench.plays import ROOT
from ansible_collections.consul.peering.bench.report import render, write_json
from ansible_collections.consul.peering.bench.sections.calls import http_calls
from ansible_collections.consul.peering.bench.sections.cold import cold_peering
from ansible_collections.consul.peering.bench.sections.mesh import DEFAULT_KINDS, KINDS, mesh_scale
from ansible_collections.consul.peering.bench.sections.overhead import module_overhead
from ansible_collections.consul.peering.bench.sections.sync_loop import sync_loop

SECTIONS = ('overhead', 'calls', 'cold', 'mesh', 'sync')
# The cold section needs five clusters: dc1 accepts; dc2 dials in the busy regime, dc3-dc5 in turn in the rested one.
COLD_CLUSTERS = 5


def parse_options(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--only', action='append', choices=SECTIONS, help='run only this section (repeatable)')
    parser.add_argument('--repeat', type=int, default=5,
                        help='repetitions of the cold section (default 5); the overhead section runs twice as many')
    parser.add_argument('--mesh-repeat', type=int, default=3, help='repetitions of each mesh run (default 3)')
    parser.add_argument('--baseline-repeat', type=int, default=2,
                        help='repetitions of the baseline playbook on meshes of 6 clusters or more (default 2: its '
                             'cold run of 10 clusters takes about a minute)')
    parser.add_argument('--sizes', default='2,4,6,8,10', help='mesh sizes, comma-separated (default 2,4,6,8,10)')
    parser.add_argument('--mesh-kinds', default=','.join(DEFAULT_KINDS),
                        help='mesh runs to make, comma-separated, of %s (default %s)' % (
                            ', '.join(KINDS), ','.join(DEFAULT_KINDS)))
    parser.add_argument('--sync-size', type=int, default=6, help='clusters of the sync-loop mesh (default 6)')
    parser.add_argument('--sync-repeat', type=int, default=2, help='repetitions of each sync-loop order (default 2)')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run: 2 repetitions, one run per mesh, meshes of 2 and 3, sync loop on 3')
    parser.add_argument('--output', default=os.path.join(BENCH, 'results', 'latest.json'),
                        help='where to write the JSON report (default bench/results/latest.json)')
    parser.add_argument('--from-json', metavar='FILE',
                        help='run nothing: judge the targets again and print the report of a saved run, and '
                             'write FILE back with the new verdicts')
    options = parser.parse_args(argv)
    options.sections = options.only or list(SECTIONS)
    options.sizes = sorted(int(size) for size in options.sizes.split(','))
    options.mesh_kinds = [kind for kind in options.mesh_kinds.split(',') if kind]
    unknown = set(options.mesh_kinds) - set(KINDS)
    if unknown:
        parser.error('--mesh-kinds: unknown %s (choose from %s)' % (', '.join(sorted(unknown)), ', '.join(KINDS)))
    if options.quick:
        options.repeat, options.mesh_repeat, options.baseline_repeat = 2, 1, 1
        options.sizes, options.sync_size, options.sync_repeat = [2, 3], 3, 1
    return options


def clusters_needed(options):
    counts = [2]
    if 'cold' in options.sections:
        counts.append(COLD_CLUSTERS)
    if 'mesh' in options.sections:
        counts.append(max(options.sizes))
    if 'sync' in options.sections:
        counts.append(options.sync_size)
    return max(counts)


def section_runs(options, clusters, workdir):
    """(section, JSON key, function) for every section asked for, in order."""
    dc1, dc2 = clusters[0], clusters[1]
    table = (
        ('overhead', 'module_overhead', lambda: module_overhead(dc1, options.repeat * 2)),
        ('calls', 'http_calls', lambda: http_calls(dc1, dc2)),
        ('cold', 'cold_peering', lambda: cold_peering(dc1, dc2, clusters[2:COLD_CLUSTERS], options.repeat, workdir)),
        ('mesh', 'mesh', lambda: mesh_scale(clusters, options.sizes, options.mesh_repeat, options.baseline_repeat,
                                            workdir, options.mesh_kinds)),
        ('sync', 'sync_loop', lambda: sync_loop(clusters, options.sync_size, options.sync_repeat)),
    )
    return [entry for entry in table if entry[0] in options.sections]


def report_again(path):
    """Judge the targets of a saved run again (as targets.py now judges them) and print its report."""
    with open(path, encoding='utf-8') as handle:
        report = json.load(handle)
    report['issue_14_targets'] = targets.evaluate(report)
    print(render(report))
    write_json(report, path)
    return 0


def main(argv=None):
    options = parse_options(argv)
    if options.from_json:
        return report_again(options.from_json)
    # Everything temporary (ansible_cli's run folders, the harness's cluster folders) goes into one folder.
    workdir = tempfile.mkdtemp(prefix='consul-peering-bench-')
    tempfile.tempdir = workdir
    started = time.monotonic()
    load = LoadWatch()
    report = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
              'machine': machine(), 'work_tree': work_tree(ROOT), 'repeat': options.repeat,
              'mesh_repeat': options.mesh_repeat,
              'sections': list(options.sections), 'activity': {'start': activity([])}}
    if report['activity']['start']['other_consul']:
        print('note: %(other_consul)d Consul servers that are not ours are running (load %(load_1min)s): '
              'timings will be noisy' % report['activity']['start'], flush=True)
    ours = []
    try:
        with ClusterSet.start(clusters_needed(options), acl=True, tls=True) as clusters:
            ours = [cluster.pid for cluster in clusters]
            hide_secrets(cluster.token for cluster in clusters)
            for section, key, run_section in section_runs(options, clusters, workdir):
                print('[%4.0f s] %s ...' % (time.monotonic() - started, key.replace('_', ' ')), flush=True)
                report['activity'][section] = activity(ours)
                report[key] = run_section()
    except Exception as exc:  # pylint: disable=broad-exception-caught
        report['error'] = scrub('%s: %s' % (type(exc).__name__, exc))
        print(scrub(traceback.format_exc()), file=sys.stderr)
    try:
        report['issue_14_targets'] = targets.evaluate(report)
    except (KeyError, TypeError, ZeroDivisionError) as exc:  # a section stopped early: judge nothing
        report.setdefault('error', 'judging the targets: %s: %s' % (type(exc).__name__, exc))
    report['cleanup'] = leftover_consul(ours)
    report['seconds'] = round(time.monotonic() - started, 1)
    report['activity']['end'] = activity([])
    report['load'] = load.stop()
    if 'error' in report:
        print('bench: files kept in %s' % workdir, file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(render(report))
    write_json(report, options.output)
    print('\n%.0f s in all. JSON: %s' % (report['seconds'], options.output))
    return 1 if 'error' in report or report['cleanup']['ours_left'] else 0


if __name__ == '__main__':
    sys.exit(main())
