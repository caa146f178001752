#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: consul_imported_service_info
short_description: Read the instances of a service that a Consul cluster imports from a peer (or has itself), with their health
version_added: 1.0.0
description:
  - On the importing cluster, reads the instances of O(service) that the peer O(peer) exports to it, with
    their health (C(GET /v1/health/service/:service?peer=:peer)), and sums them up.
  - Without O(peer), reads the instances this cluster itself has of O(service) (C(GET /v1/health/service/:service)),
    for example on the exporting cluster, to know whether there is anything its peers could import.
  - With O(wait=true), waits until at least one instance is passing, for example right after the peer
    exported the service with M(consul.peering.consul_exported_services).
  - Missing read rights are reported as such, not as an empty result. Consul answers an empty list then, and
    says in a header that it filtered the answer.
author:
  - consul.peering maintainers (@consul-peering)
requirements:
  - requests (Python library)
  - Consul 1.14 or later, with an ACTIVE peering to O(peer)
extends_documentation_fragment:
  - consul.peering.consul
  - consul.peering.consul.action_group
  - consul.peering.consul.info_attributes
options:
  service:
    description:
      - Name of the service, as the exporting cluster registers it.
    type: str
    required: true
  peer:
    description:
      - The peer the service is imported from, by the name this cluster gives it (the name of the peering on
        this cluster, as in M(consul.peering.consul_peering)); a lowercase DNS label, checked before any call.
      - Without it, the module reads the cluster's own instances of O(service).
    type: str
  wait:
    description:
      - Wait until at least one instance is passing; fail after O(wait_timeout) with what was seen last.
      - Without it, the module reads once and returns what Consul has, possibly nothing.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds the wait may take, its reads included, before the module fails; a positive number.
      - The wait uses Consul's blocking queries, so it ends as soon as an instance passes; every read is cut
        short at the deadline. It reads through connection failures, timeouts and HTTP 5xx or 429 answers.
    type: int
    default: 120
notes:
  - "ACL: reading services imported from a peer needs C(service:read) and C(node:read) on every service and node:
    C(service_prefix \"\" { policy = \"read\" }) and C(node_prefix \"\" { policy = \"read\" }) (measured on
    Consul 1.14.11: C(service \"web\" { policy = \"read\" }) is not enough). With less, Consul answers an empty
    list with C(X-Consul-Results-Filtered-By-ACLs: true), and the module fails naming both rules. Add
    C(peering = \"read\") to learn, when nothing is found, whether the peering exists and is C(ACTIVE).
    Without O(peer), C(service \"web\" { policy = \"read\" }) and C(node_prefix \"\" { policy = \"read\" })
    are enough."
  - Consul folds the checks of an imported instance into one C(<id>:overall-check) with the worst status of
    its checks, so RV(instances[].status) is that status; an instance without checks is passing.
  - The catalog endpoints (C(/v1/catalog/service/:service?peer=)) ignore C(peer) on Consul 1.14 and answer with
    the local catalog; this module never uses them.
  - Calls without O(wait) make one read, and one more of the peering when no instance is found (none without
    O(peer)).
seealso:
  - module: consul.peering.consul_exported_services
  - module: consul.peering.consul_peering_info
'''

EXAMPLES = r'''
- name: Wait on dc2 until web, exported by the peer dc1, has a passing instance
  consul.peering.consul_imported_service_info:
    host: consul-dc2.example.com
    scheme: https
    ca_path: /etc/consul/ca.pem
    token: "{{ consul_dc2_read_token }}"
    service: web
    peer: dc1
    wait: true
    wait_timeout: 60
  register: web_from_dc1

- name: Show where the instances are
  ansible.builtin.debug:
    msg: "{{ web_from_dc1.instances | map(attribute='address') | list }}"

- name: On dc1, count the instances of web that dc1 itself has
  consul.peering.consul_imported_service_info:
    host: consul-dc1.example.com
    scheme: https
    ca_path: /etc/consul/ca.pem
    token: "{{ consul_dc1_read_token }}"
    service: web
  register: web_on_dc1

- name: Fail when fewer than two instances pass
  ansible.builtin.assert:
    that: web_from_dc1.summary.passing >= 2
'''

RETURN = r'''
instances:
  description: The imported instances, in Consul's order.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: The service instance ID.
      type: str
    service:
      description: The service name.
      type: str
    peer:
      description: The peer the instance is imported from; null for an instance of this cluster.
      type: str
    node:
      description: The node of the instance, in the exporting cluster.
      type: str
    datacenter:
      description: The datacenter of the exporting cluster.
      type: str
    address:
      description: The service address, or the node's when the service has none.
      type: str
    port:
      description: The service port.
      type: int
    tags:
      description: The service tags.
      type: list
      elements: str
    meta:
      description: The service meta.
      type: dict
    status:
      description: V(passing), V(warning) or V(critical), the worst status of its checks.
      type: str
    checks:
      description: Its checks, each with C(id), C(name), C(status) and C(output).
      type: list
      elements: dict
  sample:
    - id: web-1
      service: web
      peer: dc1
      node: dc1-server
      datacenter: dc1
      address: 10.0.0.10
      port: 8080
      tags: []
      meta: {}
      status: passing
      checks: [{id: "web-1:overall-check", name: overall-check, status: passing, output: ""}]
summary:
  description: How many instances were found, and how many of them are passing, warning and critical.
  returned: always
  type: dict
  sample: {total: 2, passing: 1, warning: 0, critical: 1}
'''

from ansible_collections.consul.peering.plugins.module_utils.config_entries import validate_name, validate_peer
from ansible_collections.consul.peering.plugins.module_utils.imports import ImportReader, summarize
from ansible_collections.consul.peering.plugins.module_utils.module import DEFAULT_WAIT_TIMEOUT, PeeringModule
from ansible_collections.consul.peering.plugins.module_utils.options import validate_seconds


def main():
    module = PeeringModule(argument_spec=dict(
        service=dict(type='str', required=True),
        peer=dict(type='str'),
        wait=dict(type='bool', default=False),
        wait_timeout=dict(type='int', default=DEFAULT_WAIT_TIMEOUT),
    ))
    params = module.params
    with module.fail_on_error():
        wait_timeout = validate_seconds(params['wait_timeout'], 'wait_timeout')
        validate_name(params['service'], 'service')
        if params['peer'] is not None:
            validate_peer(params['peer'], 'peer')
        reader = ImportReader(module.client, params['service'], params['peer'], module.partition)
        if params['wait']:
            instances = reader.wait_until_passing(wait_timeout)
        else:
            instances, _index = reader.read()
            note = None if instances else reader.peering_note()
            if note:
                module.module.warn('No instance of %r is imported from peer %r: %s' % (
                    params['service'], params['peer'], note))
        if reader.partly_filtered:
            module.module.warn('Consul filtered some of the instances out of its answer (ACLs): the token needs %s '
                               'to see them all' % 'service_prefix "" and node_prefix "" read')
    module.exit(changed=False, instances=instances, summary=summarize(instances))


if __name__ == '__main__':
    main()
