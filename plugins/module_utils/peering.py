# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Peering logic without I/O: input validation, token decoding, and the plans the modules follow.

A plan function takes the peering as Consul reports it (or None) and what the user wants, and
returns a Plan: the ordered actions to take, whether that is a change, and a secret-free diff.
Behaviour of Consul 1.14 that the plans rely on was measured against real servers; see the notes
in each module's documentation.
"""

from __future__ import annotations

import base64
import binascii
import json
import re

from ansible_collections.consul.peering.plugins.module_utils.options import split_host_port

# Actions a plan can ask for, in the order they are carried out.
GENERATE_TOKEN = 'generate_token'
ESTABLISH = 'establish'
DELETE = 'delete'
WAIT_UNTIL_GONE = 'wait_until_gone'
WAIT_UNTIL_ACTIVE = 'wait_until_active'
WRITE_ACTIONS = frozenset([GENERATE_TOKEN, ESTABLISH, DELETE])

ACTIVE = 'ACTIVE'
PENDING = 'PENDING'
ESTABLISHING = 'ESTABLISHING'
FAILING = 'FAILING'
DELETING = 'DELETING'
TERMINATED = 'TERMINATED'
ABSENT = 'absent'
# A dialer in one of these states holds the secret of the token it was established with, so
# establishing again with the same token would be refused by the acceptor and is not needed.
DIALER_ESTABLISHED_STATES = frozenset([ACTIVE, ESTABLISHING, FAILING])

# Consul's rule for peer names (agent/rpc/peering/validate.go): a lowercase DNS label.
PEER_NAME_RE = re.compile(r'^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$')
# Consul's rules for Meta (agent/structs ValidateMetaTags).
META_KEY_RE = re.compile(r'^[a-zA-Z0-9_-]+$')
META_MAX_PAIRS = 64
META_MAX_KEY = 128
META_MAX_VALUE = 512


class PeeringError(ValueError):
    """Bad input or a situation the module must not act on; the message says what to do."""


class Plan:
    """What a module will do: actions in order, whether they change anything, and the diff."""

    def __init__(self, actions, before, after, warnings=None):
        self.actions = list(actions)
        self.before = before
        self.after = after
        self.warnings = list(warnings or [])

    @property
    def changed(self):
        return any(action in WRITE_ACTIONS for action in self.actions)

    @property
    def diff(self):
        return {'before': self.before, 'after': self.after}

    def __repr__(self):
        return '<Plan %r changed=%s>' % (self.actions, self.changed)


# -- validation -----------------------------------------------------------------------------

def validate_peer_name(name, option='peer_name'):
    """Fail unless `name` is a peer name Consul accepts."""
    if isinstance(name, str) and name != name.strip() and PEER_NAME_RE.fullmatch(name.strip()):
        raise PeeringError('%s %r has white space or a line break around it: remove it (Consul refuses such a '
                           'name, and the peering would be a different one)' % (option, name))
    if not isinstance(name, str) or not PEER_NAME_RE.fullmatch(name):
        raise PeeringError(
            '%s %r is not a valid peer name: Consul requires a DNS label of 1 to 63 lowercase letters, '
            "digits or '-', starting and ending with a letter or digit" % (option, name))


def validate_server_addresses(addresses, option='server_external_addresses'):
    """Fail unless every address is host:port with a port from 1 to 65535."""
    for address in addresses or []:
        if not isinstance(address, str):
            raise PeeringError('%s: %r is not a host:port string' % (option, address))
        if '://' in address or '/' in address:
            raise PeeringError('%s: %r is a URL; write the address as host:port without a scheme or path, for '
                               'example lb.example.com:8503 (peering uses gRPC TLS, never HTTP)' % (option, address))
        try:
            _host, port = split_host_port(address)
        except ValueError as exc:
            raise PeeringError('%s: %r is not a valid host:port address: %s' % (option, address, exc))
        if port is None:
            raise PeeringError('%s: %r has no port; write it as host:port, for example %s:8503'
                               % (option, address, address))


def validate_meta(meta):
    """Fail unless `meta` follows Consul's metadata rules, so that nothing invalid reaches the server."""
    if not meta:
        return
    if len(meta) > META_MAX_PAIRS:
        raise PeeringError('meta has %d pairs; Consul allows at most %d' % (len(meta), META_MAX_PAIRS))
    for key, value in meta.items():
        if not META_KEY_RE.match(key) or len(key) > META_MAX_KEY:
            raise PeeringError('meta key %r is not valid: use 1 to %d letters, digits, "_" or "-"' % (key, META_MAX_KEY))
        if key.startswith('consul-'):
            raise PeeringError('meta key %r is not valid: the "consul-" prefix is reserved by Consul' % key)
        if not isinstance(value, str):
            raise PeeringError('meta value of %r must be a string, not %s; quote it in YAML'
                               % (key, type(value).__name__))
        if len(value) > META_MAX_VALUE:
            raise PeeringError('meta value of %r is longer than %d characters' % (key, META_MAX_VALUE))


# -- tokens ---------------------------------------------------------------------------------

_WHITE_SPACE = re.compile(r'\s+')
# Field of a peering token -> (the JSON type it must have, what to call that type in an error).
_TOKEN_FIELD_TYPES = {
    'PeerID': (str, 'a string'), 'ServerName': (str, 'a string'), 'EstablishmentSecret': (str, 'a string'),
    'ServerAddresses': (list, 'a list'), 'ManualServerAddresses': (list, 'a list'), 'CA': (list, 'a list'),
    'Remote': (dict, 'an object'),
}


def clean_peering_token(token):
    """The token as Consul must receive it: without the white space that copying adds around and inside it.

    Base64 never holds white space, so removing it is safe: a token wrapped at 76 columns (mail, some vault
    tools), folded by YAML's `>` or pasted with a newline is the same token. Consul's own decoder (Go)
    skips only CR and LF; spaces around a token made it refuse one after a write attempt.
    """
    if not isinstance(token, str) or not token.strip():
        raise PeeringError('peering_token is empty')
    return _WHITE_SPACE.sub('', token)


def decode_peering_token(token):
    """Decode a peering token locally; return (token_info without the secret, establishment secret).

    The token is base64 (standard alphabet) of JSON written by Consul's GenerateToken. Errors never
    repeat the token, which is a credential.
    """
    token = clean_peering_token(token)
    try:
        raw = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        raise PeeringError('peering_token is not valid base64: pass the token exactly as consul_peering_token '
                           'or "consul peering generate-token" printed it')
    try:
        data = json.loads(raw.decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        raise PeeringError('peering_token is base64 but does not hold JSON, so it is not a Consul peering token')
    if not isinstance(data, dict):
        raise PeeringError('peering_token does not hold a JSON object, so it is not a Consul peering token')

    wrong = ['%s (%s, not %s)' % (field, kind, type(data[field]).__name__)
             for field, (expected, kind) in sorted(_TOKEN_FIELD_TYPES.items())
             if data.get(field) is not None and not isinstance(data[field], expected)]
    if wrong:
        raise PeeringError('peering_token has fields of the wrong type: %s, so it is not a token Consul generated; '
                           'pass the token exactly as consul_peering_token printed it' % ', '.join(wrong))
    missing = [field for field in ('PeerID', 'ServerAddresses', 'EstablishmentSecret') if not data.get(field)]
    if data.get('CA') and not data.get('ServerName'):
        missing.append('ServerName')
    if missing:
        raise PeeringError('peering_token is missing %s, so it is not a complete Consul peering token'
                           % ', '.join(missing))
    addresses = data['ServerAddresses']
    validate_server_addresses(addresses, option='peering_token ServerAddresses')
    validate_server_addresses(data.get('ManualServerAddresses') or [], option='peering_token ManualServerAddresses')
    ca = data.get('CA') or []
    if not isinstance(ca, list) or not all(isinstance(pem, str) and 'BEGIN CERTIFICATE' in pem for pem in ca):
        raise PeeringError('peering_token has a CA field that is not a list of PEM certificates')
    remote = data.get('Remote') or {}
    if not all(isinstance(remote.get(key), (str, type(None))) for key in ('Datacenter', 'Partition')):
        raise PeeringError('peering_token has a Remote field whose Datacenter or Partition is not a string')
    info = {
        'peer_id': data['PeerID'],
        'server_name': data.get('ServerName'),
        'server_addresses': list(addresses),
        'manual_server_addresses': list(data.get('ManualServerAddresses') or []),
        'ca_present': bool(ca),
        'remote_datacenter': remote.get('Datacenter') or None,
        'remote_partition': remote.get('Partition') or None,
    }
    return info, data['EstablishmentSecret']


# -- reading Consul's peering objects ---------------------------------------------------------

def is_deleting(peering):
    """A peering is on its way out once DeletedAt is set, even if the live state still says ACTIVE."""
    return bool(peering.get('DeletedAt')) or peering.get('State') == DELETING


def is_dialer(peering):
    """The dialing side stores the acceptor's peer ID and server addresses; the acceptor stores neither."""
    return bool(peering.get('PeerID') or peering.get('PeerServerAddresses') or peering.get('ManualServerAddresses'))


def diff_view(peering, name=None):
    """The fields of a peering that a diff shows; never a secret, never volatile counters."""
    if peering is None:
        return {'name': name, 'state': ABSENT}
    view = {
        'name': peering.get('Name', name),
        'state': DELETING if is_deleting(peering) else peering.get('State'),
        'role': 'dialer' if is_dialer(peering) else 'acceptor',
        'id': peering.get('ID'),
        'meta': dict(peering.get('Meta') or {}),
    }
    if is_dialer(peering):
        view['peer_id'] = peering.get('PeerID')
        view['peer_server_name'] = peering.get('PeerServerName')
        view['peer_server_addresses'] = list(peering.get('PeerServerAddresses') or [])
    remote = peering.get('Remote') or {}
    if remote.get('Datacenter'):
        view['remote_datacenter'] = remote['Datacenter']
    return view


def describe_stream(peering):
    """One line on a peering's state and stream health, for wait timeouts and failures."""
    if peering is None:
        return 'the peering does not exist'
    stream = peering.get('StreamStatus') or {}
    parts = ['state %s' % (DELETING if is_deleting(peering) else peering.get('State'))]
    for key, label in (('LastHeartbeat', 'last heartbeat'), ('LastReceive', 'last receive'), ('LastSend', 'last send')):
        value = stream.get(key)
        parts.append('%s %s' % (label, value if value and not value.startswith('0001-') and
                                not value.startswith('1970-') else 'never'))
    parts.append('imported services %d' % len(stream.get('ImportedServices') or []))
    parts.append('exported services %d' % len(stream.get('ExportedServices') or []))
    return ', '.join(parts)


def dialer_matches_token(peering, token_info):
    """The dialing side already holds this token's peering and has exchanged its secret."""
    return (peering is not None and not is_deleting(peering) and is_dialer(peering) and
            peering.get('PeerID') == token_info['peer_id'] and peering.get('State') in DIALER_ESTABLISHED_STATES)


def _meta_warning(current, wanted_meta, side):
    if wanted_meta is None or dict(current.get('Meta') or {}) == dict(wanted_meta):
        return []
    if side == 'acceptor':
        return ['meta differs from the existing peering %r, and Consul keeps the meta a peering was created '
                'with on the accepting side: it is left unchanged. Delete and re-create the peering to change it.'
                % current.get('Name')]
    return ['meta differs from the existing peering %r: Consul only takes new meta when a peering is '
            'established with a fresh token, so it is left unchanged.' % current.get('Name')]


# -- plans ----------------------------------------------------------------------------------

def plan_token(current, peer_name, meta=None, regenerate=False):
    """Plan consul_peering_token: when does the accepting side need a (new) token?"""
    before = diff_view(current, peer_name)
    created = {'name': peer_name, 'state': PENDING, 'role': 'acceptor', 'id': None, 'meta': dict(meta or {})}
    if current is None:
        return Plan([GENERATE_TOKEN], before, created)
    if is_dialer(current):
        raise PeeringError(
            'A peering named %r already exists on this cluster as the dialing side (peer ID %s); a cluster '
            'cannot also accept a peering of the same name. Delete it first, or use another peer_name.'
            % (peer_name, current.get('PeerID')))
    if is_deleting(current):
        # Consul refuses writes to a peering marked for deletion; once it is gone a new one can be made.
        return Plan([WAIT_UNTIL_GONE, GENERATE_TOKEN], before, created)
    if current.get('State') == TERMINATED:
        # Measured on Consul 1.14: a token generated for a TERMINATED acceptor is refused at establish
        # ("invalid peering establishment secret") because the new secret is never stored. The only way
        # to peer again under this name is to delete it and start over.
        return Plan([DELETE, WAIT_UNTIL_GONE, GENERATE_TOKEN], before, created)
    warnings = _meta_warning(current, meta, 'acceptor')
    if regenerate:
        return Plan([GENERATE_TOKEN], before, before, warnings)
    return Plan([], before, before, warnings)


def plan_establish(current, peer_name, token_info=None, meta=None, wait=True, check_mode=False):
    """Plan consul_peering state=present: establish, re-establish, or leave the dialing side alone."""
    before = diff_view(current, peer_name)
    waits = [WAIT_UNTIL_ACTIVE] if wait else []
    warnings = []
    if token_info is None:
        if current is not None and not is_deleting(current):
            return Plan(waits, before, before)
        if not check_mode:
            raise PeeringError('peering_token is required to establish peering %r, which does not exist on this '
                               'cluster%s' % (peer_name, ' (it is being deleted)' if current else ''))
        warnings.append('check mode: no peering_token was given (none exists until the accepting cluster '
                        'generates one), so the peer this would connect to is not known yet')
    after = {'name': peer_name, 'state': ESTABLISHING, 'role': 'dialer', 'id': (current or {}).get('ID'),
             'meta': dict(meta or {})}
    if token_info:
        after.update(peer_id=token_info['peer_id'], peer_server_name=token_info['server_name'],
                     peer_server_addresses=token_info['manual_server_addresses'] or token_info['server_addresses'])
        if token_info['remote_datacenter']:
            after['remote_datacenter'] = token_info['remote_datacenter']
    if current is None:
        return Plan([ESTABLISH] + waits, before, after, warnings)
    if is_deleting(current):
        after['id'] = None
        return Plan([WAIT_UNTIL_GONE, ESTABLISH] + waits, before, after, warnings)
    if not is_dialer(current):
        raise PeeringError(
            'A peering named %r already exists on this cluster as the accepting side (it generated a token); '
            'Consul will not establish over it. Use another peer_name, or delete it first.' % peer_name)
    if dialer_matches_token(current, token_info):
        # Same peering as the token describes, and its secret was already exchanged: nothing to do.
        return Plan(waits, before, before, _meta_warning(current, meta, 'dialer'))
    if current.get('PeerID') != token_info['peer_id']:
        # The token is for another accepting peering (the old one was deleted and re-created, or this
        # is another cluster). Measured on Consul 1.14: re-establishing in place while the old stream is
        # still up lets the old acceptor's late "terminated" message kill the new peering. Replacing the
        # dialing side (delete, wait until gone, establish) avoids that race; its imported data belonged
        # to the old peering anyway.
        after['id'] = None
        return Plan([DELETE, WAIT_UNTIL_GONE, ESTABLISH] + waits, before, after, warnings)
    # Same peer, but its secret exchange never completed (PENDING) or the peer terminated it:
    # Consul re-establishes in place, keeping the local ID.
    return Plan([ESTABLISH] + waits, before, after, warnings)


def plan_delete(current, peer_name, wait=True):
    """Plan consul_peering state=absent: delete from whichever side this cluster is."""
    before = diff_view(current, peer_name)
    gone = diff_view(None, peer_name)
    waits = [WAIT_UNTIL_GONE] if wait else []
    if current is None:
        return Plan([], before, gone)
    if is_deleting(current):
        return Plan(waits, before, gone if wait else before)
    return Plan([DELETE] + waits, before, gone)


def pair_status(acceptor, dialer):
    """Compare the two sides of one peering, as read from the accepting and the dialing cluster.

    `linked` means the dialer holds the acceptor's peering ID and has exchanged its secret, so no
    token or establish is needed (only, perhaps, waiting); `active` means both sides are ACTIVE.
    """
    status = {
        'acceptor_state': diff_view(acceptor)['state'],
        'dialer_state': diff_view(dialer)['state'],
        'linked': False,
        'active': False,
    }
    if acceptor is None:
        status['reason'] = 'the accepting side does not exist'
    elif dialer is None:
        status['reason'] = 'the dialing side does not exist'
    elif is_deleting(acceptor) or is_deleting(dialer):
        status['reason'] = 'a side is being deleted'
    elif is_dialer(acceptor):
        status['reason'] = 'the accepting cluster has this peering as a dialing side'
    elif not is_dialer(dialer):
        status['reason'] = 'the dialing cluster has this peering as an accepting side'
    elif dialer.get('PeerID') != acceptor.get('ID'):
        status['reason'] = 'the dialing side points at another peering (peer ID %s, the accepting side is %s)' % (
            dialer.get('PeerID'), acceptor.get('ID'))
    elif acceptor.get('State') == TERMINATED or not dialer_matches_token(dialer, {'peer_id': acceptor.get('ID')}):
        status['reason'] = 'the peering is %s on the accepting side and %s on the dialing side' % (
            status['acceptor_state'], status['dialer_state'])
    else:
        status['linked'] = True
        status['active'] = acceptor.get('State') == ACTIVE and dialer.get('State') == ACTIVE
        status['reason'] = 'both sides are ACTIVE and point at each other' if status['active'] else \
            'the two sides point at each other; the accepting side is %s and the dialing side %s' % (
                status['acceptor_state'], status['dialer_state'])
    return status


# -- waiting --------------------------------------------------------------------------------

def reached_active(peering, name):
    """Whether a wait for peering `name` to become ACTIVE is over (True) or goes on (False).

    Raises PeeringError, saying what to do on this side, when the peering can no longer become ACTIVE.
    """
    if peering is None:
        raise PeeringError('Peering %r disappeared while waiting for it to become ACTIVE' % name)
    if is_deleting(peering):
        raise PeeringError('Peering %r is being deleted while waiting for it to become ACTIVE' % name)
    if peering.get('State') == TERMINATED:
        if is_dialer(peering):
            raise PeeringError(
                'Peering %r is TERMINATED: the accepting cluster deleted its side. Generate a new token on the '
                'accepting cluster and establish again on this cluster with it.' % name)
        # Measured on Consul 1.14: a token generated for a TERMINATED accepting side can never be used.
        raise PeeringError(
            'Peering %r is TERMINATED: the dialing cluster deleted its side. Generate a new token on this '
            '(accepting) cluster with consul_peering_token, which deletes the TERMINATED side first, and '
            'establish with it on the dialing cluster; the cluster_peering role does both.' % name)
    return peering.get('State') == ACTIVE


def left_by_refused_establish(peering, token_info):
    """Whether `peering` is what a refused establish with this token leaves on the dialing cluster: Consul
    writes the dialing side (PENDING, with the token's peer ID) before it exchanges the secret, and keeps it."""
    return (peering is not None and not is_deleting(peering) and is_dialer(peering) and
            peering.get('State') == PENDING and peering.get('PeerID') == token_info['peer_id'])
