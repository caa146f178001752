# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The servers' processes: free ports on the loopback address, a parent-death signal, telling a server
from a reused pid, killing a server another process started, and the safety net that stops every server
this process started when it ends (atexit, SIGTERM).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import sys
import threading
import time

HOST = '127.0.0.1'
STOP_TIMEOUT = 15
# Every server with a live child process of this one (a Cluster: stop() and base_dir), for the safety net.
RUNNING = []


def free_ports(count):
    """Ask the kernel for `count` distinct free TCP ports on the loopback address."""
    sockets, ports = [], []
    try:
        for _index in range(count):
            sock = socket.socket()
            sock.bind((HOST, 0))
            sockets.append(sock)
            ports.append(sock.getsockname()[1])
    finally:
        for sock in sockets:
            sock.close()
    return ports


def die_with_parent(parent_pid):
    """Return a preexec_fn: in the child, get SIGTERM when the parent dies (Linux PR_SET_PDEATHSIG)."""
    def preexec():
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
        # The parent may have died between fork and prctl; then no signal will ever come.
        if os.getppid() != parent_pid:
            os._exit(1)  # pylint: disable=protected-access
    return preexec


def server_state(pid, config_path):
    """'running' while `pid` is the server of `config_path`; 'zombie' once it exited but is not yet reaped;
    'gone' when the pid is free or belongs to another process now."""
    try:
        with open('/proc/%d/stat' % pid, encoding='utf-8', errors='replace') as handle:
            state = handle.read().rsplit(')', 1)[1].split()[0]
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            cmdline = handle.read()
    except (OSError, TypeError, IndexError):
        return 'gone'
    if state in ('Z', 'X'):
        return 'zombie'
    return 'running' if config_path.encode() in cmdline else 'gone'


def pid_is_consul(pid, config_path):
    """Whether `pid` is still the running server of `config_path` (not a reused pid, not a zombie)."""
    return server_state(pid, config_path) == 'running'


def kill_pid(pid, config_path):
    """SIGTERM a server this process did not start, SIGKILL it after a timeout, and wait until it is gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline and pid_is_consul(pid, config_path):
            time.sleep(0.1)
        if not pid_is_consul(pid, config_path):
            break
    # Its parent (init, for a server started from the command line) reaps it; until then `pgrep` still
    # lists it. Wait a little for that, but it is not ours to reap.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and server_state(pid, config_path) == 'zombie':
        time.sleep(0.05)


def stop_everything():
    """Stop every server in RUNNING: at exit, and on SIGTERM."""
    for cluster in list(RUNNING):
        cluster.stop()


def _on_sigterm(signum, _frame):
    """Stop our servers, then die of the same signal as we would have without this handler."""
    kept = sorted(set(os.path.dirname(cluster.base_dir) for cluster in RUNNING))
    stop_everything()
    for base_dir in kept:
        print('consul-peering harness: logs kept in %s' % base_dir, file=sys.stderr)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


# Library mode: Ctrl-C raises KeyboardInterrupt, which unwinds through `with ClusterSet` and pytest's
# fixture teardown; atexit catches what is left; SIGTERM (which Python does not turn into an exception)
# gets its own handler; SIGKILL is covered by the servers' parent-death signal.
atexit.register(stop_everything)
if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
        signal.SIG_DFL, None):
    signal.signal(signal.SIGTERM, _on_sigterm)
