# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A loopback HTTP server that answers from a script, for faults a real Consul will not produce on demand.

Each answer is (status, body) or one of the faults RESET (close the connection without answering),
RESET_MID_BODY (send headers and part of the body, then close) or ('slow', seconds, status, body).
The server records every request (method, path, headers, JSON body), so tests can count write calls.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RESET = 'reset'
RESET_MID_BODY = 'reset-mid-body'


class Request:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body


class ScriptedServer:
    """Answers requests for (method, path) from a list of scripted answers; the last one repeats."""

    def __init__(self):
        self.requests = []
        self._script = {}
        self._lock = threading.Lock()
        handler = self._make_handler()
        self._httpd = ThreadingHTTPServer(('127.0.0.1', 0), handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    def script(self, method, path, *answers):
        """Answer `method path` with `answers` in order, repeating the last one."""
        self._script[(method, path)] = list(answers)

    def calls(self, method=None):
        return [r for r in self.requests if method is None or r.method == method]

    def _next_answer(self, method, path):
        with self._lock:
            answers = self._script.get((method, path.split('?')[0]))
            if not answers:
                return 404, 'no script for %s %s' % (method, path)
            return answers.pop(0) if len(answers) > 1 else answers[0]

    def _make_handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get('Content-Length') or 0)
                raw = self.rfile.read(length) if length else b''
                body = json.loads(raw) if raw else None
                server.requests.append(Request(self.command, self.path, dict(self.headers), body))
                answer = server._next_answer(self.command, self.path)
                if answer == RESET:
                    self._reset()
                    return
                if answer == RESET_MID_BODY:
                    self.send_response(200)
                    self.send_header('Content-Type', 'application/json')
                    self.send_header('Content-Length', '1000')
                    self.end_headers()
                    self.wfile.write(b'{"ID": "trunc')
                    self.wfile.flush()
                    self._reset()
                    return
                if answer[0] == 'slow':
                    time.sleep(answer[1])
                    answer = answer[2:]
                status, payload = answer
                data = payload if isinstance(payload, str) else json.dumps(payload)
                data = data.encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _reset(self):
                # SO_LINGER 0 makes close() send a TCP RST: a real "connection reset by peer".
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                self.connection.close()
                self.close_connection = True

            do_GET = do_POST = do_DELETE = do_PUT = _handle

        return Handler
