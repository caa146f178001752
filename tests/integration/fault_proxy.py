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

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

PASS = 'pass'
RESET = 'reset'
RESET_MID_BODY = 'reset-mid-body'


class FaultProxy:
    def __init__(self, upstream):
        self.upstream = upstream.rstrip('/')
        self.calls = []
        self._rules = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    def inject(self, method, path_prefix, *faults):
        with self._lock:
            self._rules.append([method, path_prefix, list(faults)])

    def clear(self):
        with self._lock:
            self._rules = []
            self.calls = []

    def writes(self):
        return [call for call in self.calls if call[0] in ('POST', 'PUT', 'DELETE')]

    def _fault_for(self, method, path):
        with self._lock:
            for rule in self._rules:
                if rule[0] == method and path.startswith(rule[1]):
                    faults = rule[2]
                    return faults.pop(0) if len(faults) > 1 else faults[0]
        return PASS

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get('Content-Length') or 0)
                body = self.rfile.read(length) if length else None
                proxy.calls.append((self.command, self.path))
                fault = proxy._fault_for(self.command, self.path)
                if fault == RESET:
                    self._reset()
                    return
                if isinstance(fault, tuple) and fault[0] == 'status':
                    self._answer(fault[1], fault[2].encode())
                    return
                if isinstance(fault, tuple) and fault[0] == 'delay':
                    time.sleep(fault[1])
                headers = {name: value for name, value in self.headers.items()
                           if name.lower() in ('x-consul-token', 'content-type')}
                try:
                    response = requests.request(self.command, proxy.upstream + self.path, data=body, headers=headers,
                                                timeout=60)
                except requests.RequestException:
                    return  # the client gave up first (it timed out): nothing to answer
                if fault == RESET_MID_BODY:
                    self._answer(response.status_code, response.content, cut=True)
                    return
                self._answer(response.status_code, response.content)

            def _reset(self):
                # SO_LINGER 0 makes close() send a TCP RST: a real "connection reset by peer".
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                self.connection.close()
                self.close_connection = True

            def _answer(self, status, data, cut=False):
                try:
                    self.send_response(status)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:len(data) // 2] if cut else data)
                    if cut:
                        self.wfile.flush()
                        self._reset()
                except OSError:
                    pass

            do_GET = do_POST = do_DELETE = do_PUT = _handle

        return Handler
