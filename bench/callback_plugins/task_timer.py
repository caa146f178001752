# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: task_timer
type: aggregate
short_description: Write when the playbook and each task start, as JSON lines (benchmarks only)
description:
  - Used by bench/run.py to split a playbook's wall time into Ansible's start-up and each task.
    The file is named by E(TASK_TIMER_FILE); times are seconds since the epoch.
requirements:
  - enable in configuration
'''

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'task_timer'
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, event, name=''):
        path = os.environ.get('TASK_TIMER_FILE')
        if path:
            with open(path, 'a', encoding='utf-8') as handle:
                handle.write(json.dumps({'event': event, 'name': name, 'time': time.time()}) + '\n')

    def v2_playbook_on_start(self, playbook):
        self._write('playbook_start')

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._write('task_start', task.get_name())

    def v2_playbook_on_handler_task_start(self, task):
        self._write('task_start', task.get_name())

    def v2_playbook_on_stats(self, stats):
        self._write('playbook_end')
