# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The modules where operators run them: RHEL 9.

The controller stays the main venv; the modules run with a Python 3.9 virtualenv that holds exactly what
RHEL 9 ships (python3-requests 2.25.1, python3-urllib3 1.26.5, python3-idna 2.10, python3-chardet 4.0.0),
set as ansible_python_interpreter, against real clusters with ACLs and HTTPS. `make integration` builds
that virtualenv first (tests/utils/venvs.py build rhel9-modules).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess

import pytest
import yaml

from ansible_collections.consul.peering.tests.support.ansible_cli import run_adhoc, run_playbook
from ansible_collections.consul.peering.tests.support.consul_state import (
    delete_everywhere, read_peering, unique_name, wait_for,
)
from ansible_collections.consul.peering.tests.support.plays import task
from ansible_collections.consul.peering.tests.support.secret_scan import assert_no_secrets
from ansible_collections.consul.peering.tests.utils import venvs

RHEL9_PYTHON = venvs.python_of('rhel9-modules')
RHEL9_VERSIONS = {'python': '3.9', 'requests': '2.25.1', 'urllib3': '1.26.5', 'idna': '2.10', 'chardet': '4.0.0'}

pytestmark = pytest.mark.skipif(
    not os.path.exists(RHEL9_PYTHON),
    reason='the RHEL 9 module interpreter (a Python 3.9 venv) is missing: run '
           '`.venv/bin/python tests/utils/venvs.py build rhel9-modules` (make integration does)')


@pytest.fixture
def rhel9_host_vars(tmp_path):
    """An ad hoc run's playbook folder whose host_vars make localhost run modules with the RHEL 9 Python.

    Playbook-folder host_vars win over the inventory's host vars, which name the controller's Python.
    """
    (tmp_path / 'host_vars').mkdir()
    with open(tmp_path / 'host_vars' / 'localhost.yml', 'w') as handle:
        yaml.safe_dump({'ansible_python_interpreter': RHEL9_PYTHON}, handle)
    return {'ANSIBLE_PLAYBOOK_DIR': str(tmp_path)}


def adhoc(module, args, cluster, rhel9_host_vars, verbosity=0):
    """`ansible localhost -m consul.peering.<module>`, connection through the CLI's variables (as README says)."""
    # The ansible CLI loads callbacks (record_results, which run.results reads) only when asked to.
    env = dict(cluster.connection_env(), ANSIBLE_LOAD_CALLBACK_PLUGINS='1', **rhel9_host_vars)
    return run_adhoc('consul.peering.%s' % module, args, env=env, verbosity=verbosity)


def result_of(run):
    (entry,) = run.results
    return entry['result']


def test_rhel9_interpreter_holds_exactly_rhel9_packages():
    code = ('import sys, requests, urllib3, idna, chardet; print("%d.%d" % sys.version_info[:2], requests.__version__, '
            'urllib3.__version__, idna.__version__, chardet.__version__)')
    found = subprocess.run([RHEL9_PYTHON, '-c', code], check=True, capture_output=True, text=True).stdout.split()
    assert dict(zip(RHEL9_VERSIONS, found)) == RHEL9_VERSIONS


def test_adhoc_info_token_and_establish_on_rhel9_python(dc1, dc2, rhel9_host_vars):
    on_dc1, on_dc2 = unique_name('rhel9-dc2'), unique_name('rhel9-dc1')  # the name each side gives the other
    try:
        info = adhoc('consul_peering_info', 'peer_name=%s' % on_dc1, dc1, rhel9_host_vars, verbosity=3)
        assert info.returncode == 0, info.report()
        assert RHEL9_PYTHON in info.stdout  # -vvv shows the interpreter that ran the module
        assert result_of(info)['exists'] is False

        token = adhoc('consul_peering_token', 'peer_name=%s' % on_dc1, dc1, rhel9_host_vars)
        assert token.returncode == 0, token.report()
        assert result_of(token)['changed'] is True
        assert read_peering(dc1, on_dc1)['State'] == 'PENDING'

        # The module's token is hidden from ad hoc output by design, so the dialing side gets a fresh one from
        # Consul itself (which replaces the first).
        peering_token = dc1.api('POST', '/v1/peering/token', json={'PeerName': on_dc1}).json()['PeeringToken']
        establish = adhoc('consul_peering', 'peer_name=%s peering_token=%s' % (on_dc2, peering_token), dc2,
                          rhel9_host_vars)
        assert establish.returncode == 0, establish.report()
        assert result_of(establish)['changed'] is True
        wait_for(lambda: (read_peering(dc1, on_dc1) or {}).get('State') == 'ACTIVE', what='ACTIVE on dc1')
        assert read_peering(dc2, on_dc2)['State'] == 'ACTIVE'

        again = adhoc('consul_peering_info', 'peer_name=%s' % on_dc2, dc2, rhel9_host_vars)
        assert again.returncode == 0, again.report()
        assert result_of(again)['peering']['State'] == 'ACTIVE'
        # The token's secret is its establishment secret. (Its other parts are public and some show up elsewhere:
        # the trust domain in the server name is also in the CA certificate Consul returns, so a 16-character
        # piece of the whole token can match the CA's PEM by chance.) Any whole token has TOKEN_PREFIX.
        secret = json.loads(base64.b64decode(peering_token))['EstablishmentSecret']
        for run in (info, token, establish, again):
            assert_no_secrets(run.output, dc1.token, dc2.token, secret)
    finally:
        delete_everywhere([dc1, dc2], [on_dc1, on_dc2])


def test_playbook_token_then_establish_on_rhel9_python(dc1, dc2, tmp_path):
    """The usual flow, the token passed from one task to the next, twice: the second run changes nothing."""
    on_dc1, on_dc2 = unique_name('rhel9pb-dc2'), unique_name('rhel9pb-dc1')
    inventory = tmp_path / 'inventory.yml'
    with open(inventory, 'w') as handle:
        yaml.safe_dump({'all': {'hosts': {'localhost': {
            'ansible_connection': 'local', 'ansible_python_interpreter': RHEL9_PYTHON}}}}, handle)
    tasks = [
        dict(task('Token on dc1', dc1, 'consul_peering_token', peer_name=on_dc1), register='dc1_token'),
        task('Establish on dc2', dc2, 'consul_peering', peer_name=on_dc2,
             peering_token="{{ dc1_token.token | default(omit) }}"),
        dict(task('Read on dc1', dc1, 'consul_peering_info', peer_name=on_dc1), register='dc1_peering'),
        {'name': 'Check', 'ansible.builtin.assert': {'that': ["dc1_peering.peering.State == 'ACTIVE'"]}},
    ]
    try:
        first = run_playbook(tasks=tasks, inventory=str(inventory))
        assert first.returncode == 0, first.report()
        assert first.changed_tasks == ['Token on dc1', 'Establish on dc2']
        second = run_playbook(tasks=tasks, inventory=str(inventory))
        assert second.returncode == 0, second.report()
        assert second.changed_tasks == []
        assert_no_secrets(first.output + second.output, dc1.token, dc2.token)
    finally:
        delete_everywhere([dc1, dc2], [on_dc1, on_dc2])
