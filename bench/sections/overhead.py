# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Section 1, module overhead: `ansible localhost -m consul.peering.consul_peering_info` against
`-m ansible.builtin.ping`, and what each module process imports."""

from __future__ import annotations

import statistics
import subprocess
import sys

from ansible_collections.consul.peering.tests.support.ansible_cli import collections_path, run_adhoc, user_environ

from ansible_collections.consul.peering.bench.measure import summary, timed

TARGET = 1.15  # consul_peering_info at most 1.15 times ping
MODULES = (('ping', 'ansible.builtin.ping'), ('info', 'consul.peering.consul_peering_info'))
IMPORT_PROGRAMS = {
    'python -c pass': 'pass',
    'import ansible.module_utils.basic (what ping imports)': 'import ansible.module_utils.basic',
    '... + import requests': 'import ansible.module_utils.basic, requests',
    '... + consul.peering module_utils (what consul_peering_info imports)':
        'import ansible.module_utils.basic\n'
        'import ansible_collections.consul.peering.plugins.module_utils.module',
}


def import_cost(repeat):
    """Wall time of a Python process that imports what ping's module needs, and what ours needs."""
    env = dict(user_environ(), PYTHONPATH=collections_path())
    samples = dict((label, []) for label in IMPORT_PROGRAMS)
    for _ in range(repeat):
        for label, code in IMPORT_PROGRAMS.items():
            samples[label].append(timed(label, subprocess.run, [sys.executable, '-c', code], env=env,
                                        capture_output=True, text=True, check=False)[1])
    return dict((label, summary(values)) for label, values in samples.items())


def module_overhead(cluster, repeat):
    """Ad hoc runs of ping and consul_peering_info, interleaved, after one warm-up run each."""
    env = cluster.connection_env()
    samples = {'ping': [], 'info': []}
    for _key, module in MODULES:  # warm the page cache for both, not counted
        timed(module, run_adhoc, module, env=env)
    for _ in range(repeat):  # interleaved, so that drift in the machine's load hits both alike
        for key, module in MODULES:
            samples[key].append(timed(module, run_adhoc, module, env=env)[1])
    ratio = statistics.median(samples['info']) / statistics.median(samples['ping'])
    return {'ping': summary(samples['ping']), 'info': summary(samples['info']), 'ratio': round(ratio, 3),
            'paired_ratios': summary([info / ping for info, ping in zip(samples['info'], samples['ping'])]),
            'target': TARGET, 'imports': import_cost(repeat)}
