# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.consul.peering.plugins.module_utils.options import (
    OptionError, connection_argument_spec, parse_bool_env, parse_http_addr, parse_http_auth, resolve_connection,
    resolve_proxy, split_host_port, validate_connection_options,
)

# What AnsibleModule hands over when the user set nothing (env_fallback values aside).
UNSET = dict((name, spec.get('default')) for name, spec in connection_argument_spec().items())


def params(**values):
    merged = dict(UNSET)
    merged.update(values)
    return merged


def test_defaults_without_options_or_environment():
    conn = resolve_connection(params(), environ={})
    assert (conn.scheme, conn.host, conn.port) == ('http', 'localhost', 8500)
    assert conn.base_url == 'http://localhost:8500'
    assert conn.validate_certs is True
    assert conn.token is None and conn.partition is None
    assert conn.timeout == 30


def test_https_defaults_to_port_8501():
    assert resolve_connection(params(scheme='https'), environ={}).port == 8501


@pytest.mark.parametrize('addr, expected', [
    ('127.0.0.1:18500', ('http', '127.0.0.1', 18500)),
    ('https://consul.example.com:8501', ('https', 'consul.example.com', 8501)),
    ('https://consul.example.com', ('https', 'consul.example.com', 8501)),
    ('HTTP://consul.example.com/', ('http', 'consul.example.com', 8500)),
    ('consul.example.com', ('http', 'consul.example.com', 8500)),
    ('[::1]:8500', ('http', '::1', 8500)),
])
def test_consul_http_addr_supplies_scheme_host_and_port(addr, expected):
    conn = resolve_connection(params(), environ={'CONSUL_HTTP_ADDR': addr})
    assert (conn.scheme, conn.host, conn.port) == expected


def test_ipv6_hosts_are_bracketed_in_urls():
    assert resolve_connection(params(host='::1'), environ={}).base_url == 'http://[::1]:8500'


def test_explicit_options_win_over_the_environment_field_by_field():
    environ = {'CONSUL_HTTP_ADDR': 'https://env-host:9999', 'CONSUL_HTTP_SSL_VERIFY': 'false'}
    conn = resolve_connection(params(host='task-host', validate_certs=True), environ=environ)
    assert (conn.scheme, conn.host, conn.port) == ('https', 'task-host', 9999)
    assert conn.validate_certs is True


def test_explicit_scheme_wins_over_consul_http_addr_scheme():
    conn = resolve_connection(params(scheme='http'), environ={'CONSUL_HTTP_ADDR': 'https://h:8501'})
    assert conn.base_url == 'http://h:8501'


def test_consul_http_ssl_turns_on_https_when_addr_has_no_scheme():
    conn = resolve_connection(params(), environ={'CONSUL_HTTP_ADDR': 'h:8501', 'CONSUL_HTTP_SSL': 'true'})
    assert conn.base_url == 'https://h:8501'


def test_false_consul_http_ssl_never_downgrades_an_https_addr():
    conn = resolve_connection(params(), environ={'CONSUL_HTTP_ADDR': 'https://h:8501', 'CONSUL_HTTP_SSL': 'false'})
    assert conn.scheme == 'https'


@pytest.mark.parametrize('value, expected', [('false', False), ('0', False), ('F', False), ('TRUE', True), ('1', True)])
def test_consul_http_ssl_verify_is_parsed_like_the_cli(value, expected):
    assert resolve_connection(params(), environ={'CONSUL_HTTP_SSL_VERIFY': value}).validate_certs is expected


def test_bad_boolean_names_the_variable():
    with pytest.raises(OptionError, match="CONSUL_HTTP_SSL_VERIFY='maybe' is not a boolean"):
        resolve_connection(params(), environ={'CONSUL_HTTP_SSL_VERIFY': 'maybe'})


def test_empty_variables_count_as_unset():
    conn = resolve_connection(params(), environ={'CONSUL_HTTP_ADDR': '', 'CONSUL_HTTP_TOKEN_FILE': '',
                                                 'CONSUL_HTTP_SSL_VERIFY': ''})
    assert conn.base_url == 'http://localhost:8500' and conn.token is None and conn.validate_certs


@pytest.mark.parametrize('addr, reason', [
    ('unix:///var/run/consul.sock', 'unix sockets are not supported'),
    ('ftp://h:21', 'scheme must be http or https'),
    ('http://h:8500/v1/x', 'without a path'),
    ('h:99999', 'port must be a number from 1 to 65535'),
    ('h:abc', 'port must be a number'),
    ('http://:8500', 'host is empty'),
    ('::1:8500', 'brackets'),
])
def test_malformed_consul_http_addr_names_the_variable(addr, reason):
    with pytest.raises(OptionError, match=reason) as err:
        resolve_connection(params(), environ={'CONSUL_HTTP_ADDR': addr})
    assert 'CONSUL_HTTP_ADDR' in str(err.value)


def test_credentials_in_consul_http_addr_are_refused_without_echo():
    with pytest.raises(OptionError) as err:
        parse_http_addr('https://user:s3cret@h:8501')
    assert 's3cret' not in str(err.value)
    assert 'must not contain credentials' in str(err.value)


def test_explicit_token_wins_over_token_file(tmp_path):
    token_file = tmp_path / 'token'
    token_file.write_text('from-file\n')
    conn = resolve_connection(params(token='explicit'), environ={'CONSUL_HTTP_TOKEN_FILE': str(token_file)})
    assert conn.token == 'explicit'


def test_token_file_is_read_and_stripped(tmp_path):
    token_file = tmp_path / 'token'
    token_file.write_text('  from-file\n')
    assert resolve_connection(params(), environ={'CONSUL_HTTP_TOKEN_FILE': str(token_file)}).token == 'from-file'


def test_missing_token_file_is_a_clear_error(tmp_path):
    with pytest.raises(OptionError, match='CONSUL_HTTP_TOKEN_FILE points to .*/nope, which cannot be read'):
        resolve_connection(params(), environ={'CONSUL_HTTP_TOKEN_FILE': str(tmp_path / 'nope')})


def test_an_empty_token_file_falls_back_to_consul_http_token_as_in_the_cli(tmp_path):
    token_file = tmp_path / 'token'
    token_file.write_text('\n')
    environ = {'CONSUL_HTTP_TOKEN_FILE': str(token_file), 'CONSUL_HTTP_TOKEN': 'from-env'}
    assert resolve_connection(params(), environ=environ).token == 'from-env'
    alone = resolve_connection(params(), environ={'CONSUL_HTTP_TOKEN_FILE': str(token_file)})
    assert alone.token is None and 'which is empty' in alone.warnings[0]


def test_token_file_wins_over_consul_http_token_as_in_the_cli(tmp_path):
    # api/api.go: when a token file is set, its token replaces CONSUL_HTTP_TOKEN's.
    token_file = tmp_path / 'token'
    token_file.write_text('from-file\n')
    environ = {'CONSUL_HTTP_TOKEN_FILE': str(token_file), 'CONSUL_HTTP_TOKEN': 'from-env'}
    assert resolve_connection(params(), environ=environ).token == 'from-file'
    assert resolve_connection(params(token='explicit'), environ=environ).token == 'explicit'


def test_missing_ca_path_is_a_clear_error_naming_its_source(tmp_path):
    missing = str(tmp_path / 'ca.pem')
    with pytest.raises(OptionError, match=r'ca_path .*ca.pem \(from CONSUL_CACERT\) does not exist'):
        resolve_connection(params(), environ={'CONSUL_CACERT': missing})
    with pytest.raises(OptionError, match=r'ca_path .*ca.pem does not exist'):
        resolve_connection(params(ca_path=missing), environ={})


def test_ca_path_may_be_a_directory(tmp_path):
    assert resolve_connection(params(ca_path=str(tmp_path)), environ={}).ca_path == str(tmp_path)


def test_missing_client_cert_is_a_clear_error(tmp_path):
    with pytest.raises(OptionError, match='client_cert .* does not exist'):
        resolve_connection(params(client_cert=str(tmp_path / 'c.pem')), environ={})


@pytest.mark.parametrize('timeout', [0, -1])
def test_timeout_must_be_positive(timeout):
    with pytest.raises(OptionError, match='timeout must be a positive number'):
        resolve_connection(params(timeout=timeout), environ={})


def test_port_out_of_range():
    with pytest.raises(OptionError, match='port 70000 is out of range'):
        resolve_connection(params(port=70000), environ={})


def test_tls_server_name_is_passed_on_and_empty_means_unset():
    assert resolve_connection(params(tls_server_name='server.dc1.consul'), environ={}).tls_server_name == \
        'server.dc1.consul'
    assert resolve_connection(params(tls_server_name=''), environ={}).tls_server_name is None


@pytest.mark.parametrize('value, expected', [
    ('ops:s3cret', ('ops', 's3cret')),
    ('ops', ('ops', '')),
    ('ops:pass:with:colons', ('ops', 'pass:with:colons')),
])
def test_http_auth_is_split_like_the_cli(value, expected):
    assert parse_http_auth(value) == expected
    assert resolve_connection(params(http_auth=value), environ={}).http_auth == expected


def test_http_auth_without_a_user_is_refused_without_echo():
    with pytest.raises(OptionError) as err:
        parse_http_auth(':s3cret-pass')
    assert 's3cret-pass' not in str(err.value) and 'user part is empty' in str(err.value)


def test_repr_never_shows_the_token():
    conn = resolve_connection(params(token='s3cret-acl'), environ={})
    assert 's3cret-acl' not in repr(conn)


def test_every_environment_variable_is_resolved_in_resolve_connection_not_by_ansible_fallbacks():
    spec = connection_argument_spec()
    assert [name for name, option in spec.items() if 'fallback' in option] == []
    assert spec['token']['no_log'] is True and spec['http_auth']['no_log'] is True
    # Options whose environment variable needs parsing have no default, so "unset" can be told apart.
    assert all(spec[name].get('default') is None for name in ('host', 'port', 'scheme', 'validate_certs'))


@pytest.mark.parametrize('variable, attribute, value', [
    ('CONSUL_CACERT', 'ca_path', 'FILE'),
    ('CONSUL_CAPATH', 'ca_path', 'DIR'),
    ('CONSUL_CLIENT_CERT', 'client_cert', 'FILE'),
    ('CONSUL_TLS_SERVER_NAME', 'tls_server_name', 'server.dc1.consul'),
    ('CONSUL_PARTITION', 'partition', 'team-a'),
])
def test_one_to_one_variables_fill_the_options_left_unset(tmp_path, variable, attribute, value):
    (tmp_path / 'ca.pem').write_text('x')
    value = {'FILE': str(tmp_path / 'ca.pem'), 'DIR': str(tmp_path)}.get(value, value)
    assert getattr(resolve_connection(params(), environ={variable: value}), attribute) == value
    explicit = {'ca_path': str(tmp_path), 'client_cert': str(tmp_path / 'ca.pem')}.get(attribute, 'explicit')
    assert getattr(resolve_connection(params(**{attribute: explicit}), environ={variable: value}), attribute) == \
        explicit


def test_consul_http_auth_fills_http_auth_and_consul_cacert_comes_before_consul_capath(tmp_path):
    (tmp_path / 'ca.pem').write_text('x')
    conn = resolve_connection(params(), environ={'CONSUL_HTTP_AUTH': 'ops:pw', 'CONSUL_CACERT': str(tmp_path / 'ca.pem'),
                                                 'CONSUL_CAPATH': str(tmp_path)})
    assert conn.http_auth == ('ops', 'pw') and conn.ca_path == str(tmp_path / 'ca.pem')


def test_a_client_key_without_a_certificate_names_where_it_came_from(tmp_path):
    (tmp_path / 'key.pem').write_text('x')
    with pytest.raises(OptionError, match='CONSUL_CLIENT_KEY is set without client_cert'):
        resolve_connection(params(), environ={'CONSUL_CLIENT_KEY': str(tmp_path / 'key.pem')})


def test_split_host_port():
    assert split_host_port('h') == ('h', None)
    assert split_host_port('[fe80::1]') == ('fe80::1', None)


def test_parse_bool_env_rejects_yes():
    # The Consul CLI uses Go's strconv.ParseBool, which does not know "yes".
    with pytest.raises(OptionError):
        parse_bool_env('CONSUL_HTTP_SSL', 'yes')


# -- input as it arrives from vaults, files and copy-paste --------------------------------------

@pytest.mark.parametrize('value, host', [
    ('consul.example.com', 'consul.example.com'),
    ('consul.example.com.', 'consul.example.com.'),
    ('  consul-1.example.com\n', 'consul-1.example.com'),
    ('10.0.0.5', '10.0.0.5'),
    ('::1', '::1'),
    ('[fe80::1]', 'fe80::1'),
])
def test_host_accepts_names_and_addresses_and_strips_white_space(value, host):
    assert resolve_connection(params(host=value), environ={}).host == host


@pytest.mark.parametrize('value, words', [
    ('127.0.0.3/', 'is a URL'),
    ('127.0.0.1#', 'is a URL'),
    ('127.0.0.1/x', 'is a URL'),
    ('https://consul.example.com:8501', 'is a URL'),
    ('consul.example.com?x=1', 'is a URL'),
    ('127.0.0.1:8500', 'put a port in port'),
    ('consul example', 'not a host name'),
    ('-consul', 'not a host name'),
])
def test_host_refuses_urls_ports_and_junk_and_says_what_to_write(value, words):
    with pytest.raises(OptionError, match=words) as err:
        resolve_connection(params(host=value), environ={})
    assert str(err.value).startswith('host=')


def test_host_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(OptionError, match='without user:password@') as err:
        resolve_connection(params(host='evil:s3cret@127.0.0.1'), environ={})
    assert 's3cret' not in str(err.value)


def test_an_address_in_consul_http_addr_with_a_bad_host_names_the_variable():
    with pytest.raises(OptionError, match='CONSUL_HTTP_ADDR'):
        resolve_connection(params(), environ={'CONSUL_HTTP_ADDR': 'http://bad host:8500'})


@pytest.mark.parametrize('timeout', [0, -1, float('nan'), float('inf'), -float('inf')])
def test_timeout_must_be_positive_and_finite(timeout):
    with pytest.raises(OptionError, match='timeout must be a positive number of seconds'):
        resolve_connection(params(timeout=timeout), environ={})


@pytest.mark.parametrize('source', ['param', 'env', 'file'])
def test_a_token_is_stripped_of_the_newline_a_vault_or_file_adds(tmp_path, source):
    value = '  b1gs3cret-acl-token\n'
    token_file = tmp_path / 'token'
    token_file.write_text(value)
    given = {'param': (params(token=value), {}), 'env': (params(), {'CONSUL_HTTP_TOKEN': value}),
             'file': (params(), {'CONSUL_HTTP_TOKEN_FILE': str(token_file)})}[source]
    assert resolve_connection(*given).token == 'b1gs3cret-acl-token'


@pytest.mark.parametrize('source, named', [
    ('param', 'token holds'),
    ('env', 'CONSUL_HTTP_TOKEN holds'),
    ('file', 'named by CONSUL_HTTP_TOKEN_FILE holds'),
])
def test_a_token_with_a_line_break_inside_is_refused_naming_the_option_never_the_value(tmp_path, source, named):
    value = '# the dc1 token\nb1gs3cret-acl-token\n'
    token_file = tmp_path / 'token'
    token_file.write_text(value)
    given = {'param': (params(token=value), {}), 'env': (params(), {'CONSUL_HTTP_TOKEN': value}),
             'file': (params(), {'CONSUL_HTTP_TOKEN_FILE': str(token_file)})}[source]
    with pytest.raises(OptionError, match=named) as err:
        resolve_connection(*given)
    assert 's3cret' not in str(err.value) and 'dc1 token' not in str(err.value)


def test_http_auth_is_stripped_and_a_control_character_inside_is_refused():
    assert resolve_connection(params(http_auth='ops:pw\n'), environ={}).http_auth == ('ops', 'pw')
    with pytest.raises(OptionError, match='http_auth') as err:
        resolve_connection(params(http_auth='ops:p\tw'), environ={})
    assert 'p\tw' not in str(err.value)


def test_tls_server_name_on_plain_http_warns_that_it_has_no_effect():
    conn = resolve_connection(params(tls_server_name='server.dc1.consul'), environ={})
    assert 'has no effect with scheme http' in conn.warnings[0]
    assert resolve_connection(params(scheme='https', tls_server_name='server.dc1.consul'), environ={}).warnings == []


# -- proxies, by the Consul CLI's (Go's) rules ---------------------------------------------------

@pytest.mark.parametrize('scheme, host, port, environ, url', [
    ('https', 'consul.example.com', 8501, {'HTTPS_PROXY': 'http://proxy:3128'}, 'http://proxy:3128'),
    ('https', 'consul.example.com', 8501, {'https_proxy': 'proxy:3128'}, 'http://proxy:3128'),
    ('http', 'consul.example.com', 8500, {'HTTP_PROXY': 'http://proxy:3128', 'HTTPS_PROXY': 'http://other:1'},
     'http://proxy:3128'),
    ('https', 'consul.example.com', 8501, {'HTTP_PROXY': 'http://proxy:3128'}, None),
    ('https', 'consul.example.com', 8501, {'HTTPS_PROXY': 'http://proxy:3128', 'NO_PROXY': 'example.com'}, None),
    ('https', 'consul.example.com', 8501, {'HTTPS_PROXY': 'http://proxy:3128', 'NO_PROXY': '.example.com'}, None),
    ('https', 'example.com', 8501, {'HTTPS_PROXY': 'http://proxy:3128', 'NO_PROXY': '.example.com'},
     'http://proxy:3128'),
    ('https', 'consul.example.com', 8501, {'HTTPS_PROXY': 'http://proxy:3128', 'no_proxy': '*.example.com'}, None),
    ('https', 'consul.example.com', 8501, {'HTTPS_PROXY': 'http://proxy:3128', 'NO_PROXY': 'x.org, *'}, None),
    ('https', 'consul.example.com', 8501, {'HTTPS_PROXY': 'http://proxy:3128', 'NO_PROXY': 'consul.example.com:8501'},
     None),
    ('https', 'consul.example.com', 8501, {'HTTPS_PROXY': 'http://proxy:3128', 'NO_PROXY': 'consul.example.com:1'},
     'http://proxy:3128'),
    ('https', 'notexample.com', 8501, {'HTTPS_PROXY': 'http://proxy:3128', 'NO_PROXY': 'example.com'},
     'http://proxy:3128'),
    ('https', '10.1.2.3', 8501, {'HTTPS_PROXY': 'http://proxy:3128', 'NO_PROXY': '10.0.0.0/8'}, None),
    ('https', '10.1.2.3', 8501, {'HTTPS_PROXY': 'http://proxy:3128', 'NO_PROXY': '10.1.2.4'}, 'http://proxy:3128'),
    # As in Go, loopback and localhost never go through a proxy: a local agent keeps working.
    ('https', '127.0.0.1', 8501, {'HTTPS_PROXY': 'http://proxy:3128'}, None),
    ('https', '::1', 8501, {'HTTPS_PROXY': 'http://proxy:3128'}, None),
    ('https', 'localhost', 8501, {'HTTPS_PROXY': 'http://proxy:3128'}, None),
    ('https', 'h', 8501, {'HTTPS_PROXY': 'https://[fd00::1]'}, 'https://[fd00::1]:443'),
])
def test_the_proxy_follows_the_consul_cli_rules(scheme, host, port, environ, url):
    proxy = resolve_proxy(scheme, host, port, environ)
    assert (proxy.url if proxy else None) == url


def test_proxy_credentials_are_kept_apart_from_its_url():
    proxy = resolve_proxy('https', 'h', 8501, {'HTTPS_PROXY': 'http://ops:p%40ss@proxy:3128'})
    assert proxy.url == 'http://proxy:3128' and (proxy.user, proxy.password) == ('ops', 'p@ss')
    assert 'p@ss' not in repr(proxy) and proxy.url_with_credentials == 'http://ops:p%40ss@proxy:3128'


@pytest.mark.parametrize('value, words', [
    ('socks5://proxy:1080', 'only http:// and https:// proxies'),
    ('http://ops:s3cret@proxy:port', 'is not a valid proxy address'),
])
def test_a_proxy_that_cannot_be_used_is_refused_naming_the_variable_not_the_value(value, words):
    with pytest.raises(OptionError, match=words) as err:
        resolve_proxy('https', 'h', 8501, {'HTTPS_PROXY': value})
    assert 'HTTPS_PROXY' in str(err.value) and 's3cret' not in str(err.value)


def test_use_proxy_false_connects_directly():
    environ = {'HTTPS_PROXY': 'http://proxy:3128'}
    assert resolve_connection(params(scheme='https', host='h'), environ=environ).proxy.url == 'http://proxy:3128'
    assert resolve_connection(params(scheme='https', host='h', use_proxy=False), environ=environ).proxy is None


# -- one source for the connection options ---------------------------------------------------------

def _declared_types(options):
    return dict((name, (spec.get('type', 'str'), bool(spec.get('no_log')))) for name, spec in options.items())


def test_the_doc_fragment_and_the_role_declare_exactly_the_modules_connection_options():
    import os  # pylint: disable=import-outside-toplevel
    import yaml  # pylint: disable=import-outside-toplevel
    from ansible_collections.consul.peering.plugins.doc_fragments.consul import ModuleDocFragment  # pylint: disable=import-outside-toplevel

    spec = connection_argument_spec()
    wanted = _declared_types(spec)
    fragment = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
    assert dict((name, doc.get('type', 'str')) for name, doc in fragment.items()) == \
        dict((name, kind) for name, (kind, _no_log) in wanted.items())
    assert all(fragment[name].get('default') == spec[name].get('default') for name in spec)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    with open(os.path.join(root, 'roles', 'cluster_peering', 'meta', 'argument_specs.yml')) as handle:
        role = yaml.safe_load(handle)['argument_specs']['main']['options']
    for side in ('cluster_peering_acceptor', 'cluster_peering_dialer'):
        assert _declared_types(role[side]['options']['connection']['options']) == wanted, side


def test_nested_connection_options_are_checked_against_the_same_spec():
    validated, no_log = validate_connection_options({'host': 'h', 'token': 'b1gs3cret-acl-token'}, 'where')
    assert validated['timeout'] == 30 and validated['use_proxy'] is True
    assert 'b1gs3cret-acl-token' in no_log
    with pytest.raises(OptionError, match='where: .*hots'):
        validate_connection_options({'hots': 'h'}, 'where')
    with pytest.raises(OptionError, match='where must be a dict'):
        validate_connection_options('h:8500', 'where')
