# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmarks for consul.peering: every figure next to its baseline, measured in the same run.

Starts its own Consul clusters with the test harness (HTTPS, ACLs on), then measures:
  1. module overhead: `ansible localhost -m consul.peering.consul_peering_info` vs `-m ansible.builtin.ping`
  2. HTTP calls per operation, counted from Consul's own request log
  3. cold two-cluster peering to ACTIVE: the role (also with ANSIBLE_PIPELINING) vs bench/cli_peering.sh
     (the consul CLI), with Consul's own time from the establish call to ACTIVE as the floor; each with a
     rested dialing cluster and with a busy one (see REST_SECONDS), and Ansible's own floor
  4. a no-op re-run of the role vs the cold run
  5. a full mesh of N clusters with playbooks/peer_clusters.yml, default forks and forks=10
  6. peak memory of the controller process tree while each mesh runs (PSS and RSS, sampled from /proc)
It prints Markdown tables, writes JSON (bench/results/latest.json by default) and stops every server it
started. Nothing is asserted: targets are printed next to the figures. `make bench` runs it.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import yaml

from ansible_collections.consul.peering.tests.support.ansible_cli import (
    BIN, CALLBACKS, collections_path, run_adhoc, run_playbook, user_environ,
)
from ansible_collections.consul.peering.tests.support.clusters import ClusterSet
from ansible_collections.consul.peering.tests.support.consul_build import consul_binary
from ansible_collections.consul.peering.tests.support.consul_state import (
    WRITE_METHODS, read_peering, task, unique_name, wait_for,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CLI_SCRIPT = os.path.join(ROOT, 'bench', 'cli_peering.sh')
TIMER_PLUGINS = os.path.join(ROOT, 'bench', 'callback_plugins')
PEER_CLUSTERS = os.path.join(ROOT, 'playbooks', 'peer_clusters.yml')
TARGETS = {'module_overhead': 1.15, 'role_vs_cli': 1.5, 'noop_vs_cold': 0.5}

_serial = itertools.count(1)
_SECRETS = set()  # the clusters' management tokens, kept out of error text that goes to the JSON and stdout
_PEERING_TOKEN = re.compile(r'eyJ[A-Za-z0-9+/=_-]{20,}')  # base64 of '{"' : every peering token starts so


class BenchError(RuntimeError):
    """A benchmarked command failed, or Consul did not reach the expected state."""


# -- measuring ---------------------------------------------------------------------------------

def children_cpu():
    """CPU seconds (user + system) of every child process that has finished, and of their children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(what, function, *args, **kwargs):
    """Run function(*args, **kwargs), which runs a command; return (its result, wall seconds, CPU seconds)."""
    cpu, started = children_cpu(), time.perf_counter()
    result = function(*args, **kwargs)
    wall, cpu = time.perf_counter() - started, children_cpu() - cpu
    if result.returncode:
        raise BenchError(scrub('%s failed (exit %d):\n%s\n%s' % (what, result.returncode, (result.stdout or '')[-4000:],
                                                                 (result.stderr or '')[-2000:])))
    return result, wall, cpu


def scrub(text):
    """`text` without the clusters' ACL tokens or anything shaped like a peering token."""
    for secret in _SECRETS:
        text = text.replace(secret, '<ACL token>')
    return _PEERING_TOKEN.sub('<peering token>', text)


def summary(values, digits=3):
    """Median and spread of a list of figures."""
    return {'median': round(statistics.median(values), digits), 'min': round(min(values), digits),
            'max': round(max(values), digits), 'n': len(values), 'values': [round(v, digits) for v in values]}


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
    children = {}
    for child, (parent, _name) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def _memory_kib(pid):
    """(RSS, PSS) of a process in KiB; PSS shares copy-on-write pages among Ansible's forked workers."""
    rss = pss = 0
    with open('/proc/%d/smaps_rollup' % pid, encoding='ascii') as handle:
        for line in handle:
            if line.startswith('Rss:'):
                rss = int(line.split()[1])
            elif line.startswith('Pss:'):
                pss = int(line.split()[1])
    return rss, pss


class TreeMemory:
    """Samples the memory of this process's descendants (the Consul servers excluded) and keeps the peaks."""

    def __init__(self, exclude, interval=0.1):
        self.exclude = set(exclude)
        self.peak = {'tree_rss_mib': 0.0, 'tree_pss_mib': 0.0, 'largest_process_rss_mib': 0.0, 'processes': 0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _sample(self):
        pids = [pid for pid in descendants(os.getpid(), process_table()) if pid not in self.exclude]
        tree_rss = tree_pss = largest = 0
        for pid in pids:
            try:
                rss, pss = _memory_kib(pid)
            except (OSError, ValueError):
                continue
            tree_rss, tree_pss, largest = tree_rss + rss, tree_pss + pss, max(largest, rss)
        for key, value in (('tree_rss_mib', tree_rss / 1024.0), ('tree_pss_mib', tree_pss / 1024.0),
                           ('largest_process_rss_mib', largest / 1024.0), ('processes', len(pids))):
            self.peak[key] = max(self.peak[key], value)

    def _run(self, interval):
        while not self._stop.is_set():
            self._sample()
            time.sleep(interval)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return dict((key, round(value, 1)) for key, value in self.peak.items())


class TaskTimer:
    """Environment for ansible-playbook that records when the playbook and each task start (bench/callback_plugins)."""

    def __init__(self, workdir):
        self.path = os.path.join(workdir, 'task-times-%d.jsonl' % next(_serial))
        self.env = {'ANSIBLE_CALLBACK_PLUGINS': os.pathsep.join([CALLBACKS, TIMER_PLUGINS]),
                    'ANSIBLE_CALLBACKS_ENABLED': 'record_results,task_timer', 'TASK_TIMER_FILE': self.path}
        self.launched = self.exited = None

    def run(self, **kwargs):
        """run_playbook(**kwargs) with the timer on."""
        env = dict(kwargs.pop('env', None) or {})
        env.update(self.env)
        self.launched = time.time()
        try:
            return run_playbook(env=env, **kwargs)
        finally:
            self.exited = time.time()

    def phases(self):
        """[(phase, seconds)]: Ansible's start-up, every task (until the next one starts), the exit."""
        with open(self.path, encoding='utf-8') as handle:
            events = [json.loads(line) for line in handle if line.strip()]
        marks = [('ansible-playbook start-up (Python, Ansible, inventory, parse)', self.launched)]
        marks += [('task: %s' % event['name'], event['time']) for event in events if event['event'] == 'task_start']
        marks += [('exit', next(e['time'] for e in events if e['event'] == 'playbook_end'))]
        phases = [(name, round(marks[i + 1][1] - start, 3)) for i, (name, start) in enumerate(marks[:-1])]
        return phases + [('exit', round(self.exited - marks[-1][1], 3))]


def median_phases(runs):
    """The median of each phase over repetitions whose phases have the same names."""
    if not runs:
        return []
    names = [name for name, _seconds in runs[0]]
    same = [run for run in runs if [name for name, _seconds in run] == names]
    return [(name, round(statistics.median(run[i][1] for run in same), 3)) for i, name in enumerate(names)]


# -- Consul side -------------------------------------------------------------------------------

# Consul 1.14 opens the stream of a new dialing peering from its peering sync loop, which runs again on
# every peering change but is rate limited (agent/consul/leader_connect.go: loopRateLimit 0.2/s, burst 5,
# used by runPeeringSync in leader_peering.go). Measured on this harness: a dialing server that had no
# peering change for 15 s or more reaches ACTIVE in about 0.03 s; one that had a change a few seconds
# before (even one token and its deletion) takes 4-5 s. Both regimes are measured, on separate clusters.
REST_SECONDS = 20


def delete_all(clusters, timeout=120):
    """Delete every peering of every cluster and wait until Consul has removed them."""
    for cluster in clusters:
        for peering in cluster.api('GET', '/v1/peerings').json() or []:
            cluster.api('DELETE', '/v1/peering/%s' % peering['Name'])
    for cluster in clusters:
        wait_for(lambda c=cluster: not c.api('GET', '/v1/peerings').json(), timeout=timeout, interval=0.1,
                 what='every peering on %s to be deleted' % cluster.name)


def churn(clusters):
    """Make a peering change on each cluster (a token for a scratch peering, then its deletion): the state a
    cluster is in right after another peering run, which makes Consul's next dial wait for its rate limit."""
    for cluster in clusters:
        cluster.api('POST', '/v1/peering/token', json={'PeerName': 'bench-churn'})
    delete_all(clusters)


class RestedDialers:
    """Dialing clusters handed out only once they had no peering change for REST_SECONDS."""

    def __init__(self, clusters):
        self.clusters = list(clusters)
        self.last_change = dict((cluster.name, time.monotonic() - REST_SECONDS) for cluster in self.clusters)
        self.slept = 0.0

    def take(self):
        cluster = min(self.clusters, key=lambda c: self.last_change[c.name])
        wait = self.last_change[cluster.name] + REST_SECONDS - time.monotonic()
        if wait > 0:
            time.sleep(wait)
            self.slept += wait
        return cluster

    def changed(self, cluster):
        self.last_change[cluster.name] = time.monotonic()


def states(cluster):
    return dict((p['Name'], p['State']) for p in cluster.api('GET', '/v1/peerings').json() or [])


def check_active(acceptor, dialer, acceptor_peer, dialer_peer):
    if states(acceptor).get(acceptor_peer) != 'ACTIVE' or states(dialer).get(dialer_peer) != 'ACTIVE':
        raise BenchError('the run ended before both sides were ACTIVE')


def check_mesh(members):
    for cluster in members:
        found = states(cluster)
        if len(found) != len(members) - 1 or set(found.values()) != {'ACTIVE'}:
            raise BenchError('after the mesh run %s has %s' % (cluster.name, found))


def _log_time(line):
    return datetime.datetime.strptime(line.split()[0], '%Y-%m-%dT%H:%M:%S.%fZ')


def consul_stream_wait(dialer, mark, dialer_peer):
    """Seconds from Consul answering the establish call to the dialer opening the peering stream (which makes
    both sides ACTIVE), from the dialer's own log after `mark`; None when the log does not show both."""
    with open(dialer.log_path, 'rb') as handle:
        handle.seek(mark)
        lines = handle.read().decode('utf-8', 'replace').splitlines()
    established = next((_log_time(line) for line in lines
                        if 'Request finished: method=POST url=/v1/peering/establish' in line), None)
    stream = next((_log_time(line) for line in lines if 'subscribing to resource type: dailer=true' in line
                   and ' peer_name=%s ' % dialer_peer in line), None)
    if established is None or stream is None:
        return None
    return round((stream - established).total_seconds(), 3)


def consul_floor(acceptor, dialer, acceptor_peer, dialer_peer, interval=0.02):
    """Consul's own time from sending the establish call until both sides report ACTIVE (polled every 20 ms)."""
    token = acceptor.api('POST', '/v1/peering/token', json={'PeerName': acceptor_peer}).json()['PeeringToken']
    started = time.perf_counter()
    dialer.api('POST', '/v1/peering/establish', json={'PeerName': dialer_peer, 'PeeringToken': token})
    wait_for(lambda: all((read_peering(cluster, name) or {}).get('State') == 'ACTIVE'
                         for cluster, name in ((dialer, dialer_peer), (acceptor, acceptor_peer))),
             timeout=120, interval=interval, what='the floor peering to be ACTIVE on both sides')
    return time.perf_counter() - started


# -- plays -------------------------------------------------------------------------------------

def role_play(acceptor, dialer, acceptor_peer, dialer_peer, state='present'):
    """A play applying the cluster_peering role to one pair, as the integration tests write it."""
    return [{'name': 'Peer %s and %s' % (acceptor.name, dialer.name), 'hosts': 'localhost', 'gather_facts': False,
             'tasks': [{'name': 'Apply the role', 'ansible.builtin.include_role': {'name': 'consul.peering.cluster_peering'},
                        # No labels: task names stay the same whichever clusters a repetition uses.
                        'vars': {'cluster_peering_state': state,
                                 'cluster_peering_acceptor': {'connection': acceptor.module_args(), 'peer_name': acceptor_peer},
                                 'cluster_peering_dialer': {'connection': dialer.module_args(), 'peer_name': dialer_peer}}}]}]


def module_task(cluster, module, **args):
    return task('%s on %s' % (module, cluster.name), cluster, module, **args)


def mesh_inventory(members, path):
    hosts = dict((c.name, {'consul_connection': c.module_args()}) for c in members)
    with open(path, 'w', encoding='utf-8') as handle:
        yaml.safe_dump({'all': {'children': {'consul_clusters': {
            'hosts': hosts, 'vars': {'consul_peering_mesh': [c.name for c in members]}}}}}, handle)
    return path


def default_forks():
    from ansible import constants  # pylint: disable=import-outside-toplevel
    return constants.DEFAULT_FORKS  # pylint: disable=no-member  # set from the configuration at import


# -- 1. module overhead ------------------------------------------------------------------------

def import_cost(repeat):
    """Wall time of a Python process that imports what ping's module needs, and what ours needs."""
    env = dict(user_environ(), PYTHONPATH=collections_path())
    programs = {
        'python -c pass': 'pass',
        'import ansible.module_utils.basic (what ping imports)': 'import ansible.module_utils.basic',
        '... + import requests': 'import ansible.module_utils.basic, requests',
        '... + consul.peering module_utils (what consul_peering_info imports)':
            'import ansible.module_utils.basic\n'
            'import ansible_collections.consul.peering.plugins.module_utils.module',
    }
    samples = dict((label, []) for label in programs)
    for _ in range(repeat):
        for label, code in programs.items():
            samples[label].append(timed(label, subprocess.run, [sys.executable, '-c', code], env=env,
                                        capture_output=True, text=True, check=False)[1])
    return dict((label, summary(values)) for label, values in samples.items())


def module_overhead(cluster, repeat):
    env = cluster.connection_env()
    modules = (('ping', 'ansible.builtin.ping'), ('info', 'consul.peering.consul_peering_info'))
    samples = {'ping': [], 'info': []}
    for _key, module in modules:  # warm the page cache for both, not counted
        timed(module, run_adhoc, module, env=env)
    for _ in range(repeat):  # interleaved, so that drift in the machine's load hits both alike
        for key, module in modules:
            samples[key].append(timed(module, run_adhoc, module, env=env)[1])
    ratio = statistics.median(samples['info']) / statistics.median(samples['ping'])
    return {'ping': summary(samples['ping']), 'info': summary(samples['info']), 'ratio': round(ratio, 3),
            'paired_ratios': summary([i / p for i, p in zip(samples['info'], samples['ping'])]),
            'target': TARGETS['module_overhead'], 'imports': import_cost(repeat)}


# -- 2. HTTP calls -----------------------------------------------------------------------------

def http_calls(dc1, dc2):
    """Every HTTP call each operation makes, from Consul's request log, against the least it needs."""
    acceptor, dialer = unique_name('calls-dc2'), unique_name('calls-dc1')  # the names dc1 and dc2 give each other
    rows = []

    def add_row(marks, operation, minimum, why):
        calls = [(cluster.name, method, url.split('?', 1)[0].replace(acceptor, ':name').replace(dialer, ':name'))
                 for cluster, mark in marks for method, url in cluster.http_requests(since=mark)]
        rows.append({'operation': operation, 'calls': ['%s %s %s' % call for call in calls], 'count': len(calls),
                     'writes': len([call for call in calls if call[1] in WRITE_METHODS]), 'minimum': minimum,
                     'why': why})

    def count(operation, minimum, why, counted, **run_args):
        marks = [(cluster, cluster.log_mark()) for cluster in counted]
        timed(operation, run_playbook, **run_args)
        add_row(marks, operation, minimum, why)

    def tasks(*task_list):
        return {'tasks': list(task_list)}

    count('info, one peering (none yet)', 1, 'GET the peering', [dc1],
          **tasks(module_task(dc1, 'consul_peering_info', name=acceptor)))
    count('info, list', 1, 'GET the list', [dc1], **tasks(module_task(dc1, 'consul_peering_info')))
    # Token and establish in one playbook (the token goes from one task to the next), counted per cluster.
    marks = dc1.log_mark(), dc2.log_mark()
    timed('token + establish', run_playbook, tasks=[
        dict(module_task(dc1, 'consul_peering_token', peer_name=acceptor), register='new_token'),
        module_task(dc2, 'consul_peering', peer_name=dialer, peering_token='{{ new_token.token }}')])
    for cluster, mark, operation, minimum, why in (
            (dc1, marks[0], 'token, new', 3, 'read, POST token, read back the PENDING peering it returns'),
            (dc2, marks[1], 'establish + wait, new', 3, 'read, POST establish, read until ACTIVE (at least once)')):
        add_row([(cluster, mark)], operation, minimum, why)
    count('token, re-run', 1, 'read: the peering exists', [dc1],
          **tasks(module_task(dc1, 'consul_peering_token', peer_name=acceptor)))
    count('establish, re-run (ACTIVE)', 1, 'read: already ACTIVE', [dc2],
          **tasks(module_task(dc2, 'consul_peering', peer_name=dialer)))
    count('info, one peering (ACTIVE)', 1, 'GET the peering', [dc1],
          **tasks(module_task(dc1, 'consul_peering_info', name=acceptor)))
    count('role, no-op re-run (both sides)', 2, 'one read per side', [dc1, dc2],
          plays=role_play(dc1, dc2, acceptor, dialer))
    count('delete + wait (dialing side)', 3, 'read, DELETE, read until gone', [dc2],
          **tasks(module_task(dc2, 'consul_peering', peer_name=dialer, state='absent')))
    count('delete + wait (accepting side, TERMINATED)', 3, 'read, DELETE, read until gone', [dc1],
          **tasks(module_task(dc1, 'consul_peering', peer_name=acceptor, state='absent')))
    delete_all([dc1, dc2])
    acceptor, dialer = unique_name('calls-dc2'), unique_name('calls-dc1')
    count('role, cold run (both sides)', 6, 'read each side, POST token, POST establish, read each side until ACTIVE',
          [dc1, dc2], plays=role_play(dc1, dc2, acceptor, dialer))
    count('role, state=absent (both sides)', 6, 'per side: read, DELETE, read until gone', [dc1, dc2],
          plays=role_play(dc1, dc2, acceptor, dialer, state='absent'))
    delete_all([dc1, dc2])
    return rows


# -- 3 and 4. cold peering, CLI baseline, Consul's floor, no-op re-run ---------------------------

def cold_peering(acceptor, busy_dialer, rested_dialers, repeat, workdir):
    """Peer two clusters from nothing to ACTIVE with the role, the consul CLI and raw API calls (Consul's floor),
    with a rested dialing cluster and with one that just had a peering change; and re-run the role."""
    cli_env = dict(user_environ(), CONSUL=consul_binary(allow_build=False), CONSUL_CACERT=acceptor.ca_file,
                   ACCEPTOR_ADDR=acceptor.address, ACCEPTOR_TOKEN=acceptor.token)
    noop_play = [{'name': 'Nothing', 'hosts': 'localhost', 'gather_facts': False,
                  'tasks': [{'name': 'Do nothing', 'ansible.builtin.meta': 'noop'}]}]
    rested = RestedDialers(rested_dialers)
    runs = ('role', 'role_pipelining', 'noop', 'cli', 'floor')
    samples = dict((regime, dict((run, {'wall': [], 'cpu': [], 'consul_wait': [], 'phases': []}) for run in runs))
                   for regime in ('rested', 'busy'))
    playbook_floor, noop_changed = [], []

    def peer(regime, run, action):
        """Take a dialer, peer it with the acceptor by action(dialer, acceptor_peer, dialer_peer) -> (wall, cpu,
        timer), record the figures with Consul's own wait in that run, and delete the peering again."""
        if regime == 'rested':
            dialer = rested.take()
        else:
            churn([busy_dialer])
            dialer = busy_dialer
        names = unique_name('%s-%s' % (run.replace('_', '-'), regime)), unique_name('%s-%s' % (run.replace('_', '-'), regime))
        mark = dialer.log_mark()
        wall, cpu, timer = action(dialer, *names)
        check_active(acceptor, dialer, *names)
        data = samples[regime][run]
        data['wall'].append(wall)
        data['cpu'].append(cpu)
        data['consul_wait'].append(consul_stream_wait(dialer, mark, names[1]))
        if timer:
            data['phases'].append(timer.phases())
        if run == 'role':
            timer = TaskTimer(workdir)
            again, wall, cpu = timed('role, no-op re-run', timer.run, plays=role_play(acceptor, dialer, *names))
            for key, value in (('wall', wall), ('cpu', cpu), ('phases', timer.phases())):
                samples[regime]['noop'][key].append(value)
            noop_changed.extend(again.changed_tasks)
        delete_all([acceptor, dialer])
        if regime == 'rested':
            rested.changed(dialer)

    def role(env=None):
        def action(dialer, acceptor_peer, dialer_peer):
            timer = TaskTimer(workdir)
            _run, wall, cpu = timed('role, cold', timer.run, plays=role_play(acceptor, dialer, acceptor_peer, dialer_peer),
                                    env=env)
            return wall, cpu, timer
        return action

    def cli(dialer, acceptor_peer, dialer_peer):
        env = dict(cli_env, DIALER_ADDR=dialer.address, DIALER_TOKEN=dialer.token)
        _run, wall, cpu = timed('consul CLI script', subprocess.run, [CLI_SCRIPT, acceptor_peer, dialer_peer], env=env,
                                capture_output=True, text=True, check=False)
        return wall, cpu, None

    def floor(dialer, acceptor_peer, dialer_peer):
        return consul_floor(acceptor, dialer, acceptor_peer, dialer_peer), 0.0, None

    for _ in range(repeat):
        # Alternating regimes gives the rested dialers their rest while the busy one works.
        for run, action in (('role', role()), ('cli', cli), ('floor', floor)):
            for regime in ('rested', 'busy'):
                peer(regime, run, action)
        peer('rested', 'role_pipelining', role(env={'ANSIBLE_PIPELINING': 'True'}))
        playbook_floor.append(timed('one no-op task', run_playbook, plays=noop_play)[1])

    result = {'playbook_floor': summary(playbook_floor), 'noop_changed_tasks': noop_changed,
              'rest_seconds': REST_SECONDS, 'slept_for_rest': round(rested.slept, 1),
              'targets': {key: TARGETS[key] for key in ('role_vs_cli', 'noop_vs_cold')}}
    for regime, by_run in samples.items():
        figures = {}
        for run, data in by_run.items():
            if data['wall']:
                figures[run] = {'wall': summary(data['wall']), 'cpu': summary(data['cpu'])}
                waits = [wait for wait in data['consul_wait'] if wait is not None]
                if waits:
                    figures[run]['consul_wait'] = summary(waits)
                if data['phases']:
                    figures[run]['phases'] = median_phases(data['phases'])
        median = dict((run, figures[run]['wall']['median']) for run in figures)
        figures['role_vs_cli'] = round(median['role'] / median['cli'], 3)
        figures['noop_vs_cold'] = round(median['noop'] / median['role'], 3)
        if 'role_pipelining' in median:
            figures['role_pipelining_vs_cli'] = round(median['role_pipelining'] / median['cli'], 3)
        result[regime] = figures
    return result


# -- 5 and 6. mesh scale and memory ------------------------------------------------------------

def mesh_scale(clusters, sizes, repeat, workdir):
    consul_pids = [cluster.pid for cluster in clusters]
    forks_default = default_forks()
    rows = []
    for size in sizes:
        members = clusters[:size]
        inventory = mesh_inventory(members, os.path.join(workdir, 'mesh-%d.yml' % size))
        peerings = size * (size - 1) // 2
        for forks in (None, 10):
            if forks and peerings <= forks_default:
                continue  # every pair runs at once already: the same run as the default
            walls, cpus, memory, phases = [], [], [], []
            for _ in range(repeat):
                churn(members)  # also deletes the previous run's peerings; see REST_SECONDS
                timer = TaskTimer(workdir)
                sampler = TreeMemory(exclude=consul_pids)
                try:
                    _run, wall, cpu = timed('mesh of %d' % size, timer.run, playbook=PEER_CLUSTERS, inventory=inventory,
                                            extra_args=['--forks', str(forks)] if forks else [])
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
                'cpu_seconds': summary(cpus, 2), 'memory': max(memory, key=lambda m: m['tree_pss_mib']),
                'phases': median_phases(phases),
            })
        delete_all(members)
    return rows


# -- the machine -------------------------------------------------------------------------------

def activity(ours):
    """What else runs on the machine: load, and Consul / Ansible / pytest processes that are not ours."""
    table = process_table()
    mine = set(descendants(os.getpid(), table)) | {os.getpid()} | set(ours)
    foreign = [name for pid, (_parent, name) in table.items() if pid not in mine]
    busy = sorted(name for name in foreign if name.startswith(('python', 'ansible', 'pytest', 'molecule')))
    return {'load_1min': round(os.getloadavg()[0], 2), 'other_consul': foreign.count('consul'),
            'other_python_or_ansible': len(busy), 'other_names': sorted(set(busy))}


def machine():
    with open('/proc/meminfo', encoding='ascii') as handle:
        mem_kib = int(handle.readline().split()[1])
    with open('/proc/cpuinfo', encoding='utf-8', errors='replace') as handle:
        model = next((line.split(':', 1)[1].strip() for line in handle if line.startswith('model name')), '?')
    core = subprocess.run([os.path.join(BIN, 'ansible'), '--version'], capture_output=True, text=True,
                          check=False).stdout.split('\n', 1)[0]
    consul = subprocess.run([consul_binary(allow_build=False), 'version'], capture_output=True, text=True,
                            check=False).stdout.split('\n', 1)[0]
    import requests  # pylint: disable=import-outside-toplevel
    return {'nproc': os.cpu_count(), 'cpu': model, 'memory_gib': round(mem_kib / 1024.0 / 1024.0, 1),
            'python': platform.python_version(), 'ansible': core, 'requests': requests.__version__,
            'consul': consul, 'kernel': platform.release()}


# -- report ------------------------------------------------------------------------------------

def _s(stats):
    return '%.2f s (%.2f–%.2f)' % (stats['median'], stats['min'], stats['max'])


def _verdict(value, target):
    return 'met' if value <= target else 'missed by %.0f%%' % ((value / target - 1) * 100)


def _phase_name(name):
    return name.replace('consul.peering.cluster_peering : ', '')


def _compress(calls):
    """'dc2 GET /v1/peering/:name ×3' for runs of the same call."""
    groups = [(call, len(list(run))) for call, run in itertools.groupby(calls)]
    return ', '.join(call if count == 1 else '%s ×%d' % (call, count) for call, count in groups)


def report_overhead(o):
    out = ['', '### 1. Module overhead (ad hoc, connection from CONSUL_* variables, n = %d)' % o['info']['n'], '',
           '| command | wall time | ratio | target |', '| --- | --- | --- | --- |',
           '| `ansible localhost -m ansible.builtin.ping` | %s | 1 | |' % _s(o['ping']),
           '| `ansible localhost -m consul.peering.consul_peering_info` | %s | **%.2f×** | ≤ %.2f× (%s) |'
           % (_s(o['info']), o['ratio'], o['target'], _verdict(o['ratio'], o['target'])),
           '', '| what the module process imports (`python -c`) | wall time |', '| --- | --- |']
    return out + ['| %s | %s |' % (label, _s(stats)) for label, stats in o['imports'].items()]


def report_calls(rows):
    out = ['', "### 2. HTTP calls per operation (Consul's own request log)", '',
           '| operation | calls | writes | least needed | calls made |', '| --- | --- | --- | --- | --- |']
    for row in rows:
        extra = '' if row['count'] <= row['minimum'] else ' (+%d)' % (row['count'] - row['minimum'])
        out.append('| %s | %d%s | %d | %d: %s | %s |' % (
            row['operation'], row['count'], extra, row['writes'], row['minimum'], row['why'], _compress(row['calls'])))
    return out


def report_cold(c):
    rested, busy, targets = c['rested'], c['busy'], c['targets']
    out = ['', '### 3-4. Two clusters to ACTIVE on both sides (n = %d each)' % rested['role']['wall']['n'], '',
           'Rested: the dialing cluster had no peering change for %d s before. Busy: it had one just before (as after '
           'another peering run). "Consul" is what Consul itself took in the same runs: from answering the establish '
           'call to opening the peering stream, from its log.' % c['rest_seconds'], '',
           '| run | rested | Consul | busy | Consul | CPU (rested) | ratio rested / busy | target |',
           '| --- | --- | --- | --- | --- | --- | --- | --- |']

    def cell(regime, key):
        if key not in regime:
            return ' | '
        wait = regime[key].get('consul_wait')
        return '%s | %s' % (_s(regime[key]['wall']), '%.2f s' % wait['median'] if wait else '')

    def row(label, key, ratio='', target=''):
        cpu = rested[key]['cpu']['median']
        out.append('| %s | %s | %s | %s | %s | %s |' % (
            label, cell(rested, key), cell(busy, key), '%.2f s' % cpu if cpu else '', ratio, target))

    def verdicts(key):
        return '≤ %.1f× (%s; %s)' % (targets[key], _verdict(rested[key], targets[key]), _verdict(busy[key], targets[key]))

    row("Consul's floor: establish call → both sides ACTIVE, polled every 20 ms", 'floor')
    row('`bench/cli_peering.sh`: consul CLI generate-token, establish, `read` every 0.25 s', 'cli', '1')
    out.append("| ansible-playbook running one no-op task (Ansible's floor) | %s | | | | | %.2f× / %.2f× CLI | |" % (
        _s(c['playbook_floor']), c['playbook_floor']['median'] / rested['cli']['wall']['median'],
        c['playbook_floor']['median'] / busy['cli']['wall']['median']))
    row('role, cold', 'role', '**%.2f× / %.2f×** CLI' % (rested['role_vs_cli'], busy['role_vs_cli']), verdicts('role_vs_cli'))
    if 'role_pipelining' in rested:
        row('role, cold, `ANSIBLE_PIPELINING=True`', 'role_pipelining', '%.2f× CLI' % rested['role_pipelining_vs_cli'])
    row('role, no-op re-run', 'noop', '**%.2f× / %.2f×** cold' % (rested['noop_vs_cold'], busy['noop_vs_cold']),
        verdicts('noop_vs_cold'))
    if c['noop_changed_tasks']:
        out.append('WARNING: a no-op re-run changed: %s' % ', '.join(sorted(set(c['noop_changed_tasks']))))
    out += ['', 'Where the role spends its time (median per phase; a phase lasts until the next task starts):', '',
            '| phase | cold, rested | cold, busy | no-op re-run |', '| --- | --- | --- | --- |']
    busy_phases, noop_phases = dict(busy['role']['phases']), dict(rested['noop']['phases'])
    for name, seconds in rested['role']['phases']:
        out.append('| %s | %.2f s | %s | %s |' % (_phase_name(name), seconds, '%.2f s' % busy_phases[name]
                                                  if name in busy_phases else '',
                                                  '%.2f s' % noop_phases[name] if name in noop_phases else ''))
    return out


def report_mesh(rows):
    out = ['', '### 5-6. Full mesh with playbooks/peer_clusters.yml (busy clusters, n = %d each)'
           % rows[0]['seconds']['n'], '',
           '| clusters | peerings | forks | wall time | per peering | CPU time | peak controller memory: tree PSS / '
           'tree RSS / largest process RSS |', '| --- | --- | --- | --- | --- | --- | --- |']
    for row in rows:
        mem = row['memory']
        out.append('| %d | %d | %d%s | %s | %.2f s | %.1f s | %.0f / %.0f / %.0f MiB (%d processes) |' % (
            row['clusters'], row['peerings'], row['forks'], ' (default)' if row['forks_default'] else '',
            _s(row['seconds']), row['seconds_per_peering'], row['cpu_seconds']['median'], mem['tree_pss_mib'],
            mem['tree_rss_mib'], mem['largest_process_rss_mib'], mem['processes']))
    largest = [row for row in rows if row['clusters'] == rows[-1]['clusters']]
    out += ['', 'Where the largest mesh spends its time (median per phase):', '',
            '| phase | %s |' % ' | '.join('forks %d' % row['forks'] for row in largest),
            '| --- |%s' % (' --- |' * len(largest))]
    for index, (name, _seconds) in enumerate(largest[0]['phases']):
        cells = ['%.2f s' % row['phases'][index][1] if index < len(row['phases']) else '' for row in largest]
        out.append('| %s | %s |' % (_phase_name(name), ' | '.join(cells)))
    return out


def print_report(report):
    m = report['machine']
    out = ['consul.peering benchmarks, %s: %d CPUs (%s), %.1f GiB, Python %s, %s, requests %s, %s'
           % (report['date'], m['nproc'], m['cpu'], m['memory_gib'], m['python'], m['ansible'], m['requests'],
              m['consul']),
           'Figures: median (min–max) of n runs.']
    busy = ['%s: %d other Consul servers, %d other Python/Ansible processes' % (
        phase, seen['other_consul'], seen['other_python_or_ansible'])
        for phase, seen in report['activity'].items() if seen['other_consul'] or seen['other_python_or_ansible']]
    if busy or report['activity']['start']['load_1min'] > 1.0:
        out.append('WARNING: the machine was not idle (load %.2f at the start; %s): timings are noisier than usual.'
                   % (report['activity']['start']['load_1min'], '; '.join(busy) or 'no other servers seen'))
    for key, function in (('module_overhead', report_overhead), ('http_calls', report_calls),
                          ('cold_peering', report_cold), ('mesh', report_mesh)):
        if key in report:
            out += function(report[key])
    if 'error' in report:
        out += ['', 'ERROR (the run stopped here): %s' % report['error'].splitlines()[0]]
    cleanup = report.get('cleanup')
    if cleanup:
        out += ['', 'Clean-up: %d Consul servers started, %d left running (pgrep -x consul lists %d others, not ours).'
                % (cleanup['started'], len(cleanup['ours_left']), len(cleanup['others']))]
    print('\n'.join(out))


# -- main --------------------------------------------------------------------------------------

SECTIONS = ('overhead', 'calls', 'cold', 'mesh')


def leftover_consul(ours):
    found = subprocess.run(['pgrep', '-x', 'consul'], capture_output=True, text=True, check=False).stdout.split()
    pids = set(int(pid) for pid in found)
    return {'started': len(ours), 'ours_left': sorted(pids & set(ours)), 'others': sorted(pids - set(ours))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--repeat', type=int, default=5,
                        help='repetitions of sections 3-4 (default 5); section 1 runs twice as many')
    parser.add_argument('--mesh-repeat', type=int, default=3, help='repetitions of each mesh run (default 3)')
    parser.add_argument('--sizes', default='2,3,4,5', help='mesh sizes, comma-separated (default 2,3,4,5)')
    parser.add_argument('--quick', action='store_true',
                        help='a smoke run in about three minutes: 3 repetitions, one run per mesh, meshes of 2 and 3')
    parser.add_argument('--only', action='append', choices=SECTIONS, help='run only this section (repeatable)')
    parser.add_argument('--output', default=os.path.join(ROOT, 'bench', 'results', 'latest.json'),
                        help='where to write the JSON report (default bench/results/latest.json)')
    options = parser.parse_args()
    repeat, mesh_repeat = (3, 1) if options.quick else (options.repeat, options.mesh_repeat)
    sizes = [2, 3] if options.quick else sorted(int(size) for size in options.sizes.split(','))
    sections = options.only or SECTIONS

    # Everything temporary (ansible_cli's run folders, the harness's cluster folders) goes into one folder.
    workdir = tempfile.mkdtemp(prefix='consul-peering-bench-')
    tempfile.tempdir = workdir
    started = time.monotonic()
    report = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
              'machine': machine(), 'repeat': repeat, 'mesh_repeat': mesh_repeat, 'sections': list(sections),
              'activity': {'start': activity([])}}
    if report['activity']['start']['other_consul']:
        print('note: %(other_consul)d Consul servers that are not ours are running (load %(load_1min)s): '
              'timings will be noisy' % report['activity']['start'], flush=True)
    # dc1 accepts; dc2 dials in the busy regime, dc3-dc5 in turn in the rested one (see REST_SECONDS).
    count = max(sizes + [5 if 'cold' in sections else 2])
    ours = []
    try:
        with ClusterSet.start(count, acl=True, tls=True) as clusters:
            ours = [cluster.pid for cluster in clusters]
            _SECRETS.update(cluster.token for cluster in clusters)
            dc1, dc2 = clusters[0], clusters[1]
            for section, key, function in (
                    ('overhead', 'module_overhead', lambda: module_overhead(dc1, repeat * 2)),
                    ('calls', 'http_calls', lambda: http_calls(dc1, dc2)),
                    ('cold', 'cold_peering', lambda: cold_peering(dc1, dc2, clusters[2:5], repeat, workdir)),
                    ('mesh', 'mesh', lambda: mesh_scale(clusters, sizes, mesh_repeat, workdir))):
                if section in sections:
                    print('[%4.0f s] %s ...' % (time.monotonic() - started, key.replace('_', ' ')), flush=True)
                    report['activity'][section] = activity(ours)
                    report[key] = function()
    except Exception as exc:  # pylint: disable=broad-exception-caught
        report['error'] = scrub('%s: %s' % (type(exc).__name__, exc))
        print(scrub(traceback.format_exc()), file=sys.stderr)
    report['cleanup'] = leftover_consul(ours)
    report['seconds'] = round(time.monotonic() - started, 1)
    report['activity']['end'] = activity([])
    if 'error' in report:
        print('bench: files kept in %s' % workdir, file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print_report(report)
    os.makedirs(os.path.dirname(os.path.abspath(options.output)), exist_ok=True)
    with open(options.output, 'w', encoding='utf-8') as handle:
        json.dump(report, handle, indent=2)
    print('\n%.0f s in all. JSON: %s' % (report['seconds'], options.output))
    return 1 if 'error' in report or report['cleanup']['ours_left'] else 0


if __name__ == '__main__':
    sys.exit(main())
