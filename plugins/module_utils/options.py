# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Connection options shared by every module, and their resolution against the Consul CLI's environment.

The option names follow community.general's consul modules. Every environment variable is resolved here,
in resolve_connection, and nowhere else: the ones that map one-to-one to an option (ENV_FALLBACKS), and
the ones that need parsing or an order of their own (CONSUL_HTTP_ADDR, CONSUL_HTTP_SSL,
CONSUL_HTTP_SSL_VERIFY, CONSUL_HTTP_TOKEN_FILE before CONSUL_HTTP_TOKEN), so that an explicit option
always wins and a bad value names its variable. Values pasted from vaults and files are stripped of
surrounding white space; what is left must be usable as it is, or the error says what to change.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from urllib.parse import quote, unquote

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

DEFAULT_HOST = 'localhost'
DEFAULT_PORTS = {'http': 8500, 'https': 8501}
DEFAULT_TIMEOUT = 30.0


def connection_argument_spec():
    """Return a fresh copy of the argument spec every module merges into its own."""
    return dict(
        host=dict(type='str'),
        port=dict(type='int'),
        scheme=dict(type='str', choices=['http', 'https']),
        validate_certs=dict(type='bool'),
        ca_path=dict(type='path'),
        client_cert=dict(type='path'),
        client_key=dict(type='path'),
        tls_server_name=dict(type='str'),
        token=dict(type='str', no_log=True),  # CONSUL_HTTP_TOKEN_FILE, then CONSUL_HTTP_TOKEN: see resolve_connection
        http_auth=dict(type='str', no_log=True),
        timeout=dict(type='float', default=DEFAULT_TIMEOUT),
        use_proxy=dict(type='bool', default=True),
        partition=dict(type='str'),
    )


CONNECTION_REQUIRED_BY = {'client_key': 'client_cert'}


def validate_connection_options(values, where):
    """Check a dict of connection options against the shared spec, as AnsibleModule checks a module's own.

    Returns (the options with defaults, fallbacks and types applied, the no_log values among them). Used
    where connection options come nested, one dict per cluster, so that they are declared in one place.
    """
    if not isinstance(values, dict):
        raise OptionError('%s must be a dict of connection options' % where)
    result = ArgumentSpecValidator(connection_argument_spec(), required_by=CONNECTION_REQUIRED_BY).validate(values)
    no_log_values = set(result._no_log_values)  # pylint: disable=protected-access
    if result.error_messages:
        raise OptionError('%s: %s' % (where, '; '.join(result.error_messages)))
    return result.validated_parameters, no_log_values


class OptionError(ValueError):
    """A connection option or environment variable has a value that cannot be used."""


class Connection:
    """Resolved connection settings: where Consul is and how to talk to it."""

    def __init__(self, scheme, host, port, token=None, validate_certs=True, ca_path=None,
                 client_cert=None, client_key=None, timeout=DEFAULT_TIMEOUT, partition=None, tls_server_name=None,
                 http_auth=None, proxy=None):
        self.scheme = scheme
        self.host = host
        self.port = port
        self.token = token
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key
        self.timeout = timeout
        self.partition = partition
        self.tls_server_name = tls_server_name
        self.http_auth = http_auth  # (user, password) for HTTP basic authentication, or None
        self.proxy = proxy  # a Proxy from the environment, or None to connect directly
        self.warnings = []  # settings that are used, but probably not as meant

    @property
    def base_url(self):
        host = '[%s]' % self.host if ':' in self.host else self.host
        return '%s://%s:%d' % (self.scheme, host, self.port)

    def __repr__(self):
        # Never include the token: this object may end up in a traceback or a debug print.
        return '<Connection %s token=%s>' % (self.base_url, 'set' if self.token else 'unset')


_ADDR_RE = re.compile(r'^(?:(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://)?(?P<hostport>[^/?#]*)(?P<rest>.*)$')
_BOOL_TRUE = ('1', 't', 'true')
_BOOL_FALSE = ('0', 'f', 'false')


def _env(environ, name):
    """Return an environment variable, treating set-but-empty as unset like the Consul CLI does."""
    value = environ.get(name)
    return value if value else None


def parse_bool_env(name, value):
    """Parse a boolean the way Go's strconv.ParseBool (and so the Consul CLI) does."""
    lowered = value.strip().lower()
    if lowered in _BOOL_TRUE:
        return True
    if lowered in _BOOL_FALSE:
        return False
    raise OptionError('%s=%r is not a boolean: use true or false' % (name, value))


def split_host_port(value):
    """Split 'host:port', '[v6]:port', 'host' or '[v6]' into (host, port or None); raise ValueError when malformed."""
    if value.startswith('['):
        end = value.find(']')
        if end == -1:
            raise ValueError('missing "]" after an IPv6 address')
        host, rest = value[1:end], value[end + 1:]
        if rest and not rest.startswith(':'):
            raise ValueError('unexpected text after "]"')
        port_text = rest[1:] if rest else None
    elif value.count(':') > 1:
        raise ValueError('an IPv6 address must be written in brackets, as [::1]:8500')
    else:
        host, _sep, port_text = value.partition(':')
        port_text = port_text if _sep else None
    if not host:
        raise ValueError('the host is empty')
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError('the port must be a number from 1 to 65535')
    return host, int(port_text)


def parse_http_addr(value, name='CONSUL_HTTP_ADDR'):
    """Parse a CONSUL_HTTP_ADDR value into (scheme or None, host, port or None)."""
    match = _ADDR_RE.match(value.strip())
    scheme = (match.group('scheme') or '').lower() or None
    if scheme == 'unix':
        raise OptionError('%s=%r: unix sockets are not supported; give an http(s) address' % (name, value))
    if scheme not in (None, 'http', 'https'):
        raise OptionError('%s=%r: the scheme must be http or https' % (name, value))
    hostport = match.group('hostport')
    if '@' in hostport:
        # Do not echo the value: it may carry a password.
        raise OptionError('%s must not contain credentials (user:password@host)' % name)
    if match.group('rest').strip('/'):
        raise OptionError('%s=%r: only scheme://host:port is supported, without a path or query' % (name, value))
    try:
        host, port = split_host_port(hostport)
    except ValueError as exc:
        raise OptionError('%s=%r is not a valid address: %s' % (name, value, exc))
    return scheme, validate_host(host, name), port


_HOST_LABEL = re.compile(r'^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$')


def validate_host(value, name='host'):
    """Return `value` as a host to connect to: a host name, an IPv4 address, or an IPv6 address (bare or in
    brackets); anything else, such as a URL or host:port, is refused with what to write instead."""
    host = value.strip()
    if '@' in host:
        # Do not echo the value: it may carry a password.
        raise OptionError('%s must be a host name or IP address, without user:password@' % name)
    if any(char in host for char in '/?#') or host.lower().startswith(('http:', 'https:')):
        raise OptionError('%s=%r is a URL, not a host name: give only the host name or IP address there, and the '
                          'scheme and port in scheme and port (or set CONSUL_HTTP_ADDR to the URL)' % (name, value))
    bare = host[1:-1] if host.startswith('[') and host.endswith(']') else host
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if ':' in host:
        raise OptionError('%s=%r is not a host name or IP address: put a port in port, and write an IPv6 address '
                          'as ::1 or [::1]' % (name, value))
    labels = host[:-1].split('.') if host.endswith('.') else host.split('.')
    if not host or len(host) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise OptionError('%s=%r is not a host name or IP address: use letters, digits, "-" and "." only, for '
                          'example consul.example.com or 10.0.0.5' % (name, value))
    return host


def clean_secret(value, name):
    """`value` without surrounding white space; refused, naming `name` and never the value, when a line break,
    another control character or a non-ASCII character is left inside (HTTP headers cannot carry them)."""
    cleaned = value.strip()
    if any(ord(char) < 32 or ord(char) > 126 for char in cleaned):
        raise OptionError('%s holds a line break, another control character or a non-ASCII character inside it '
                          '(white space around it is removed): copy it again as one line, without comments' % name)
    return cleaned


def validate_seconds(value, name):
    """Fail unless `value` is a positive, finite number of seconds."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or value <= 0:
        raise OptionError('%s must be a positive number of seconds, not %r' % (name, value))
    return value


def parse_http_auth(value):
    """Split 'user:password' (or 'user') the way the Consul CLI reads CONSUL_HTTP_AUTH; never echo the value."""
    value = clean_secret(value, 'http_auth (or CONSUL_HTTP_AUTH)')
    user, _sep, password = value.partition(':')
    if not user:
        raise OptionError('http_auth (or CONSUL_HTTP_AUTH) must be user:password or user; the user part is empty')
    return user, password


def _read_token_file(path):
    """The token in the file, or None when it holds nothing but white space (the CLI then uses CONSUL_HTTP_TOKEN)."""
    try:
        with open(path, 'r') as handle:
            text = handle.read()
    except (IOError, OSError, UnicodeDecodeError) as exc:
        raise OptionError('CONSUL_HTTP_TOKEN_FILE points to %s, which cannot be read: %s'
                          % (path, getattr(exc, 'strerror', None) or 'it is not text'))
    return clean_secret(text, 'the file %s named by CONSUL_HTTP_TOKEN_FILE' % path) or None


def _resolve_token(params, environ, warnings):
    """An explicit token wins; then, as in the Consul CLI (api.go), a token file is used over CONSUL_HTTP_TOKEN."""
    if params.get('token') and params['token'].strip():
        return clean_secret(params['token'], 'token')
    token, token_file = None, _env(environ, 'CONSUL_HTTP_TOKEN_FILE')
    if token_file:
        token = _read_token_file(token_file)
    if token is None and _env(environ, 'CONSUL_HTTP_TOKEN'):
        token = clean_secret(environ['CONSUL_HTTP_TOKEN'], 'CONSUL_HTTP_TOKEN') or None
    if token_file and token is None:
        warnings.append('CONSUL_HTTP_TOKEN_FILE names %s, which is empty, and CONSUL_HTTP_TOKEN is not set: no ACL '
                        'token is sent' % token_file)
    return token


# Options that fall back to one Consul CLI variable (or the first set of several) as they are, and the variables.
ENV_FALLBACKS = (
    ('ca_path', ('CONSUL_CACERT', 'CONSUL_CAPATH')),
    ('client_cert', ('CONSUL_CLIENT_CERT',)),
    ('client_key', ('CONSUL_CLIENT_KEY',)),
    ('tls_server_name', ('CONSUL_TLS_SERVER_NAME',)),
    ('http_auth', ('CONSUL_HTTP_AUTH',)),
    ('partition', ('CONSUL_PARTITION',)),
)
_PATH_OPTIONS = ('ca_path', 'client_cert', 'client_key')


def _with_env_fallbacks(params, environ):
    """The options, each unset one filled from its variable; and where each value came from, for errors."""
    values, sources = {}, {}
    for option, names in ENV_FALLBACKS:
        values[option], sources[option] = params.get(option), option
        if values[option] in (None, ''):
            name = next((name for name in names if _env(environ, name)), None)
            values[option], sources[option] = (environ[name], name) if name else (None, option)
            if name and option in _PATH_OPTIONS:
                values[option] = os.path.expanduser(os.path.expandvars(values[option]))  # as type='path' does
    return values, sources


def _check_file(option, path, source, directory_ok=False):
    if path is None:
        return
    if directory_ok and os.path.isdir(path):
        return
    source = ' (from %s)' % source if source != option else ''
    if not os.path.isfile(path):
        raise OptionError('%s %s%s does not exist or is not a file' % (option, path, source))
    if not os.access(path, os.R_OK):
        raise OptionError('%s %s%s is not readable' % (option, path, source))


class Proxy:
    """An HTTP proxy from HTTPS_PROXY or HTTP_PROXY: its URL, and its credentials (secrets) apart."""

    def __init__(self, variable, url, user=None, password=None):
        self.variable = variable
        self.url = url  # scheme://host:port, without credentials
        self.user = user
        self.password = password

    @property
    def url_with_credentials(self):
        if self.user is None:
            return self.url
        scheme, rest = self.url.split('://', 1)
        return '%s://%s:%s@%s' % (scheme, quote(self.user, safe=''), quote(self.password or '', safe=''), rest)

    def __repr__(self):
        return '<Proxy %s from %s>' % (self.url, self.variable)


def _no_proxy_matches(entries, host, port):
    """Go's rules (golang.org/x/net/http/httpproxy), which the Consul CLI follows, for one NO_PROXY list."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (item.strip().lower() for item in entries.split(',')):
        if not entry:
            continue
        if entry == '*':
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
                continue
            except ValueError:
                pass
        name, _sep, entry_port = entry.rpartition(':') if entry.count(':') == 1 else (entry, '', '')
        if entry_port and entry_port != str(port):
            continue
        name = name.lstrip('*')
        bare = name.lstrip('.')
        if host.lower() == bare and not name.startswith('.') or host.lower().endswith('.' + bare):
            return True
    return False


def resolve_proxy(scheme, host, port, environ):
    """The proxy the Consul CLI would use for scheme://host:port, or None: HTTPS_PROXY for https, HTTP_PROXY for
    http, except for NO_PROXY's hosts and, as in Go, for localhost and loopback addresses."""
    names = ('HTTPS_PROXY', 'https_proxy') if scheme == 'https' else ('HTTP_PROXY', 'http_proxy')
    variable = next((name for name in names if _env(environ, name)), None)
    if variable is None:
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.lower() == 'localhost'
    no_proxy = _env(environ, 'NO_PROXY') or _env(environ, 'no_proxy') or ''
    if loopback or _no_proxy_matches(no_proxy, host, port):
        return None
    value = environ[variable].strip()
    match = _ADDR_RE.match(value if '://' in value else 'http://' + value)
    proxy_scheme = match.group('scheme').lower()
    if proxy_scheme not in ('http', 'https'):
        raise OptionError('%s has the scheme %s; only http:// and https:// proxies are supported' % (variable,
                                                                                                     proxy_scheme))
    userinfo, _at, hostport = match.group('hostport').rpartition('@')
    try:
        proxy_host, proxy_port = split_host_port(hostport)
    except ValueError as exc:
        # Never echo the value: it may carry a password.
        raise OptionError('%s is not a valid proxy address (%s): use http://host:port' % (variable, exc))
    user = password = None
    if _at:
        user, _colon, password = userinfo.partition(':')
        user, password = unquote(user), unquote(password)
    address = '[%s]' % proxy_host if ':' in proxy_host else proxy_host
    url = '%s://%s:%d' % (proxy_scheme, address, proxy_port or (443 if proxy_scheme == 'https' else 80))
    return Proxy(variable, url, user, password)


def resolve_connection(params, environ=None):
    """Combine module parameters with the Consul CLI's environment variables; explicit parameters win."""
    environ = os.environ if environ is None else environ
    env_scheme = env_host = env_port = None
    addr = _env(environ, 'CONSUL_HTTP_ADDR')
    if addr:
        env_scheme, env_host, env_port = parse_http_addr(addr)
    if env_scheme is None and _env(environ, 'CONSUL_HTTP_SSL'):
        env_scheme = 'https' if parse_bool_env('CONSUL_HTTP_SSL', environ['CONSUL_HTTP_SSL']) else None

    scheme = params.get('scheme') or env_scheme or 'http'
    host = validate_host(params['host']) if params.get('host') else env_host or DEFAULT_HOST
    port = params.get('port')
    if port is None:
        port = env_port or DEFAULT_PORTS[scheme]
    if not 1 <= port <= 65535:
        raise OptionError('port %d is out of range: use 1 to 65535' % port)

    validate_certs = params.get('validate_certs')
    if validate_certs is None:
        verify_env = _env(environ, 'CONSUL_HTTP_SSL_VERIFY')
        validate_certs = parse_bool_env('CONSUL_HTTP_SSL_VERIFY', verify_env) if verify_env else True

    warnings = []
    token = _resolve_token(params, environ, warnings)
    timeout = validate_seconds(DEFAULT_TIMEOUT if params.get('timeout') is None else params['timeout'], 'timeout')

    values, sources = _with_env_fallbacks(params, environ)
    if values['client_key'] and not values['client_cert']:
        raise OptionError('%s is set without client_cert (or CONSUL_CLIENT_CERT): set both' % sources['client_key'])
    for option in _PATH_OPTIONS:
        _check_file(option, values[option], sources[option], directory_ok=option == 'ca_path')

    proxy = resolve_proxy(scheme, host, port, environ) if params.get('use_proxy', True) else None
    tls_server_name = (values['tls_server_name'] or '').strip() or None
    connection = Connection(
        scheme=scheme, host=host, port=port, token=token, validate_certs=validate_certs,
        ca_path=values['ca_path'], client_cert=values['client_cert'], client_key=values['client_key'],
        timeout=timeout, partition=values['partition'] or None,
        tls_server_name=tls_server_name and validate_host(tls_server_name, sources['tls_server_name']),
        http_auth=parse_http_auth(values['http_auth']) if values['http_auth'] else None, proxy=proxy,
    )
    connection.warnings.extend(warnings)
    if tls_server_name and scheme != 'https':
        connection.warnings.append('tls_server_name (or CONSUL_TLS_SERVER_NAME) has no effect with scheme http: '
                                   'set scheme https (or an https:// CONSUL_HTTP_ADDR) for it to be checked')
    return connection
