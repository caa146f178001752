# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Unit-test data: peerings and tokens shaped exactly as Consul 1.14 returns them (recorded from real servers),
and the ACL token the tests' clients send to a scripted server."""

from __future__ import annotations

import base64
import copy
import json
import os

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')
ACCEPTOR_ID = 'b245b1c7-1517-b63b-86e7-dea79e2f5539'
SECRET = '13e8f84e-a394-f753-6e0a-d81faa4e861e'
# Sent by every client of a scripted server: a secret the tests look for in what the modules print.
ACL_TOKEN = 'b1gs3cret-acl-token'


def load_fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle)


def make_peering(role='acceptor', state='ACTIVE', **fields):
    """A peering object recorded from Consul 1.14, with its state and any field overridden."""
    peering = copy.deepcopy(load_fixture('%s_active.json' % role))
    peering['State'] = state
    peering.update(fields)
    return peering


def make_token(**fields):
    """A peering token shaped like the ones Consul 1.14 generates (base64 of JSON)."""
    data = {
        'CA': load_fixture('acceptor_active.json')['PeerCAPems'],
        'ManualServerAddresses': None,
        'ServerAddresses': ['127.0.0.1:18503'],
        'ServerName': 'server.dc1.peering.78c3a864-c9fa-ae42-e992-f0cca4a95452.consul',
        'PeerID': ACCEPTOR_ID,
        'EstablishmentSecret': SECRET,
        'Remote': {'Partition': '', 'Datacenter': 'dc1'},
    }
    data.update(fields)
    return base64.b64encode(json.dumps(data).encode()).decode()


def exports(index, *services, **extra):
    """An exported-services entry shaped as Consul 1.14 returns it; services as (name, [peer, ...])."""
    entry = {'Kind': 'exported-services', 'Name': 'default', 'CreateIndex': 28, 'ModifyIndex': index}
    entry.update(extra)
    if services:
        entry['Services'] = [{'Name': name, 'Consumers': [{'Peer': peer} for peer in peers]} for name, peers in services]
    return entry
