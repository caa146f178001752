# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the collection tarball and import it with galaxy-importer, locally and without containers, as
Galaxy and Automation Hub do on upload; fail on any error or warning it reports.

galaxy-importer runs in a virtualenv of its own (tests/utils/venvs.py: galaxy-importer). Its ansible-test
step needs a container engine, so it is off here; `make sanity` and `make compat` run ansible-test instead.
Everything else runs: the galaxy.yml / MANIFEST.json schema, ansible-doc on every plugin and role, the
README and role README checks, the changelog check, meta/execution-environment.yml, the sanity ignore-file
check and ansible-lint (production profile, offline).

Settings (--settings):
- galaxy: galaxy.ansible.com's, plus Automation Hub's check that galaxy.yml carries one of its required tags;
- automation-hub: also Automation Hub's rule that the version is 1.0.0 or later;
- auto (default): automation-hub once galaxy.yml's version is 1.0.0 or later, galaxy before.
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.dirname(sys.executable)
sys.path.insert(0, HERE)

import venvs  # noqa: E402  pylint: disable=wrong-import-position

SETTINGS = {
    # ansible-lint runs in make lint (production profile); inside the importer it has a fixed 180 s timeout that a
    # loaded 2-core machine overran, so the importer's copy of that step is off, like its ansible-test step.
    'galaxy': {'RUN_ANSIBLE_TEST': False, 'RUN_ANSIBLE_LINT': False, 'OFFLINE_ANSIBLE_LINT': True,
               'CHECK_CHANGELOG': True, 'CHECK_REQUIRED_TAGS': True, 'REQUIRE_V1_OR_GREATER': False},
}
SETTINGS['automation-hub'] = dict(SETTINGS['galaxy'], REQUIRE_V1_OR_GREATER=True)


def collection_version():
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        return str(yaml.safe_load(handle)['version'])


def pick_settings(choice):
    if choice != 'auto':
        return choice
    major = int(collection_version().split('.', maxsplit=1)[0])
    return 'automation-hub' if major >= 1 else 'galaxy'


def problems(output):
    """The lines of galaxy-importer's log that report an error or a warning."""
    return [line for line in output.splitlines() if line.startswith(('ERROR:', 'WARNING:', 'CRITICAL:'))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--settings', choices=['auto'] + sorted(SETTINGS), default='auto')
    parser.add_argument('--tarball', help='import this tarball instead of building one')
    options = parser.parse_args()
    settings = pick_settings(options.settings)

    trees = os.path.join(os.path.dirname(venvs.cache_root()), 'trees')
    os.makedirs(trees, exist_ok=True)
    work = tempfile.mkdtemp(prefix='galaxy-importer-', dir=trees)
    try:
        tarball = options.tarball
        if not tarball:
            subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', work, ROOT],
                           check=True, stdout=subprocess.DEVNULL)
            (tarball,) = glob.glob(os.path.join(work, '*.tar.gz'))
        importer = venvs.ensure('galaxy-importer')
        config = os.path.join(work, 'galaxy-importer.cfg')
        with open(config, 'w') as handle:
            handle.write('[galaxy-importer]\n')
            handle.writelines('%s = %s\n' % item for item in sorted(SETTINGS[settings].items()))
        # Nothing from the caller's Ansible settings: the importer sets its own collections path.
        env = dict((name, value) for name, value in os.environ.items() if not name.startswith(('ANSIBLE_', 'GALAXY_')))
        env.update(GALAXY_IMPORTER_CONFIG=config, PATH=os.path.join(importer, 'bin') + os.pathsep + env['PATH'])
        print('+ galaxy-importer (%s settings: %s) %s' % (settings, ', '.join('%s=%s' % item for item in
                                                          sorted(SETTINGS[settings].items())), os.path.basename(tarball)),
              flush=True)
        run = subprocess.run([os.path.join(importer, 'bin', 'python'), '-m', 'galaxy_importer.main', tarball], cwd=work,
                             env=env, capture_output=True, text=True, timeout=900, check=False)
        output = run.stdout + run.stderr
        print(output, end='')
        found = problems(output)
        if run.returncode or found or 'Importer processing completed successfully' not in output:
            print('galaxy-importer: the import failed or reported %d error(s)/warning(s)' % len(found), file=sys.stderr)
            return 1
        print('galaxy-importer: imported with no error or warning (%s settings)' % settings)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
