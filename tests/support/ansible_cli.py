# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run ansible-playbook and ansible like a user does, and collect what they printed, logged and returned."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

# realpath: this file is imported through the collections folder's link to the work tree.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))
BIN = os.path.dirname(sys.executable)
CALLBACKS = os.path.join(ROOT, 'tests', 'support', 'callback_plugins')


def collections_path():
    """A folder holding ansible_collections/consul/peering, linked to this work tree."""
    # One folder per work tree, so that two checkouts (a CI clone beside a work tree) never share it.
    digest = hashlib.sha1(ROOT.encode()).hexdigest()[:10]
    top = os.path.join(tempfile.gettempdir(), 'consul-peering-collections-%d-%s' % (os.getuid(), digest))
    link = os.path.join(top, 'ansible_collections', 'consul', 'peering')
    if os.path.realpath(link) != ROOT:
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(ROOT, link)
    return top


class Run:
    """What one ansible(-playbook) run produced."""

    def __init__(self, returncode, stdout, stderr, results, log):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.results = results
        self.log = log

    @property
    def output(self):
        """Everything a user or a log collector could see."""
        return '\n'.join((self.stdout, self.stderr, self.log, json.dumps(self.results)))

    def result(self, task):
        """The (last) result of the task named `task`."""
        matches = [entry['result'] for entry in self.results if entry['task'] == task]
        assert matches, 'no result for task %r; tasks run: %s' % (task, [e['task'] for e in self.results])
        return matches[-1]

    def status(self, task):
        return [entry['status'] for entry in self.results if entry['task'] == task][-1]

    @property
    def changed_tasks(self):
        return [entry['task'] for entry in self.results if entry['result'].get('changed')]

    def __repr__(self):
        return '<Run rc=%d>\nSTDOUT:\n%s\nSTDERR:\n%s' % (self.returncode, self.stdout[-6000:], self.stderr[-3000:])

    def report(self):
        """The run as an assertion message: each failed task's message first, then the output.

        A str, so that pytest shows it whole (it cuts the repr of any other object to 240 characters).
        """
        failed = ['%s on %s: %s' % (entry['task'], entry['host'], entry['result'].get('msg'))
                  for entry in self.results if entry['status'] == 'failed']
        return 'failed tasks: %s\n%r' % (failed, self)


def user_environ(**extra):
    """What a user's shell would have: no Consul or Ansible settings, and no PYTHONPATH that could make
    Ansible find this work tree instead of the collection a test installed."""
    environ = dict((name, value) for name, value in os.environ.items()
                   if not name.startswith(('CONSUL_', 'ANSIBLE_')) and name != 'PYTHONPATH')
    environ['PATH'] = BIN + os.pathsep + environ.get('PATH', '')
    environ.update(extra)
    return environ


def _environment(workdir, env):
    environ = user_environ()
    environ.update({
        'ANSIBLE_COLLECTIONS_PATH': collections_path(),
        'ANSIBLE_CALLBACK_PLUGINS': CALLBACKS,
        'ANSIBLE_CALLBACKS_ENABLED': 'record_results',
        'RECORD_RESULTS_FILE': os.path.join(workdir, 'results.jsonl'),
        'ANSIBLE_LOG_PATH': os.path.join(workdir, 'ansible.log'),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_HOST_KEY_CHECKING': 'false',
        'ANSIBLE_LOCAL_TEMP': os.path.join(workdir, 'tmp'),
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
    })
    environ.update(env or {})
    return environ


def _finish(workdir, process):
    results, log = [], ''
    results_file = os.path.join(workdir, 'results.jsonl')
    if os.path.exists(results_file):
        with open(results_file) as handle:
            results = [json.loads(line) for line in handle if line.strip()]
    log_file = os.path.join(workdir, 'ansible.log')
    if os.path.exists(log_file):
        with open(log_file) as handle:
            log = handle.read()
    if process.returncode == 0:
        # The work folder holds playbooks with the clusters' tokens; keep it only to debug a failed run.
        shutil.rmtree(workdir, ignore_errors=True)
    return Run(process.returncode, process.stdout, process.stderr, results, log)


def localhost_inventory(workdir):
    path = os.path.join(workdir, 'inventory.yml')
    with open(path, 'w') as handle:
        yaml.safe_dump({'all': {'hosts': {'localhost': {
            'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}, handle)
    return path


def run_playbook(tasks=None, plays=None, check=False, diff=False, verbosity=0, env=None, inventory=None,
                 extra_args=(), playbook=None, timeout=900):
    """Run a playbook made of `tasks` (on localhost), of `plays`, or the file `playbook`."""
    workdir = tempfile.mkdtemp(prefix='consul-peering-run-')
    if playbook is None:
        if plays is None:
            plays = [{'name': 'Test', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
        playbook = os.path.join(workdir, 'playbook.yml')
        with open(playbook, 'w') as handle:
            yaml.safe_dump(plays, handle, sort_keys=False)
    command = [os.path.join(BIN, 'ansible-playbook'), '-i', inventory or localhost_inventory(workdir), playbook]
    command += ['--check'] if check else []
    command += ['--diff'] if diff else []
    command += ['-' + 'v' * verbosity] if verbosity else []
    command += list(extra_args)
    process = subprocess.run(command, cwd=workdir, env=_environment(workdir, env), capture_output=True, text=True,
                             timeout=timeout, check=False)
    return _finish(workdir, process)


def run_adhoc(module, args='', env=None, check=False, diff=False, verbosity=0):
    """Run `ansible localhost -m module -a args`, as an operator would from a shell."""
    workdir = tempfile.mkdtemp(prefix='consul-peering-adhoc-')
    command = [os.path.join(BIN, 'ansible'), 'localhost', '-i', localhost_inventory(workdir), '-m', module]
    command += ['-a', args] if args else []
    command += ['--check'] if check else []
    command += ['--diff'] if diff else []
    command += ['-' + 'v' * verbosity] if verbosity else []
    process = subprocess.run(command, cwd=workdir, env=_environment(workdir, env), capture_output=True, text=True,
                             timeout=600, check=False)
    return _finish(workdir, process)
