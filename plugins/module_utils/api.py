# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one HTTP client for Consul's peering endpoints: TLS, auth, deadlines, retries and error mapping."""

from __future__ import annotations

import atexit
import os
import re
import socket
import tempfile
import threading
import time
import traceback
from urllib.parse import urlsplit

try:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
except ImportError:
    HTTPAdapter = object  # keeps the class below importable; the module reports missing_required_lib
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

from ansible_collections.consul.peering.plugins.module_utils.errors import (
    ConsulAPIError, ConsulConnectionError, ConsulError, ConsulPermissionError, ConsulRedirectError, ConsulTLSError,
    ConsulTimeoutError, NAME_CONFLICT, PeeringNameConflictError, PeeringTokenRejectedError, consul_message, hint_for,
)
from ansible_collections.consul.peering.plugins.module_utils.masking import Secrets

PEERING_READ = 'peering:read'
PEERING_WRITE = 'peering:write'

# Reads are safe to repeat; DELETE is idempotent in Consul (a missing or already-deleting
# peering answers 200). POST is never repeated once it may have reached the server: a
# second establish with the same token is refused, a second token request rotates the secret.
RETRIED_METHODS = frozenset(['GET', 'DELETE'])
RETRIED_STATUSES = (500, 502, 503, 504)
RETRIES = 3
BACKOFF_FACTOR = 0.5  # seconds before the first retry, doubled for each next one
_SSL_SUFFIX = re.compile(r'\s*\(_ssl\.c:\d+\)')


def _innermost_exception(exc):
    """The innermost exception inside requests/urllib3's wrappers (MaxRetryError and friends)."""
    reason = exc
    for _depth in range(6):
        inner = getattr(reason, 'reason', None)
        if not isinstance(inner, BaseException):
            inner = reason.args[0] if reason.args and isinstance(reason.args[0], BaseException) else None
        if inner is None or inner is reason:
            break
        reason = inner
    return reason


def _is_timeout(exc):
    # Once retries are used up, urllib3 reports a timeout as MaxRetryError, which requests raises as a
    # ConnectionError rather than a Timeout.
    reason = _innermost_exception(exc)
    return isinstance(reason, (TimeoutError, socket.timeout)) or \
        type(reason).__name__ in ('ReadTimeoutError', 'ConnectTimeoutError')


def _reason_text(exc):
    """The innermost useful reason out of requests/urllib3's wrapped exceptions, as text."""
    text = str(_innermost_exception(exc))
    # urllib3 prefixes "HTTPConnection(host=..., port=...): Failed to establish a new connection: ".
    text = text.rsplit('Failed to establish a new connection: ', maxsplit=1)[-1]
    text = _SSL_SUFFIX.sub('', text)
    return text


def _connection_reason(exc):
    """Return (reason, whether the request may have reached Consul) for a connection failure."""
    text = _reason_text(exc)
    if 'Connection refused' in text:
        return 'connection refused (is Consul running and listening on that address?)', False
    if 'Name or service not known' in text or 'Failed to resolve' in text or 'NameResolution' in text:
        return 'the host name could not be resolved (DNS)', False
    if 'Connection reset' in text or 'RemoteDisconnected' in text or 'Connection aborted' in text:
        return 'the connection was closed by the server before it answered (%s)' % text, True
    return text, True


# What an OpenSSL error text most likely means, for the TLS failures operators meet first.
_TLS_HINTS = (
    (('WRONG_VERSION_NUMBER', 'wrong version number', 'record layer failure', 'http request'),
     'the server at that port does not speak TLS: it is most likely the plain HTTP port; use scheme http, or '
     "the HTTPS port (8501 by default)"),
    (('certificate required', 'CERTIFICATE_REQUIRED', 'EOF occurred in violation of protocol', 'UNEXPECTED_EOF',
      'handshake failure', 'bad certificate'),
     'the server ended the TLS handshake: it most likely requires a client certificate (tls.https.verify_incoming); '
     'set client_cert and client_key (or CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY)'),
    (("doesn't match", 'Hostname mismatch', 'IP address mismatch'),
     'the server certificate does not name the host connected to; set tls_server_name (or CONSUL_TLS_SERVER_NAME) '
     'to a name it carries, such as server.<datacenter>.<domain>'),
    (('CERTIFICATE_VERIFY_FAILED', 'certificate verify failed'),
     'the server certificate is not signed by a CA that is trusted here; set ca_path (or CONSUL_CACERT) to the '
     "CA that signed Consul's certificate"),
)


def _tls_hint(text):
    for needles, hint in _TLS_HINTS:
        if any(needle in text for needle in needles):
            return hint
    return None


class _Deadline:
    """Ends the sockets of a request whose time is up, so that `timeout` bounds the whole request.

    Socket timeouts bound each read, so a server that sends one byte a second could hold a request for
    ever. A timer shuts the client's connections down at the deadline, which wakes a blocked read at once;
    once it has fired, no new connection is opened until the next request arms it again.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._connections = []  # (urllib3 connection, its TCP socket, that socket's file descriptor)
        self._timer = None
        self.expired = False

    def track(self, connection, sock):
        with self._lock:
            self._connections = [entry for entry in self._connections if entry[0].sock is not None]
            self._connections.append((connection, sock, sock.fileno()))

    def arm(self, seconds):
        self.expired = False
        self._timer = threading.Timer(max(seconds, 0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def disarm(self):
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self):
        with self._lock:
            self.expired = True
            connections = list(self._connections)
        for connection, tcp, fd in connections:
            sock = connection.sock
            try:
                if sock is not None and sock.fileno() != -1:
                    sock.shutdown(socket.SHUT_RDWR)
                elif sock is tcp:
                    # Mid TLS handshake: the TCP socket object is already detached into the TLS one, whose
                    # descriptor is the same; shutting a duplicate down ends the connection they share.
                    with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as duplicate:
                        duplicate.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already closed


def _pool_classes(deadline):
    """urllib3 connection pools whose connections report their sockets to `deadline`."""

    class Tracked:
        def _new_conn(self):
            if deadline.expired:
                raise socket.timeout('the request timed out')
            sock = super()._new_conn()
            deadline.track(self, sock)
            return sock

    class TrackedHTTPConnection(Tracked, HTTPConnection):
        pass

    class TrackedHTTPSConnection(Tracked, HTTPSConnection):
        pass

    class TrackedHTTPConnectionPool(HTTPConnectionPool):
        ConnectionCls = TrackedHTTPConnection

    class TrackedHTTPSConnectionPool(HTTPSConnectionPool):
        ConnectionCls = TrackedHTTPSConnection

    return {'http': TrackedHTTPConnectionPool, 'https': TrackedHTTPSConnectionPool}


class ConsulAdapter(HTTPAdapter):
    """requests' adapter with the request deadline and, where set, the server name TLS checks against.

    `server_name` is what the Consul CLI's CONSUL_TLS_SERVER_NAME does: send it as SNI and check the
    certificate against it, to reach a server by IP address or load balancer name while its certificate
    names it server.<datacenter>.<domain>.
    """

    def __init__(self, deadline, server_name=None):
        self.deadline = deadline  # set first: HTTPAdapter.__init__ calls init_poolmanager
        self.server_name = server_name
        super().__init__(max_retries=0)  # ConsulClient.request retries, within the deadline

    def _tls_kwargs(self):
        return {'server_hostname': self.server_name, 'assert_hostname': self.server_name} if self.server_name else {}

    def init_poolmanager(self, *args, **kwargs):
        kwargs.update(self._tls_kwargs())
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.deadline)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        """The pool manager for a proxy, with the same deadline and server name as direct connections."""
        if proxy not in self.proxy_manager:
            proxy_kwargs.update(self._tls_kwargs())
            manager = super().proxy_manager_for(proxy, **proxy_kwargs)
            manager.pool_classes_by_scheme = _pool_classes(self.deadline)
        return self.proxy_manager[proxy]


def _ca_bundle(ca_path):
    """What requests should verify against: a file as is; a directory as one bundle of every file in it.

    The Consul CLI (Go's go-rootcerts) trusts every PEM file in a CA directory and its subdirectories;
    OpenSSL would only read c_rehash-ed names. Files without a certificate are skipped, where the CLI
    refuses the whole directory: /etc/ssl/certs holds a Java keystore on Debian, and trusting nothing
    more than the certificates found is no weaker.
    """
    if not os.path.isdir(ca_path):
        return ca_path
    pems = []
    for root, _dirs, files in os.walk(ca_path):
        for name in sorted(files):
            try:
                with open(os.path.join(root, name), 'r', encoding='utf-8', errors='replace') as handle:
                    pems.extend(_PEM_CERTIFICATE.findall(handle.read()))
            except (IOError, OSError):
                continue  # unreadable, like a dangling link: it holds nothing to trust
    if not pems:
        raise ConsulTLSError('ca_path %s is a directory without any PEM certificate in it' % ca_path)
    handle, bundle = tempfile.mkstemp(prefix='consul-peering-ca-', suffix='.pem')
    with os.fdopen(handle, 'w') as out:
        out.write('\n'.join(pems) + '\n')
    atexit.register(os.unlink, bundle)
    return bundle


_PEM_CERTIFICATE = re.compile(r'-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----')


def _redirect_target(location):
    """scheme://host:port of a Location header: never its path, query or user part, which may hold secrets."""
    try:
        parts = urlsplit(location or '')
        host = parts.hostname or ''
        port = ':%d' % parts.port if parts.port else ''
    except ValueError:
        return 'an address that cannot be parsed'
    if not parts.scheme or not host:
        return 'a path on the same server'
    return '%s://%s%s' % (parts.scheme, '[%s]' % host if ':' in host else host, port)


class ConsulClient:
    """Calls Consul's HTTP API for peering; one instance per module run.

    `secrets` collects every secret of the run: the client adds its ACL token and basic-auth password,
    and masks all of them out of every error it raises, before any text is cut short.
    """

    def __init__(self, connection, secrets=None):
        self.connection = connection
        self.secrets = secrets if secrets is not None else Secrets()
        self.secrets.add(connection.token)
        if connection.http_auth:
            self.secrets.add_basic_auth(*connection.http_auth)
        if connection.proxy and connection.proxy.user is not None:
            self.secrets.add_basic_auth(connection.proxy.user, connection.proxy.password)
            self.secrets.add(connection.proxy.url_with_credentials)
        self._deadline = _Deadline()
        self.session = requests.Session()
        self.session.mount('http://', ConsulAdapter(self._deadline))
        server_name = connection.tls_server_name if connection.scheme == 'https' else None
        self.session.mount('https://', ConsulAdapter(self._deadline, server_name))
        # Only the Consul CLI's variables decide where requests go and whom they trust: requests' own reading of
        # the environment would add .netrc credentials and REQUESTS_CA_BUNDLE, and proxy rules unlike Go's.
        self.session.trust_env = False
        if connection.proxy:
            self.session.proxies = {connection.scheme: connection.proxy.url_with_credentials}
        if connection.token:
            self.session.headers['X-Consul-Token'] = connection.token
        if connection.http_auth:
            self.session.auth = connection.http_auth
        if connection.scheme == 'https':
            self.session.verify = _ca_bundle(connection.ca_path) if connection.validate_certs and \
                connection.ca_path else connection.validate_certs
            if connection.client_cert:
                self.session.cert = (connection.client_cert, connection.client_key) if connection.client_key \
                    else connection.client_cert

    # -- peering endpoints -------------------------------------------------------------------

    def read_peering(self, name, deadline=None):
        """Return the peering named `name` as Consul reports it, or None when it does not exist."""
        status, data = self.request('GET', '/v1/peering/%s' % name, PEERING_READ, params=self._partition_query(),
                                    allow_not_found=True, deadline=deadline)
        return None if status == 404 else data

    def list_peerings(self, deadline=None):
        """Return every peering of the connection's partition (the default one when unset)."""
        _status, data = self.request('GET', '/v1/peerings', PEERING_READ, params=self._partition_query(),
                                     deadline=deadline)
        return data or []

    def generate_token(self, peer_name, meta=None, server_external_addresses=None):
        """Create (or rotate the secret of) the accepting side of a peering and return the token."""
        body = {'PeerName': peer_name}
        body.update(self._partition_body())
        if meta:
            body['Meta'] = meta
        if server_external_addresses:
            body['ServerExternalAddresses'] = list(server_external_addresses)
        _status, data = self.request('POST', '/v1/peering/token', PEERING_WRITE, body=body)
        token = (data or {}).get('PeeringToken')
        if not token:
            raise ConsulAPIError('Consul answered POST %s without a PeeringToken' % self.url('/v1/peering/token'))
        return token

    def establish(self, peer_name, peering_token, meta=None):
        """Establish the dialing side of a peering with a token from the accepting cluster."""
        self.secrets.add(peering_token)
        body = {'PeerName': peer_name, 'PeeringToken': peering_token}
        body.update(self._partition_body())
        if meta:
            body['Meta'] = meta
        self.request('POST', '/v1/peering/establish', PEERING_WRITE, body=body)

    def delete_peering(self, name, deadline=None):
        """Mark a peering for deletion; Consul removes it in the background."""
        self.request('DELETE', '/v1/peering/%s' % name, PEERING_WRITE, params=self._partition_query(),
                     deadline=deadline)

    # -- plumbing ----------------------------------------------------------------------------

    def url(self, path):
        return self.connection.base_url + path

    def _partition_query(self):
        return {'partition': self.connection.partition} if self.connection.partition else None

    def _partition_body(self):
        return {'Partition': self.connection.partition} if self.connection.partition else {}

    def request(self, method, path, permission, params=None, body=None, allow_not_found=False, deadline=None):
        """Send one request; return (status, decoded JSON or None) or raise a ConsulError.

        It takes at most `timeout` seconds (and never runs past `deadline`, a time.monotonic() value),
        retries included: reads and DELETE are retried on connection failures and HTTP 5xx, any call
        that cannot have reached Consul on connection failures.
        """
        try:
            return self._request(method, self.url(path), permission, params, body, allow_not_found, deadline)
        except ConsulError as exc:
            exc.args = (self.secrets.mask(str(exc)),)
            raise

    def request_with_headers(self, method, path, permission, params=None, deadline=None):
        """request(), also returning the headers of Consul's answer: (status, decoded JSON or None, headers).

        For answers whose meaning is in a header, such as X-Consul-Results-Filtered-By-ACLs or X-Consul-Index.
        """
        answers = []

        def keep(response, *_args, **_kwargs):
            answers.append(response)
        self.session.hooks['response'].append(keep)
        try:
            status, data = self.request(method, path, permission, params=params, deadline=deadline)
        finally:
            self.session.hooks['response'].remove(keep)
        return status, data, answers[-1].headers

    def _request(self, method, url, permission, params, body, allow_not_found, deadline):
        where = '%s %s' % (method, url)
        started = time.monotonic()
        end = started + self.connection.timeout if deadline is None else min(started + self.connection.timeout,
                                                                             deadline)
        attempt = 0
        while True:
            remaining = end - time.monotonic()
            if remaining <= 0:
                raise ConsulTimeoutError('Consul did not answer %s within %gs (timeout)%s'
                                         % (where, round(end - started, 1), self._unknown_outcome(method)))
            response, failure, retry = self._send(method, url, where, params, body, remaining, end - started)
            if failure is None and response.status_code in RETRIED_STATUSES and method in RETRIED_METHODS:
                retry = True
            if not retry or attempt >= RETRIES or not self._back_off(attempt, end):
                break
            attempt += 1
        if failure is not None:
            raise failure
        return self._answer(response, where, permission, allow_not_found)

    @staticmethod
    def _back_off(attempt, end):
        """Sleep before retry number `attempt` + 1; False when that would leave no time for it."""
        delay = BACKOFF_FACTOR * 2 ** attempt
        if time.monotonic() + delay >= end:
            return False
        time.sleep(delay)
        return True

    def _send(self, method, url, where, params, body, remaining, budget):
        """One attempt: (response, None, False), or (None, the error, whether a retry is safe)."""
        self._deadline.arm(remaining)
        try:
            return self.session.request(method, url, params=params, json=body, timeout=(remaining, remaining),
                                        allow_redirects=False), None, False
        except requests.exceptions.RequestException as exc:
            if self._deadline.expired or isinstance(exc, requests.exceptions.Timeout) or _is_timeout(exc):
                return None, ConsulTimeoutError('Consul did not answer %s within %gs (timeout)%s'
                                                % (where, round(budget, 1), self._unknown_outcome(method))), False
            return (None,) + self._failure(method, url, where, exc)
        finally:
            self._deadline.disarm()

    def _failure(self, method, url, where, exc):
        """(the ConsulError for a failed attempt, whether repeating it is safe)."""
        if isinstance(exc, requests.exceptions.SSLError):
            cause = _reason_text(exc)
            hint = _tls_hint(cause)
            return ConsulTLSError('TLS connection to %s failed: %s%s (CA used: %s)' % (
                url, cause, ' (%s)' % hint if hint else '', self._ca_description())), False
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            reason = 'connection reset by peer' if 'reset' in str(exc).lower() else _reason_text(exc)
            return ConsulConnectionError("The connection broke while reading Consul's answer to %s (%s)%s"
                                         % (where, reason, self._unknown_outcome(method))), method in RETRIED_METHODS
        if isinstance(exc, requests.exceptions.ProxyError):
            proxy = self.connection.proxy
            return ConsulConnectionError(
                'Could not reach Consul for %s through the proxy %s (from %s): %s. Set NO_PROXY, or use_proxy: false, '
                'to connect directly' % (where, proxy.url, proxy.variable, _reason_text(exc))), method in RETRIED_METHODS
        if isinstance(exc, requests.exceptions.ConnectionError):
            reason, maybe_sent = _connection_reason(exc)
            hint = _tls_hint(reason) if self.connection.scheme == 'https' else None
            if hint:
                reason = '%s (%s)' % (reason, hint)
            return ConsulConnectionError('Could not reach Consul for %s: %s%s' % (
                where, reason, self._unknown_outcome(method) if maybe_sent else '')), \
                not maybe_sent or method in RETRIED_METHODS
        return ConsulConnectionError('%s failed: %s%s' % (where, _reason_text(exc), self._unknown_outcome(method))), \
            False

    def _answer(self, response, where, permission, allow_not_found):
        status = response.status_code
        if 300 <= status < 400:
            raise ConsulRedirectError(
                'Consul answered %s with HTTP %d, a redirect to %s. Consul\'s API never redirects, so it was not '
                'followed (the ACL token goes to the configured address only): check host, port and scheme, and '
                'any proxy or load balancer in front of Consul' % (where, status,
                                                                   _redirect_target(response.headers.get('Location'))),
                status=status)
        if status == 404 and allow_not_found:
            return status, None
        if status >= 400:
            raise self._http_error(where, permission, status, self.secrets.mask(response.text))
        if not response.content:
            return status, None
        try:
            return status, response.json()
        except ValueError:
            raise ConsulAPIError('%s answered HTTP %d with a body that is not JSON' % (where, status), status=status)

    def _http_error(self, where, permission, status, body):
        text = consul_message(body)
        hint = hint_for(text)
        detail = '%s (%s)' % (text, hint) if hint else text
        if status in (401, 403):
            if 'invalid peering establishment secret' in text:
                return PeeringTokenRejectedError('Consul refused the peering token for %s: %s' % (where, hint),
                                                 status=status, body=text)
            if 'ACL not found' not in text:
                detail = ('%s. The ACL token needs the %s permission for this call'
                          % (text, permission) if text else 'the ACL token needs the %s permission' % permission)
            return ConsulPermissionError('Permission denied for %s (HTTP %d): %s' % (where, status, detail),
                                         status=status, body=text)
        if NAME_CONFLICT in text:
            return PeeringNameConflictError('Consul rejected %s (HTTP %d): %s' % (where, status, detail),
                                            status=status, body=text)
        if status >= 500:
            return ConsulAPIError('Consul failed to handle %s (HTTP %d): %s' % (where, status, detail or 'no details'),
                                  status=status, body=text)
        return ConsulAPIError('Consul rejected %s (HTTP %d): %s' % (where, status, detail or 'no details'),
                              status=status, body=text)

    def _ca_description(self):
        if not self.connection.validate_certs:
            return 'none, validate_certs is false'
        ca = self.connection.ca_path or 'the default CA bundle %s' % requests.utils.DEFAULT_CA_BUNDLE_PATH
        if self.connection.tls_server_name:
            return '%s; server name checked: %s (tls_server_name)' % (ca, self.connection.tls_server_name)
        return ca

    @staticmethod
    def _unknown_outcome(method):
        if method in RETRIED_METHODS:
            return ''
        return ('. The request may or may not have been applied; run again and the module '
                'will read the current state first')
