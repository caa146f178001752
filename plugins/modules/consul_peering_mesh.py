#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: consul_peering_mesh
short_description: Peer many Consul clusters at once, reading each cluster once
version_added: 1.0.0
description:
  - Makes every pair in O(pairs) peered (O(state=present)) or unpeered (O(state=absent)), from one task.
  - Reads each cluster once (C(GET /v1/peerings)), decides every pair from those lists with the same rules as
    M(consul.peering.consul_peering_token) and M(consul.peering.consul_peering), and works only on the pairs
    that need it. A mesh that is already peered costs one read per cluster and no write; so does check mode.
  - "Work order, for what needs doing: every token on the accepting clusters (clusters side by side), then every
    establish on the dialing clusters (one dialer's peerings one after another, without waiting in between,
    because Consul 1.14 opens new dialing streams from a rate-limited sync loop, which then picks them up
    together), then one wait until both sides of every pair are C(ACTIVE), each round reading every cluster
    involved once."
  - A pair that fails does not stop the others. The module reports every pair's outcome in RV(pairs), and fails
    at the end when any pair failed; a re-run repairs only what is not peered.
  - Two runs on the same pair at the same moment converge. When Consul refuses an establish (the other run's
    newer token voided this one, or the other run's peering was written first), the module waits up to 10 s for
    the other run's peering, as M(consul.peering.consul_peering) does, and fails the pair only if it does not
    come.
  - The playbooks C(consul.peering.peer_clusters) and C(consul.peering.unpeer_clusters) and the role
    P(consul.peering.cluster_peering#role) use this module.
author:
  - consul.peering maintainers (@consul-peering)
extends_documentation_fragment:
  - consul.peering.consul.attributes
options:
  clusters:
    description:
      - The clusters the pairs name.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the cluster in O(pairs) and in the report (for example its inventory name).
        type: str
        required: true
      peer_name:
        description:
          - Name the other clusters give this cluster (a peer name, a lowercase DNS label).
          - Defaults to O(clusters[].name).
        type: str
      connection:
        description:
          - How to reach the cluster's Consul HTTP API - the connection options of every consul.peering module, as
            M(consul.peering.consul_peering_info) documents them (C(host), C(port), C(scheme), C(token),
            C(ca_path), ...). They are checked the same way; C(token) and C(http_auth) are hidden in all output.
          - Unset ones fall back to the C(CONSUL_*) environment variables of the control node, as in the other
            modules.
        type: dict
        default: {}
      meta:
        description: Meta stored on the peerings this cluster creates (accepting or dialing).
        type: dict
      server_external_addresses:
        description: Addresses (C(host:port)) that dialing clusters should use to reach this cluster's servers.
        type: list
        elements: str
  pairs:
    description:
      - The peerings, each as the name of the accepting and of the dialing cluster. The filter
        C(consul.peering.peering_pairs) builds them from explicit pairs, a full mesh, or hub-and-spoke.
    type: list
    elements: dict
    required: true
    suboptions:
      acceptor:
        description: The cluster that generates the token.
        type: str
        required: true
      dialer:
        description: The cluster that establishes the peering.
        type: str
        required: true
  state:
    description:
      - V(present) peers every pair; V(absent) deletes both sides of every pair (the dialing side first).
    type: str
    choices: [present, absent]
    default: present
  wait_timeout:
    description:
      - Seconds to wait, in all, for every pair to become C(ACTIVE) on both sides (or to be deleted). A positive
        number. Each read of the wait ends within it too.
    type: float
    default: 120
notes:
  - Each connection's C(token) needs C(peering:write) on its cluster (C(peering:read) is
    enough in check mode).
  - The module works on the control node and reaches every cluster over its HTTP API; one module run serves the
    whole mesh, however many pairs it has.
seealso:
  - module: consul.peering.consul_peering_token
  - module: consul.peering.consul_peering
'''

EXAMPLES = r'''
- name: Peer three clusters in a full mesh
  consul.peering.consul_peering_mesh:
    clusters:
      - name: dc1
        connection: {host: consul-dc1.example.com, scheme: https, token: "{{ dc1_token }}"}
      - name: dc2
        connection: {host: consul-dc2.example.com, scheme: https, token: "{{ dc2_token }}"}
      - name: dc3
        connection: {host: consul-dc3.example.com, scheme: https, token: "{{ dc3_token }}"}
    pairs: "{{ [] | consul.peering.peering_pairs(mesh=['dc1', 'dc2', 'dc3']) }}"

- name: Drift check, for example nightly in check mode - one read per cluster
  consul.peering.consul_peering_mesh:
    clusters: "{{ my_clusters }}"
    pairs: "{{ my_pairs }}"
  check_mode: true
  register: drift
'''

RETURN = r'''
pairs:
  description: Every pair, in the order of O(pairs), with what was found and done.
  returned: always
  type: list
  elements: dict
  contains:
    acceptor:
      description: The accepting cluster.
      type: str
    dialer:
      description: The dialing cluster.
      type: str
    reason:
      description: How the two sides were found, before any change.
      type: str
    acceptor_actions:
      description: What was done (or would be, in check mode) on the accepting cluster.
      type: list
      elements: str
    dialer_actions:
      description: What was done (or would be) on the dialing cluster.
      type: list
      elements: str
    changed:
      description: Whether the pair was (or would be) changed.
      type: bool
    error:
      description: Why the pair failed; only for a pair that failed.
      type: str
    acceptor_peering:
      description: The peering on the accepting cluster as last read (null when absent).
      type: dict
    dialer_peering:
      description: The peering on the dialing cluster as last read (null when absent).
      type: dict
  sample:
    - acceptor: dc1
      dialer: dc2
      reason: both sides are ACTIVE and point at each other
      acceptor_actions: []
      dialer_actions: []
      changed: false
failed_pairs:
  description: The pairs that failed, as C(acceptor accepts dialer).
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.consul.peering.plugins.module_utils.api import HAS_REQUESTS, REQUESTS_IMPORT_ERROR
from ansible_collections.consul.peering.plugins.module_utils.errors import ConsulError
from ansible_collections.consul.peering.plugins.module_utils.masking import Secrets
from ansible_collections.consul.peering.plugins.module_utils.mesh import Cluster, cluster_diffs, validate_mesh
from ansible_collections.consul.peering.plugins.module_utils.mesh_run import MeshRun, connect_with
from ansible_collections.consul.peering.plugins.module_utils.options import (
    OptionError, resolve_connection, validate_connection_options, validate_seconds,
)
from ansible_collections.consul.peering.plugins.module_utils.peering import (
    PeeringError, validate_meta, validate_peer_name, validate_server_addresses,
)


def argument_spec():
    return dict(
        clusters=dict(type='list', elements='dict', required=True, options=dict(
            name=dict(type='str', required=True),
            peer_name=dict(type='str'),
            # Checked against the shared connection spec by validate_connection_options, not declared
            # again here: the options and their documentation live in one place.
            connection=dict(type='dict', default={}),
            meta=dict(type='dict'),
            server_external_addresses=dict(type='list', elements='str'),
        )),
        pairs=dict(type='list', elements='dict', required=True, options=dict(
            acceptor=dict(type='str', required=True),
            dialer=dict(type='str', required=True),
        )),
        state=dict(type='str', choices=['present', 'absent'], default='present'),
        wait_timeout=dict(type='float', default=120),
    )


def wanted_pairs(params, hide):
    """(acceptor Cluster, dialer Cluster) for every pair, after checking every value the user gave.

    hide(values) is called with each connection's no_log values as soon as they are known.
    """
    clusters = {}
    for entry in params['clusters']:
        connection, secrets = validate_connection_options(entry['connection'], 'clusters[%s].connection'
                                                          % entry['name'])
        hide(secrets)
        cluster = Cluster(entry['name'], connection, entry['peer_name'] or entry['name'], entry['meta'],
                          entry['server_external_addresses'])
        validate_peer_name(cluster.peer_name, 'clusters[%s].peer_name' % cluster.label)
        validate_meta(cluster.meta)
        validate_server_addresses(cluster.server_external_addresses,
                                  'clusters[%s].server_external_addresses' % cluster.label)
        clusters[cluster.label] = cluster
    pairs = []
    for pair in params['pairs']:
        unknown = [pair[side] for side in ('acceptor', 'dialer') if pair[side] not in clusters]
        if unknown:
            raise PeeringError('pairs: %s not in clusters' % ', '.join(repr(name) for name in unknown))
        pairs.append((clusters[pair['acceptor']], clusters[pair['dialer']]))
    validate_mesh(pairs)
    return pairs


def pair_result(run, pair):
    """The pair's record, with each side as last read."""
    record = pair.summary()
    for side, cluster, name in (('acceptor', pair.acceptor, pair.acceptor_name),
                                ('dialer', pair.dialer, pair.dialer_name)):
        record['%s_peering' % side] = next((peering for peering in run.listed.get(cluster.label) or []
                                            if peering.get('Name') == name), None)
    return record


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    secrets = Secrets()

    def fail(msg, **kwargs):
        module.no_log_values.update(secrets.forms)
        module.fail_json(msg=secrets.mask(msg), **kwargs)

    try:
        validate_seconds(module.params['wait_timeout'], 'wait_timeout')
        pairs = wanted_pairs(module.params, lambda values: [secrets.add(value) for value in values])
        warnings = []

        def resolve(connection):
            resolved = resolve_connection(connection)
            warnings.extend(resolved.warnings)
            return resolved

        run = MeshRun(pairs, connect_with(secrets, resolve), module.params['state'], module.params['wait_timeout'])
        module.no_log_values.update(secrets.forms)
        plans = run.plan()
        if not module.check_mode:
            run.run()
    except (ConsulError, PeeringError, OptionError) as exc:
        fail(str(exc))
    for warning in sorted(set(warnings)):
        module.warn(warning)
    result = dict(changed=any(pair.changed for pair in plans), pairs=[pair_result(run, pair) for pair in plans],
                  failed_pairs=[pair.label for pair in plans if pair.error])
    if module._diff:
        result['diff'] = cluster_diffs(plans)
    if result['failed_pairs']:
        fail('%d of %d pairs failed: %s' % (len(result['failed_pairs']), len(plans), '; '.join(
            '%s: %s' % (pair.label, pair.error) for pair in plans if pair.error)), **result)
    module.no_log_values.update(secrets.forms)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
