# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A loopback HTTP server that answers from a script, for faults a real Consul will not produce on demand.

Each answer is (status, body) or one of the faults RESET (close the connection without answering),
RESET_MID_BODY (send headers and part of the body, then close), ('slow', seconds, status, body),
('trickle', seconds, status, body) (the whole answer, headers included, one byte every `seconds`),
('redirect', status, location), ('echo', status) (the request's headers back, as a proxy's error
page may show them) or ('headers', status, body, {name: value}) (an answer with headers of its own, such as
X-Consul-Index). The server records every request (method, path, headers, JSON body), so tests
can count write calls.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

RESET = 'reset'
RESET_MID_BODY = 'reset-mid-body'


class Request:
    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body


class LoopbackHandler(BaseHTTPRequestHandler):
    """Hands every request to the LoopbackServer that owns it; can answer, cut an answer short, or reset."""

    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def _dispatch(self):
        self.server.owner.handle(self)

    do_GET = do_POST = do_DELETE = do_PUT = do_CONNECT = _dispatch

    def read_body(self):
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def reset(self):
        # SO_LINGER 0 makes close() send a TCP RST: a real "connection reset by peer".
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        self.connection.close()
        self.close_connection = True

    def trickle(self, status, data, interval):
        """Send the whole answer, status line and headers included, one byte every `interval` seconds."""
        raw = ('HTTP/1.1 %d Scripted\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n'
               % (status, len(data))).encode() + data
        try:
            for index in range(len(raw)):
                self.wfile.write(raw[index:index + 1])
                self.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass  # the client gave up, as it should
        self.close_connection = True

    def redirect(self, status, location):
        self.send_response(status)
        self.send_header('Location', location)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def answer(self, status, data, length=None, cut=False, headers=None):
        """Send `data` (bytes) as JSON, with `headers` too; with `cut`, send the headers and only part of the
        body, then reset."""
        try:
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data) if length is None else length))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data[:len(data) // 2] if cut else data)
            if cut:
                self.wfile.flush()
                self.reset()
        except OSError:
            pass  # the client is gone (it gave up or timed out): nothing left to answer


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 (a free port) for the length of a with block; subclasses define handle()."""

    def __init__(self):
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(('127.0.0.1', 0), LoopbackHandler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={'poll_interval': 0.05}, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    def handle(self, request):
        """Answer one request; `request` is the LoopbackHandler serving it."""
        raise NotImplementedError


class ScriptedServer(LoopbackServer):
    """Answers requests for (method, path) from a list of scripted answers; the last one repeats."""

    def __init__(self):
        super().__init__()
        self.requests = []
        self._script = {}

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

    def handle(self, request):
        raw = request.read_body()
        self.requests.append(Request(request.command, request.path, dict(request.headers),
                                     json.loads(raw) if raw else None))
        answer = self._next_answer(request.command, request.path)
        if answer == RESET:
            request.reset()
            return
        if answer == RESET_MID_BODY:
            request.answer(200, b'{"ID": "truncated', length=1000, cut=True)
            return
        if answer[0] == 'slow':
            time.sleep(answer[1])
            answer = answer[2:]
        elif answer[0] == 'trickle':
            request.trickle(answer[2], json.dumps(answer[3]).encode(), answer[1])
            return
        elif answer[0] == 'redirect':
            request.redirect(answer[1], answer[2])
            return
        elif answer[0] == 'echo':
            answer = (answer[1], '\n'.join('%s: %s' % item for item in request.headers.items()))
        headers = {}
        if answer[0] == 'headers':
            _kind, status, payload, headers = answer
        else:
            status, payload = answer
        request.answer(status, (payload if isinstance(payload, str) else json.dumps(payload)).encode(), headers=headers)


def calls(server):
    """(method, path without its query) of every request `server` received, oldest first."""
    return [(r.method, r.path.split('?')[0]) for r in server.requests]


def writes(server):
    """The requests `server` received that could change Consul: all but GETs."""
    return [r for r in server.requests if r.method != 'GET']


def query(request):
    """The query string of a received request, as a dict."""
    return dict((key, values[0]) for key, values in parse_qs(urlsplit(request.path).query).items())


class ForwardProxy(LoopbackServer):
    """A small forwarding HTTP proxy: CONNECT tunnels (https) and absolute-form requests (http).

    `names` maps host names to the loopback address the proxy connects to, as a proxy's own DNS would: the
    client never resolves them, so a request only arrives when it really went through the proxy. `log`
    holds the request lines, as a proxy's access log does; `headers` the headers of each request.
    """

    def __init__(self, names=None):
        super().__init__()
        self.names = dict(names or {})
        self.log = []
        self.headers = []

    def _upstream(self, authority, default_port):
        host, _sep, port = authority.rpartition(':') if ':' in authority else (authority, '', str(default_port))
        return self.names.get(host, host), int(port)

    def handle(self, request):
        self.log.append(request.requestline)
        self.headers.append(dict(request.headers))
        if request.command == 'CONNECT':
            self._tunnel(request)
        else:
            self._forward(request)

    def _tunnel(self, request):
        try:
            upstream = socket.create_connection(self._upstream(request.path, 443), timeout=10)
        except OSError:
            request.send_error(502)
            return
        request.send_response(200, 'Connection established')
        request.end_headers()
        client = request.connection
        with upstream:
            while True:
                readable, _w, _x = select.select([client, upstream], [], [], 10)
                if not readable:
                    break
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        request.close_connection = True
                        return
                    (upstream if source is client else client).sendall(data)
        request.close_connection = True

    def _forward(self, request):
        url = urlsplit(request.path)
        body = request.read_body()
        headers = dict((name, value) for name, value in request.headers.items()
                       if name.lower() not in ('proxy-authorization', 'proxy-connection', 'host'))
        host, port = self._upstream(url.netloc, 80)
        upstream = http.client.HTTPConnection(host, port, timeout=10)
        try:
            upstream.request(request.command, url.path + ('?' + url.query if url.query else ''), body or None, headers)
            answer = upstream.getresponse()
            data = answer.read()
        except OSError:
            request.send_error(502)
            return
        finally:
            upstream.close()
        request.answer(answer.status, data)
