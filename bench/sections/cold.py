# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sections 3-4, two clusters to ACTIVE on both sides: the role (also with ANSIBLE_PIPELINING), the 0.1.0 role
(the baseline), bench/cli_peering.sh (the consul CLI) and raw API calls (Consul's floor), each with a rested and
with a busy dialing cluster (see consul_regimes); a no-op re-run after each role run; Ansible's own floor."""

from __future__ import annotations

import statistics
import subprocess

from ansible_collections.consul.peering.tests.support.ansible_cli import run_playbook, user_environ
from ansible_collections.consul.peering.tests.support.consul_build import consul_binary
from ansible_collections.consul.peering.tests.support.consul_state import unique_name

from ansible_collections.consul.peering.bench.consul_regimes import (
    REST_SECONDS, RestedDialers, check_active, churn, consul_floor, consul_stream_wait, delete_all,
)
from ansible_collections.consul.peering.bench.measure import TaskTimer, median_phases, summary, timed
from ansible_collections.consul.peering.bench.plays import BASELINE_ENV, CLI_SCRIPT, baseline_role_play, noop_play, role_play

TARGETS = {'role_vs_cli': 1.5, 'noop_vs_cold': 0.5,
           # Issue 14: the cold role within 2.5 times Ansible's floor, once Consul's own wait is taken out.
           'role_vs_floor_plus_consul': 2.5}
REGIMES = ('rested', 'busy')
RUNS = ('role', 'baseline_role', 'role_pipelining', 'noop', 'baseline_noop', 'cli', 'floor')
# A role run and the no-op re-run that follows it.
ROLE_RUNS = {'role': (role_play, 'noop', None), 'baseline_role': (baseline_role_play, 'baseline_noop', BASELINE_ENV),
             'role_pipelining': (role_play, None, {'ANSIBLE_PIPELINING': 'True'})}


class ColdPeering:
    """One accepting cluster; a busy dialer and rested ones; samples of every run in every regime."""

    def __init__(self, acceptor, busy_dialer, rested_dialers, workdir):
        self.acceptor, self.busy_dialer, self.workdir = acceptor, busy_dialer, workdir
        self.rested = RestedDialers(rested_dialers)
        self.samples = dict((regime, dict((run, {'wall': [], 'cpu': [], 'consul_wait': [], 'phases': [],
                                                 'module_runs': []}) for run in RUNS)) for regime in REGIMES)
        self.noop_changed = []
        self.cli_env = dict(user_environ(), CONSUL=consul_binary(allow_build=False), CONSUL_CACERT=acceptor.ca_file,
                            ACCEPTOR_ADDR=acceptor.address, ACCEPTOR_TOKEN=acceptor.token)

    def _record(self, regime, run, wall, cpu, timer=None, consul_wait=None):
        data = self.samples[regime][run]
        data['wall'].append(wall)
        data['cpu'].append(cpu)
        data['consul_wait'].append(consul_wait)
        if timer:
            data['phases'].append(timer.phases())
            data['module_runs'].append(timer.module_runs())

    def peer(self, regime, run):
        """Take a dialer, peer it with the acceptor by `run`, record the figures with Consul's own wait in that
        run (and, after a role run, a no-op re-run), and delete the peering again."""
        if regime == 'rested':
            dialer = self.rested.take()
        else:
            churn([self.busy_dialer])
            dialer = self.busy_dialer
        prefix = '%s-%s' % (run.replace('_', '-'), regime)
        acceptor_peer, dialer_peer = unique_name(prefix), unique_name(prefix)
        mark = dialer.log_mark()
        timer = None
        if run in ROLE_RUNS:
            make_play, noop_run, env = ROLE_RUNS[run]
            play = make_play(self.acceptor, dialer, acceptor_peer, dialer_peer)
            timer = TaskTimer(self.workdir)
            _result, wall, cpu = timed(run.replace('_', ' ') + ', cold', timer.run, plays=play, env=env)
        elif run == 'cli':
            env = dict(self.cli_env, DIALER_ADDR=dialer.address, DIALER_TOKEN=dialer.token)
            _result, wall, cpu = timed('consul CLI script', subprocess.run, [CLI_SCRIPT, acceptor_peer, dialer_peer],
                                       env=env, capture_output=True, text=True, check=False)
        else:
            wall, cpu = consul_floor(self.acceptor, dialer, acceptor_peer, dialer_peer), 0.0
        check_active(self.acceptor, dialer, acceptor_peer, dialer_peer)
        self._record(regime, run, wall, cpu, timer, consul_stream_wait(dialer, mark, dialer_peer))
        if run in ROLE_RUNS and noop_run:
            timer = TaskTimer(self.workdir)
            again, wall, cpu = timed(noop_run.replace('_', ' ') + ' re-run', timer.run, plays=play, env=env)
            self._record(regime, noop_run, wall, cpu, timer)
            self.noop_changed.extend(again.changed_tasks)
        delete_all([self.acceptor, dialer])
        if regime == 'rested':
            self.rested.changed(dialer)

    def figures(self, regime):
        """Summaries of one regime's samples, and the ratios between them."""
        figures = {}
        for run, data in self.samples[regime].items():
            if not data['wall']:
                continue
            figures[run] = {'wall': summary(data['wall']), 'cpu': summary(data['cpu'])}
            waits = [wait for wait in data['consul_wait'] if wait is not None]
            if waits:
                figures[run]['consul_wait'] = summary(waits)
            if data['phases']:
                figures[run]['phases'] = median_phases(data['phases'])
                figures[run]['module_runs'] = summary(data['module_runs'], 0)
        return figures


def ratios(figures, playbook_floor):
    """The ratios the targets are about, from one regime's figures."""
    median = dict((run, figures[run]['wall']['median']) for run in figures)
    found = {'role_vs_cli': round(median['role'] / median['cli'], 3),
             'noop_vs_cold': round(median['noop'] / median['role'], 3)}
    for run in ('role', 'baseline_role'):
        if run in figures:
            consul_wait = figures[run].get('consul_wait', {}).get('median', 0.0)
            found['%s_vs_floor_plus_consul' % run] = round((median[run] - consul_wait) / playbook_floor, 3)
    for run in ('baseline_role', 'role_pipelining'):
        if run in median:
            found['%s_vs_cli' % run] = round(median[run] / median['cli'], 3)
    if 'baseline_noop' in median:
        found['baseline_noop_vs_cold'] = round(median['baseline_noop'] / median['baseline_role'], 3)
    return found


def cold_peering(acceptor, busy_dialer, rested_dialers, repeat, workdir):
    """Peer two clusters from nothing to ACTIVE every way, `repeat` times in each regime, interleaved."""
    bench = ColdPeering(acceptor, busy_dialer, rested_dialers, workdir)
    playbook_floor = []
    for _ in range(repeat):
        # Alternating regimes gives the rested dialers their rest while the busy one works.
        for run in ('role', 'baseline_role', 'cli', 'floor'):
            for regime in REGIMES:
                bench.peer(regime, run)
        bench.peer('rested', 'role_pipelining')
        playbook_floor.append(timed('one no-op task', run_playbook, plays=noop_play())[1])
    result = {'playbook_floor': summary(playbook_floor), 'noop_changed_tasks': bench.noop_changed,
              'rest_seconds': REST_SECONDS, 'slept_for_rest': round(bench.rested.slept, 1), 'targets': dict(TARGETS)}
    for regime in REGIMES:
        figures = bench.figures(regime)
        figures.update(ratios(figures, statistics.median(playbook_floor)))
        result[regime] = figures
    return result
