# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Views of imported instances: health as Consul 1.14 folds it, summaries and messages."""

from __future__ import annotations

import pytest

from ansible_collections.consul.peering.plugins.module_utils.imports import (
    describe_instances, describe_peering, instance_status, instance_view, summarize,
)


def imported(service_id, *statuses, **service):
    """One entry of GET /v1/health/service/web?peer=dc1, recorded from Consul 1.14.11."""
    fields = {'ID': service_id, 'Service': 'web', 'Tags': [], 'Address': '', 'Meta': None, 'Port': 8080,
              'PeerName': 'dc1'}
    fields.update(service)
    return {
        'Node': {'Node': 'dc1-server', 'Address': '127.0.0.1', 'Datacenter': 'dc1', 'PeerName': 'dc1'},
        'Service': fields,
        'Checks': [{'Node': 'dc1-server', 'CheckID': '%s:overall-check' % service_id, 'Name': 'overall-check',
                    'Status': status, 'Output': '', 'ServiceID': service_id, 'PeerName': 'dc1'}
                   for status in statuses],
    }


@pytest.mark.parametrize('statuses, expected', [
    ([], 'passing'), (['passing'], 'passing'), (['passing', 'warning'], 'warning'),
    (['warning', 'critical', 'passing'], 'critical'), (['maintenance'], 'critical'),
])
def test_instance_status_is_the_worst_check(statuses, expected):
    assert instance_status([{'Status': status} for status in statuses]) == expected


def test_instance_view_takes_the_node_address_when_the_service_has_none():
    view = instance_view(imported('web-1', 'passing'))
    assert view == {'id': 'web-1', 'service': 'web', 'peer': 'dc1', 'node': 'dc1-server', 'datacenter': 'dc1',
                    'address': '127.0.0.1', 'port': 8080, 'tags': [], 'meta': {}, 'status': 'passing',
                    'checks': [{'id': 'web-1:overall-check', 'name': 'overall-check', 'status': 'passing',
                                'output': ''}]}
    assert instance_view(imported('web-2', Address='10.0.0.7'))['address'] == '10.0.0.7'


def test_summary_and_description():
    instances = [instance_view(imported('web-1', 'passing')), instance_view(imported('web-2', 'critical')),
                 instance_view(imported('web-3', 'warning'))]
    assert summarize(instances) == {'total': 3, 'passing': 1, 'warning': 1, 'critical': 1}
    assert describe_instances(instances) == '3 instances, 1 passing (web-2 critical, web-3 warning)'
    assert describe_instances(instances[1:2]) == '1 instance, none passing (web-2 critical)'
    assert describe_instances([]) == 'no instances'
    assert summarize([]) == {'total': 0, 'passing': 0, 'warning': 0, 'critical': 0}


def test_describe_peering():
    assert describe_peering(None, 'dc1') == "this cluster has no peering named 'dc1'"
    assert describe_peering({'Name': 'dc1', 'State': 'FAILING'}, 'dc1') == \
        "the peering 'dc1' is FAILING on this cluster, not ACTIVE"
    assert describe_peering({'Name': 'dc1', 'State': 'ACTIVE'}, 'dc1') is None
