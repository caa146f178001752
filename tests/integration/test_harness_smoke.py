# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The harness itself: real clusters peer with plain HTTP calls, five start at once, nothing is left running."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import requests

from clusters import ClusterSet, HarnessError
from consul_build import check_pin
from peering_helpers import delete_everywhere, read_peering, wait_for

HARNESS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'harness')


def consul_pids():
    out = subprocess.run(['pgrep', '-x', 'consul'], capture_output=True, text=True, check=False).stdout
    return set(int(pid) for pid in out.split())


def rss_mib(pid):
    with open('/proc/%d/status' % pid) as handle:
        for line in handle:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    return 0.0


def test_pinned_consul_is_open_source_and_free_of_forbidden_modules():
    assert check_pin().startswith('1.14.')


def test_peering_with_plain_http_calls(dc1, dc2):
    """Token on dc1, establish on dc2, both ACTIVE: the harness gives clusters that really peer."""
    token = dc1.api('POST', '/v1/peering/token', json={'PeerName': 'smoke-dc2'}).json()['PeeringToken']
    try:
        # Consul fetches the peering server certificate asynchronously, so an early establish may fail.
        for attempt in range(5):
            response = dc2.api('POST', '/v1/peering/establish', json={'PeerName': 'smoke-dc1', 'PeeringToken': token},
                               expect=None)
            if response.status_code == 200:
                break
            time.sleep(1 + attempt)
        assert response.status_code == 200, response.text
        wait_for(lambda: (read_peering(dc1, 'smoke-dc2') or {}).get('State') == 'ACTIVE' and
                 (read_peering(dc2, 'smoke-dc1') or {}).get('State') == 'ACTIVE', timeout=60, what='both ACTIVE')
        assert read_peering(dc2, 'smoke-dc1')['PeerID'] == read_peering(dc1, 'smoke-dc2')['ID']
    finally:
        delete_everywhere([dc1, dc2], ['smoke-dc1', 'smoke-dc2'])


def test_https_only_and_acls_deny_by_default(dc1):
    assert dc1.scheme == 'https' and dc1.ports['http'] != dc1.port
    with_requests = requests.get(dc1.address + '/v1/peerings', verify=dc1.ca_file, timeout=10)
    assert with_requests.status_code == 403
    try:
        requests.get('http://127.0.0.1:%d/v1/peerings' % dc1.ports['http'], timeout=5)
        raise AssertionError('plain HTTP should be off')
    except requests.ConnectionError:
        pass


def test_five_clusters_start_at_once_and_report_memory(cluster_factory):
    started = time.monotonic()
    five = cluster_factory(5, acl=True, tls=True)
    seconds = time.monotonic() - started
    memory = [rss_mib(cluster.pid) for cluster in five]
    print('\n5 clusters (ACL+TLS) ready in %.1f s; RSS per server MiB: %s' % (
        seconds, ', '.join('%.0f' % value for value in memory)))
    assert [cluster.name for cluster in five] == ['dc1', 'dc2', 'dc3', 'dc4', 'dc5']
    assert len(set(port for cluster in five for port in cluster.ports.values())) == 5 * 7
    for cluster in five:
        assert cluster.api('GET', '/v1/peerings').json() == []
    five.stop()
    assert not consul_pids() & set(cluster.pid for cluster in five)


def test_restart_keeps_ports_data_and_token(cluster_factory):
    (one,) = cluster_factory(1, acl=True, tls=True)
    one.api('POST', '/v1/peering/token', json={'PeerName': 'before-restart'})
    old_pid = one.pid
    one.restart()
    assert one.pid != old_pid
    assert read_peering(one, 'before-restart')['State'] == 'PENDING'


def test_a_failing_test_leaves_no_consul_running(tmp_path):
    """Run a tiny pytest session whose test fails on purpose, then look for its servers."""
    test_file = tmp_path / 'test_fails.py'
    test_file.write_text(textwrap.dedent('''
        import sys
        sys.path.insert(0, %r)
        from clusters import ClusterSet

        def test_fails_on_purpose():
            with ClusterSet.start(1, acl=False, tls=False) as clusters:
                open(%r, 'w').write(str(clusters[0].pid))
                raise RuntimeError('failing on purpose')
    ''' % (HARNESS, str(tmp_path / 'pid'))))
    result = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', str(test_file)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stdout
    pid = int((tmp_path / 'pid').read_text())
    assert pid not in consul_pids()
    assert 'logs kept in' in result.stdout + result.stderr


def test_a_killed_test_process_leaves_no_consul_running(tmp_path):
    """Even SIGKILL of the process that started them: the servers get the parent-death signal."""
    script = tmp_path / 'hold.py'
    script.write_text(textwrap.dedent('''
        import sys, time
        sys.path.insert(0, %r)
        from clusters import ClusterSet
        clusters = ClusterSet.start(1, acl=False, tls=False)
        print(clusters[0].pid, flush=True)
        time.sleep(600)
    ''' % HARNESS))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    pid = int(process.stdout.readline())
    assert pid in consul_pids()
    process.kill()
    process.wait()
    wait_for(lambda: pid not in consul_pids(), timeout=30, what='the orphaned server to stop')


def test_command_line_start_status_stop(tmp_path):
    state = str(tmp_path / 'state')
    harness = [sys.executable, os.path.join(HARNESS, 'clusters.py')]
    started = subprocess.run(harness + ['start', '--count', '1', '--no-acl', '--no-tls', '--state-dir', state],
                             capture_output=True, text=True, check=True)
    import json  # pylint: disable=import-outside-toplevel
    details = json.loads(started.stdout)
    assert details[0]['address'].startswith('http://127.0.0.1:')
    assert requests.get(details[0]['address'] + '/v1/peerings', timeout=10).json() == []
    status = subprocess.run(harness + ['status', '--state-dir', state], capture_output=True, text=True, check=True)
    assert 'running' in status.stdout
    subprocess.run(harness + ['stop', '--state-dir', state], capture_output=True, text=True, check=True)
    assert details[0]['pid'] not in consul_pids()
    again = subprocess.run(harness + ['stop', '--state-dir', state], capture_output=True, text=True, check=False)
    assert again.returncode == 0


def test_a_cluster_that_cannot_start_is_reported_with_its_log(tmp_path, monkeypatch):
    monkeypatch.setenv('CONSUL_BIN', '/bin/false')
    try:
        ClusterSet.start(1, acl=False, tls=False, base_dir=str(tmp_path))
        raise AssertionError('expected a HarnessError')
    except HarnessError as exc:
        assert 'exited' in str(exc) and 'consul.log' in str(exc)
