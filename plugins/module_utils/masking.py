# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The secrets of one module run, in every form a message can carry them, and masking them out of text.

A secret rarely comes back as it was given: requests quotes a bad header value with repr(), a server
echoes it JSON-escaped or URL-quoted, a proxy echoes the Authorization header in base64. Ansible's
no_log masks only the exact value, so every form is registered here and handed to Ansible too.
"""

from __future__ import annotations

import base64
import json

from urllib.parse import quote, quote_plus

MASK = '********'


def secret_forms(secret):
    """`secret` as is and as repr(), JSON and URL quoting write it (and without surrounding white space)."""
    forms = set()
    for value in (secret, secret.strip()):
        if not value:
            continue
        forms.update((value, repr(value)[1:-1], json.dumps(value)[1:-1], quote(value, safe=''),
                      quote_plus(value, safe='')))
        forms.add(repr(value.encode('utf-8', 'replace'))[2:-1])  # b'...' in bytes errors
    return forms


def basic_auth_header(user, password):
    """The value of the Authorization header requests sends for HTTP basic authentication."""
    return 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode('latin-1', 'replace')).decode('ascii')


class Secrets:
    """Every secret of one run; mask(text) replaces each of their forms with a fixed mask."""

    def __init__(self):
        self._forms = set()

    def add(self, secret):
        """Register a secret (None and '' are ignored); return the forms that are now masked."""
        if not secret:
            return set()
        forms = secret_forms(secret)
        self._forms.update(forms)
        return forms

    def add_basic_auth(self, user, password):
        """Register the password of HTTP basic auth and the header value that encodes it."""
        forms = self.add(password)
        if password:
            header = basic_auth_header(user, password)
            forms |= self.add(header[len('Basic '):])
        return forms

    @property
    def forms(self):
        return frozenset(self._forms)

    def mask(self, text):
        """`text` with every form of every secret replaced; the longest first, so no piece of one is left."""
        if not text:
            return text
        for form in sorted(self._forms, key=len, reverse=True):
            text = text.replace(form, MASK)
        return text
