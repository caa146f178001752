# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline stand-in for get-pip.py, for ansible-test's pip bootstrap.

ansible-test downloads get-pip.py from a host these machines cannot reach. This script installs the
requested pip with the pip wheel that ships with ensurepip instead; run_sanity.py puts it in
ansible-test's cache under the name ansible-test looks for.
"""
import glob
import os
import sys

import ensurepip

wheels = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), '_bundled', 'pip-*.whl')))
if not wheels:
    sys.exit('ensurepip has no bundled pip wheel')
sys.path.insert(0, wheels[-1])

from pip._internal.cli.main import main  # noqa: E402  pylint: disable=wrong-import-position

args = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel')]
sys.exit(main(['install'] + args))
