# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The harness itself: real clusters peer with plain HTTP calls, five start at once, nothing is left running."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading

import pytest
import requests

from ansible_collections.consul.peering.tests.support import cluster_cli
from ansible_collections.consul.peering.tests.support import clusters as harness
from ansible_collections.consul.peering.tests.support.ansible_cli import collections_path
from ansible_collections.consul.peering.tests.support.clusters import Cluster, ClusterSet, HarnessError
from ansible_collections.consul.peering.tests.support.consul_build import check_pin
from ansible_collections.consul.peering.tests.support.consul_state import delete_everywhere, read_peering, wait_for

INTEGRATION = os.path.dirname(os.path.abspath(__file__))
# What another process needs to import the support package: the collections folder on its path.
SUPPORT_PATH = collections_path()


def consul_pids():
    """Pids of every process named consul on this machine (other runs' too: compare with your own pids)."""
    out = subprocess.run(['pgrep', '-x', 'consul'], capture_output=True, text=True, check=False).stdout
    return set(int(pid) for pid in out.split())


@pytest.mark.skipif(not shutil.which('go'), reason='Go is not installed (CONSUL_BIN given); the pin is checked in CI')
def test_pinned_consul_is_open_source_and_free_of_forbidden_modules():
    assert check_pin() == '1.14.11'


def test_peering_with_plain_http_calls(clusters, dc1, dc2, harness_note):
    """Token on dc1, establish on dc2, both ACTIVE, then both deleted: the harness gives clusters that peer."""
    harness_note('2 clusters (ACL+TLS) ready in %.1f s' % clusters.start_seconds)
    mark = dc1.log_mark()
    token = dc1.api('POST', '/v1/peering/token', json={'PeerName': 'dc2'}).json()['PeeringToken']
    try:
        # wait_ready waited for the peering server certificate, so the first establish must succeed.
        dc2.api('POST', '/v1/peering/establish', json={'PeerName': 'dc1', 'PeeringToken': token})
        wait_for(lambda: (read_peering(dc1, 'dc2') or {}).get('State') == 'ACTIVE' and
                 (read_peering(dc2, 'dc1') or {}).get('State') == 'ACTIVE', timeout=60, what='both sides ACTIVE')
        assert read_peering(dc2, 'dc1')['PeerID'] == read_peering(dc1, 'dc2')['ID']
        # Consul's own request log shows the calls that reached it, for tests that count them.
        assert ('POST', '/v1/peering/token') in dc1.http_requests(since=mark)
        harness_note('RSS of 2 peered servers, MiB: %s' % ', '.join('%.0f' % c.rss_mib() for c in clusters))
    finally:
        # Leave the session's clusters as they were for the other tests: gone means 404, not DELETING.
        delete_everywhere([dc1], ['dc2'])
        delete_everywhere([dc2], ['dc1'])


def test_https_only_with_default_deny_acls(dc1):
    assert dc1.scheme == 'https' and dc1.address == 'https://127.0.0.1:%d' % dc1.ports['https']
    assert dc1.api('GET', '/v1/peerings', token=None, expect=(403,)).status_code == 403
    with pytest.raises(requests.ConnectionError):
        requests.get('http://127.0.0.1:%d/v1/peerings' % dc1.ports['http'], timeout=5)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(dc1.address + '/v1/peerings', verify=dc1.wrong_ca_file, timeout=5)
    assert dc1.module_args() == {'host': '127.0.0.1', 'port': dc1.ports['https'], 'scheme': 'https',
                                 'token': dc1.token, 'ca_path': dc1.ca_file}
    assert dc1.connection_env() == {'CONSUL_HTTP_ADDR': dc1.address, 'CONSUL_HTTP_TOKEN': dc1.token,
                                    'CONSUL_CACERT': dc1.ca_file}


def test_options_per_cluster_and_client_certificates(cluster_factory):
    """dc1: ACLs, HTTPS requiring a client certificate; dc2: neither."""
    strict, open_ = cluster_factory(2, acl=[True, False], tls=[True, False], verify_incoming=[True, False])
    assert strict.api('GET', '/v1/peerings').json() == []  # with the client certificate
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(strict.address + '/v1/peerings', verify=strict.ca_file, timeout=5,
                     headers={'X-Consul-Token': strict.token})
    assert strict.module_args()['client_cert'] == strict.client_cert
    assert open_.address.startswith('http://') and open_.token is None and open_.ca_file is None
    assert requests.get(open_.address + '/v1/peerings', timeout=5).json() == []


def test_five_clusters_start_at_once(cluster_factory, harness_note):
    five = cluster_factory(5, acl=True, tls=True)
    memory = [cluster.rss_mib() for cluster in five]
    harness_note('5 clusters (ACL+TLS) ready in %.1f s; RSS per server, MiB: %s'
                 % (five.start_seconds, ', '.join('%.0f' % value for value in memory)))
    assert [cluster.name for cluster in five] == ['dc1', 'dc2', 'dc3', 'dc4', 'dc5']
    assert len(set(port for cluster in five for port in cluster.ports.values())) == 5 * len(harness.PORT_NAMES)
    for cluster in five:
        assert cluster.api('GET', '/v1/peerings').json() == []
    pids = set(cluster.pid for cluster in five)
    five.stop()
    assert not consul_pids() & pids
    assert not os.path.exists(five.base_dir)  # a clean stop removes the temporary files


def test_restart_keeps_ports_data_and_token(cluster_factory):
    (one,) = cluster_factory(1, acl=True, tls=True)
    one.api('POST', '/v1/peering/token', json={'PeerName': 'before-restart'})
    old_pid, old_ports = one.pid, dict(one.ports)
    one.restart()
    assert one.pid != old_pid and one.ports == old_ports
    assert read_peering(one, 'before-restart')['State'] == 'PENDING'


def test_a_cluster_loaded_from_its_state_folder_restarts_with_https(tmp_path):
    """restart() of a cluster read back from a state folder (as `status` and `stop` read it) keeps what it had:
    its server certificate, so HTTPS answers again, and the same ports, data and token."""
    state = str(tmp_path / 'state')
    command = ['env', 'PYTHONPATH=' + SUPPORT_PATH, sys.executable, '-m', cluster_cli.__name__]
    subprocess.run(command + ['start', '--count', '1', '--state-dir', state], capture_output=True, text=True,
                   check=True, timeout=300)
    loaded = ClusterSet.load(state)
    try:
        (one,) = loaded
        one.api('POST', '/v1/peering/token', json={'PeerName': 'before-restart'})
        old_ports = dict(one.ports)
        one.restart()
        assert one.scheme == 'https' and one.ports == old_ports
        assert read_peering(one, 'before-restart')['State'] == 'PENDING'
    finally:
        loaded.stop()
        subprocess.run(command + ['stop', '--state-dir', state], capture_output=True, text=True, check=True)


def test_a_port_taken_before_consul_binds_it_is_replaced(tmp_path, monkeypatch):
    """free_ports() can race with other processes; a server that cannot bind starts again on new ports."""
    taken = socket.socket()
    taken.bind((harness.HOST, 0))
    taken.listen()
    real_free_ports = harness.free_ports
    calls = []

    def first_port_taken(count):
        ports = real_free_ports(count)
        calls.append(count)
        return [taken.getsockname()[1]] + ports[1:] if len(calls) == 1 else ports

    monkeypatch.setattr(harness, 'free_ports', first_port_taken)
    try:
        with ClusterSet.start(1, acl=False, tls=False, base_dir=str(tmp_path)) as one:
            assert one[0].ports['http'] != taken.getsockname()[1]
            assert one[0].api('GET', '/v1/peerings').json() == []
    finally:
        taken.close()
    assert 'address already in use' in (tmp_path / 'dc1' / 'consul.log').read_text()


def test_a_cluster_that_cannot_start_is_reported_with_its_log(tmp_path, monkeypatch):
    monkeypatch.setenv('CONSUL_BIN', '/bin/false')
    with pytest.raises(HarnessError, match=r'dc1 failed while waiting for a leader; log .*consul\.log'):
        ClusterSet.start(1, acl=False, tls=False, base_dir=str(tmp_path))


def test_starting_from_another_thread_is_refused(tmp_path):
    """The parent-death signal follows the thread that forked: a server started there would die with it."""
    cluster = Cluster(1, str(tmp_path), {name: 0 for name in harness.PORT_NAMES}, acl=False, tls=False)
    errors = []
    thread = threading.Thread(target=lambda: errors.append(pytest.raises(HarnessError, cluster.start, '/bin/true')))
    thread.start()
    thread.join()
    assert 'main thread' in str(errors[0].value)


# -- nothing is left running ---------------------------------------------------------------------

def _pytest_session(tmp_path, body):
    """A scratch pytest session using this suite's own fixtures (its conftest, linked) with one test."""
    os.symlink(os.path.join(INTEGRATION, 'conftest.py'), str(tmp_path / 'conftest.py'))
    (tmp_path / 'test_scratch.py').write_text(textwrap.dedent(body))
    return [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-o', 'pythonpath=' + SUPPORT_PATH,
            '--rootdir', str(tmp_path), str(tmp_path / 'test_scratch.py')]


def test_a_failing_test_leaves_no_consul_running_and_keeps_the_logs(tmp_path):
    pid_file = tmp_path / 'pids'
    command = _pytest_session(tmp_path, '''
        def test_fails_on_purpose(dc1, dc2):
            with open(%r, 'w') as handle:
                handle.write('%%d %%d' %% (dc1.pid, dc2.pid))
            raise RuntimeError('failing on purpose')
    ''' % str(pid_file))
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'failing on purpose' in result.stdout
    pids = set(int(pid) for pid in pid_file.read_text().split())
    assert len(pids) == 2 and not consul_pids() & pids
    kept = sorted(set(line.rsplit(' ', 1)[1] for line in result.stdout.splitlines() if 'logs kept in' in line))
    assert len(kept) == 1, result.stdout
    assert os.path.getsize(os.path.join(kept[0], 'dc1', 'consul.log')) > 0
    shutil.rmtree(kept[0])


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
def test_an_interrupted_test_session_leaves_no_consul_running(tmp_path, signum):
    """Ctrl-C (teardown), SIGTERM (the harness's handler), SIGKILL (the servers' parent-death signal)."""
    pid_file = tmp_path / 'pid'
    command = _pytest_session(tmp_path, '''
        import time

        def test_waits_forever(cluster_factory):
            (one,) = cluster_factory(1, acl=False, tls=False)
            with open(%r, 'w') as handle:
                handle.write(str(one.pid))
            time.sleep(600)
    ''' % str(pid_file))
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as session:
        try:
            wait_for(lambda: pid_file.exists() and pid_file.read_text(), timeout=120, what='the scratch server')
            pid = int(pid_file.read_text())
            assert pid in consul_pids()
            session.send_signal(signum)
            session.wait(60)
        finally:
            session.kill()
    wait_for(lambda: pid not in consul_pids(), timeout=30, what='the server to stop')


def test_command_line_start_status_stop(tmp_path):
    state = str(tmp_path / 'state')
    command = ['env', 'PYTHONPATH=' + SUPPORT_PATH, sys.executable, '-m', cluster_cli.__name__]
    started = subprocess.run(command + ['start', '--count', '2', '--state-dir', state],
                             capture_output=True, text=True, check=True, timeout=300)
    details = json.loads(started.stdout)
    try:
        assert details == json.loads((tmp_path / 'state' / 'clusters.json').read_text())
        assert [d['name'] for d in details] == ['dc1', 'dc2']
        for item in details:
            assert item['address'] == 'https://127.0.0.1:%d' % item['port']
            response = requests.get(item['address'] + '/v1/peerings', verify=item['ca_file'], timeout=10,
                                    headers={'X-Consul-Token': item['token']})
            assert response.json() == []
            assert os.path.exists(item['log_path'])
        # The servers run on in their own session after the command returned.
        assert set(d['pid'] for d in details) <= consul_pids()
        status = subprocess.run(command + ['status', '--state-dir', state], capture_output=True, text=True,
                                check=True)
        assert status.stdout.count(' running ') == 2
    finally:
        # Stopped here also when an assertion above failed: these servers do not die with the test session.
        subprocess.run(command + ['stop', '--state-dir', state], capture_output=True, text=True, check=True)
    assert not set(d['pid'] for d in details) & consul_pids()
    again = subprocess.run(command + ['stop', '--state-dir', state], capture_output=True, text=True, check=False)
    assert again.returncode == 0
