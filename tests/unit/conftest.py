# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Fixtures of the unit tests: a scripted Consul to talk to, no pause between retries, and no Consul
setting of the user's shell reaching a module."""

from __future__ import annotations

import pytest

from ansible_collections.consul.peering.plugins.module_utils import api, config_entries
from ansible_collections.consul.peering.tests.support.loopback_servers import ScriptedServer

# Every environment variable the modules read, as the Consul CLI does.
CONSUL_VARIABLES = ('CONSUL_HTTP_ADDR', 'CONSUL_HTTP_TOKEN', 'CONSUL_HTTP_TOKEN_FILE', 'CONSUL_CACERT',
                    'CONSUL_CAPATH', 'CONSUL_CLIENT_CERT', 'CONSUL_CLIENT_KEY', 'CONSUL_HTTP_SSL',
                    'CONSUL_HTTP_SSL_VERIFY', 'CONSUL_PARTITION', 'CONSUL_HTTP_AUTH', 'CONSUL_TLS_SERVER_NAME')


@pytest.fixture
def server():
    """A ScriptedServer on a free loopback port, for the length of the test."""
    with ScriptedServer() as scripted:
        yield scripted


@pytest.fixture
def no_backoff(monkeypatch):
    """The client retries at once instead of backing off."""
    monkeypatch.setattr(api, 'BACKOFF_FACTOR', 0)


@pytest.fixture
def clean_environment(monkeypatch, no_backoff):  # pylint: disable=unused-argument,redefined-outer-name
    """No CONSUL_* variable of the user's shell reaches a module, and the client retries at once."""
    for name in CONSUL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def no_cas_pause(monkeypatch):
    """A compare-and-set write that lost the race is tried again at once."""
    monkeypatch.setattr(config_entries, 'CAS_PAUSE', 0)
