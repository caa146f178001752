# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real Consul clusters for the integration tests, started once per session and always stopped.

Fixtures: `clusters` (dc1 and dc2, ACLs on with default deny, HTTPS only), `dc1`, `dc2`,
`cluster_factory(count, acl=..., tls=..., verify_incoming=..., http=...)` for other shapes, `names` (fresh
peer names for dc1 and dc2, deleted afterwards) and `harness_note`. When any test failed, the servers' logs
are kept and the summary at the end of the run says where.
"""

from __future__ import annotations

import pytest

from ansible_collections.consul.peering.tests.support.clusters import ClusterSet
from ansible_collections.consul.peering.tests.support.consul_state import delete_everywhere, peer_names

_KEPT_LOGS = pytest.StashKey[list]()
_NOTES = pytest.StashKey[list]()


def pytest_configure(config):
    config.stash[_KEPT_LOGS] = []
    config.stash[_NOTES] = []


@pytest.fixture(scope='session')
def cluster_factory(request):
    """Start clusters on demand: cluster_factory(count, **ClusterSet.start options). Stopped at session end."""
    started = []

    def start(count=2, **options):
        cluster_set = ClusterSet.start(count, **options)
        started.append(cluster_set)
        return cluster_set

    yield start
    # The outcome of the last test is already counted when session fixtures are torn down.
    failed = request.session.testsfailed > 0
    for cluster_set in started:
        cluster_set.stop(keep_logs=failed)
        if cluster_set.kept_logs:
            request.config.stash[_KEPT_LOGS].append(cluster_set.kept_logs)


@pytest.fixture(scope='session')
def clusters(cluster_factory):
    """Two clusters, dc1 and dc2, with ACLs (default deny) and HTTPS only."""
    return cluster_factory(2, acl=True, tls=True)


@pytest.fixture(scope='session')
def dc1(clusters):
    """The first cluster of `clusters`."""
    return clusters[0]


@pytest.fixture(scope='session')
def dc2(clusters):
    """The second cluster of `clusters`."""
    return clusters[1]


@pytest.fixture
def names(dc1, dc2):  # pylint: disable=redefined-outer-name
    """Fresh peer names for dc1 (accepting) and dc2 (dialing): `on_acceptor` is what dc1 calls dc2,
    `on_dialer` what dc2 calls dc1. Deleted on both clusters after the test."""
    pair = peer_names('peer')
    yield pair
    delete_everywhere([dc1, dc2], pair.values())


@pytest.fixture
def harness_note(request):
    """note(text): a line for the summary at the end of the run (measurements worth seeing without -s)."""
    return request.config.stash[_NOTES].append


def pytest_terminal_summary(terminalreporter, config):
    """Print the harness's measurements, and where the logs of a failed run are."""
    notes, kept = config.stash.get(_NOTES, []), config.stash.get(_KEPT_LOGS, [])
    if notes:
        terminalreporter.section('consul harness')
        for line in notes:
            terminalreporter.write_line(line)
    if kept:
        terminalreporter.section('consul logs kept')
        for path in kept:
            terminalreporter.write_line('consul-peering harness: logs kept in %s' % path)
