# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Run a module's main() in-process with given arguments and return what it printed as JSON; the connection
options that aim a module at a loopback server."""

from __future__ import annotations

import contextlib
import io
import json
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.consul.peering.tests.support.consul_data import ACL_TOKEN

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core < 2.19
    @contextlib.contextmanager
    def patch_module_args(args):
        with mock.patch.object(basic, '_ANSIBLE_ARGS', to_bytes(json.dumps({'ANSIBLE_MODULE_ARGS': args}))):
            yield


def _reset_warnings():
    # Warnings are module-global state, meant for one module run per process.
    for name in ('_global_warnings', '_global_deprecations'):
        collected = getattr(ansible_warnings, name, None)
        if collected is not None:
            collected.clear()


def _warning_text(warning):
    # ansible-core 2.19 returns structured warnings; older cores return strings.
    return warning['event']['msg'] if isinstance(warning, dict) else warning


@contextlib.contextmanager
def _as_a_module():
    # ansible-core 2.19+ routes warnings to the controller's display once any controller code was
    # imported in this process (filter tests do); a module run must collect them in its result.
    try:
        from ansible.module_utils import _internal  # pylint: disable=import-outside-toplevel
    except ImportError:
        yield
        return
    if not hasattr(_internal, 'is_controller'):
        yield
        return
    with mock.patch.object(_internal, 'is_controller', False):
        yield


def run_module(module, args, check_mode=False, diff=False):
    """Return (result dict, raw output text) of module.main() with `args`; warnings are returned as text."""
    _reset_warnings()
    args = dict(args)
    args['_ansible_check_mode'] = check_mode
    args['_ansible_diff'] = diff
    out = io.StringIO()
    with patch_module_args(args), _as_a_module(), contextlib.redirect_stdout(out):
        try:
            module.main()
        except SystemExit:
            pass
    raw = out.getvalue()
    result = json.loads(raw)
    if 'warnings' in result:
        result['warnings'] = [_warning_text(warning) for warning in result['warnings']]
    return result, raw


def connection(server, **args):
    """`args` with the connection options of the loopback `server` (plain HTTP) and the ACL token."""
    args.update(host='127.0.0.1', port=server.port, token=ACL_TOKEN)
    return args
