# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Virtualenvs the test suite builds once and keeps in a cache, keyed by what is in them.

Each one lives in ${XDG_CACHE_HOME:-~/.cache}/consul-peering/venvs/<name>, built from a pyenv (or PATH)
interpreter of the given Python version with a list of pinned requirements. The list is written into the
venv when it is complete, so an interrupted build, or a changed pin, builds it anew on the next run.

    venvs.py build NAME...   build (if needed) and print each venv's folder
    venvs.py python NAME     print the path of the venv's Python, without building it
    venvs.py list            the named venvs and what they hold
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import os
import shutil
import subprocess
import sys

# RHEL 9's python3-requests and the packages it pulls in (AppStream/BaseOS, RHEL 9.0 to 9.6): the oldest
# versions the modules support. RHEL's requests is patched to read the system CA bundle instead of certifi,
# which pip's requests needs; the tests always pass ca_path, so the certifi version does not matter.
RHEL9_PACKAGES = ('requests==2.25.1', 'urllib3==1.26.5', 'idna==2.10', 'chardet==4.0.0', 'certifi==2026.10.19.post1')

# name: (Python version, requirements)
NAMED = {
    # The Python the modules run with in tests/integration/test_platforms.py: RHEL 9's platform Python (3.9)
    # with RHEL 9's requests stack and nothing else.
    'rhel9-modules': ('3.9', RHEL9_PACKAGES),
    # The unit tests on RHEL 9's requests stack. ansible-core 2.16 (the oldest the collection supports) needs a
    # 3.10+ controller, so the units run on 3.11 here; the 3.9 run above covers the interpreter.
    'rhel9-units': ('3.11', ('ansible-core==2.16.19', 'pytest==9.2.0') + RHEL9_PACKAGES),
    # galaxy-importer, apart from the main venv (it pins attrs<24); 0.4.44 is the newest release and accepts
    # the ansible-lint of requirements-dev.txt (it requires ansible-lint<=26.10.1).
    'galaxy-importer': ('3.11', ('galaxy-importer==0.4.44', 'ansible-core==2.19.14', 'ansible-lint==26.10.1')),
}


def cache_root():
    cache = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache')
    return os.path.join(cache, 'consul-peering', 'venvs')


def pyenv_root():
    return os.environ.get('PYENV_ROOT') or os.path.expanduser('~/.pyenv')


def find_python(version):
    """A working interpreter of Python `version` (like '3.9'): pyenv's newest patch release, else one on PATH.

    pyenv's shims are skipped: a shim for a version that is not selected fails when run.
    """
    def patch_level(path):
        release = path.split(os.sep)[-3]
        return tuple(int(part) if part.isdigit() else 0 for part in release.split('.'))

    candidates = sorted(glob.glob(os.path.join(pyenv_root(), 'versions', '%s.*' % version, 'bin', 'python%s' % version)),
                        key=patch_level, reverse=True)
    on_path = shutil.which('python%s' % version, path=os.pathsep.join(
        entry for entry in os.environ.get('PATH', '').split(os.pathsep) if 'shims' not in entry.split(os.sep)))
    candidates += [on_path] if on_path else []
    for candidate in candidates:
        if subprocess.run([candidate, '--version'], capture_output=True, check=False).returncode == 0:
            return candidate
    return None


def interpreter_dirs(versions):
    """The bin folders of real interpreters of `versions`, for a PATH on which ansible-test finds them."""
    folders = []
    for version in versions:
        python = find_python(version)
        if python and os.path.dirname(python) not in folders:
            folders.append(os.path.dirname(python))
    return folders


def path_of(name, python_version=None, requirements=None):
    """Where the venv `name` lives; named ones carry their Python version and a digest of their pins."""
    if name in NAMED:
        python_version, requirements = NAMED[name]
        digest = hashlib.sha256('\n'.join(requirements).encode()).hexdigest()[:8]
        return os.path.join(cache_root(), '%s-py%s-%s' % (name, python_version, digest))
    return os.path.join(cache_root(), name)


def python_of(name):
    return os.path.join(path_of(name), 'bin', 'python')


def ensure(name, python_version=None, requirements=None, quiet=True):
    """Build the venv `name` unless a complete one with the same requirements exists; return its folder."""
    if name in NAMED:
        python_version, requirements = NAMED[name]
    venv = path_of(name, python_version, requirements)
    marker = os.path.join(venv, '.installed')
    wanted = '\n'.join(requirements) + '\n'
    if os.path.exists(marker):
        with open(marker) as handle:
            if handle.read() == wanted:
                return venv
    python = find_python(python_version)
    if not python:
        raise SystemExit('no working Python %s found (looked in %s and on PATH)' % (python_version, pyenv_root()))
    print('building venv %s (Python %s: %s)' % (venv, python_version, ' '.join(requirements)), flush=True)
    subprocess.run([python, '-m', 'venv', '--clear', venv], check=True)
    pip = [os.path.join(venv, 'bin', 'python'), '-m', 'pip', '--disable-pip-version-check']
    subprocess.run(pip + ['install'] + (['--quiet'] if quiet else []) + list(requirements), check=True)
    subprocess.run(pip + ['check'], check=True, stdout=subprocess.DEVNULL)
    with open(marker, 'w') as handle:
        handle.write(wanted)
    return venv


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='action', required=True)
    build = sub.add_parser('build', help='build the named venvs if needed and print their folders')
    build.add_argument('names', nargs='+', choices=sorted(NAMED))
    python = sub.add_parser('python', help="print the path of a named venv's Python (not built here)")
    python.add_argument('name', choices=sorted(NAMED))
    sub.add_parser('list', help='the named venvs')
    options = parser.parse_args()
    if options.action == 'build':
        for name in options.names:
            print(ensure(name))
    elif options.action == 'python':
        print(python_of(options.name))
    else:
        for name, (version, requirements) in sorted(NAMED.items()):
            print('%s: Python %s, %s\n  %s' % (name, version, ' '.join(requirements), path_of(name)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
