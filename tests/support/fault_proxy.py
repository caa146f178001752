# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A loopback HTTP proxy in front of a real Consul that records every call and injects faults on demand.

Rules match a method and a path prefix and hold a list of faults used in order (the last one repeats):
PASS forwards the call; ('status', code, body) answers without forwarding; RESET closes the connection
without answering (TCP RST); RESET_MID_BODY forwards, sends the status line, the headers and half of the
body, then resets; ('delay', seconds) waits, then forwards.
"""

from __future__ import annotations

import time

import requests

from ansible_collections.consul.peering.tests.support.consul_state import WRITE_METHODS
from ansible_collections.consul.peering.tests.support.loopback_servers import RESET, RESET_MID_BODY, LoopbackServer

PASS = 'pass'


class FaultProxy(LoopbackServer):
    def __init__(self, upstream):
        super().__init__()
        self.upstream = upstream.rstrip('/')
        self.calls = []
        self._rules = []

    def inject(self, method, path_prefix, *faults):
        with self._lock:
            self._rules.append([method, path_prefix, list(faults)])

    def clear(self):
        with self._lock:
            self._rules = []
            self.calls = []

    def writes(self):
        return [call for call in self.calls if call[0] in WRITE_METHODS]

    def _fault_for(self, method, path):
        with self._lock:
            for rule in self._rules:
                if rule[0] == method and path.startswith(rule[1]):
                    faults = rule[2]
                    return faults.pop(0) if len(faults) > 1 else faults[0]
        return PASS

    def handle(self, request):
        body = request.read_body() or None
        self.calls.append((request.command, request.path))
        fault = self._fault_for(request.command, request.path)
        if fault == RESET:
            request.reset()
            return
        if isinstance(fault, tuple) and fault[0] == 'status':
            request.answer(fault[1], fault[2].encode())
            return
        if isinstance(fault, tuple) and fault[0] == 'delay':
            time.sleep(fault[1])
        headers = {name: value for name, value in request.headers.items()
                   if name.lower() in ('x-consul-token', 'content-type')}
        try:
            response = requests.request(request.command, self.upstream + request.path, data=body, headers=headers,
                                        timeout=60)
        except requests.RequestException:
            return  # the client gave up first (it timed out): nothing to answer
        request.answer(response.status_code, response.content, cut=fault == RESET_MID_BODY)
