#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: consul_peering_token
short_description: Generate a Consul cluster peering token on the accepting cluster
version_added: 0.1.0
description:
  - Generates a peering token with C(POST /v1/peering/token) on the cluster that accepts the peering,
    which creates the accepting side of the peering in state C(PENDING).
  - Give the token to M(consul.peering.consul_peering) on the other (dialing) cluster to establish the peering.
  - A token is a one-time secret that Consul cannot return again, so the module reads the peering first and
    only generates a token when one is needed (see the notes), or when O(regenerate=true).
author:
  - consul.peering maintainers (@consul-peering)
extends_documentation_fragment:
  - consul.peering.consul
  - consul.peering.consul.action_group
  - consul.peering.consul.peer_name
  - consul.peering.consul.attributes
options:
  server_external_addresses:
    description:
      - Addresses (C(host:port)) the dialing cluster should use to reach this cluster's servers,
        for example load balancers in front of the gRPC TLS port. Written into the token only.
      - When not set, the token carries the servers' own addresses and gRPC TLS port.
    type: list
    elements: str
  meta:
    description:
      - Metadata to store on the peering, as string keys and string values.
      - Consul stores meta only when it creates the peering; a different O(meta) for an existing peering is
        reported as a warning and not applied.
    type: dict
  regenerate:
    description:
      - Generate a fresh token even though the peering exists on this cluster (C(PENDING), C(ACTIVE) or
        C(FAILING)).
      - This rotates the establishment secret, so a token generated earlier and not used yet stops working.
        An established connection is not interrupted.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait for Consul to finish deleting an old peering of the same name before a new token can
        be generated (see the notes); a positive number.
      - The worst case of the wait is O(wait_timeout), and nothing more, whatever the server does; every read
        of the wait is cut short at its deadline. Connection failures, timeouts and HTTP 5xx or 429 answers
        are waited through; a TLS failure or any other HTTP 4xx answer ends the wait at once.
      - A peering marked for deletion that Consul leaves unchanged for 10 seconds is sent its C(DELETE)
        again, with a warning (Consul 1.14 can leave one C(TERMINATED) with C(DeletedAt) set for good).
    type: int
    default: 120
notes:
  - "What a run does, depending on the peering named O(peer_name) on this cluster (measured on Consul 1.14):"
  - "B(missing): generates a token (C(changed=true)); the peering is created in state C(PENDING)."
  - "B(PENDING, ACTIVE or FAILING) on the accepting side: nothing (C(changed=false), no write call, no token),
    unless O(regenerate=true). Consul cannot return a token it issued before, and generating one silently would
    invalidate a token that may be on its way to the other cluster."
  - "B(TERMINATED) (the other cluster deleted its side): the peering is deleted and a new token generated
    (C(changed=true)). Consul accepts a token request for a terminated peering but the token it returns can
    never be used, so deleting first is the only way to peer again under that name. The peering gets a new ID."
  - "B(DELETING): the module waits until Consul has removed it, then generates a token."
  - "B(existing as the dialing side) (this cluster established it with a token from the other cluster): the
    module fails without a write call. A cluster cannot be both sides of one peering name."
  - The returned RV(token) is a credential. This collection hides task output that carries a token,
    so register it and pass it on; for example to M(consul.peering.consul_peering) on the other cluster.
seealso:
  - module: consul.peering.consul_peering
  - module: consul.peering.consul_peering_info
  - name: Consul peering HTTP API
    description: The endpoint this module calls.
    link: https://developer.hashicorp.com/consul/api-docs/peering#generate-a-peering-token
'''

EXAMPLES = r'''
- name: Generate a token on the accepting cluster (dc1) for its peer dc2
  consul.peering.consul_peering_token:
    host: consul-dc1.example.com
    scheme: https
    ca_path: /etc/consul/ca.pem
    token: "{{ consul_dc1_acl_token }}"
    peer_name: dc2
    meta:
      owner: platform-team
  register: dc1_token

- name: Establish the peering on the dialing cluster (dc2) with that token
  consul.peering.consul_peering:
    host: consul-dc2.example.com
    scheme: https
    ca_path: /etc/consul/ca.pem
    token: "{{ consul_dc2_acl_token }}"
    peer_name: dc1
    peering_token: "{{ dc1_token.token }}"
  when: dc1_token.token is defined

- name: Rotate the token of an existing peering, advertising a load balancer to the dialer
  consul.peering.consul_peering_token:
    peer_name: dc3
    regenerate: true
    server_external_addresses:
      - consul-dc1-lb.example.com:8503
  register: rotated
'''

RETURN = r'''
token:
  description:
    - The peering token, to be passed to the dialing cluster. A credential; only returned when a token was
      generated.
  returned: when a token was generated
  type: str
token_info:
  description: The generated token decoded without its secret.
  returned: when a token was generated
  type: dict
  contains:
    peer_id:
      description: ID of the peering on this (accepting) cluster; the dialer stores it as its C(PeerID).
      type: str
      sample: 8cfcd7a2-8d1a-37f4-4a0c-44ec3e0ae4c8
    server_name:
      description: TLS server name the dialer expects from this cluster's servers.
      type: str
      sample: server.dc1.peering.11111111-2222-3333-4444-555555555555.consul
    server_addresses:
      description: Addresses of this cluster's servers written into the token.
      type: list
      elements: str
      sample: ["10.0.0.10:8503"]
    manual_server_addresses:
      description: The O(server_external_addresses) written into the token, which the dialer uses instead.
      type: list
      elements: str
      sample: []
    ca_present:
      description: Whether the token carries this cluster's Connect CA certificates.
      type: bool
      sample: true
    remote_datacenter:
      description: Datacenter of this (accepting) cluster.
      type: str
      sample: dc1
    remote_partition:
      description: Admin partition of this cluster (Consul Enterprise), or null.
      type: str
      sample: null
peering:
  description:
    - The peering as Consul reports it after the run (C(GET /v1/peering/:name)); the current one in check mode.
  returned: always
  type: dict
  sample:
    ID: 8cfcd7a2-8d1a-37f4-4a0c-44ec3e0ae4c8
    Name: dc2
    State: PENDING
    Meta: {owner: platform-team}
    CreateIndex: 18
    ModifyIndex: 18
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [generate_token]
'''

from ansible_collections.consul.peering.plugins.module_utils.module import DEFAULT_WAIT_TIMEOUT, PeeringModule
from ansible_collections.consul.peering.plugins.module_utils.options import validate_seconds
from ansible_collections.consul.peering.plugins.module_utils.peering import (
    DELETE, GENERATE_TOKEN, decode_peering_token, plan_token, validate_meta, validate_peer_name, validate_server_addresses,
)


def main():
    peering_module = PeeringModule(
        argument_spec=dict(
            peer_name=dict(type='str', required=True, aliases=['name']),
            server_external_addresses=dict(type='list', elements='str'),
            meta=dict(type='dict'),
            regenerate=dict(type='bool', default=False),
            wait_timeout=dict(type='int', default=DEFAULT_WAIT_TIMEOUT),
        ),
    )
    params = peering_module.params
    name, meta = params['peer_name'], params['meta']
    generated = {}

    def generate():
        token = peering_module.client.generate_token(name, meta,
                                                     params['server_external_addresses'])
        generated['token'] = token
        generated['token_info'], _secret = decode_peering_token(token)

    with peering_module.fail_on_error():
        wait_timeout = validate_seconds(params['wait_timeout'], 'wait_timeout')
        validate_peer_name(name)
        validate_server_addresses(params['server_external_addresses'])
        validate_meta(meta)
        current = peering_module.read(name)
        plan = plan_token(current, name, meta=meta, regenerate=params['regenerate'])
        steps = {
            DELETE: lambda: peering_module.client.delete_peering(name),
            GENERATE_TOKEN: generate,
        }
        peering = peering_module.execute(plan, name, current, steps, wait_timeout)
    peering_module.exit(**peering_module.result(plan, peering=peering, **generated))


if __name__ == '__main__':
    main()
