# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run `ansible-test sanity` (or `units`) on this collection, offline, from a plain git checkout.

ansible-test must run inside a real .../ansible_collections/<namespace>/<name> folder (a symlink is
not enough), and its pip bootstrap downloads get-pip.py from a host that is unreachable here. So this
copies the files git knows (tracked, and untracked but not ignored) into such a folder, puts the
offline pip bootstrap in ansible-test's cache, and runs ansible-test there.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def build_ignore():
    """The patterns galaxy.yml keeps out of the built collection."""
    import yaml  # pylint: disable=import-outside-toplevel
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        return yaml.safe_load(handle).get('build_ignore') or []


def collection_files():
    """Files git knows that the collection ships: ansible-test checks collection content, so what
    galaxy.yml's build_ignore leaves out (benchmarks, the demo, the Go pin, CI glue) is not copied."""
    out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                         cwd=ROOT, check=True, capture_output=True).stdout
    ignored = build_ignore()
    names = []
    for name in out.decode().split('\0'):
        if not name or not os.path.isfile(os.path.join(ROOT, name)):
            continue
        if any(fnmatch.fnmatch(name, pattern) or name.startswith(pattern.rstrip('/') + '/') for pattern in ignored):
            continue
        names.append(name)
    return names


def install_pip_shim():
    """Cache the offline get-pip stand-in under the pip version this ansible-test bootstraps."""
    import ansible_test  # pylint: disable=import-outside-toplevel
    requirements = os.path.join(os.path.dirname(ansible_test.__file__), '_internal', 'python_requirements.py')
    with open(requirements) as handle:
        version = re.search(r"pip='([0-9.]+)'", handle.read()).group(1)
    cache = os.path.expanduser('~/.ansible/test/cache')
    os.makedirs(cache, exist_ok=True)
    shutil.copyfile(os.path.join(ROOT, 'tests', 'utils', 'get_pip_shim.py'),
                    os.path.join(cache, 'get_pip_%s.py' % version.replace('.', '_')))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--command', default='sanity', choices=['sanity', 'units'], help='ansible-test command')
    parser.add_argument('--python', default='%d.%d' % sys.version_info[:2],
                        help='Python version to test with; "all" runs the tests that are Python version specific (compile, '
                             'import) on every version that ansible-test finds on PATH and the collection supports')
    parser.add_argument('--local', action='store_true',
                        help='run ansible-test in the current Python (installing its requirements there) instead of a '
                             'fresh virtualenv: for dedicated virtualenvs, such as the ones compat.py builds')
    parser.add_argument('--keep', action='store_true', help='keep the copied tree and print where it is')
    parser.add_argument('args', nargs='*', help='extra arguments for ansible-test (after --)')
    options = parser.parse_args()

    ansible_test = shutil.which('ansible-test')
    if not ansible_test:
        sys.exit('ansible-test is not on PATH: run `make venv` first')
    install_pip_shim()

    # Not in /tmp: the copy must live as long as the run, whatever cleans up temporary folders meanwhile.
    trees = os.path.join(os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache'), 'consul-peering', 'trees')
    os.makedirs(trees, exist_ok=True)
    top = tempfile.mkdtemp(prefix='%s-' % options.command, dir=trees)
    target = os.path.join(top, 'ansible_collections', 'consul', 'peering')
    for name in collection_files():
        destination = os.path.join(target, name)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, name), destination)
    # ansible-test's git mode lists files with git, so the copy is a repository of its own.
    subprocess.run(['git', 'init', '-q'], cwd=target, check=True)
    # ansible-test writes its virtualenvs under tests/output; they are not collection content.
    with open(os.path.join(target, '.git', 'info', 'exclude'), 'a') as handle:
        handle.write('tests/output/\n')
    subprocess.run(['git', 'add', '-A'], cwd=target, check=True)

    command = [ansible_test, options.command] + ([] if options.python == 'all' else ['--python', options.python])
    command += ['--local' if options.local else '--venv', '--requirements', '--color', 'no'] + options.args
    print('+ (in %s) %s' % (target, ' '.join(command)), flush=True)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=top)
    status = subprocess.run(command, cwd=target, env=env, check=False).returncode
    if options.keep or status:
        print('ansible-test tree kept at %s' % target)
    else:
        shutil.rmtree(top)
    return status


if __name__ == '__main__':
    sys.exit(main())
