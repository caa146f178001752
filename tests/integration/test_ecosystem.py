# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The collection as users get it: a built tarball, installed; jobs run by ansible-runner (AWX); the example
execution environment, built from that tarball as far as ansible-builder goes without a container engine."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import ansible_runner
import pytest
import yaml

from ansible_collections.consul.peering.tests.support.ansible_cli import (
    BIN, ROOT, collections_path, run_playbook, user_environ,
)
from ansible_collections.consul.peering.tests.support.consul_state import delete_everywhere, read_peering
from ansible_collections.consul.peering.tests.support.secret_scan import assert_no_secrets


def inventory_for(path, dc1, dc2, acceptor_name, dialer_name):
    hosts = {
        'dc1': {'consul_connection': dc1.module_args(), 'consul_peer_name': dialer_name},
        'dc2': {'consul_connection': dc2.module_args(), 'consul_peer_name': acceptor_name},
    }
    # dc1 names its peer after dc2's consul_peer_name, and the other way round.
    group_vars = {'consul_peerings': [{'acceptor': 'dc1', 'dialer': 'dc2'}]}
    with open(path, 'w') as handle:
        yaml.safe_dump({'all': {'children': {'consul_clusters': {'hosts': hosts, 'vars': group_vars}}}}, handle)
    return path


@pytest.fixture(scope='module')
def tarball(tmp_path_factory):
    out = tmp_path_factory.mktemp('build')
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'build', '--output-path', str(out), ROOT],
                   check=True, capture_output=True, text=True, env=user_environ())
    (path,) = glob.glob(str(out / 'consul-peering-*.tar.gz'))
    return path


def test_built_tarball_ships_the_collection_and_nothing_else(tarball):
    listing = subprocess.run(['tar', '-tzf', tarball], check=True, capture_output=True, text=True).stdout.split()
    for needed in ('plugins/modules/consul_peering.py', 'plugins/module_utils/api.py', 'roles/cluster_peering/tasks/main.yml',
                   'playbooks/peer_clusters.yml', 'meta/runtime.yml', 'meta/execution-environment.yml',
                   'requirements.txt', 'bindep.txt', 'README.md', 'CHANGELOG.rst'):
        assert needed in listing
    for unwanted in ('.venv', '.ci', 'tests/consul', 'demo', 'Makefile'):
        assert not any(name == unwanted or name.startswith(unwanted + '/') for name in listing), unwanted


def test_installed_tarball_runs_the_peering_playbook(tarball, tmp_path, dc1, dc2):
    collections = tmp_path / 'collections'
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', tarball, '-p', str(collections)],
                   check=True, capture_output=True, text=True, env=user_environ(ANSIBLE_COLLECTIONS_PATH=str(collections)))
    names = ('inst-dc2', 'inst-dc1')
    inventory = inventory_for(str(tmp_path / 'inventory.yml'), dc1, dc2, *names)
    env = {'ANSIBLE_COLLECTIONS_PATH': str(collections)}
    try:
        run = run_playbook(playbook='consul.peering.peer_clusters', inventory=inventory, env=env)
        assert run.returncode == 0, run.report()
        assert read_peering(dc1, 'inst-dc2')['State'] == 'ACTIVE'
        doc = subprocess.run([os.path.join(BIN, 'ansible-doc'), 'consul.peering.consul_peering'],
                             env=user_environ(ANSIBLE_COLLECTIONS_PATH=str(collections)),
                             capture_output=True, text=True, check=True).stdout
        assert str(collections) in doc
    finally:
        delete_everywhere([dc1, dc2], names)


def test_ansible_runner_job_events_show_changes_and_no_secrets(tmp_path, dc1, dc2):
    """AWX runs jobs through ansible-runner: its events and artifacts must carry no token."""
    private = tmp_path / 'runner'
    (private / 'project').mkdir(parents=True)
    (private / 'inventory').mkdir()
    (private / 'env').mkdir()
    names = ('awx-dc2', 'awx-dc1')
    inventory_for(str(private / 'inventory' / 'hosts.yml'), dc1, dc2, *names)
    with open(os.path.join(ROOT, 'playbooks', 'peer_clusters.yml')) as src:
        (private / 'project' / 'peer.yml').write_text(src.read())
    envvars = {'ANSIBLE_COLLECTIONS_PATH': collections_path(), 'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
               'ANSIBLE_NOCOLOR': '1', 'PATH': user_environ()['PATH']}
    (private / 'env' / 'envvars').write_text(yaml.safe_dump(envvars))
    try:
        first = ansible_runner.run(private_data_dir=str(private), playbook='peer.yml', quiet=True, verbosity=3)
        assert first.status == 'successful', first.stdout.read()
        # One task peers the whole inventory, run once (on the first cluster host).
        assert first.stats['changed'] == {'dc1': 1}
        second = ansible_runner.run(private_data_dir=str(private), playbook='peer.yml', quiet=True)
        assert second.status == 'successful'
        assert second.stats['changed'] == {}

        events = [event for run in (first, second) for event in run.events]
        changed = [e['event_data']['task'] for e in events
                   if e['event'] == 'runner_on_ok' and e['stdout'].startswith('changed:')]
        assert changed == ['Set every pair of the inventory to present']
        artifacts = ''
        for path in glob.glob(str(private / 'artifacts' / '**' / '*'), recursive=True):
            if os.path.isfile(path):
                with open(path, errors='replace') as handle:
                    artifacts += handle.read()
        assert artifacts
        assert_no_secrets(artifacts, dc1.token, dc2.token, 'EstablishmentSecret')
        assert read_peering(dc2, 'awx-dc1')['State'] == 'ACTIVE'
    finally:
        delete_everywhere([dc1, dc2], names)


def test_execution_environment_builds_from_the_tarball_with_ansible_builder(tarball, tmp_path):
    """`ansible-builder create` on the example EE, then its galaxy and introspect steps replayed here (a build
    needs a container engine): the collection installs from the locally built tarball, and the Python and
    system requirements merge with the collection's own."""
    source = tmp_path / 'ee'
    shutil.copytree(os.path.join(ROOT, 'docs', 'execution-environment'), str(source),
                    ignore=shutil.ignore_patterns('collections', 'context'))
    (source / 'collections').mkdir()
    shutil.copy(tarball, str(source / 'collections' / 'consul-peering.tar.gz'))
    context = tmp_path / 'context'
    subprocess.run([os.path.join(BIN, 'ansible-builder'), 'create', '-f', str(source / 'execution-environment.yml'),
                    '-c', str(context)], check=True, capture_output=True, text=True, env=user_environ())
    (containerfile,) = [path for path in (context / 'Containerfile', context / 'Dockerfile') if path.exists()]
    instructions = containerfile.read_text()
    with open(source / 'execution-environment.yml') as handle:
        definition = yaml.safe_load(handle)
    base_image = definition['images']['base_image']['name']
    assert not base_image.endswith(':latest') and (':' in base_image.rsplit('/', 1)[-1] or '@sha256:' in base_image)
    assert 'ARG EE_BASE_IMAGE="%s"' % base_image in instructions
    assert 'ansible-core==' in instructions and 'ansible-runner==' in instructions
    build = context / '_build'
    assert (build / 'collections' / 'consul-peering.tar.gz').is_file()

    # The galaxy stage: `ansible-galaxy collection install -r requirements.yml` in /build, offline.
    share = tmp_path / 'share'
    subprocess.run([os.path.join(BIN, 'ansible-galaxy'), 'collection', 'install', '-r', 'requirements.yml',
                    '--collections-path', str(share)], cwd=str(build), check=True, capture_output=True, text=True,
                   env=user_environ(ANSIBLE_GALAXY_DISABLE_GPG_VERIFY='1'))
    with open(share / 'ansible_collections' / 'consul' / 'peering' / 'MANIFEST.json') as handle:
        assert json.load(handle)['collection_info']['version'] == definition_version()
    # The builder stage: introspect the installed collections, merged with the EE's own requirements.txt.
    pip_out, bindep_out = tmp_path / 'pip.txt', tmp_path / 'bindep.txt'
    subprocess.run([sys.executable, str(build / 'scripts' / 'introspect.py'), 'introspect',
                    '--user-pip=%s' % (build / 'requirements.txt'), '--write-pip=%s' % pip_out,
                    '--write-bindep=%s' % bindep_out, str(share.parent / share.name)],
                   check=True, capture_output=True, text=True, env=user_environ())
    merged = pip_out.read_text()
    with open(os.path.join(ROOT, 'requirements.txt')) as handle:
        floors = [line.strip() for line in handle if line.strip() and not line.startswith('#')]
    for floor in floors:
        assert '%s  # from collection consul.peering' % floor in merged
    assert 'requests==' in merged  # the EE pins what it installs
    assert 'ca-certificates' in bindep_out.read_text()
    # The pins and the collection's floors resolve together (pip asks PyPI; nothing is installed).
    resolve = subprocess.run([sys.executable, '-m', 'pip', 'install', '--dry-run', '--ignore-installed', '--quiet',
                              '--disable-pip-version-check', '-r', str(pip_out)], capture_output=True, text=True,
                             check=False)
    assert resolve.returncode == 0, resolve.stderr[-3000:]
    # ansible-builder's own reading of meta/execution-environment.yml in the work tree agrees.
    introspect = subprocess.run([os.path.join(BIN, 'ansible-builder'), 'introspect', '--sanitize', collections_path()],
                                check=True, capture_output=True, text=True, env=user_environ()).stdout
    assert 'requests' in introspect
    assert 'ca-certificates' in introspect


def definition_version():
    with open(os.path.join(ROOT, 'galaxy.yml')) as handle:
        return str(yaml.safe_load(handle)['version'])
