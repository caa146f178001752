#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: consul_exported_services
short_description: Export one service to Consul cluster peers, keeping every other export
version_added: 1.0.0
description:
  - Sets which peers consume one service in the cluster's shared C(exported-services) config entry
    (C(GET /v1/config/exported-services/default), C(PUT /v1/config?cas=...)).
  - Without O(service), with O(state=absent), makes O(peers) consumers of no service at all, for example
    before their peerings are deleted, so that no export is left for whichever cluster next peers under
    one of those names.
  - Changes only that service's peer consumers (without O(service), only the consumers named in O(peers)).
    Other services, their consumers, partition consumers, the entry's C(Meta) and the stored order are kept,
    so other tasks, tools and people can export from the same cluster at the same time.
  - Writes with compare-and-set on the entry's C(ModifyIndex); when another writer changed the entry in
    between, reads it again and applies the change to what it finds, up to 10 times.
  - Peer names are checked before any call. A peer without an C(ACTIVE) peering on this cluster gets a warning
    (when the token may list peerings).
author:
  - consul.peering maintainers (@consul-peering)
requirements:
  - requests (Python library)
  - Consul 1.14 or later, with peering (and therefore Connect) enabled on both clusters
extends_documentation_fragment:
  - consul.peering.consul
  - consul.peering.consul.action_group
options:
  service:
    description:
      - Name of the service to export, or V(*) for every service of the cluster, including those registered
        later (Consul never exports its own C(consul) service).
      - V(*) is an entry of its own in the config entry; it does not change the exports of named services.
      - Required, except with O(state=absent); without it, O(peers) are removed from every service, V(*)
        included.
    type: str
  peers:
    description:
      - Peers that consume the service, by the name this cluster gives each of them (the name of its peering
        with this cluster, as in M(consul.peering.consul_peering)). Names are lowercase DNS labels, matched
        exactly by Consul; each may be listed once.
        V(*) is refused, as Consul does not export to every peer.
      - Required with O(state=present); may be empty only with O(exclusive=true).
      - With O(state=absent), leaving it unset removes the service's export altogether; an empty list removes
        nothing. Without O(service), it is required and names the peers to remove from every service.
    type: list
    elements: str
  state:
    description:
      - V(present) makes O(peers) consumers of the service; its other consumers stay unless O(exclusive=true).
      - V(absent) makes O(peers) no longer consumers, or, without O(peers), stops exporting the service;
        without O(service), O(peers) no longer consume any service.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description:
      - With O(state=present), the service's peer consumers become exactly O(peers), and other peers are removed.
        Partition consumers (Consul Enterprise) are kept.
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Check mode reads the entry and reports what would change; it makes no write call.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The diff shows the service and its peer consumers before and after; without O(service), every service
        that O(peers) consumed, with its consumers.
notes:
  - "ACL: C(mesh:read) to read the entry and C(mesh:write) to change it (C(mesh = \"write\") grants both);
    C(operator:write) works too unless a rule sets C(mesh = \"read\"). Add C(peering = \"read\") for the
    warnings about peers without an C(ACTIVE) peering; without it they are skipped. A 403 names the
    permission and a rule that grants it."
  - "Calls: a run that changes nothing makes one read. A change makes the write, one read of the entry after
    it, and one read of the peering list when it adds peers. A conflict costs one write and one read more.
    Without O(service) the calls are the same: every service is in the one entry."
  - "Consul behaviour this relies on (measured on Consul 1.14.11):"
  - A C(PUT /v1/config?cas=N) whose content is the same as the stored one answers C(true) whatever the index,
    and a stale index answers C(false) only when the content differs; so C(changed) is decided by comparing
    content, never from Consul's answer.
  - Consul refuses a service with no consumers, so a service left without any is removed from the entry. An
    entry left without services is deleted (with compare-and-set), unless it carries C(Meta); then it is
    written without services, which Consul accepts, and its C(Meta) is kept.
  - Consul accepts peer names no peering has, and wrong-case names, and exports nothing for them; a consumer
    whose peering is deleted stays in the entry and applies again to whichever cluster next peers under that
    name. The module warns about such peers when it adds them, and refuses wrong-case names.
  - On the importing cluster, check the import with M(consul.peering.consul_imported_service_info); the
    catalog endpoints ignore C(peer) on Consul 1.14.
  - On Consul Enterprise the entry is named after O(partition); on CE its name is C(default).
seealso:
  - module: consul.peering.consul_service_intentions
  - module: consul.peering.consul_imported_service_info
  - name: exported-services config entry
    description: What Consul stores and how it applies it.
    link: https://developer.hashicorp.com/consul/docs/connect/config-entries/exported-services
'''

EXAMPLES = r'''
- name: Export web to the peers dc2 and dc3 (other exports stay as they are)
  consul.peering.consul_exported_services:
    host: consul-dc1.example.com
    scheme: https
    ca_path: /etc/consul/ca.pem
    token: "{{ consul_dc1_export_token }}"
    service: web
    peers: [dc2, dc3]

- name: Export api to dc2 only, removing any other peer that consumes it
  consul.peering.consul_exported_services:
    service: api
    peers: [dc2]
    exclusive: true

- name: Stop exporting web to dc3
  consul.peering.consul_exported_services:
    service: web
    peers: [dc3]
    state: absent

- name: Stop exporting web to anyone
  consul.peering.consul_exported_services:
    service: web
    state: absent

- name: Before deleting the peering with dc3, make it a consumer of no service
  consul.peering.consul_exported_services:
    peers: [dc3]
    state: absent
'''

RETURN = r'''
consumers:
  description: The peers that consume O(service) after the run (in check mode, those that would).
  returned: when O(service) is given
  type: list
  elements: str
  sample: [dc2, dc3]
services:
  description:
    - Without O(service), every service that O(peers) consumed before the run, with its peer consumers after
      the run (in check mode, those it would have); an empty list means the service is no longer exported.
  returned: when O(service) is not given
  type: dict
  sample: {web: [dc2], api: []}
entry:
  description: The C(exported-services) entry as Consul stores it after the run (in check mode, as it is);
    null when there is none.
  returned: always
  type: dict
  sample:
    Kind: exported-services
    Name: default
    Services:
      - Name: web
        Consumers: [{Peer: dc2}, {Peer: dc3}]
    CreateIndex: 28
    ModifyIndex: 36
actions:
  description: What the module did (or would do in check mode).
  returned: always
  type: list
  elements: str
  sample: [write_entry]
'''

from ansible_collections.consul.peering.plugins.module_utils.config_entries import (
    ABSENT, EXPORTED_SERVICES, EXPORTS_ENTRY, PRESENT, ConfigEntryModule, EntryStore, export_consumers, plan_export,
    validate_name, validate_peers,
)
from ansible_collections.consul.peering.plugins.module_utils.peering import PeeringError


def validate(params):
    peers = params['peers']
    if params['service'] is None:
        if params['state'] != ABSENT or not peers:
            raise PeeringError('service is required, except with state=absent and a list of peers, to make them '
                               'consumers of no service')
        validate_peers(peers)
        return
    validate_name(params['service'], 'service')
    if params['state'] == PRESENT and (peers is None or not peers and not params['exclusive']):
        raise PeeringError('peers is required with state=present: list the peers that consume %r (an empty list '
                           'only with exclusive=true, to remove every peer)' % params['service'])
    if params['exclusive'] and params['state'] == ABSENT:
        raise PeeringError('exclusive applies to state=present only')
    validate_peers(peers or [])


def main():
    module = ConfigEntryModule(argument_spec=dict(
        service=dict(type='str'),
        peers=dict(type='list', elements='str'),
        state=dict(type='str', choices=[PRESENT, ABSENT], default=PRESENT),
        exclusive=dict(type='bool', default=False),
    ))
    params = module.params
    with module.fail_on_error():
        validate(params)
        store = EntryStore(module.client, EXPORTED_SERVICES, module.partition or EXPORTS_ENTRY, module.partition)
        plan, entry = module.converge(store, lambda current: plan_export(
            current, params['service'], params['peers'], params['state'], params['exclusive'], module.partition))
        module.warn_about_peers(plan.added_peers, 'The export of %r' % params['service'])
    service = params['service']
    if service is None:
        names = plan.after['services']
        views = plan.after['services'] if module.check_mode else dict(
            (name, export_consumers(entry, name)) for name in names)
        module.exit(**module.result(plan, services=views, entry=entry))
    consumers = plan.after['consumers'] if module.check_mode else export_consumers(entry, service)
    module.exit(**module.result(plan, consumers=consumers, entry=entry))


if __name__ == '__main__':
    main()
