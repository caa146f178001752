# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every peering module shares: option handling, the client, check mode, waiting, and failing cleanly."""

from __future__ import annotations

import contextlib

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.consul.peering.plugins.module_utils.api import (
    HAS_REQUESTS, REQUESTS_IMPORT_ERROR, ConsulClient,
)
from ansible_collections.consul.peering.plugins.module_utils import waiting
from ansible_collections.consul.peering.plugins.module_utils.errors import ConsulError
from ansible_collections.consul.peering.plugins.module_utils.masking import Secrets
from ansible_collections.consul.peering.plugins.module_utils.options import (
    CONNECTION_REQUIRED_BY, OptionError, connection_argument_spec, resolve_connection,
)
from ansible_collections.consul.peering.plugins.module_utils.peering import (
    WAIT_UNTIL_ACTIVE, WAIT_UNTIL_GONE, PeeringError, reached_active,
)
from ansible_collections.consul.peering.plugins.module_utils.waiting import Stall, Waiter, deletion_mark

DEFAULT_WAIT_TIMEOUT = 120


class PeeringModule:
    """An AnsibleModule with the shared connection options, a Consul client and one executor for plans."""

    def __init__(self, argument_spec):
        spec = connection_argument_spec()
        spec.update(argument_spec)
        self.module = AnsibleModule(argument_spec=spec, supports_check_mode=True, required_by=CONNECTION_REQUIRED_BY)
        self.params = self.module.params
        self.secrets = Secrets()
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
        with self.fail_on_error():
            self.connection = resolve_connection(self.params)
            # The client registers its ACL token and basic-auth password with every form they can take in a
            # message; Ansible knows only the exact values of no_log parameters, not a token read from a file.
            self.client = ConsulClient(self.connection, self.secrets)
        self.module.no_log_values.update(self.secrets.forms)
        for warning in self.connection.warnings:
            self.module.warn(warning)
        if self.connection.scheme == 'https' and not self.connection.validate_certs:
            self.module.warn('validate_certs is false: the Consul server certificate is not verified, so the ACL '
                             'token is sent to whoever answers at %s. Prefer ca_path.' % self.connection.base_url)

    @property
    def partition(self):
        """The admin partition of the connection (Consul Enterprise), or None."""
        return self.connection.partition

    @property
    def check_mode(self):
        return self.module.check_mode

    def hide(self, secret):
        """Make sure `secret`, in any form a message can carry it, never appears in what this module returns or logs."""
        self.module.no_log_values.update(self.secrets.add(secret))

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=self.secrets.mask(msg), **kwargs)

    @contextlib.contextmanager
    def fail_on_error(self):
        """Turn the collection's errors into one clean fail_json, without a traceback."""
        try:
            yield
        except (ConsulError, PeeringError, OptionError) as exc:
            self.fail(str(exc))

    def read(self, name, deadline=None):
        return self.client.read_peering(name, deadline=deadline)

    def execute(self, plan, name, current, steps, wait_timeout=DEFAULT_WAIT_TIMEOUT, waiter=None):
        """Carry out a plan and return the peering as Consul reports it afterwards.

        This is the only place that skips writes in check mode (there, nothing is called at all); other code
        asks check_mode only to word a plan or a result, never to decide whether to write.
        `steps` maps each write action of the plan to a function that performs it. `waiter` is a wait that
        began with the read of `current` (see Waiter.first_read): the plan's first wait goes on with it.
        """
        for warning in plan.warnings:
            self.module.warn(warning)
        if self.check_mode:
            return current
        after, stale = current, False
        for action in plan.actions:
            if action == WAIT_UNTIL_ACTIVE:
                # Without a write before it, the state read for the plan may already be the answer.
                after = self.wait_until_active(name, wait_timeout, known=None if stale else after, waiter=waiter)
                stale, waiter = False, None
            elif action == WAIT_UNTIL_GONE:
                after, stale, waiter = self.wait_until_gone(name, wait_timeout, waiter=waiter), False, None
            else:
                steps[action]()
                stale = True
        return self.read(name) if stale else after

    def result(self, plan, **values):
        """The fields every module returns: changed, the actions taken (or that would be) and the diff."""
        values.update(changed=plan.changed, actions=plan.actions)
        if self.module._diff:
            values['diff'] = plan.diff
        return values

    def exit(self, **result):
        self.module.exit_json(**result)

    # -- waiting --------------------------------------------------------------------------------

    def waiter(self, name, timeout):
        """A Waiter for the peering `name`, whose every read is cut short at the wait's deadline."""
        return Waiter(lambda deadline: self.read(name, deadline), name, timeout)

    def wait_until_active(self, name, timeout, known=None, waiter=None):
        """Wait for ACTIVE; `waiter` continues a wait whose first read was `known`."""
        waiter = waiter or self.waiter(name, timeout)
        return waiter.until(lambda peering: reached_active(peering, name), 'become ACTIVE', known)

    def wait_until_gone(self, name, timeout, waiter=None):
        """Wait until Consul no longer returns the peering; a deletion that stands still is sent again."""
        waiter = waiter or self.waiter(name, timeout)
        stall = Stall(waiting.STALL_SECONDS, waiter.clock)  # read at call time: tests shorten it

        def delete_again_when_stuck(peering):
            if stall.seen(deletion_mark(peering)):
                self.client.delete_peering(name, deadline=waiter.deadline)
                self.module.warn('Consul left peering %r marked for deletion (state %s, DeletedAt %s) for %gs '
                                 'without removing it: sent the DELETE again'
                                 % (name, peering.get('State'), peering['DeletedAt'], stall.seconds))

        waiter.until(lambda peering: peering is None, 'be deleted', on_answer=delete_again_when_stuck)
        return None
