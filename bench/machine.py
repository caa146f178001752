# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The machine the benchmarks ran on, what else ran on it, and what the benchmarks left running."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import threading

from ansible_collections.consul.peering.tests.support.ansible_cli import BIN
from ansible_collections.consul.peering.tests.support.consul_build import consul_binary

from ansible_collections.consul.peering.bench.measure import descendants, process_table


def machine():
    """CPUs, memory, and the versions of Python, Ansible, requests and Consul."""
    with open('/proc/meminfo', encoding='ascii') as handle:
        memory_kib = int(handle.readline().split()[1])
    with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as handle:
        model = next((line.split(':', 1)[1].strip() for line in handle if line.startswith('model name')), '?')
    core = subprocess.run([os.path.join(BIN, 'ansible'), '--version'], capture_output=True, text=True,
                          check=False).stdout.split('\n', 1)[0]
    consul = subprocess.run([consul_binary(allow_build=False), 'version'], capture_output=True, text=True,
                            check=False).stdout.split('\n', 1)[0]
    import requests  # pylint: disable=import-outside-toplevel
    return {'nproc': os.cpu_count(), 'cpu': model, 'memory_gib': round(memory_kib / 1024.0 / 1024.0, 1),
            'python': platform.python_version(), 'ansible': core, 'requests': requests.__version__,
            'consul': consul, 'kernel': platform.release()}


def activity(ours):
    """What else runs on the machine: load, and Consul / Ansible / pytest processes that are not ours."""
    table = process_table()
    mine = set(descendants(os.getpid(), table)) | {os.getpid()} | set(ours)
    foreign = [name for pid, (_parent, name) in table.items() if pid not in mine]
    busy = sorted(name for name in foreign if name.startswith(('python', 'ansible', 'pytest', 'molecule')))
    return {'load_1min': round(os.getloadavg()[0], 2), 'other_consul': foreign.count('consul'),
            'other_python_or_ansible': len(busy), 'other_names': sorted(set(busy))}


def leftover_consul(ours):
    """The Consul servers still running: ours (which should be none) and others'."""
    found = subprocess.run(['pgrep', '-x', 'consul'], capture_output=True, text=True, check=False).stdout.split()
    pids = set(int(pid) for pid in found)
    return {'started': len(ours), 'ours_left': sorted(pids & set(ours)), 'others': sorted(pids - set(ours))}


def default_forks():
    """Ansible's forks setting as ansible-playbook would read it."""
    from ansible import constants  # pylint: disable=import-outside-toplevel
    return constants.DEFAULT_FORKS  # pylint: disable=no-member  # set from the configuration at import


class LoadWatch:
    """Records the 1-minute load average every `interval` seconds while the benchmarks run."""

    def __init__(self, interval=15.0):
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(interval,), daemon=True)
        self._thread.start()

    def _watch(self, interval):
        while True:
            self.samples.append(round(os.getloadavg()[0], 2))
            if self._stop.wait(interval):
                return

    def stop(self):
        """Stop watching; return the load's median, minimum and maximum over the run."""
        self._stop.set()
        self._thread.join()
        return {'median': statistics.median(self.samples), 'min': min(self.samples), 'max': max(self.samples),
                'samples': len(self.samples)}


def work_tree(root):
    """The commit and tree measured (a tree outlives a rewritten history), and the files of the collection that
    differed from them (uncommitted work)."""
    def git(*args):
        return subprocess.run(['git', '-C', root] + list(args), capture_output=True, text=True, check=False).stdout
    changed = [line[3:] for line in git('status', '--porcelain', '--', 'plugins', 'roles', 'playbooks',
                                        'meta').splitlines()]
    return {'commit': git('rev-parse', 'HEAD').strip(), 'tree': git('rev-parse', 'HEAD^{tree}').strip(),
            'uncommitted': changed}
