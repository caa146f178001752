#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
module: consul_peering
short_description: Establish or delete a Consul cluster peering
version_added: 0.1.0
description:
  - With O(state=present), establishes the dialing side of a peering with a token generated on the accepting
    cluster (C(POST /v1/peering/establish)) and, with O(wait=true), waits until the peering is C(ACTIVE).
  - With O(state=absent), deletes the peering from this cluster, whichever side it is
    (C(DELETE /v1/peering/:name)), and with O(wait=true) waits until Consul has removed it.
  - The peering token is decoded locally and compared with the existing peering, so a re-run makes no
    write call.
author:
  - consul.peering maintainers (@consul-peering)
extends_documentation_fragment:
  - consul.peering.consul
  - consul.peering.consul.action_group
  - consul.peering.consul.peer_name
  - consul.peering.consul.attributes
options:
  peering_token:
    description:
      - Token generated on the accepting cluster, for example by M(consul.peering.consul_peering_token).
      - Required with O(state=present) when the peering does not exist on this cluster yet. Without it, an
        existing peering (either side) is left as it is and, with O(wait=true), waited for until C(ACTIVE).
      - In check mode it may be missing; the module then reports that it would establish the peering.
      - This is a credential. It never appears in the module's output.
    type: str
  state:
    description:
      - V(present) establishes the peering when needed; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  meta:
    description:
      - Metadata to store on the peering, as string keys and string values. Sent when establishing.
    type: dict
  wait:
    description:
      - With O(state=present), wait until the peering is C(ACTIVE) on this cluster.
      - With O(state=absent), wait until Consul no longer returns the peering (it deletes imported data first).
    type: bool
    default: true
  wait_timeout:
    description:
      - Seconds a wait may take, from its first read, before the module fails; a positive number. The failure
        names the last state seen and the stream status (last heartbeat, last receive and send, imported and
        exported services), and the last error when the last read failed.
      - The worst case of a wait is O(wait_timeout), and nothing more, whatever the server does; every read
        of a wait is cut short at its deadline. A run that waits for an old peering to be removed and then
        for the new one to become C(ACTIVE) can wait twice, plus its write calls (each at most O(timeout)).
      - A wait reads through connection failures, timeouts and HTTP 5xx or 429 answers (a server restarting
        or electing a leader); a TLS failure or any other HTTP 4xx answer ends it at once. For 2 seconds after
        a server came back, its C(ACL not found) and its missing peering are read again, since a restarted
        Consul answers before it has loaded its data.
      - Without O(peering_token), a run with O(state=present) only waits, so its first read is the first
        read of the wait; a server that is down or restarting when the run starts is waited for as well.
      - A peering marked for deletion that Consul leaves unchanged for 10 seconds is sent its C(DELETE)
        again, with a warning. Consul 1.14 can leave one C(TERMINATED) with C(DeletedAt) set for good, and
        a second C(DELETE) removes it at once; for a peering still being deleted, C(DELETE) changes nothing.
    type: int
    default: 120
notes:
  - "O(state=present), depending on the peering named O(peer_name) on this cluster (measured on Consul 1.14):"
  - "B(missing): establishes it with O(peering_token) (C(changed=true))."
  - "B(dialing side with the token's peer ID), state C(ACTIVE), C(ESTABLISHING) or C(FAILING): nothing to do
    (C(changed=false), no write call). Consul would refuse the same token a second time anyway."
  - "B(dialing side with another peer ID) (the accepting side was deleted and created again, or the token is
    from another cluster): deletes the dialing side, waits until Consul has removed it, and establishes it anew
    (C(changed=true); the local peering ID changes). Re-establishing in place was measured to race with the old
    peer's termination message, which can leave the new peering C(TERMINATED)."
  - "B(dialing side with the token's peer ID) whose establishment never completed (C(PENDING)), or that the
    other cluster terminated (C(TERMINATED)): establishes again with the token, in place."
  - "B(accepting side) (this cluster generated a token under that name): fails without a write call when a
    token is given; Consul refuses to dial a peering that is expecting to be dialed."
  - "B(DELETING): waits until Consul has removed it, then establishes."
  - When the accepting cluster refuses the token, or Consul reports that a peering of that name was created
    while the establish was under way, the module waits up to 10 seconds for the peering to be established
    with the same accepting side by someone else (two runs racing on one pair), and only then fails.
  - "A refused token was already used, or a newer token was generated for that peering since, or the accepting
    side was deleted since the token was generated: the accepting cluster cannot tell the dialing cluster
    which. Consul keeps the dialing side it wrote before the refusal (C(PENDING), never dialed); when this run
    created it, the module deletes it, and the failure says so (or says what is left and how to remove it)."
  - Meta of an existing peering only changes when it is established again with a fresh token. A different
    O(meta) alone is reported as a warning.
  - O(state=absent) works from either side. Deleting one side leaves the other side C(TERMINATED) when the
    two were connected; delete it there too.
  - "O(state=absent) warns when this cluster's C(exported-services) entry still names O(peer_name) as a consumer:
    Consul keeps such consumers when a peering is deleted, and applies them again to whichever cluster next
    peers under that name. The check costs one read (C(GET /v1/config/exported-services/default)) in a run that
    finds the peering (and deletes it, or would in check mode); a run that finds none makes its one read only.
    It needs C(mesh:read); a token without it (HTTP 403) skips the check silently. Remove the consumers first with M(consul.peering.consul_exported_services)
    (O(consul.peering.consul_exported_services#module:peers) and C(state=absent), without a service)."
seealso:
  - module: consul.peering.consul_peering_token
  - module: consul.peering.consul_peering_info
  - name: Consul peering HTTP API
    description: The endpoints this module calls.
    link: https://developer.hashicorp.com/consul/api-docs/peering
'''

EXAMPLES = r'''
- name: Establish the peering on dc2 with a token from dc1, and wait until it is ACTIVE
  consul.peering.consul_peering:
    host: consul-dc2.example.com
    scheme: https
    token: "{{ consul_dc2_acl_token }}"
    peer_name: dc1
    peering_token: "{{ dc1_token.token }}"
    meta:
      env: production

- name: Set the connection once for several tasks
  module_defaults:
    group/consul.peering.consul:
      host: consul-dc2.example.com
      scheme: https
      ca_path: /etc/consul/ca.pem
  block:
    - name: Make sure the peering with dc1 exists and is ACTIVE (no token needed once it exists)
      consul.peering.consul_peering:
        peer_name: dc1
        wait_timeout: 300

    - name: Delete the peering with dc3 and wait until Consul has removed it
      consul.peering.consul_peering:
        peer_name: dc3
        state: absent
'''

RETURN = r'''
peering:
  description:
    - The peering as Consul reports it after the run; null once it is deleted. The current one in check mode.
  returned: always
  type: dict
  sample:
    ID: 1f29632e-6e36-1c0e-b6eb-80e3b068f329
    Name: dc1
    State: ACTIVE
    PeerID: f323780b-e0ac-fa2d-3fc4-644276deee31
    PeerServerName: server.dc1.peering.78c3a864-c9fa-ae42-e992-f0cca4a95452.consul
    PeerServerAddresses: ["10.0.0.10:8503"]
    Remote: {Datacenter: dc1, Partition: ""}
token_info:
  description: The O(peering_token) decoded without its secret.
  returned: when O(peering_token) is given
  type: dict
  contains:
    peer_id:
      description: ID of the peering on the accepting cluster.
      type: str
    server_name:
      description: TLS server name of the accepting cluster's servers.
      type: str
    server_addresses:
      description: Addresses of the accepting cluster's servers.
      type: list
      elements: str
    manual_server_addresses:
      description: External addresses set when the token was generated; used instead of RV(token_info.server_addresses).
      type: list
      elements: str
    ca_present:
      description: Whether the token carries the accepting cluster's Connect CA certificates.
      type: bool
    remote_datacenter:
      description: Datacenter of the accepting cluster.
      type: str
    remote_partition:
      description: Admin partition of the accepting cluster (Consul Enterprise), or null.
      type: str
actions:
  description: What the module did (or would do in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [establish, wait_until_active]
'''

from ansible_collections.consul.peering.plugins.module_utils.config_entries import exports_to_peer_warning
from ansible_collections.consul.peering.plugins.module_utils.errors import (
    ConsulError, PeeringNameConflictError, PeeringTokenRejectedError,
)
from ansible_collections.consul.peering.plugins.module_utils.module import DEFAULT_WAIT_TIMEOUT, PeeringModule
from ansible_collections.consul.peering.plugins.module_utils.options import validate_seconds
from ansible_collections.consul.peering.plugins.module_utils.peering import (
    DELETE, ESTABLISH, WAIT_UNTIL_GONE, PeeringError, clean_peering_token, decode_peering_token,
    left_by_refused_establish, plan_delete, plan_establish, validate_meta, validate_peer_name,
)
from ansible_collections.consul.peering.plugins.module_utils.waiting import joined_concurrent_establish


def explain_refused_token(peering_module, name, token_info, refused, grace, created):
    """The failure for a token the accepting cluster refused, once no other run established the peering.

    Consul keeps the dialing side it wrote before it was refused: PENDING, and never dialed. When this run
    created it (`created`), it is deleted here; otherwise the text says what is left and how to remove it.
    """
    text = ('Consul refused the peering token when establishing peering %r (HTTP %s: %s). The token was already '
            'used, a newer token was generated for that peering since, or the accepting side was deleted since '
            'the token was generated. Generate a new token on the accepting cluster and establish again with it.'
            % (name, refused.status, refused.body))
    remove = 'remove it with consul.peering.consul_peering (peer_name: %s, state: absent)' % name
    try:
        left = grace.last if grace.seen else peering_module.read(name)
    except ConsulError as exc:
        return '%s What is left on this cluster could not be read (%s); if a PENDING peering %r is there, %s.' % (
            text, exc, name, remove)
    if left is None:
        return '%s No dialing side is left on this cluster.' % text
    if not left_by_refused_establish(left, token_info):
        return '%s The dialing side on this cluster is left in state %s (peer ID %s).' % (
            text, left.get('State'), left.get('PeerID'))
    if not created:
        return '%s The PENDING dialing side on this cluster existed before this run, so it was left: %s.' % (
            text, remove)
    try:
        peering_module.client.delete_peering(name)
        peering_module.wait_until_gone(name, grace.timeout)
    except (ConsulError, PeeringError) as exc:
        return '%s The PENDING dialing side this run created on this cluster could not be deleted (%s): %s.' % (
            text, exc, remove)
    return '%s The PENDING dialing side this run created on this cluster was deleted.' % text


def establish(peering_module, name, peering_token, token_info, meta, wait_timeout, created):
    """Establish the dialing side; a refusal that another run's success explains is no error (see
    waiting.joined_concurrent_establish), otherwise it stands, explained. `created`: this run's establish
    creates the dialing side.
    """
    try:
        peering_module.client.establish(name, peering_token, meta)
    except (PeeringTokenRejectedError, PeeringNameConflictError) as refused:
        joined, grace = joined_concurrent_establish(
            lambda deadline: peering_module.read(name, deadline), name, token_info, wait_timeout)
        if joined:
            return
        if isinstance(refused, PeeringNameConflictError):
            raise refused
        raise PeeringError(explain_refused_token(peering_module, name, token_info, refused, grace, created))


def main():
    peering_module = PeeringModule(
        argument_spec=dict(
            peer_name=dict(type='str', required=True, aliases=['name']),
            peering_token=dict(type='str', no_log=True),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            meta=dict(type='dict'),
            wait=dict(type='bool', default=True),
            wait_timeout=dict(type='int', default=DEFAULT_WAIT_TIMEOUT),
        ),
    )
    params = peering_module.params
    name, peering_token, meta = params['peer_name'], params['peering_token'], params['meta']
    client = peering_module.client
    result = {}

    with peering_module.fail_on_error():
        wait_timeout = validate_seconds(params['wait_timeout'], 'wait_timeout')
        validate_peer_name(name)
        validate_meta(meta)
        token_info, waiter = None, None
        if peering_token and params['state'] == 'present':
            # The token as Consul must get it: without the white space a paste or a line wrap adds.
            peering_token = clean_peering_token(peering_token)
            peering_module.hide(peering_token)
            token_info, secret = decode_peering_token(peering_token)
            peering_module.hide(secret)
            result['token_info'] = token_info
        if params['state'] == 'present' and token_info is None and params['wait'] and not peering_module.check_mode:
            # Without a token there is nothing to write: the run is a wait for ACTIVE, and its first read is
            # the wait's first. A server restarting between an establish and this run (the role's next task)
            # is waited for, up to wait_timeout from here.
            waiter = peering_module.waiter(name, wait_timeout)
            current = waiter.first_read('become ACTIVE')
        else:
            current = peering_module.read(name)
        if params['state'] == 'absent':
            plan = plan_delete(current, name, wait=params['wait'])
        else:
            plan = plan_establish(current, name, token_info, meta, wait=params['wait'],
                                  check_mode=peering_module.check_mode)
        created = current is None or WAIT_UNTIL_GONE in plan.actions
        steps = {
            ESTABLISH: lambda: establish(peering_module, name, peering_token, token_info, meta, wait_timeout, created),
            DELETE: lambda: client.delete_peering(name),
        }
        result['peering'] = peering_module.execute(plan, name, current, steps, wait_timeout, waiter)
        if params['state'] == 'absent' and current is not None:
            warning = exports_to_peer_warning(client, name, peering_module.partition)
            if warning:
                peering_module.module.warn(warning)
    peering_module.exit(**peering_module.result(plan, **result))


if __name__ == '__main__':
    main()
