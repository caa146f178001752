# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: record_results
type: aggregate
short_description: Write every task result, as shown to callbacks, to a JSON lines file (tests only)
description:
  - Used by the integration tests to assert on module results exactly as Ansible passes them to
    callbacks, after no_log censoring. The file is named by E(RECORD_RESULTS_FILE).
requirements:
  - enable in configuration
'''

import json
import os

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'record_results'
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, status, result):
        path = os.environ.get('RECORD_RESULTS_FILE')
        if not path:
            return
        entry = {
            'task': result.task_name or result._task.get_name(),
            'host': result._host.get_name(),
            'status': status,
            'result': result._result,
        }
        with open(path, 'a') as handle:
            handle.write(json.dumps(entry, default=str) + '\n')

    def v2_runner_on_ok(self, result):
        self._record('ok', result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record('failed', result)

    def v2_runner_on_skipped(self, result):
        self._record('skipped', result)
