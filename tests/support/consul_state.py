# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Small helpers the integration tests share: tasks aimed at a cluster, Consul's own view, call counting."""

from __future__ import annotations

import base64
import itertools
import json
import time
from urllib.parse import quote

_names = itertools.count(1)

WRITE_METHODS = ('POST', 'PUT', 'DELETE')
# Every peering token starts with the base64 of '{"CA":' (Consul marshals the CA field first).
TOKEN_PREFIX = 'eyJDQSI6'


PIECE = 16  # a leak of this many characters of a secret counts as a leak


def secret_forms(secret):
    """`secret` in every form a message can carry it: as is, repr-, JSON- and URL-escaped, base64-encoded,
    and every piece of PIECE characters (a cut-off error text keeps one). Written apart from the product's
    masking on purpose, so that a form it forgets still fails a test."""
    forms = set()
    for value in {secret, secret.strip()}:
        forms.update((value, repr(value)[1:-1], json.dumps(value)[1:-1], quote(value, safe=''),
                      base64.b64encode(value.encode()).decode()))
        forms.update(value[start:start + PIECE] for start in range(max(len(value) - PIECE + 1, 1)))
    return forms


def basic_auth(user, password):
    """The Authorization header value that carries `password`: a secret of its own."""
    return base64.b64encode(('%s:%s' % (user, password)).encode()).decode()


def assert_no_secrets(text, *secrets):
    """Fail when any form of any secret, or anything shaped like a peering token, is in `text`: the failure
    names which secret by its position, and never prints it or the text around it into the test log."""
    leaked = [index for index, secret in enumerate(secrets + (TOKEN_PREFIX,))
              if secret and any(form in text for form in secret_forms(secret))]
    assert not leaked, 'secret(s) at position %s of %d (the last is the peering token prefix) found in the output' \
        % (leaked, len(secrets) + 1)


def unique_name(prefix):
    """A peer name no other test uses, so tests can share the session's clusters."""
    return '%s-%d-%d' % (prefix, int(time.time()) % 100000, next(_names))


def task(title, cluster, module, **args):
    """A playbook task running consul.peering.<module> against `cluster` with its connection options."""
    merged = dict(cluster.module_args())
    merged.update(args)
    return {"name": title, "consul.peering.%s" % module: merged}


def read_peering(cluster, name):
    """The peering as Consul itself reports it (through the management token), or None."""
    response = cluster.api('GET', '/v1/peering/%s' % name, expect=(200, 404))
    return response.json() if response.status_code == 200 else None


def wait_for(predicate, timeout=60, interval=0.25, what='condition'):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %ss waiting for %s' % (timeout, what))
        time.sleep(interval)


def delete_everywhere(clusters, names):
    """Delete peerings by name on every cluster and wait until they are gone (test clean-up)."""
    for cluster in clusters:
        for name in names:
            cluster.api('DELETE', '/v1/peering/%s' % name, expect=(200, 404))
    for cluster in clusters:
        for name in names:
            wait_for(lambda c=cluster, n=name: read_peering(c, n) is None, what='%s gone on %s' % (name, cluster.name))


def write_calls(cluster, since):
    """HTTP calls that could change Consul, as Consul logged them since the mark."""
    return [call for call in cluster.http_requests(since=since) if call[0] in WRITE_METHODS]


def peering_calls(cluster, since):
    """Calls to the peering endpoints only (the harness's own health checks excluded)."""
    return [call for call in cluster.http_requests(since=since) if '/peering' in call[1]]
