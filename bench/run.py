# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmarks: what a peering run costs, each figure next to its baseline from the same run.

Starts the clusters it needs with the test harness, measures, prints a table, writes JSON and stops
everything. No figure is asserted: targets are shown next to the measurements.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'harness'))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'integration'))

from ansible_cli import BIN, collections_path  # noqa: E402  pylint: disable=wrong-import-position
from clusters import ClusterSet  # noqa: E402  pylint: disable=wrong-import-position
from consul_build import consul_binary  # noqa: E402  pylint: disable=wrong-import-position

_counter = [0]


def fresh(prefix):
    _counter[0] += 1
    return '%s-%d-%d' % (prefix, os.getpid() % 10000, _counter[0])


class Ansible:
    """Runs ansible and ansible-playbook quietly, timing them and measuring the controller's memory."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.inventory = os.path.join(workdir, 'localhost.yml')
        with open(self.inventory, 'w') as handle:
            yaml.safe_dump({'all': {'hosts': {'localhost': {'ansible_connection': 'local',
                                                            'ansible_python_interpreter': sys.executable}}}}, handle)
        self.env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_NOCOLOR='1',
                        ANSIBLE_HOST_KEY_CHECKING='false', ANSIBLE_RETRY_FILES_ENABLED='false')
        for name in list(self.env):
            if name.startswith('CONSUL_'):
                del self.env[name]

    def run(self, command, env=None, measure_memory=False):
        """Run a command; return (seconds, peak RSS in MiB of the process tree or None)."""
        merged = dict(self.env)
        merged.update(env or {})
        started = time.perf_counter()
        process = subprocess.Popen(command, env=merged, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sampler = TreeMemory(process.pid) if measure_memory else None
        output, _ = process.communicate()
        seconds = time.perf_counter() - started
        peak = sampler.stop() if sampler else None
        if process.returncode:
            raise SystemExit('failed: %s\n%s' % (' '.join(command), output[-4000:]))
        return seconds, peak

    def adhoc(self, module, args='', env=None):
        command = [os.path.join(BIN, 'ansible'), 'localhost', '-i', self.inventory, '-m', module]
        return self.run(command + (['-a', args] if args else []), env)[0]

    def playbook(self, plays=None, path=None, inventory=None, forks=None, measure_memory=False):
        if path is None:
            path = os.path.join(self.workdir, 'play-%d.yml' % _counter[0])
            with open(path, 'w') as handle:
                yaml.safe_dump(plays, handle, sort_keys=False)
        command = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory or self.inventory, path]
        command += ['--forks', str(forks)] if forks else []
        return self.run(command, measure_memory=measure_memory)


class TreeMemory:
    """Samples the summed RSS of a process and all its descendants, keeping the peak."""

    def __init__(self, pid, interval=0.05):
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, args=(interval,), daemon=True)
        self._thread.start()

    def _tree_rss_kib(self):
        children, rss = {}, {}
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open('/proc/%s/stat' % entry) as handle:
                    fields = handle.read().rsplit(')', 1)[1].split()
                with open('/proc/%s/status' % entry) as handle:
                    kib = next((int(line.split()[1]) for line in handle if line.startswith('VmRSS:')), 0)
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = kib
        total, todo = 0, [self.pid]
        while todo:
            pid = todo.pop()
            total += rss.get(pid, 0)
            todo.extend(children.get(pid, []))
        return total

    def _sample(self, interval):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss_kib())
            time.sleep(interval)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peak / 1024.0


def summary(values):
    return {'median': statistics.median(values), 'min': min(values), 'max': max(values), 'n': len(values),
            'values': [round(value, 3) for value in values]}


def role_play(acceptor, dialer, acceptor_peer, dialer_peer):
    return [{'name': 'Peer', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [{
        'name': 'Apply the role', 'ansible.builtin.include_role': {'name': 'consul.peering.cluster_peering'},
        'vars': {'cluster_peering_acceptor': {'connection': acceptor.module_args(), 'peer_name': acceptor_peer},
                 'cluster_peering_dialer': {'connection': dialer.module_args(), 'peer_name': dialer_peer}}}]}]


def module_task(cluster, module, **args):
    merged = dict(cluster.module_args())
    merged.update(args)
    return {'name': module, 'consul.peering.%s' % module: merged}


def calls_of(cluster, mark):
    return [method for method, url in cluster.http_requests(since=mark) if '/peering' in url]


def delete_all(clusters):
    for cluster in clusters:
        for peering in cluster.api('GET', '/v1/peerings').json():
            cluster.api('DELETE', '/v1/peering/%s' % peering['Name'])
    for cluster in clusters:
        deadline = time.monotonic() + 60
        while cluster.api('GET', '/v1/peerings').json() and time.monotonic() < deadline:
            time.sleep(0.2)


# -- the measurements ------------------------------------------------------------------------

def module_overhead(ansible, cluster, repeat):
    env = cluster.connection_env()
    info, ping = [], []
    ansible.adhoc('ansible.builtin.ping')  # warm caches once, for both
    for _ in range(repeat):  # interleaved, so drift affects both alike
        ping.append(ansible.adhoc('ansible.builtin.ping', env=env))
        info.append(ansible.adhoc('consul.peering.consul_peering_info', env=env))
    return {'info': summary(info), 'ping': summary(ping),
            'ratio': statistics.median(info) / statistics.median(ping), 'target': 1.15}


def http_calls(ansible, dc1, dc2):
    acceptor, dialer = fresh('calls-dc2'), fresh('calls-dc1')
    counts = {}

    def count(label, cluster, plays):
        mark = cluster.log_mark()
        ansible.playbook(plays)
        counts[label] = calls_of(cluster, mark)

    def one(cluster, module, **args):
        return [{'name': 'x', 'hosts': 'localhost', 'gather_facts': False,
                 'tasks': [module_task(cluster, module, **args)]}]

    token = [{'name': 'x', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        dict(module_task(dc1, 'consul_peering_token', peer_name=acceptor), register='t'),
        {'name': 'save', 'ansible.builtin.copy': {'content': '{{ t.token }}', 'dest': ansible.workdir + '/token',
                                                  'mode': '0600'}, 'no_log': True}]}]
    count('info (one peering)', dc1, one(dc1, 'consul_peering_info', name=acceptor))
    count('token, new', dc1, token)
    count('token, re-run', dc1, one(dc1, 'consul_peering_token', peer_name=acceptor))
    establish = one(dc2, 'consul_peering', peer_name=dialer,
                    peering_token="{{ lookup('ansible.builtin.file', '%s/token') }}" % ansible.workdir)
    count('establish + wait, new', dc2, establish)
    count('establish, re-run', dc2, establish)
    role_mark = dc1.log_mark(), dc2.log_mark()
    ansible.playbook(role_play(dc1, dc2, acceptor, dialer))
    counts['role no-op re-run (both sides)'] = calls_of(dc1, role_mark[0]) + calls_of(dc2, role_mark[1])
    count('delete + wait', dc2, one(dc2, 'consul_peering', peer_name=dialer, state='absent'))
    delete_all([dc1, dc2])
    minimum = {'info (one peering)': 1, 'token, new': 3, 'token, re-run': 1, 'establish + wait, new': 3,
               'establish, re-run': 1, 'role no-op re-run (both sides)': 2, 'delete + wait': 3}
    return dict((label, {'calls': calls, 'count': len(calls), 'writes': len([c for c in calls if c != 'GET']),
                         'minimum': minimum[label]}) for label, calls in counts.items())


def consul_floor(dc1, dc2):
    """Consul's own time from the establish call to ACTIVE on both sides, polled every 20 ms."""
    acceptor, dialer = fresh('floor-dc2'), fresh('floor-dc1')
    token = dc1.api('POST', '/v1/peering/token', json={'PeerName': acceptor}).json()['PeeringToken']
    started = time.perf_counter()
    dc2.api('POST', '/v1/peering/establish', json={'PeerName': dialer, 'PeeringToken': token})
    while True:
        states = (dc1.api('GET', '/v1/peering/%s' % acceptor).json()['State'],
                  dc2.api('GET', '/v1/peering/%s' % dialer).json()['State'])
        if states == ('ACTIVE', 'ACTIVE'):
            return time.perf_counter() - started
        time.sleep(0.02)


def cold_peering(ansible, dc1, dc2, repeat):
    consul = consul_binary(allow_build=False)
    role, cli, floor, noop = [], [], [], []
    for _ in range(repeat):
        acceptor, dialer = fresh('cold-dc2'), fresh('cold-dc1')
        role.append(ansible.playbook(role_play(dc1, dc2, acceptor, dialer))[0])
        noop.append(ansible.playbook(role_play(dc1, dc2, acceptor, dialer))[0])
        delete_all([dc1, dc2])
        acceptor, dialer = fresh('cli-dc2'), fresh('cli-dc1')
        cli.append(ansible.run([os.path.join(ROOT, 'bench', 'cli_peering.sh'), consul, dc1.address, dc1.token,
                                dc2.address, dc2.token, dc1.ca_file, acceptor, dialer])[0])
        floor.append(consul_floor(dc1, dc2))
        delete_all([dc1, dc2])
    return {
        'role': summary(role), 'cli_script': summary(cli), 'consul_floor': summary(floor),
        'role_vs_cli': statistics.median(role) / statistics.median(cli), 'target_role_vs_cli': 1.5,
        'noop_rerun': summary(noop), 'noop_vs_cold': statistics.median(noop) / statistics.median(role),
        'target_noop_vs_cold': 0.5,
    }


def mesh_scale(ansible, sizes, forks_options):
    results = []
    with ClusterSet.start(max(sizes), acl=True, tls=True) as clusters:
        for size in sizes:
            members = clusters.clusters[:size]
            hosts = dict((c.name, {'consul_connection': c.module_args()}) for c in members)
            inventory = os.path.join(ansible.workdir, 'mesh-%d.yml' % size)
            with open(inventory, 'w') as handle:
                yaml.safe_dump({'all': {'children': {'consul_clusters': {
                    'hosts': hosts, 'vars': {'consul_peering_mesh': [c.name for c in members]}}}}}, handle)
            for forks in forks_options:
                seconds, peak = ansible.playbook(path=os.path.join(ROOT, 'playbooks', 'peer_clusters.yml'),
                                                 inventory=inventory, forks=forks, measure_memory=True)
                peerings = size * (size - 1) // 2
                results.append({'clusters': size, 'peerings': peerings, 'forks': forks or 5,
                                'seconds': round(seconds, 2), 'seconds_per_peering': round(seconds / peerings, 2),
                                'peak_rss_mib': round(peak, 1)})
                delete_all(members)
    return results


# -- report ----------------------------------------------------------------------------------

def print_report(report):
    overhead = report['module_overhead']
    print('\n## 1. Module overhead (ad hoc, median of %d)' % overhead['info']['n'])
    print('  consul_peering_info %.2f s (%.2f-%.2f) | ansible.builtin.ping %.2f s (%.2f-%.2f) | ratio %.2fx '
          '(target <= %.2fx)' % (overhead['info']['median'], overhead['info']['min'], overhead['info']['max'],
                                 overhead['ping']['median'], overhead['ping']['min'], overhead['ping']['max'],
                                 overhead['ratio'], overhead['target']))
    print('\n## 2. HTTP calls that reached Consul (its request log)')
    for label, data in report['http_calls'].items():
        print('  %-32s %2d calls (%d writes), minimum %d: %s' % (label, data['count'], data['writes'], data['minimum'],
                                                                ' '.join(data['calls'])))
    cold = report['cold_peering']
    print('\n## 3-4. Two clusters to ACTIVE on both sides (median of %d)' % cold['role']['n'])
    for key, label in (('role', 'role, cold'), ('cli_script', 'consul CLI shell script'),
                       ('consul_floor', "Consul's own establish -> ACTIVE"), ('noop_rerun', 'role, no-op re-run')):
        print('  %-34s %.2f s (%.2f-%.2f)' % (label, cold[key]['median'], cold[key]['min'], cold[key]['max']))
    print('  role / CLI script: %.2fx (target <= %.2fx); no-op / cold: %.2fx (target <= %.2fx)' % (
        cold['role_vs_cli'], cold['target_role_vs_cli'], cold['noop_vs_cold'], cold['target_noop_vs_cold']))
    print('\n## 5-6. Full mesh with playbooks/peer_clusters.yml')
    print('  clusters peerings forks  seconds  s/peering  peak controller RSS (MiB)')
    for row in report['mesh']:
        print('  %8d %8d %5d %8.2f %10.2f %10.1f' % (row['clusters'], row['peerings'], row['forks'], row['seconds'],
                                                     row['seconds_per_peering'], row['peak_rss_mib']))


def machine():
    with open('/proc/meminfo') as handle:
        mem_kib = int(handle.readline().split()[1])
    core = subprocess.run([os.path.join(BIN, 'ansible'), '--version'], capture_output=True, text=True,
                          check=False).stdout.split('\n', 1)[0]
    consul = subprocess.run([consul_binary(allow_build=False), 'version'], capture_output=True, text=True,
                            check=False).stdout.split('\n', 1)[0]
    return {'cpus': os.cpu_count(), 'memory_gib': round(mem_kib / 1024 / 1024, 1), 'python': platform.python_version(),
            'ansible': core, 'consul': consul, 'kernel': platform.release()}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--repeat', type=int, default=5, help='repetitions of each timed measurement')
    parser.add_argument('--quick', action='store_true', help='3 repetitions, mesh of 2 and 3 clusters only')
    parser.add_argument('--output', default=os.path.join(ROOT, 'bench', 'results', 'latest.json'))
    options = parser.parse_args()
    repeat = 3 if options.quick else options.repeat
    sizes = (2, 3) if options.quick else (2, 3, 4, 5)

    workdir = tempfile.mkdtemp(prefix='consul-peering-bench-')
    ansible = Ansible(workdir)
    report = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
              'machine': machine(), 'repeat': repeat}
    with ClusterSet.start(2, acl=True, tls=True) as clusters:
        dc1, dc2 = clusters
        print('measuring module overhead ...', flush=True)
        report['module_overhead'] = module_overhead(ansible, dc1, max(repeat, 5))
        print('counting HTTP calls ...', flush=True)
        report['http_calls'] = http_calls(ansible, dc1, dc2)
        print('timing cold peering, the CLI baseline and no-op re-runs ...', flush=True)
        report['cold_peering'] = cold_peering(ansible, dc1, dc2, repeat)
    print('timing full meshes ...', flush=True)
    report['mesh'] = mesh_scale(ansible, sizes, (None, 10))

    print_report(report)
    os.makedirs(os.path.dirname(options.output), exist_ok=True)
    with open(options.output, 'w') as handle:
        json.dump(report, handle, indent=2)
    print('\nJSON: %s' % options.output)
    return 0


if __name__ == '__main__':
    sys.exit(main())
