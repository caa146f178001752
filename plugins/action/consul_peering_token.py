# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Runs consul_peering_token and hides its output whenever it carries a token.

A peering token is a credential. The module has to return it so that a playbook can pass it to the
dialing cluster, but Ansible would print it at -v and in callbacks (also AWX job events) unless the
task says no_log. This makes that the default: a result holding a token is censored for display and
logging, while the registered variable keeps the token.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        result.update(self._execute_module(module_name=self._task.resolved_action or self._task.action,
                                           module_args=self._task.args, task_vars=task_vars))
        if result.get('token'):
            result['_ansible_no_log'] = True
        return result
