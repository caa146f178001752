#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: consul_peering_info
short_description: Read one Consul cluster peering, or list them all
version_added: 0.1.0
description:
  - With O(peer_name), reads one peering (C(GET /v1/peering/:name)); a peering that does not exist is not an error.
  - Without O(peer_name), lists every peering of the partition (C(GET /v1/peerings)).
  - Makes exactly one read call.
author:
  - consul.peering maintainers (@consul-peering)
extends_documentation_fragment:
  - consul.peering.consul
  - consul.peering.consul.action_group
  - consul.peering.consul.info_attributes
options:
  peer_name:
    description:
      - Name of the peering to read (the name this cluster gives the peer, as in the other modules). When not set,
        all peerings are listed.
      - The alias O(name) is what earlier versions called it.
    type: str
    aliases: [name]
'''

EXAMPLES = r'''
- name: List every peering of the local agent's cluster
  consul.peering.consul_peering_info:
  register: all_peerings

- name: Read the peering with dc2 over HTTPS, with connection settings from the environment
  consul.peering.consul_peering_info:
    peer_name: dc2
  environment:
    CONSUL_HTTP_ADDR: https://consul-dc1.example.com:8501
    CONSUL_CACERT: /etc/consul/ca.pem
    CONSUL_HTTP_TOKEN_FILE: /etc/consul/read-token
  register: dc2

- name: Fail unless the peering with dc2 is ACTIVE
  ansible.builtin.assert:
    that:
      - dc2.exists
      - dc2.peering.State == 'ACTIVE'

# Ad hoc, from a shell:
#   ansible localhost -m consul.peering.consul_peering_info -a 'peer_name=dc2'
'''

RETURN = r'''
exists:
  description: Whether the peering named O(peer_name) exists (also while it is being deleted).
  returned: when O(peer_name) is set
  type: bool
  sample: true
peering:
  description: The peering as Consul returns it, or null when it does not exist.
  returned: when O(peer_name) is set
  type: dict
  sample:
    ID: 462c45e8-018e-f19d-85eb-1fc1bcc2ef12
    Name: dc2
    State: ACTIVE
    PeerID: e83a315c-027e-bcb1-7c0c-a46650904a05
    PeerServerName: server.dc2.peering.11111111-2222-3333-4444-555555555555.consul
    PeerServerAddresses: ["10.0.0.20:8503"]
    StreamStatus:
      LastHeartbeat: "2026-11-28T23:52:30.734413543Z"
      ImportedServices: null
      ExportedServices: null
    CreateIndex: 89
    ModifyIndex: 89
peerings:
  description: Every peering of the partition, as Consul returns them.
  returned: when O(peer_name) is not set
  type: list
  elements: dict
  sample:
    - ID: 462c45e8-018e-f19d-85eb-1fc1bcc2ef12
      Name: dc2
      State: ACTIVE
'''

from ansible_collections.consul.peering.plugins.module_utils.module import PeeringModule
from ansible_collections.consul.peering.plugins.module_utils.peering import validate_peer_name


def main():
    peering_module = PeeringModule(argument_spec=dict(peer_name=dict(type='str', aliases=['name'])))
    name = peering_module.params['peer_name']
    with peering_module.fail_on_error():
        if name is None:
            result = dict(peerings=peering_module.client.list_peerings())
        else:
            validate_peer_name(name)
            peering = peering_module.read(name)
            result = dict(peering=peering, exists=peering is not None)
    peering_module.exit(changed=False, **result)


if __name__ == '__main__':
    main()
