# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Measuring a command from the outside: wall and CPU time, the controller's memory, where a playbook spends
its time and how many module runs it made, the HTTP calls Consul logged for it, and a straight-line fit."""

from __future__ import annotations

import collections
import itertools
import json
import os
import re
import resource
import statistics
import sys
import threading
import time

from ansible_collections.consul.peering.tests.support.ansible_cli import CALLBACKS, run_playbook

BENCH = os.path.dirname(os.path.realpath(__file__))
TIMER_PLUGINS = os.path.join(BENCH, 'callback_plugins')
MODULE_INTERPRETER = os.path.join(BENCH, 'module_interpreter.sh')
MEMORY_SAMPLE_SECONDS = 0.1

_run_numbers = itertools.count(1)
# Every peering token starts with the base64 of '{"', so anything shaped like this is one.
_PEERING_TOKEN = re.compile(r'eyJ[A-Za-z0-9+/=_-]{20,}')
_ACL_TOKENS = set()  # the clusters' management tokens, kept out of text that goes to the JSON and stdout


class BenchError(RuntimeError):
    """A benchmarked command failed, or Consul did not reach the expected state."""


def hide_secrets(tokens):
    """Remember ACL tokens that scrub() must take out of any text the bench prints or writes."""
    _ACL_TOKENS.update(token for token in tokens if token)


def scrub(text):
    """`text` without the clusters' ACL tokens or anything shaped like a peering token."""
    for token in _ACL_TOKENS:
        text = text.replace(token, '<ACL token>')
    return _PEERING_TOKEN.sub('<peering token>', text)


# -- time ----------------------------------------------------------------------------------------

def children_cpu_seconds():
    """CPU seconds (user + system) of every child process that has finished, and of their children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(what, command, *args, **kwargs):
    """Run command(*args, **kwargs), which runs a process; return (its result, wall seconds, CPU seconds).

    The CPU seconds are those of the processes it ran (the Consul servers are not children that finish).
    """
    cpu_before, started = children_cpu_seconds(), time.perf_counter()
    result = command(*args, **kwargs)
    wall, cpu = time.perf_counter() - started, children_cpu_seconds() - cpu_before
    if result.returncode:
        raise BenchError(scrub('%s failed (exit %d):\n%s\n%s' % (
            what, result.returncode, (result.stdout or '')[-4000:], (result.stderr or '')[-2000:])))
    return result, wall, cpu


def summary(values, digits=3):
    """Median and spread of a list of figures."""
    return {'median': round(statistics.median(values), digits), 'min': round(min(values), digits),
            'max': round(max(values), digits), 'n': len(values), 'values': [round(value, digits) for value in values]}


def fit_line(xs, ys):
    """Least-squares line y = slope * x + intercept through the points, and its R^2."""
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread_x = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / spread_x
    intercept = mean_y - slope * mean_x
    residual = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys))
    total = sum((y - mean_y) ** 2 for y in ys)
    return {'slope': round(slope, 4), 'intercept': round(intercept, 4),
            'r_squared': round(1 - residual / total, 4) if total else 1.0}


# -- memory --------------------------------------------------------------------------------------

def process_table():
    """{pid: (parent pid, command name)} of every process, from /proc."""
    table = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry, encoding='utf-8', errors='replace') as handle:
                    head, tail = handle.read().rsplit(')', 1)
                table[int(entry)] = (int(tail.split()[1]), head.split('(', 1)[1])
            except (OSError, ValueError, IndexError):
                continue
    return table


def descendants(pid, table):
    """Every process below `pid` in the process table."""
    children = {}
    for child, (parent, _name) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def process_memory_kib(pid):
    """(RSS, PSS) of a process in KiB; PSS shares copy-on-write pages among Ansible's forked workers."""
    rss = pss = 0
    with open('/proc/%d/smaps_rollup' % pid, encoding='ascii') as handle:
        for line in handle:
            if line.startswith('Rss:'):
                rss = int(line.split()[1])
            elif line.startswith('Pss:'):
                pss = int(line.split()[1])
    return rss, pss


class ControllerMemory:
    """Samples the memory of this process's descendants (the Consul servers excluded) and keeps the peaks."""

    def __init__(self, exclude, interval=MEMORY_SAMPLE_SECONDS):
        self.exclude = set(exclude)
        self.peak = {'tree_rss_mib': 0.0, 'tree_pss_mib': 0.0, 'largest_process_rss_mib': 0.0, 'processes': 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample_until_stopped, args=(interval,), daemon=True)
        self._thread.start()

    def _sample(self):
        pids = [pid for pid in descendants(os.getpid(), process_table()) if pid not in self.exclude]
        tree_rss = tree_pss = largest = 0
        for pid in pids:
            try:
                rss, pss = process_memory_kib(pid)
            except (OSError, ValueError):
                continue
            tree_rss, tree_pss, largest = tree_rss + rss, tree_pss + pss, max(largest, rss)
        for key, value in (('tree_rss_mib', tree_rss / 1024.0), ('tree_pss_mib', tree_pss / 1024.0),
                           ('largest_process_rss_mib', largest / 1024.0), ('processes', len(pids))):
            self.peak[key] = max(self.peak[key], value)

    def _sample_until_stopped(self, interval):
        while not self._stop.is_set():
            self._sample()
            time.sleep(interval)

    def stop(self):
        """Stop sampling; return the peaks in MiB (and the most processes seen at once)."""
        self._stop.set()
        self._thread.join()
        return dict((key, round(value, 1)) for key, value in self.peak.items())


# -- inside a playbook run ------------------------------------------------------------------------

class TaskTimer:
    """Runs ansible-playbook with bench/callback_plugins/task_timer.py, which records when the playbook and each
    task start, and with bench/module_interpreter.sh as the modules' Python, which records each module run."""

    def __init__(self, workdir):
        number = next(_run_numbers)
        self.path = os.path.join(workdir, 'task-times-%d.jsonl' % number)
        self.module_runs_path = os.path.join(workdir, 'module-runs-%d.txt' % number)
        self.env = {'ANSIBLE_CALLBACK_PLUGINS': os.pathsep.join([CALLBACKS, TIMER_PLUGINS]),
                    'ANSIBLE_CALLBACKS_ENABLED': 'record_results,task_timer', 'TASK_TIMER_FILE': self.path,
                    'BENCH_MODULE_RUNS_FILE': self.module_runs_path, 'BENCH_PYTHON': sys.executable}
        self.launched = self.exited = None

    def run(self, **kwargs):
        """run_playbook(**kwargs) with the timer and the module run counter on."""
        env = dict(kwargs.pop('env', None) or {})
        env.update(self.env)
        # Extra vars win over the inventory and add_host, so every module of the run goes through the counter.
        extra_args = ['-e', 'ansible_python_interpreter=%s' % MODULE_INTERPRETER] + list(kwargs.pop('extra_args', ()))
        self.launched = time.time()
        try:
            return run_playbook(env=env, extra_args=extra_args, **kwargs)
        finally:
            self.exited = time.time()

    def phases(self):
        """[(phase, seconds)]: Ansible's start-up, every task (until the next one starts), the exit."""
        with open(self.path, encoding='utf-8') as handle:
            events = [json.loads(line) for line in handle if line.strip()]
        marks = [('ansible-playbook start-up (Python, Ansible, inventory, parse)', self.launched)]
        marks += [('task: %s' % event['name'], event['time']) for event in events if event['event'] == 'task_start']
        marks += [('exit', next(event['time'] for event in events if event['event'] == 'playbook_end'))]
        phases = [(name, round(marks[index + 1][1] - start, 3)) for index, (name, start) in enumerate(marks[:-1])]
        return phases + [('exit', round(self.exited - marks[-1][1], 3))]

    def modules_run(self):
        """{module: how many times the run executed it}, from the AnsiballZ file each run started."""
        if not os.path.exists(self.module_runs_path):
            return {}
        with open(self.module_runs_path, encoding='utf-8') as handle:
            names = [os.path.basename(line.strip()) for line in handle if line.strip()]
        return dict(collections.Counter(name[len('AnsiballZ_'):-len('.py')] if name.startswith('AnsiballZ_')
                                        else name for name in names))

    def module_runs(self):
        """How many times the run executed a module."""
        return sum(self.modules_run().values())


def median_phases(runs):
    """The median of each phase over repetitions whose phases have the same names."""
    if not runs:
        return []
    names = [name for name, _seconds in runs[0]]
    same = [run for run in runs if [name for name, _seconds in run] == names]
    return [(name, round(statistics.median(run[index][1] for run in same), 3)) for index, name in enumerate(names)]


# -- what Consul saw --------------------------------------------------------------------------------

# Consul logs a request once it has answered it; a call that just returned may need this long to show.
LOG_SETTLE_SECONDS = 0.3


class HttpCalls:
    """Counts the HTTP calls the given clusters answered from now on, from their own request logs."""

    def __init__(self, clusters):
        self.marks = [(cluster, cluster.log_mark()) for cluster in clusters]

    def calls(self):
        """[(cluster name, method, path)] of every call since the marks, each cluster's oldest first."""
        time.sleep(LOG_SETTLE_SECONDS)
        return [(cluster.name, request.method, request.url.split('?', 1)[0])
                for cluster, mark in self.marks for request in cluster.http_requests(since=mark, settle=0)]

    def peering_calls(self):
        """The calls to the peering endpoints (/v1/peering/..., /v1/peerings) since the marks."""
        return [call for call in self.calls() if call[2].startswith(('/v1/peering/', '/v1/peerings'))]
