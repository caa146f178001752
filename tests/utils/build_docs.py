# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the collection's HTML docs with antsibull-docs and Sphinx, offline, failing on any warning.

antsibull-docs renders the RST of every module, filter and role from their documentation (the same
source ansible-doc reads); docs/site holds the Sphinx configuration and the pages around them.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE = os.path.join(ROOT, 'docs', 'site')
BIN = os.path.dirname(sys.executable)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dest', default=os.path.join(ROOT, 'build', 'docs'), help='where the HTML goes')
    options = parser.parse_args()
    if 'ANSIBLE_COLLECTIONS_PATH' not in os.environ:
        sys.exit('set ANSIBLE_COLLECTIONS_PATH to a folder holding ansible_collections/consul/peering (make docs does)')

    work = tempfile.mkdtemp(prefix='consul-peering-docs-')
    rst = os.path.join(work, 'rst')
    os.mkdir(rst, 0o755)  # antsibull-docs refuses a destination others can write to
    try:
        subprocess.run([os.path.join(BIN, 'antsibull-docs'), 'collection', '--use-current', '--dest-dir', rst,
                        'consul.peering'], check=True)
        for page in ('index.rst', 'external.rst'):
            shutil.copy(os.path.join(SITE, page), rst)
        subprocess.run([os.path.join(BIN, 'sphinx-build'), '-q', '-b', 'html', '-c', SITE, '-W', '--keep-going',
                        rst, options.dest], check=True)
    except subprocess.CalledProcessError as exc:
        print('docs build failed: %s' % exc, file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print('HTML docs in %s' % os.path.join(options.dest, 'index.html'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
