# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Independent single-server Consul clusters on 127.0.0.1: one Cluster, and a ClusterSet of them.

Each cluster (dc1, dc2, ...) is one Consul server with its own free ports, data dir and log file, peering
and Connect enabled, DEBUG logging (one line per HTTP request), optionally with ACLs (default deny, a
management token made up for the run) and HTTPS (a CA, server and client certificates made up for the
run, plus an unrelated "wrong" CA; plain HTTP off unless asked for). config_overrides changes any setting
of the agent configuration, e.g. {'peering': {'enabled': False}} for a cluster that cannot peer.

Used by the pytest fixtures (ClusterSet as a context manager: every server stops with the test session,
even when it is interrupted or killed), and by cluster_cli (the command line of the demo, molecule and
benchmarks), whose servers run in the background until `stop`.
"""

from __future__ import annotations

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests

from ansible_collections.consul.peering.tests.support import processes
from ansible_collections.consul.peering.tests.support.consul_build import consul_binary
from ansible_collections.consul.peering.tests.support.pki import serves_tls_name, write_pki
from ansible_collections.consul.peering.tests.support.processes import (
    HOST, STOP_TIMEOUT, die_with_parent, free_ports, kill_pid, pid_is_consul,
)

# The HTTP(S) listeners also answer on this address, which no certificate names: a hostname mismatch on demand.
MISMATCH_HOST = '127.0.0.2'
PORT_NAMES = ('http', 'https', 'grpc', 'grpc_tls', 'serf_lan', 'serf_wan', 'server')
READY_TIMEOUT = 90
START_ATTEMPTS = 3  # a port picked as free can be taken by someone else before Consul binds it
_MANAGEMENT = object()  # api()'s default token: the cluster's management token

HttpRequest = collections.namedtuple('HttpRequest', 'method url')


class HarnessError(RuntimeError):
    """A cluster did not start, did not become ready or answered an unexpected status."""


def _merged(base, overrides):
    """`base` with `overrides` merged in: dicts key by key, at any depth; any other value replaced."""
    merged = dict(base)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def _per_cluster(value, count, what):
    """One value for every cluster, or a list with one value per cluster."""
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError('%s has %d values for %d clusters' % (what, len(value), count))
        return list(value)
    return [value] * count


# -- one cluster ---------------------------------------------------------------------------

class Cluster:  # pylint: disable=too-many-instance-attributes
    """One single-server Consul cluster (datacenter) on the loopback address."""

    def __init__(self, index, base_dir, ports, acl=True, tls=True, verify_incoming=False, http=False, pki=None,
                 token=None, config_overrides=None):
        self.index = index
        self.name = self.datacenter = 'dc%d' % index
        self.host = HOST
        self.base_dir = base_dir
        self.data_dir = os.path.join(base_dir, 'data')
        self.config_path = os.path.join(base_dir, 'consul.json')
        self.log_path = os.path.join(base_dir, 'consul.log')
        self.ports = dict(ports)
        self.acl = acl
        self.tls = tls
        self.verify_incoming = verify_incoming and tls
        # With HTTPS on, plain HTTP stays off unless asked for, so tests really go through TLS.
        self.http = http or not tls
        self.token = (token or str(uuid.uuid4())) if acl else None
        # Merged into config() last; readiness skips what they turn off (see wait_ready).
        self.config_overrides = dict(config_overrides or {})
        pki = (pki or {}) if tls else {}
        self.ca_file = pki.get('ca.pem')
        self.wrong_ca_file = pki.get('wrong-ca.pem')
        self.client_cert = pki.get('client.pem')
        self.client_key = pki.get('client-key.pem')
        self.server_cert = pki.get('%s-server.pem' % self.name)
        self.server_key = pki.get('%s-server-key.pem' % self.name)
        self.process = None
        self.pid = None
        self._start_mark = 0

    def __repr__(self):
        return '<Cluster %s %s pid=%s>' % (self.name, self.address, self.pid)

    # -- how to reach it --
    @property
    def scheme(self):
        """'https' when TLS is on, else 'http'."""
        return 'https' if self.tls else 'http'

    @property
    def port(self):
        """The port clients use: HTTPS when TLS is on, else HTTP."""
        return self.ports['https'] if self.tls else self.ports['http']

    @property
    def address(self):
        """scheme://127.0.0.1:port"""
        return '%s://%s:%d' % (self.scheme, self.host, self.port)

    def module_args(self):
        """The consul.peering modules' connection options for this cluster."""
        args = {'host': self.host, 'port': self.port, 'scheme': self.scheme}
        if self.token:
            args['token'] = self.token
        if self.tls:
            args['ca_path'] = self.ca_file
            if self.verify_incoming:
                args.update(client_cert=self.client_cert, client_key=self.client_key)
        return args

    def connection_env(self):
        """The Consul CLI's environment variables for this cluster."""
        env = {'CONSUL_HTTP_ADDR': self.address}
        if self.token:
            env['CONSUL_HTTP_TOKEN'] = self.token
        if self.tls:
            env['CONSUL_CACERT'] = self.ca_file
            if self.verify_incoming:
                env.update(CONSUL_CLIENT_CERT=self.client_cert, CONSUL_CLIENT_KEY=self.client_key)
        return env

    def details(self):
        """Everything a script needs to use the cluster, as plain data (includes the management token)."""
        return {
            'name': self.name, 'datacenter': self.datacenter, 'address': self.address, 'host': self.host,
            'port': self.port, 'scheme': self.scheme, 'ports': self.ports, 'token': self.token,
            'ca_file': self.ca_file, 'wrong_ca_file': self.wrong_ca_file, 'client_cert': self.client_cert,
            'client_key': self.client_key, 'server_cert': self.server_cert, 'server_key': self.server_key,
            'acl': self.acl, 'tls': self.tls, 'verify_incoming': self.verify_incoming,
            'http': self.http, 'log_path': self.log_path, 'data_dir': self.data_dir, 'base_dir': self.base_dir,
            'pid': self.pid, 'module_args': self.module_args(), 'env': self.connection_env(),
            'config_overrides': self.config_overrides,
        }

    @classmethod
    def from_details(cls, details):
        """The Cluster that details() described (for `status`, `stop` and restart() from another process)."""
        # The server's own certificate too: restart() writes the configuration again, and HTTPS needs it.
        pki = {'ca.pem': details['ca_file'], 'wrong-ca.pem': details['wrong_ca_file'],
               'client.pem': details['client_cert'], 'client-key.pem': details['client_key'],
               '%s-server.pem' % details['name']: details['server_cert'],
               '%s-server-key.pem' % details['name']: details['server_key']}
        cluster = cls(int(details['name'][2:]), details['base_dir'], details['ports'], acl=details['acl'],
                      tls=details['tls'], verify_incoming=details['verify_incoming'], http=details['http'],
                      pki=pki, token=details['token'], config_overrides=details.get('config_overrides'))
        cluster.pid = details['pid']
        return cluster

    # -- lifecycle --
    def config(self):
        """The agent configuration (JSON) this cluster runs with."""
        ports = {name: self.ports[name] for name in PORT_NAMES}
        ports['dns'] = -1  # -1 turns a listener off
        if not self.tls:
            ports['https'] = -1
        if not self.http:
            ports['http'] = -1
        # A real server rather than -dev: -dev keeps its state in memory, and restart() must keep it.
        config = {
            'datacenter': self.datacenter, 'node_name': '%s-server' % self.name, 'server': True,
            'bootstrap_expect': 1, 'data_dir': self.data_dir, 'bind_addr': HOST, 'advertise_addr': HOST,
            'client_addr': '%s %s' % (HOST, MISMATCH_HOST), 'ports': ports, 'log_level': 'DEBUG',
            'connect': {'enabled': True}, 'peering': {'enabled': True}, 'disable_update_check': True,
            'ui_config': {'enabled': False}, 'performance': {'raft_multiplier': 1},
        }
        if self.acl:
            config['acl'] = {'enabled': True, 'default_policy': 'deny', 'enable_token_persistence': True,
                             'tokens': {'initial_management': self.token, 'agent': self.token}}
        if self.tls:
            # Only the HTTPS listener checks client certificates. gRPC TLS (peering) keeps Consul's own
            # Connect-CA certificate for the peering server name, whatever is configured here.
            config['tls'] = {
                'defaults': {'ca_file': self.ca_file, 'cert_file': self.server_cert, 'key_file': self.server_key,
                             'verify_incoming': False, 'verify_outgoing': False},
                'https': {'verify_incoming': self.verify_incoming},
            }
        return _merged(config, self.config_overrides)

    def start(self, binary, daemon=False):
        """Start the server process; it is not ready yet (see wait_ready).

        Library mode (daemon=False) ties the server's life to this thread with PR_SET_PDEATHSIG, which the
        kernel fires when the *thread* that forked exits, so it must be the main thread. daemon=True starts
        it in a session of its own that outlives this process.
        """
        if not daemon and threading.current_thread() is not threading.main_thread():
            raise HarnessError('start %s from the main thread: its parent-death signal would fire when this '
                               'thread ends' % self.name)
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.config_path, 'w', encoding='utf-8') as handle:
            json.dump(self.config(), handle, indent=2)
        os.chmod(self.config_path, 0o600)  # it holds the management token
        kwargs = {'start_new_session': True} if daemon else {'preexec_fn': die_with_parent(os.getpid())}
        self._start_mark = self.log_mark()
        with open(self.log_path, 'ab') as log:
            self.process = subprocess.Popen(  # pylint: disable=consider-using-with
                [binary, 'agent', '-config-file', self.config_path],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs)
        self.pid = self.process.pid
        if not daemon:
            processes.RUNNING.append(self)

    def is_running(self):
        """Whether the server process is alive (also for a server another process started)."""
        if self.process is not None:
            return self.process.poll() is None
        return pid_is_consul(self.pid, self.config_path)

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Wait for a leader, Connect CA roots, the gRPC TLS port in the catalog, a peering read, and the
        peering TLS name on the gRPC TLS port; of these, only for what the configuration leaves on."""
        deadline = time.monotonic() + timeout
        config = self.config()
        connect = config['connect'].get('enabled') is True
        peering = config['peering'].get('enabled') is True
        grpc_tls = config['ports'].get('grpc_tls', -1) > 0
        checks = (
            ('a leader', '/v1/status/leader', bool, True),
            # Without CA roots, generating a token fails with "CA has not finished initializing".
            ('Connect CA roots', '/v1/connect/ca/roots', lambda data: bool(data and data.get('Roots')), connect),
            # Peering tokens advertise the servers' grpc_tls_port from the catalog.
            ('the consul service in the catalog', '/v1/catalog/service/consul', lambda data: bool(data) and (
                not grpc_tls or bool((data[0].get('ServiceMeta') or {}).get('grpc_tls_port'))), True),
            ('the peering endpoints', '/v1/peerings', lambda data: data is not None, peering),
        )
        for what, path, ok, wanted in checks:
            if wanted:
                self._wait_for(what, deadline, timeout, lambda path=path, ok=ok: self._api_ok(path, ok))
        if not (connect and peering and grpc_tls):
            return  # nothing serves the peering server name
        trust_domain = self.api('GET', '/v1/connect/ca/roots').json()['TrustDomain']
        server_name = 'server.%s.peering.%s' % (self.datacenter, trust_domain)
        # The server serves its peering certificate only once its CA config watch has fired, a moment after
        # the roots exist; until then a dialing cluster's establish fails with "tls: unrecognized name".
        self._wait_for('the peering server name %s on the gRPC TLS port' % server_name, deadline, timeout,
                       lambda: serves_tls_name(config['ports']['grpc_tls'], server_name))

    def _wait_for(self, what, deadline, timeout, probe):
        while not probe():
            if not self.is_running() or self._start_failed():
                self.stop(graceful=False)
                raise HarnessError('%s failed while waiting for %s; log %s:\n%s'
                                   % (self.name, what, self.log_path, self.log_tail()))
            if time.monotonic() > deadline:
                raise HarnessError('%s: no %s after %ds; log %s:\n%s'
                                   % (self.name, what, timeout, self.log_path, self.log_tail()))
            time.sleep(0.2)

    def _api_ok(self, path, ok):
        try:
            response = self.api('GET', path, expect=None, timeout=2)
            return response.status_code == 200 and ok(response.json())
        except (requests.RequestException, ValueError):
            return False

    def stop(self, graceful=True):
        """Stop the server (SIGTERM, then SIGKILL after a timeout; SIGKILL at once if not graceful) and wait
        until it is gone."""
        if self.process is not None:
            if self.process.poll() is None:
                if graceful:
                    self.process.terminate()
                else:
                    self.process.kill()
                try:
                    self.process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        elif self.pid and pid_is_consul(self.pid, self.config_path):
            kill_pid(self.pid, self.config_path)
        if self in processes.RUNNING:
            processes.RUNNING.remove(self)

    def restart(self, binary=None, wait=True):
        """Stop and start again with the same ports, data dir, certificates and token."""
        self.stop()
        self.start(binary or consul_binary(allow_build=False))
        if wait:
            self.wait_ready()

    def rss_mib(self):
        """The server's resident memory in MiB (0 when it is not running)."""
        try:
            with open('/proc/%d/status' % self.pid, encoding='ascii') as handle:
                for line in handle:
                    if line.startswith('VmRSS:'):
                        return int(line.split()[1]) / 1024.0
        except (OSError, TypeError):
            pass
        return 0.0

    def log_tail(self, lines=20):
        """The last lines of the server's log, with the management token masked."""
        try:
            with open(self.log_path, 'rb') as handle:
                handle.seek(max(0, os.path.getsize(self.log_path) - 8192))
                text = handle.read().decode('utf-8', 'replace')
        except OSError:
            return '(no log)'
        if self.token:
            text = text.replace(self.token, '<management token>')
        return '\n'.join(text.splitlines()[-lines:])

    def _log_since_start(self):
        with open(self.log_path, 'rb') as handle:
            handle.seek(self._start_mark)
            return handle.read().decode('utf-8', 'replace')

    def _start_failed(self):
        # A server that failed to start can take several seconds to exit (it waits for a leader first).
        return 'agent: Error starting agent:' in self._log_since_start()

    def bind_failed(self):
        """Whether the last start failed because one of the server's ports was taken."""
        return not self.is_running() and 'address already in use' in self._log_since_start()

    # -- talking to it --
    def api(self, method, path, json=None, token=_MANAGEMENT, expect=(200,), timeout=30):  # pylint: disable=redefined-outer-name
        """One plain HTTP call, with the management token unless `token` is given (None: no token).

        Raises HarnessError when the status is not in `expect`; expect=None returns any response.
        """
        token = self.token if token is _MANAGEMENT else token
        headers = {'X-Consul-Token': token} if token else {}
        kwargs = {}
        if self.tls:
            kwargs['verify'] = self.ca_file
            if self.verify_incoming:
                kwargs['cert'] = (self.client_cert, self.client_key)
        response = requests.request(method, self.address + path, json=json, headers=headers, timeout=timeout,
                                    **kwargs)
        if expect is not None and response.status_code not in expect:
            raise HarnessError('%s %s on %s answered %d: %s'
                               % (method, path, self.name, response.status_code, response.text[:500]))
        return response

    def log_mark(self):
        """A position in the log; pass it to http_requests() to see only what came after."""
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def http_requests(self, since=0, settle=0.3):
        """HttpRequest(method, url) of every HTTP call Consul logged after the mark, oldest first.

        Consul logs `agent.http: Request finished: method=GET url=/v1/... from=...` at DEBUG level once a
        call is answered; `settle` waits for the lines of calls that just returned.
        """
        time.sleep(settle)
        with open(self.log_path, 'rb') as handle:
            handle.seek(since)
            text = handle.read().decode('utf-8', 'replace')
        calls = []
        for line in text.splitlines():
            if 'agent.http: Request finished:' in line:
                fields = dict(part.split('=', 1) for part in line.split() if '=' in part)
                calls.append(HttpRequest(fields.get('method'), fields.get('url')))
        return calls


# -- a set of clusters ---------------------------------------------------------------------

class ClusterSet:
    """N independent clusters dc1..dcN; a context manager that always stops them."""

    def __init__(self, clusters, base_dir, owns_dir):
        self.clusters = clusters
        self.base_dir = base_dir
        self.start_seconds = None
        self.kept_logs = None  # base_dir, once stop() kept the logs
        self._owns_dir = owns_dir
        self._stopped = False

    @classmethod
    def start(cls, count=2, acl=True, tls=True, base_dir=None, verify_incoming=False, http=False, daemon=False,
              binary=None, config_overrides=None):
        """Start `count` clusters dc1..dc<count> and wait until all of them serve peering calls.

        acl, tls, verify_incoming, http and config_overrides (a dict merged into Cluster.config()) take one
        value for all clusters or a list with one per cluster.
        base_dir=None uses a temporary folder that is removed on a clean stop. daemon=True (the command
        line) leaves the servers running after this process exits.
        """
        started = time.monotonic()
        binary = binary or consul_binary()
        owns_dir = base_dir is None
        base_dir = base_dir or tempfile.mkdtemp(prefix='consul-peering-clusters-')
        os.makedirs(base_dir, exist_ok=True)
        acl, tls, verify_incoming, http, config_overrides = (_per_cluster(value, count, name) for value, name in (
            (acl, 'acl'), (tls, 'tls'), (verify_incoming, 'verify_incoming'), (http, 'http'),
            (config_overrides, 'config_overrides')))
        names = ['dc%d' % index for index in range(1, count + 1)]
        pki = write_pki(base_dir, names) if any(tls) else None
        ports = iter(free_ports(count * len(PORT_NAMES)))  # all at once, so that no two clusters share one
        clusters = []
        for index, name in enumerate(names, start=1):
            own_ports = {port_name: next(ports) for port_name in PORT_NAMES}
            clusters.append(Cluster(index, os.path.join(base_dir, name), own_ports, acl=acl[index - 1],
                                    tls=tls[index - 1], verify_incoming=verify_incoming[index - 1],
                                    http=http[index - 1], pki=pki, config_overrides=config_overrides[index - 1]))
        cluster_set = cls(clusters, base_dir, owns_dir)
        try:
            # Start all, then wait: the servers boot in parallel.
            for cluster in clusters:
                cluster.start(binary, daemon=daemon)
            for cluster in clusters:
                _wait_ready_or_rebind(cluster, binary, daemon)
        except BaseException:
            cluster_set.stop(keep_logs=True)
            raise
        cluster_set.start_seconds = time.monotonic() - started
        return cluster_set

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.stop(keep_logs=exc_type is not None)

    def __iter__(self):
        return iter(self.clusters)

    def __len__(self):
        return len(self.clusters)

    def __getitem__(self, index):
        return self.clusters[index]

    def stop(self, keep_logs=False):
        """Stop every cluster; remove the temporary files unless asked to keep them (then say where)."""
        for cluster in self.clusters:
            cluster.stop()
        if self._stopped:
            return  # the files were kept or removed the first time
        self._stopped = True
        if keep_logs:
            self.kept_logs = self.base_dir
            print('consul-peering harness: logs kept in %s' % self.base_dir, file=sys.stderr)
        elif self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def details(self):
        """details() of every cluster, as a list (includes the management tokens)."""
        return [cluster.details() for cluster in self.clusters]

    def save(self, state_dir):
        """Write details() to state_dir/clusters.json, readable by the owner only (it holds tokens)."""
        path = os.path.join(state_dir, 'clusters.json')
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w', encoding='utf-8') as handle:
            json.dump(self.details(), handle, indent=2)

    @classmethod
    def load(cls, state_dir):
        """The ClusterSet that save() wrote to state_dir."""
        with open(os.path.join(state_dir, 'clusters.json'), encoding='utf-8') as handle:
            return cls([Cluster.from_details(d) for d in json.load(handle)], state_dir, owns_dir=False)


def _wait_ready_or_rebind(cluster, binary, daemon):
    """wait_ready(), starting again on new ports when a port we picked was taken before Consul bound it."""
    for attempt in range(1, START_ATTEMPTS + 1):
        try:
            cluster.wait_ready()
            return
        except HarnessError:
            if attempt == START_ATTEMPTS or not cluster.bind_failed():
                raise
        cluster.stop()
        cluster.ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES))))
        # Raft keeps the server's RPC address in the data dir; a fresh one starts clean on the new ports.
        shutil.rmtree(cluster.data_dir, ignore_errors=True)
        cluster.start(binary, daemon=daemon)
