# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one secret scan of the tests, unit and integration alike: no ACL token, password or peering token, in
any form, in what a user or a log collector could see. A failure says which secret by its position only."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote

# Every peering token starts with the base64 of '{"CA":' (Consul marshals the CA field first).
TOKEN_PREFIX = 'eyJDQSI6'
# A whole peering token in a text, for scripts that mask them rather than fail (bench).
PEERING_TOKEN = re.compile(re.escape(TOKEN_PREFIX) + r'[A-Za-z0-9+/=_-]*')
PIECE = 16  # a leak of this many characters of a secret counts as a leak


def secret_forms(secret):
    """`secret` in every form a message can carry it: as is, repr-, JSON- and URL-escaped, base64-encoded,
    and every piece of PIECE characters (a cut-off error text keeps one). Written apart from the product's
    masking on purpose, so that a form it forgets still fails a test."""
    forms = set()
    for value in (secret, secret.strip()):
        forms.update((value, repr(value)[1:-1], json.dumps(value)[1:-1], quote(value, safe=''),
                      base64.b64encode(value.encode()).decode()))
        forms.update(value[start:start + PIECE] for start in range(max(len(value) - PIECE + 1, 1)))
    return forms


def assert_no_secrets(text, *secrets):
    """Fail when any form of any secret, or anything shaped like a peering token, is in `text`: the failure
    names which secret by its position, and never prints it or the text around it into the test log."""
    leaked = [index for index, secret in enumerate(secrets + (TOKEN_PREFIX,))
              if secret and any(form in text for form in secret_forms(secret))]
    assert not leaked, 'secret(s) at position %s of %d (the last is the peering token prefix) found in the output' \
        % (leaked, len(secrets) + 1)
