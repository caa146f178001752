# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Trust at the edges, against real Consul: values as operators paste them, and the Consul CLI's own rules.

Where the collection promises to behave like the `consul` CLI, the test runs the CLI (the same binary the
servers run) with the same environment and checks that both agree.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from ansible_collections.consul.peering.tests.support.ansible_cli import run_adhoc, run_playbook, user_environ
from ansible_collections.consul.peering.tests.support.consul_build import consul_binary
from ansible_collections.consul.peering.tests.support.consul_state import (
    delete_everywhere, peering_calls, read_peering, unique_name, wait_for,
)
from ansible_collections.consul.peering.tests.support.loopback_servers import ForwardProxy
from ansible_collections.consul.peering.tests.support.plays import task
from ansible_collections.consul.peering.tests.support.secret_scan import assert_no_secrets


def consul_cli(env, *args):
    """Run the consul CLI with only `env` as its Consul settings; return the finished process."""
    return subprocess.run([consul_binary(allow_build=False)] + list(args), env=user_environ(**env),
                          capture_output=True, text=True, timeout=60, check=False)


# -- secrets as vaults and files hand them over ----------------------------------------------------

@pytest.mark.parametrize('verbosity', [0, 3])
def test_an_acl_token_with_a_trailing_newline_works_and_is_never_shown(dc1, verbosity):
    # `echo "$T" | ansible-vault encrypt_string`, a YAML `|` block, $(cat file): the token ends in a newline.
    tasks = [task('List', dc1, 'consul_peering_info', token="{{ lookup('ansible.builtin.env', 'PASTED') }}")]
    run = run_playbook(tasks, verbosity=verbosity, env={'PASTED': dc1.token + '\n'})
    assert run.returncode == 0, run.report()
    assert_no_secrets(run.output, dc1.token)


def test_an_acl_token_file_with_a_comment_line_is_refused_before_any_call(dc1, tmp_path):
    token_file = tmp_path / 'dc1.token'
    token_file.write_text('# dc1 management token\n%s\n' % dc1.token)
    env = {'CONSUL_HTTP_ADDR': dc1.address, 'CONSUL_CACERT': dc1.ca_file, 'CONSUL_HTTP_TOKEN_FILE': str(token_file)}
    mark = dc1.log_mark()
    run = run_adhoc('consul.peering.consul_peering_info', env=env)
    assert run.returncode != 0
    assert 'named by CONSUL_HTTP_TOKEN_FILE holds a line break' in run.stdout
    assert 'Traceback' not in run.output
    assert_no_secrets(run.output, dc1.token)
    assert peering_calls(dc1, mark) == []


def test_the_token_file_wins_over_consul_http_token_as_in_the_consul_cli(dc1, tmp_path):
    token_file = tmp_path / 'dc1.token'
    token_file.write_text(dc1.token + '\n')
    env = {'CONSUL_HTTP_ADDR': dc1.address, 'CONSUL_CACERT': dc1.ca_file, 'CONSUL_HTTP_TOKEN_FILE': str(token_file),
           'CONSUL_HTTP_TOKEN': '00000000-0000-4000-8000-000000000000'}
    assert consul_cli(env, 'peering', 'list').returncode == 0
    run = run_adhoc('consul.peering.consul_peering_info', env=env)
    assert run.returncode == 0, run.report()
    assert_no_secrets(run.output, dc1.token)


# -- trust ------------------------------------------------------------------------------------------

def test_a_ca_folder_of_plain_pem_files_is_trusted_as_in_the_consul_cli(dc1, tmp_path):
    # Not c_rehash-ed: OpenSSL alone would not find the CA in it; Go reads every PEM file.
    shutil.copy(dc1.ca_file, str(tmp_path / 'consul-agent-ca.pem'))
    env = {'CONSUL_HTTP_ADDR': dc1.address, 'CONSUL_CAPATH': str(tmp_path), 'CONSUL_HTTP_TOKEN': dc1.token}
    assert consul_cli(env, 'peering', 'list').returncode == 0
    run = run_adhoc('consul.peering.consul_peering_info', env=env)
    assert run.returncode == 0, run.report()
    args = dict(dc1.module_args(), ca_path=str(tmp_path))
    assert run_playbook([{'name': 'List', 'consul.peering.consul_peering_info': args}]).returncode == 0
    # A file that is not a certificate makes the CLI refuse the folder; the module skips it (docs/security.md).
    (tmp_path / 'README').write_text('CA certificates for the Consul clusters\n')
    cli = consul_cli(env, 'peering', 'list')
    assert "Couldn't parse PEM" in cli.stdout + cli.stderr
    assert run_adhoc('consul.peering.consul_peering_info', env=env).returncode == 0


@pytest.fixture(scope='module')
def strict(cluster_factory):
    """A cluster that requires client certificates on HTTPS and also serves plain HTTP on another port."""
    return cluster_factory(1, acl=True, tls=True, verify_incoming=True, http=True)[0]


def test_a_server_that_requires_a_client_certificate_says_so(strict):
    args = dict(strict.module_args())
    args.pop('client_cert')
    args.pop('client_key')
    run = run_playbook([{'name': 'List', 'consul.peering.consul_peering_info': args}])
    assert run.returncode != 0
    assert 'requires a client certificate' in run.result('List')['msg']
    assert 'set client_cert and client_key' in run.result('List')['msg']
    assert_no_secrets(run.output, strict.token)


def test_https_to_the_plain_http_port_says_it_is_the_http_port(strict):
    args = dict(strict.module_args(), port=strict.ports['http'])
    run = run_playbook([{'name': 'List', 'consul.peering.consul_peering_info': args}])
    assert run.returncode != 0
    assert 'most likely the plain HTTP port' in run.result('List')['msg']


def test_tls_server_name_on_plain_http_warns_that_it_is_not_checked(strict):
    args = {'host': strict.host, 'port': strict.ports['http'], 'scheme': 'http', 'token': strict.token,
            'tls_server_name': 'server.dc1.consul'}
    run = run_playbook([{'name': 'List', 'consul.peering.consul_peering_info': args}])
    assert run.returncode == 0, run.report()
    assert 'has no effect with scheme http' in run.stdout + run.stderr


# -- where requests go ------------------------------------------------------------------------------

@pytest.mark.parametrize('host', ['%(host)s/', '%(host)s#', '%(host)s/x', 'https://%(host)s:%(port)d'])
def test_a_url_as_host_is_refused_and_nothing_is_sent(dc1, host):
    host = host % {'host': dc1.host, 'port': dc1.port}
    mark = dc1.log_mark()
    run = run_playbook([task('List', dc1, 'consul_peering_info', host=host)])
    assert run.returncode != 0
    assert 'is a URL, not a host name' in run.result('List')['msg']
    assert 'CONSUL_HTTP_ADDR' in run.result('List')['msg']
    assert peering_calls(dc1, mark) == []


# -- peering tokens as mail and vault tools hand them over ----------------------------------------

@pytest.mark.parametrize('shape', ['wrapped at 76 columns', 'with spaces and a newline around it'])
def test_a_pasted_peering_token_establishes_as_with_the_consul_cli(dc1, dc2, shape):
    acceptor, dialer = unique_name('paste-dc2'), unique_name('paste-dc1')
    token = dc1.api('POST', '/v1/peering/token', json={'PeerName': acceptor}).json()['PeeringToken']
    pasted = '\n'.join(token[i:i + 76] for i in range(0, len(token), 76)) + '\n' if shape.startswith('wrapped') \
        else '  %s \n' % token
    try:
        run = run_playbook([task('Establish', dc2, 'consul_peering', peer_name=dialer,
                                 peering_token="{{ lookup('ansible.builtin.env', 'PASTED') }}")],
                           env={'PASTED': pasted}, verbosity=3)
        assert run.returncode == 0, run.report()
        assert run.result('Establish')['changed'] is True
        assert read_peering(dc2, dialer)['State'] == 'ACTIVE'
        wait_for(lambda: read_peering(dc1, acceptor)['State'] == 'ACTIVE', what='acceptor ACTIVE')
        assert_no_secrets(run.output, dc2.token, token, *pasted.split())
    finally:
        delete_everywhere([dc1, dc2], [acceptor, dialer])


def test_the_consul_cli_accepts_a_token_wrapped_at_76_columns_too(dc1, dc2):
    """What the test above compares with: `consul peering establish` with the same wrapped token."""
    acceptor, dialer = unique_name('cli-dc2'), unique_name('cli-dc1')
    token = dc1.api('POST', '/v1/peering/token', json={'PeerName': acceptor}).json()['PeeringToken']
    wrapped = '\n'.join(token[i:i + 76] for i in range(0, len(token), 76))
    try:
        cli = consul_cli(dc2.connection_env(), 'peering', 'establish', '-name', dialer, '-peering-token', wrapped)
        assert cli.returncode == 0, cli.stderr
    finally:
        delete_everywhere([dc1, dc2], [acceptor, dialer])


# -- proxies ----------------------------------------------------------------------------------------

def test_a_cluster_reached_only_through_an_https_proxy(dc1):
    """consul-dc1.test resolves only inside the proxy: the call can only succeed through it."""
    args = dict(dc1.module_args(), host='consul-dc1.test', tls_server_name='server.dc1.consul')
    with ForwardProxy({'consul-dc1.test': dc1.host}) as proxy:
        env = {'HTTPS_PROXY': 'http://127.0.0.1:%d' % proxy.port}
        run = run_playbook([{'name': 'List', 'consul.peering.consul_peering_info': args}], env=env, verbosity=3)
        assert run.returncode == 0, run.report()
        assert [line.rsplit(' ', 1)[0] for line in proxy.log] == ['CONNECT consul-dc1.test:%d' % dc1.port]
        bypassed = run_playbook([{'name': 'List', 'consul.peering.consul_peering_info': args}],
                                env=dict(env, NO_PROXY='.test'))
        assert 'could not be resolved (DNS)' in bypassed.result('List')['msg']
        direct = run_playbook([{'name': 'List', 'consul.peering.consul_peering_info': dict(args, use_proxy=False)}],
                              env=env)
        assert 'could not be resolved (DNS)' in direct.result('List')['msg']
        assert len(proxy.log) == 1
    # Over https the proxy only tunnels: its log and the headers it saw never hold the token.
    assert_no_secrets(repr(proxy.log) + repr(proxy.headers) + run.output, dc1.token)


def test_a_local_agent_is_never_reached_through_the_proxy_as_in_the_consul_cli(dc1):
    with ForwardProxy() as proxy:
        env = {'HTTPS_PROXY': 'http://127.0.0.1:%d' % proxy.port}
        assert consul_cli(dict(dc1.connection_env(), **env), 'peering', 'list').returncode == 0
        run = run_playbook([task('List', dc1, 'consul_peering_info')], env=env)
        assert run.returncode == 0, run.report()
    assert proxy.log == []


def test_requests_ca_bundle_never_changes_what_is_trusted(dc1):
    args = dict(dc1.module_args())
    args.pop('ca_path')
    run = run_playbook([{'name': 'List', 'consul.peering.consul_peering_info': args}],
                       env={'REQUESTS_CA_BUNDLE': dc1.ca_file, 'CURL_CA_BUNDLE': dc1.ca_file})
    assert run.returncode != 0
    assert 'certificate verify failed' in run.result('List')['msg']
