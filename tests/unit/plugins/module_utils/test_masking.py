# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest

from ansible_collections.consul.peering.plugins.module_utils.masking import MASK, Secrets

TOKEN = 'b1gs3cret-acl/token+"x"\\y'


@pytest.mark.parametrize('form', [
    TOKEN,
    repr(TOKEN)[1:-1],
    json.dumps(TOKEN)[1:-1],
    quote(TOKEN, safe=''),
    repr(TOKEN.encode())[2:-1],
])
def test_every_form_of_a_secret_is_masked(form):
    secrets = Secrets()
    secrets.add(TOKEN)
    assert secrets.mask('before %s after' % form) == 'before %s after' % MASK


def test_a_token_with_a_trailing_newline_is_masked_as_requests_quotes_it():
    # requests refuses such a header with "Invalid leading whitespace, reserved character(s), or return
    # character(s) in header value: 'abc\\n'": the repr form, which Ansible's no_log does not know.
    secrets = Secrets()
    secrets.add('b1gs3cret-acl-token\n')
    text = "Invalid return character or leading space in header: X-Consul-Token: 'b1gs3cret-acl-token\\n'"
    assert 'b1gs3cret' not in secrets.mask(text)


def test_basic_auth_masks_the_password_and_the_header_value_that_encodes_it():
    secrets = Secrets()
    secrets.add_basic_auth('ops', 'pr0xy-passw0rd')
    header = base64.b64encode(b'ops:pr0xy-passw0rd').decode()
    assert secrets.mask('Authorization: Basic %s; password pr0xy-passw0rd' % header) == \
        'Authorization: Basic %s; password %s' % (MASK, MASK)


def test_the_longest_form_is_masked_first_so_no_piece_is_left():
    secrets = Secrets()
    secrets.add('abc')
    secrets.add('abcdef-long-secret')
    assert secrets.mask('abcdef-long-secret') == MASK


def test_empty_values_are_ignored_and_forms_are_what_ansible_is_told_to_hide():
    secrets = Secrets()
    assert secrets.add(None) == set() and secrets.add('') == set()
    forms = secrets.add(TOKEN)
    assert TOKEN in forms and json.dumps(TOKEN)[1:-1] in secrets.forms
