# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run ansible-test sanity and units on the other ansible-core versions the collection supports.

The main suite runs on ansible-core 2.19 (Python 3.11). This adds the oldest core that meta/runtime.yml
claims (2.17, on Python 3.11) and the newest (2.21, which needs Python 3.12: pyenv's interpreter is
used). Each gets a virtualenv in the cache folder, kept between runs.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# (ansible-core requirement, Python version); see README "Compatibility".
MATRIX = (('ansible-core==2.17.14', '3.11'), ('ansible-core==2.21.5', '3.12'))


def find_python(version):
    candidates = [shutil.which('python%s' % version)]
    pyenv_root = os.environ.get('PYENV_ROOT') or os.path.expanduser('~/.pyenv')
    candidates += sorted(glob.glob(os.path.join(pyenv_root, 'versions', '%s.*' % version, 'bin', 'python%s' % version)))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, '--version'], capture_output=True, check=False).returncode == 0:
            return candidate
    raise SystemExit('no working Python %s found (looked on PATH and in %s)' % (version, pyenv_root))


def venv_for(core, python_version):
    cache = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache')
    venv = os.path.join(cache, 'consul-peering', 'venvs', '%s-py%s' % (core.replace('==', '-'), python_version))
    marker = os.path.join(venv, '.installed')
    if not os.path.exists(marker):
        subprocess.run([find_python(python_version), '-m', 'venv', '--clear', venv], check=True)
        subprocess.run([os.path.join(venv, 'bin', 'pip'), 'install', '--quiet', core], check=True)
        open(marker, 'w').close()
    return venv


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--only', help='run just this ansible-core requirement, e.g. ansible-core==2.21.5')
    options = parser.parse_args()
    failed = []
    for core, python_version in MATRIX:
        if options.only and options.only != core:
            continue
        venv = venv_for(core, python_version)
        env = dict(os.environ, PATH=os.path.join(venv, 'bin') + os.pathsep + os.environ['PATH'])
        for command in ('sanity', 'units'):
            print('\n=== %s on Python %s: ansible-test %s' % (core, python_version, command), flush=True)
            status = subprocess.run([os.path.join(venv, 'bin', 'python'), os.path.join(ROOT, 'tests', 'utils',
                                     'run_sanity.py'), '--command', command, '--python', python_version],
                                    env=env, check=False).returncode
            if status:
                failed.append('%s %s (Python %s)' % (core, command, python_version))
    if failed:
        print('\nfailed: %s' % ', '.join(failed))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
