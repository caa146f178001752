# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Real Consul clusters for the integration tests, started once per session and always stopped."""

from __future__ import annotations

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'harness'))
sys.path.insert(0, HERE)

from clusters import ClusterSet  # noqa: E402  pylint: disable=wrong-import-position


@pytest.fixture(scope='session')
def cluster_factory(request):
    """Start more clusters on demand: cluster_factory(count, acl=..., tls=..., ...). Stopped at session end."""
    started = []

    def start(count=2, **options):
        cluster_set = ClusterSet.start(count, **options)
        started.append(cluster_set)
        return cluster_set

    yield start
    failed = request.session.testsfailed > 0
    for cluster_set in started:
        cluster_set.stop(keep_logs=failed)


@pytest.fixture(scope='session')
def clusters(cluster_factory):
    """Two clusters, dc1 and dc2, with ACLs (default deny) and HTTPS only."""
    return cluster_factory(2, acl=True, tls=True)


@pytest.fixture(scope='session')
def dc1(clusters):
    return clusters[0]


@pytest.fixture(scope='session')
def dc2(clusters):
    return clusters[1]
