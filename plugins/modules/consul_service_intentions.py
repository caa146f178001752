#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: consul_service_intentions
short_description: Allow or deny one source, local or in a peer cluster, to reach a Consul service
version_added: 1.0.0
description:
  - Sets one source rule in the C(service-intentions) config entry of a destination service
    (C(GET /v1/config/service-intentions/:destination), C(PUT /v1/config?cas=...)).
  - The source is a service of this cluster, or, with O(source_peer), a service of a peer cluster, the way
    imported services call this one through the service mesh.
  - With O(state=absent) and O(source_peer), O(source) and O(destination) may be left out to remove every rule
    from that peer - on O(destination), or, without it, on every destination (the entries are listed with
    C(GET /v1/config/service-intentions)), for example before the peering is deleted, so that no rule is
    left for whichever cluster next peers under that name.
  - Changes only that rule. The destination's other sources, their order and the entry's C(Meta) are kept.
    Writes with compare-and-set on the entry's C(ModifyIndex); when another writer changed the entry in
    between, reads it again and applies the change to what it finds, up to 10 times.
author:
  - consul.peering maintainers (@consul-peering)
requirements:
  - requests (Python library)
  - Consul 1.14 or later with Connect enabled (intentions are a service mesh feature)
extends_documentation_fragment:
  - consul.peering.consul
  - consul.peering.consul.action_group
options:
  destination:
    description:
      - The service the rule protects, or V(*) for every service.
      - Required, except with O(state=absent) and O(source_peer); without it, the rules from O(source_peer) are
        removed from every destination.
    type: str
  source:
    description:
      - The service the rule applies to, or V(*) for every service (of O(source_peer), when set).
      - Required, except with O(state=absent) and O(source_peer); without it, every rule from O(source_peer) is
        removed, V(*) included.
    type: str
  source_peer:
    description:
      - The peer the source lives in, by the name this cluster gives it (a lowercase DNS label, checked before
        any call). Without it, the source is a service of this cluster.
      - A peer without an C(ACTIVE) peering on this cluster gets a warning, when the token may list peerings.
    type: str
  action:
    description:
      - Whether the source may reach the destination. Required with O(state=present).
    type: str
    choices: [allow, deny]
  description:
    description:
      - Description stored with the rule. When not set, an existing rule keeps its description; an empty
        string removes it.
    type: str
  state:
    description:
      - V(present) sets the rule; V(absent) removes it. Removing the last rule of a destination deletes its
        entry, as Consul refuses an entry without sources.
    type: str
    choices: [present, absent]
    default: present
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
      - The diff shows this source rule before and after (null when there is none). Without O(source), the
        rules from O(source_peer); without O(destination), those rules for every destination that had any.
notes:
  - "ACL: C(intentions:write) on the destination, with C(policy = \"read\") beside it, which Consul requires
    in the rule: C(service \"web\" { policy = \"read\" intentions = \"write\" }). C(mesh:write),
    C(operator:write) and C(service:write) are not enough. The destination V(*) needs the rule on every service,
    C(service_prefix \"\" { policy = \"read\" intentions = \"write\" }). Add C(peering = \"read\") for the warning about a
    source peer without an C(ACTIVE) peering; without it that check is skipped. A 403 names the permission
    and the rule."
  - "Calls: a run that changes nothing makes one read. A change makes the write, one read of the entry after
    it, and one read of the peering list when it adds a peer source. Without O(destination): one read of the
    list of entries, then for each entry that holds rules from O(source_peer) its write and one read after it."
  - "Without O(destination), the token must read every entry: Consul 1.14 leaves the entries a token may not
    read out of the list, and says so in C(X-Consul-Results-Filtered-By-ACLs). The module then fails before
    any write, naming the rule C(service_prefix \"\" { policy = \"read\" intentions = \"write\" })."
  - "Consul behaviour this relies on (measured on Consul 1.14.11):"
  - Consul adds C(Precedence) and C(Type) to every source; they never count as a difference.
  - A rule from the legacy C(/v1/connect/intentions) API carries C(LegacyID) and C(LegacyMeta); Consul refuses
    C(LegacyMeta) in a config entry write and drops those fields on any write of the entry (as
    C(consul config write) does). The module keeps such a rule's action and description and warns.
  - Rules with L7 C(Permissions) instead of an C(Action) are refused; change those with C(consul config write).
  - Without Connect, Consul answers C(500 Connect must be enabled in order to use this endpoint); the module
    says how to turn it on. A peer that does not exist yet is accepted by Consul.
  - The legacy intention endpoints cannot address a peer source; this module uses the config entry only.
seealso:
  - module: consul.peering.consul_exported_services
  - module: consul.peering.consul_imported_service_info
  - name: service-intentions config entry
    description: What Consul stores and how it applies it.
    link: https://developer.hashicorp.com/consul/docs/connect/config-entries/service-intentions
'''

EXAMPLES = r'''
- name: On dc1, let frontend of the peer dc2 reach web
  consul.peering.consul_service_intentions:
    host: consul-dc1.example.com
    scheme: https
    ca_path: /etc/consul/ca.pem
    token: "{{ consul_dc1_intentions_token }}"
    destination: web
    source: frontend
    source_peer: dc2
    action: allow
    description: frontend in dc2 calls web

- name: Deny every other service of dc2
  consul.peering.consul_service_intentions:
    destination: web
    source: "*"
    source_peer: dc2
    action: deny

- name: Remove the rule for the local service batch
  consul.peering.consul_service_intentions:
    destination: web
    source: batch
    state: absent

- name: Before deleting the peering with dc2, remove every rule from dc2, on every destination
  consul.peering.consul_service_intentions:
    source_peer: dc2
    state: absent
'''

RETURN = r'''
intention:
  description:
    - The rule after the run (in check mode, as it would be); null when there is none.
  returned: when O(destination) and O(source) are given
  type: dict
  contains:
    source:
      description: The source service.
      type: str
    source_peer:
      description: The peer the source lives in; null for a local source.
      type: str
    action:
      description: V(allow) or V(deny).
      type: str
    description:
      description: The rule's description, or null.
      type: str
  sample: {source: frontend, source_peer: dc2, action: allow, description: null}
entry:
  description: The destination's C(service-intentions) entry as Consul stores it after the run (in check mode,
    as it is); null when there is none.
  returned: when O(destination) is given
  type: dict
  sample:
    Kind: service-intentions
    Name: web
    Sources:
      - {Name: frontend, Peer: dc2, Action: allow, Precedence: 9, Type: consul}
    CreateIndex: 49
    ModifyIndex: 49
destinations:
  description: Without O(destination), the destinations whose rules from O(source_peer) were removed (in check
    mode, would be).
  returned: when O(destination) is not given
  type: list
  elements: str
  sample: [web, api]
actions:
  description: What the module did (or would do in check mode); without O(destination), for each destination
    in RV(destinations) in turn.
  returned: always
  type: list
  elements: str
  sample: [write_entry]
'''

from ansible_collections.consul.peering.plugins.module_utils.config_entries import (
    ABSENT, PRESENT, SERVICE_INTENTIONS, ConfigEntryModule, EntryPlan, EntryStore, describe_source, list_entries,
    plan_intention, plan_peer_removal, source_view, validate_name, validate_peer,
)
from ansible_collections.consul.peering.plugins.module_utils.peering import PeeringError

EVERY_DESTINATION_RULE = 'service_prefix "" { policy = "read" intentions = "write" }'


def validate(params):
    removes_peer = params['state'] == ABSENT and params['source_peer'] is not None
    for option in ('destination', 'source'):
        if params[option] is None and not removes_peer:
            raise PeeringError('%s is required, except with state=absent and source_peer, to remove the rules '
                               'from that peer' % option)
        if params[option] is not None:
            validate_name(params[option], option)
    if params['source_peer'] is not None:
        validate_peer(params['source_peer'], 'source_peer')
    if params['state'] == PRESENT and not params['action']:
        raise PeeringError('action is required with state=present: allow or deny')


def intentions_store(client, destination, partition):
    """The EntryStore of `destination`'s entry, whose 403s name the intentions rule on that service."""
    rule = '%s { policy = "read" intentions = "write" }' % (
        # Measured: Consul checks intentions on the destination * against every service.
        'service_prefix ""' if destination == '*' else 'service %s' % _hcl_string(destination))
    return EntryStore(client, SERVICE_INTENTIONS, destination, partition,
                      read=('intentions:read', rule.replace('intentions = "write"', 'intentions = "read"')),
                      write=('intentions:write', rule))


def remove_peer_everywhere(module, source, source_peer):
    """Remove the rules from `source_peer` (only `source`'s, when given) on every destination; one plan for all.

    One list read decides; only the entries that hold such rules are written, each with compare-and-set.
    """
    entries = list_entries(module.client, SERVICE_INTENTIONS, 'intentions:read', EVERY_DESTINATION_RULE,
                           module.partition)
    actions, before, after = [], {}, {}
    for destination in plan_peer_removal(entries, source_peer, source, module.partition):
        listed = next(entry for entry in entries if entry.get('Name') == destination)
        plan, _entry = module.converge(intentions_store(module.client, destination, module.partition),
                                       lambda current, name=destination: plan_intention(
                                           current, name, source, source_peer, state=ABSENT,
                                           partition=module.partition), current=listed)
        if plan.changed:  # unless another writer removed the rules first
            actions.extend(plan.actions)
            before[destination], after[destination] = plan.before['sources'], plan.after['sources']
    plan = EntryPlan(actions, {'source_peer': source_peer, 'destinations': before},
                     {'source_peer': source_peer, 'destinations': after})
    return plan, list(before)


def main():
    module = ConfigEntryModule(argument_spec=dict(
        destination=dict(type='str'),
        source=dict(type='str'),
        source_peer=dict(type='str'),
        action=dict(type='str', choices=['allow', 'deny']),
        description=dict(type='str'),
        state=dict(type='str', choices=[PRESENT, ABSENT], default=PRESENT),
    ))
    params = module.params
    destination, source, source_peer = params['destination'], params['source'], params['source_peer']
    with module.fail_on_error():
        validate(params)
        if destination is None:
            plan, destinations = remove_peer_everywhere(module, source, source_peer)
            module.exit(**module.result(plan, destinations=destinations))
        plan, entry = module.converge(intentions_store(module.client, destination, module.partition),
                                      lambda current: plan_intention(
                                          current, destination, source, source_peer, params['action'],
                                          params['description'], params['state'], module.partition))
        module.warn_about_peers(plan.added_peers, 'The intention from %s to %r' % (
            describe_source(source, source_peer), destination))
    if source is None:
        module.exit(**module.result(plan, entry=entry))
    intention = plan.after if module.check_mode else source_view(entry, source, source_peer)
    module.exit(**module.result(plan, intention=intention, entry=entry))


def _hcl_string(name):
    return '"%s"' % name.replace('\\', '\\\\').replace('"', '\\"')


if __name__ == '__main__':
    main()
