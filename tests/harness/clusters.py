# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start and stop independent single-server Consul clusters on 127.0.0.1.

Each cluster (dc1, dc2, ...) is one Consul server with its own ports, data dir and log file, peering
and Connect enabled, optionally with ACLs (default deny, a management token made up for the run) and
HTTPS (a CA, server and client certificates made up for the run, plus an unrelated "wrong" CA).

Used by the pytest fixtures (ClusterSet as a context manager: every process stops with the test
session, even when it is killed), and from the command line by the demo, molecule and benchmarks:

  clusters.py start --count 2 --state-dir DIR [--no-acl] [--no-tls]   # prints connection details as JSON
  clusters.py status --state-dir DIR
  clusters.py stop --state-dir DIR
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from consul_build import consul_binary  # noqa: E402  pylint: disable=wrong-import-position

HOST = '127.0.0.1'
# The HTTP(S) listeners also answer on this address, which no certificate names: a hostname mismatch on demand.
MISMATCH_HOST = '127.0.0.2'
PORT_NAMES = ('http', 'https', 'grpc', 'grpc_tls', 'serf_lan', 'serf_wan', 'server')
READY_TIMEOUT = 90
STOP_TIMEOUT = 15
_RUNNING = []  # every Cluster with a live process, for the atexit/SIGTERM safety net


class HarnessError(RuntimeError):
    pass


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


def _die_with_parent():
    """In the child, before exec: get SIGTERM when the parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL('libc.so.6', use_errno=True)
    libc.prctl(1, signal.SIGTERM)


# -- certificates --------------------------------------------------------------------------

def write_pki(directory, datacenters):
    """Write a CA, a server certificate per datacenter, a client certificate and an unrelated CA."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # pylint: disable=import-outside-toplevel
    import ipaddress  # pylint: disable=import-outside-toplevel

    now = datetime.datetime.now(datetime.timezone.utc)
    paths = {}

    def key_and_pem():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return key, pem

    def write(name, data):
        path = os.path.join(directory, name)
        with open(path, 'wb') as handle:
            handle.write(data)
        paths[name] = path
        return path

    def make_ca(common_name):
        key, key_pem = key_and_pem()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=7))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        return key, cert, key_pem

    def make_leaf(ca_key, ca_cert, common_name, dns_names, ips, usage):
        key, key_pem = key_and_pem()
        sans = [x509.DNSName(name) for name in dns_names] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(ca_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=7))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usage), critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), key_pem

    ca_key, ca_cert, _ca_key_pem = make_ca('consul-peering test CA')
    write('ca.pem', ca_cert.public_bytes(serialization.Encoding.PEM))
    _wrong_key, wrong_cert, _wrong_pem = make_ca('an unrelated CA')
    write('wrong-ca.pem', wrong_cert.public_bytes(serialization.Encoding.PEM))
    for dc in datacenters:
        cert, key = make_leaf(ca_key, ca_cert, 'server.%s.consul' % dc, ['server.%s.consul' % dc, 'localhost'],
                              [HOST], [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
        write('%s-server.pem' % dc, cert)
        write('%s-server-key.pem' % dc, key)
    cert, key = make_leaf(ca_key, ca_cert, 'client.consul', [], [], [ExtendedKeyUsageOID.CLIENT_AUTH])
    write('client.pem', cert)
    write('client-key.pem', key)
    return paths


# -- one cluster ---------------------------------------------------------------------------

class Cluster:
    """One single-server Consul cluster (datacenter) on the loopback address."""

    def __init__(self, index, base_dir, ports, acl=True, tls=True, verify_incoming=False, http=False, pki=None,
                 token=None):
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
        self.verify_incoming = verify_incoming
        self.http = http or not tls
        self.token = (token or str(uuid.uuid4())) if acl else None
        pki = pki or {}
        self.ca_file = pki.get('ca.pem')
        self.wrong_ca_file = pki.get('wrong-ca.pem')
        self.client_cert = pki.get('client.pem')
        self.client_key = pki.get('client-key.pem')
        self.server_cert = pki.get('%s-server.pem' % self.name)
        self.server_key = pki.get('%s-server-key.pem' % self.name)
        self.process = None
        self.pid = None

    # -- how to reach it --
    @property
    def scheme(self):
        return 'https' if self.tls else 'http'

    @property
    def port(self):
        return self.ports['https'] if self.tls else self.ports['http']

    @property
    def address(self):
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
            'client_key': self.client_key, 'acl': self.acl, 'tls': self.tls, 'verify_incoming': self.verify_incoming,
            'http': self.http, 'log_path': self.log_path, 'data_dir': self.data_dir, 'base_dir': self.base_dir,
            'pid': self.pid, 'module_args': self.module_args(), 'env': self.connection_env(),
        }

    @classmethod
    def from_details(cls, details):
        pki = {'ca.pem': details['ca_file'], 'wrong-ca.pem': details['wrong_ca_file'],
               'client.pem': details['client_cert'], 'client-key.pem': details['client_key']}
        cluster = cls(int(details['name'][2:]), details['base_dir'], details['ports'], acl=details['acl'],
                      tls=details['tls'], verify_incoming=details['verify_incoming'], http=details['http'],
                      pki=pki, token=details['token'])
        cluster.pid = details['pid']
        return cluster

    # -- lifecycle --
    def _config(self):
        ports = {name: self.ports[name] for name in PORT_NAMES}
        if not self.tls:
            ports['https'] = -1
        if not self.http:
            ports['http'] = -1
        ports['dns'] = -1
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
            config['tls'] = {
                'defaults': {'ca_file': self.ca_file, 'cert_file': self.server_cert, 'key_file': self.server_key,
                             'verify_incoming': False, 'verify_outgoing': False},
                'https': {'verify_incoming': self.verify_incoming},
            }
        return config

    def start(self, binary, daemon=False):
        """Start the server process (call from the main thread: the parent-death signal is per thread)."""
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.config_path, 'w') as handle:
            json.dump(self._config(), handle, indent=2)
        log = open(self.log_path, 'ab')  # pylint: disable=consider-using-with
        kwargs = {'start_new_session': True} if daemon else {'preexec_fn': _die_with_parent}
        try:
            self.process = subprocess.Popen([binary, 'agent', '-config-file', self.config_path],  # pylint: disable=consider-using-with
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs)
        finally:
            log.close()
        self.pid = self.process.pid
        if not daemon:
            _RUNNING.append(self)

    def is_running(self):
        if self.process is not None:
            return self.process.poll() is None
        return _pid_is_consul(self.pid, self.config_path)

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Wait for a leader, Connect CA roots, the servers' gRPC TLS port in the catalog and a peering read."""
        deadline = time.monotonic() + timeout
        checks = (
            ('a leader', '/v1/status/leader', bool),
            ('Connect CA roots', '/v1/connect/ca/roots', lambda data: bool(data and data.get('Roots'))),
            ('the consul service in the catalog', '/v1/catalog/service/consul',
             lambda data: bool(data) and bool((data[0].get('ServiceMeta') or {}).get('grpc_tls_port'))),
            ('the peering endpoints', '/v1/peerings', lambda data: data is not None),
        )
        for what, path, ok in checks:
            while True:
                if not self.is_running():
                    raise HarnessError('%s exited while waiting for %s; see %s' % (self.name, what, self.log_path))
                try:
                    response = self.api('GET', path, expect=None, timeout=5)
                    if response.status_code == 200 and ok(response.json()):
                        break
                except (requests.RequestException, ValueError):
                    pass
                if time.monotonic() > deadline:
                    raise HarnessError('%s: no %s after %ds; see %s' % (self.name, what, timeout, self.log_path))
                time.sleep(0.2)

    def stop(self):
        """Stop the server (SIGTERM, then SIGKILL) and wait until it is gone."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.process = None
        elif self.pid and _pid_is_consul(self.pid, self.config_path):
            _kill_pid(self.pid)
        if self in _RUNNING:
            _RUNNING.remove(self)

    def restart(self, binary=None, wait=True):
        """Stop and start again with the same ports, data and tokens."""
        self.stop()
        self.start(binary or consul_binary(allow_build=False))
        if wait:
            self.wait_ready()

    # -- talking to it --
    def api(self, method, path, json=None, token=None, expect=(200,), timeout=30):  # pylint: disable=redefined-outer-name
        """One plain HTTP call with the management token (or `token`); checks the status unless expect=None."""
        headers = {}
        if token or self.token:
            headers['X-Consul-Token'] = token or self.token
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
        """(method, url) of every HTTP request Consul logged after the mark, oldest first."""
        time.sleep(settle)  # let the server finish writing the lines of calls that just returned
        with open(self.log_path, 'rb') as handle:
            handle.seek(since)
            text = handle.read().decode('utf-8', 'replace')
        calls = []
        for line in text.splitlines():
            if 'agent.http: Request finished:' in line:
                fields = dict(part.split('=', 1) for part in line.split() if '=' in part)
                calls.append((fields.get('method'), fields.get('url')))
        return calls


def _pid_is_consul(pid, config_path):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return config_path.encode() in handle.read()
    except (OSError, TypeError):
        return False


def _kill_pid(pid):
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while time.monotonic() < deadline:
            os.kill(pid, 0)
            time.sleep(0.1)
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# -- a set of clusters ---------------------------------------------------------------------

class ClusterSet:
    """N independent clusters dc1..dcN; a context manager that always stops them."""

    def __init__(self, clusters, base_dir, owns_dir):
        self.clusters = clusters
        self.base_dir = base_dir
        self._owns_dir = owns_dir

    @classmethod
    def start(cls, count=2, acl=True, tls=True, base_dir=None, verify_incoming=False, http=False, daemon=False,
              binary=None):
        """Start `count` clusters and wait until all of them serve peering calls."""
        binary = binary or consul_binary()
        owns_dir = base_dir is None
        base_dir = base_dir or tempfile.mkdtemp(prefix='consul-peering-clusters-')
        os.makedirs(base_dir, exist_ok=True)
        names = ['dc%d' % index for index in range(1, count + 1)]
        pki = write_pki(base_dir, names) if tls else None
        ports = free_ports(count * len(PORT_NAMES))
        clusters = []
        for index in range(1, count + 1):
            own = dict(zip(PORT_NAMES, ports[(index - 1) * len(PORT_NAMES):index * len(PORT_NAMES)]))
            clusters.append(Cluster(index, os.path.join(base_dir, 'dc%d' % index), own, acl=acl, tls=tls,
                                    verify_incoming=verify_incoming, http=http, pki=pki))
        cluster_set = cls(clusters, base_dir, owns_dir)
        try:
            for cluster in clusters:  # start all first (main thread), then wait: they boot in parallel
                cluster.start(binary, daemon=daemon)
            for cluster in clusters:
                cluster.wait_ready()
        except BaseException:
            cluster_set.stop(keep_logs=True)
            raise
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
        """Stop every cluster; remove the files unless asked to keep them (then print where they are)."""
        for cluster in self.clusters:
            cluster.stop()
        if keep_logs:
            print('consul-peering harness: logs kept in %s' % self.base_dir, file=sys.stderr)
        elif self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def details(self):
        return [cluster.details() for cluster in self.clusters]

    def save(self, state_dir):
        with open(os.path.join(state_dir, 'clusters.json'), 'w') as handle:
            json.dump(self.details(), handle, indent=2)

    @classmethod
    def load(cls, state_dir):
        with open(os.path.join(state_dir, 'clusters.json')) as handle:
            return cls([Cluster.from_details(d) for d in json.load(handle)], state_dir, owns_dir=False)


def _stop_everything(*_args):
    for cluster in list(_RUNNING):
        cluster.stop()


def _on_sigterm(signum, frame):
    _stop_everything()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


atexit.register(_stop_everything)
if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
    signal.signal(signal.SIGTERM, _on_sigterm)


# -- command line ----------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    start = sub.add_parser('start', help='start clusters in the background and print their details as JSON')
    start.add_argument('--count', type=int, default=2)
    start.add_argument('--no-acl', dest='acl', action='store_false', help='ACLs off (default: on, default deny)')
    start.add_argument('--no-tls', dest='tls', action='store_false', help='plain HTTP (default: HTTPS only)')
    start.add_argument('--http', action='store_true', help='also listen on plain HTTP when TLS is on')
    start.add_argument('--verify-incoming', action='store_true', help='require client certificates on HTTPS')
    for name in ('start', 'status', 'stop'):
        (start if name == 'start' else sub.add_parser(name, help='%s the clusters of a state dir' % name)) \
            .add_argument('--state-dir', required=True, help='folder holding clusters.json, configs, data and logs')
    options = parser.parse_args(argv)
    state_dir = os.path.abspath(options.state_dir)

    if options.command == 'start':
        if os.path.exists(os.path.join(state_dir, 'clusters.json')):
            ClusterSet.load(state_dir).stop(keep_logs=True)
        try:
            cluster_set = ClusterSet.start(options.count, acl=options.acl, tls=options.tls, base_dir=state_dir,
                                           verify_incoming=options.verify_incoming, http=options.http, daemon=True)
        except HarnessError as exc:
            print('error: %s' % exc, file=sys.stderr)
            return 1
        cluster_set.save(state_dir)
        print(json.dumps(cluster_set.details(), indent=2))
        return 0

    if not os.path.exists(os.path.join(state_dir, 'clusters.json')):
        print('no clusters in %s' % state_dir, file=sys.stderr)
        return 0 if options.command == 'stop' else 1
    cluster_set = ClusterSet.load(state_dir)
    if options.command == 'status':
        for cluster in cluster_set:
            print('%s %s %s pid %s' % (cluster.name, cluster.address,
                                       'running' if cluster.is_running() else 'stopped', cluster.pid))
        return 0
    cluster_set.stop(keep_logs=True)
    os.unlink(os.path.join(state_dir, 'clusters.json'))
    print('stopped %d clusters; logs in %s' % (len(cluster_set), state_dir))
    return 0


if __name__ == '__main__':
    sys.exit(main())
