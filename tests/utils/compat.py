# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run ansible-test sanity and units on every ansible-core line the collection supports, on each controller
Python of that line that this machine has, and sanity's compile and import tests on every Python the modules
claim (tests/config.yml) that the line supports.

The main suite (`make sanity`, `make units`) covers ansible-core 2.19 on Python 3.11 in .venv; this covers
the rest of the matrix in CORES. Every (ansible-core, Python) pair gets a virtualenv and an ansible-test home
(where ansible-test keeps the virtualenvs of its sanity tests) in the cache folder, kept between runs, so
pairs can run side by side (--jobs) without sharing anything that ansible-test writes. Each pair's output
goes to tests/output/compat/; a failed pair's log is printed at the end.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import subprocess
import sys
import time

from packaging.specifiers import SpecifierSet

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import venvs  # noqa: E402  pylint: disable=wrong-import-position

# (ansible-core, its controller Pythons): the oldest claimed (meta/runtime.yml) to the newest final release.
# 2.17 is left out (a line between tested ones that ansible-lint and molecule refuse to run with); 2.20 and
# 2.21 also run on Python 3.14, which pyenv does not have here. ansible-core 2.22 is only a release candidate.
CORES = (
    ('2.16.19', ('3.10', '3.11', '3.12')),
    ('2.18.19', ('3.11', '3.12', '3.13')),
    ('2.19.14', ('3.12', '3.13')),  # and 3.11: `make sanity` / `make units` in .venv
    ('2.20.10', ('3.12', '3.13')),
    ('2.21.5', ('3.12', '3.13')),
)
COMMAND_TIMEOUT = 1200
# The first pair of a line runs every sanity test, with compile and import on every claimed Python. The others
# run the tests whose outcome depends on the controller's Python: pylint (which reads the code with that
# Python's parser and standard library), validate-modules (which imports each module to read its argument spec)
# and ansible-doc. The rest check files with pinned tools and give the same result on any Python; running them
# again would cost each pair its own virtualenvs (about 2 minutes cold) for nothing.
CONTROLLER_TESTS = ('pylint', 'validate-modules', 'ansible-doc')


def claimed_pythons():
    """The Python versions the modules claim: tests/config.yml's python_requires."""
    import yaml  # pylint: disable=import-outside-toplevel
    with open(os.path.join(ROOT, 'tests', 'config.yml')) as handle:
        return SpecifierSet(yaml.safe_load(handle)['modules']['python_requires'])


def ansible_test_pythons(venv):
    """(controller Pythons, every Python it runs modules on) of the ansible-test in `venv`."""
    code = ('from ansible_test._util.target.common.constants import CONTROLLER_PYTHON_VERSIONS as C, '
            'REMOTE_ONLY_PYTHON_VERSIONS as R; print(",".join(C)); print(",".join(R + C))')
    out = subprocess.run([os.path.join(venv, 'bin', 'python'), '-c', code], check=True, capture_output=True,
                         text=True).stdout.split()
    return out[0].split(','), out[1].split(',')


def plan(only=None):
    """[(core, controller Python, target Pythons for compile/import or None)], one entry per pair."""
    claimed = claimed_pythons()
    pairs = []
    for core, controllers in CORES:
        for index, python in enumerate(controllers):
            if only and only not in (core, '%s:%s' % (core, python)):
                continue
            # The first pair of a line runs all of sanity, with compile and import on the claimed Pythons.
            pairs.append((core, python, claimed if index == 0 else None))
    return pairs


def ansible_test_home(core, python):
    """The HOME ansible-test runs with for a pair: it keeps its sanity virtualenvs in ~/.ansible/test/venv."""
    home = os.path.join(os.path.dirname(venvs.cache_root()), 'h', '%s-%s' % (core, python))
    # Scripts in those virtualenvs start with #!HOME/.ansible/test/venv/sanity.validate-modules/3.10/<hash>/bin/python,
    # and Linux cuts a #! line at 127 characters.
    if len(home) > 55:
        print('warning: %s is long; set XDG_CACHE_HOME to a shorter folder if sanity tests fail with syntax errors'
              % home, flush=True)
    os.makedirs(home, exist_ok=True)
    return home


def run_pair(core, python, claimed, logs):
    """Build what the pair needs, run its sanity and units; return (label, failed commands, seconds, log)."""
    label = 'ansible-core %s on Python %s' % (core, python)
    log_path = os.path.join(logs, '%s-py%s.log' % (core, python))
    started = time.monotonic()
    failed, notes = [], []
    with open(log_path, 'w') as log:
        try:
            venv = venvs.ensure('ansible-core-%s-py%s' % (core, python), python, ('ansible-core==%s' % core,))
        except (subprocess.CalledProcessError, SystemExit) as exc:
            log.write('building the virtualenv failed: %s\n' % exc)
            return label, ['virtualenv'], notes, time.monotonic() - started, log_path
        controllers, supported = ansible_test_pythons(venv)
        if python not in controllers:
            log.write('Python %s is not a controller Python of ansible-core %s (%s)\n' % (python, core, controllers))
            return label, ['matrix'], notes, time.monotonic() - started, log_path
        targets = []
        if claimed is not None:
            targets = [version for version in supported if version in claimed]
            missing = [version for version in targets if not venvs.find_python(version)]
            if missing:
                # ansible-core 2.20 and later run modules on 3.14 too, which pyenv does not have here.
                log.write('no interpreter for Python %s here: compile and import skip it\n' % ', '.join(missing))
                notes.append('no Python %s here' % ', '.join(missing))
            targets = [version for version in targets if version not in missing]
        # Only real interpreters on PATH (pyenv's shims fail for versions not selected): ansible-test runs
        # compile and import on each version it finds there.
        path = [os.path.join(venv, 'bin')] + venvs.interpreter_dirs([python] + targets)
        path += [entry for entry in os.environ['PATH'].split(os.pathsep) if 'shims' not in entry.split(os.sep)]
        cache = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache')
        env = dict(os.environ, PATH=os.pathsep.join(path), XDG_CACHE_HOME=cache, HOME=ansible_test_home(core, python))
        if claimed is not None:
            sanity = ('sanity', 'all', [], 'every test, compile/import on %s' % ' '.join(targets))
        else:
            tests = [arg for name in CONTROLLER_TESTS for arg in ('--test', name)]
            sanity = ('sanity', python, tests, ', '.join(CONTROLLER_TESTS))
        for command, python_arg, extra, scope in (sanity, ('units', python, [], 'every unit test')):
            log.write('\n=== ansible-test %s (ansible-core %s, Python %s: %s)\n' % (command, core, python, scope))
            log.flush()
            try:
                status = subprocess.run([os.path.join(venv, 'bin', 'python'), os.path.join(HERE, 'run_sanity.py'),
                                         '--command', command, '--python', python_arg, '--local', '--'] + extra,
                                        env=env, stdout=log, stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT,
                                        check=False).returncode
            except subprocess.TimeoutExpired:
                log.write('timed out after %d s\n' % COMMAND_TIMEOUT)
                status = 1
            if status:
                failed.append(command)
    if targets:
        notes.insert(0, 'compile/import on %s' % ' '.join(targets))
    return label, failed, notes, time.monotonic() - started, log_path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--only', help='one ansible-core version (2.16.19) or pair (2.16.19:3.10)')
    parser.add_argument('--jobs', type=int, default=2, help='pairs run at once (default 2: the machines have 2 cores)')
    parser.add_argument('--list', action='store_true', help='print the pairs and exit')
    options = parser.parse_args()
    pairs = plan(options.only)
    if not pairs:
        parser.error('--only %s matches nothing in %s' % (options.only, [entry[0] for entry in CORES]))
    if options.list:
        for core, python, claimed in pairs:
            scope = 'every test, compile/import on Python %s' % claimed if claimed else ', '.join(CONTROLLER_TESTS)
            print('ansible-core %s on Python %s: sanity (%s) and units' % (core, python, scope))
        return 0
    logs = os.path.join(ROOT, 'tests', 'output', 'compat')
    os.makedirs(logs, exist_ok=True)
    started = time.monotonic()
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(options.jobs, 1)) as pool:
        futures = [pool.submit(run_pair, core, python, claimed, logs) for core, python, claimed in pairs]
        for future in concurrent.futures.as_completed(futures):
            label, failed, notes, seconds, log_path = future.result()
            outcome = 'FAILED: %s' % ', '.join(failed) if failed else 'ok'
            print('%-34s %s  (%d s%s; log %s)' % (label, outcome, seconds, ''.join('; ' + note for note in notes),
                                                  os.path.relpath(log_path, ROOT)), flush=True)
            if failed:
                failures.append((label, log_path))
    for label, log_path in failures:
        print('\n===== %s: %s' % (label, os.path.relpath(log_path, ROOT)))
        with open(log_path, errors='replace') as handle:
            print(''.join(line for line in handle if '━' not in line), end='')
    print('\ncompat: %d pair(s), %d failed, %d s' % (len(pairs), len(failures), time.monotonic() - started))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
