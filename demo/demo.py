# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one-command demo: two local Consul clusters peered by the collection's playbook, then a service exported.

Starts dc1 and dc2 (ACLs and HTTPS on) with the test harness, writes an inventory for them, shows what
`ansible-playbook consul.peering.peer_clusters --check --diff` would change, peers them, shows both sides
ACTIVE, registers a service `web` on dc1 and exports it to dc2 through the inventory (`consul_exports`),
shows dc2's view of it (healthy instances imported from dc1), re-runs to show zero changes, and stops the
clusters (or keeps them with --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

from ansible_collections.consul.peering.tests.support import cluster_cli, plays
from ansible_collections.consul.peering.tests.support.ansible_cli import collections_path
from ansible_collections.consul.peering.tests.support.clusters import ClusterSet

BIN = os.path.dirname(sys.executable)


def banner(text):
    print('\n\033[1m==> %s\033[0m' % text if sys.stdout.isatty() else '\n==> %s' % text, flush=True)


def connection_from_environment(cluster):
    """The cluster's connection settings, with its ACL token read from the environment (DEMO_<NAME>_TOKEN)."""
    connection = cluster.module_args()
    # Tokens stay out of the inventory file: each cluster's ACL token comes from the environment.
    connection['token'] = "{{ lookup('ansible.builtin.env', 'DEMO_%s_TOKEN') }}" % cluster.name.upper()
    return connection


def write_inventory(state_dir, clusters, exports=None):
    """The inventory a user would write: clusters as hosts, connection settings as host vars, and `exports`
    ({cluster: consul_exports}) on the hosts of the clusters that export services."""
    host_vars = dict((name, {'consul_exports': services}) for name, services in (exports or {}).items() if services)
    return plays.write_inventory(os.path.join(state_dir, 'inventory.yml'), clusters, connection=connection_from_environment,
                                 host_vars=host_vars, consul_peerings=[{'acceptor': 'dc1', 'dialer': 'dc2'}])


def ansible_env(clusters):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=collections_path(), ANSIBLE_NOCOLOR='1',
               ANSIBLE_HOST_KEY_CHECKING='false', ANSIBLE_DISPLAY_SKIPPED_HOSTS='false')
    for cluster in clusters:
        env['DEMO_%s_TOKEN' % cluster.name.upper()] = cluster.token
    return env


def run(command, env):
    print('$ %s' % ' '.join(command), flush=True)
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    print(result.stdout.rstrip())
    if result.returncode:
        print(result.stderr.rstrip(), file=sys.stderr)
        raise SystemExit('command failed with exit status %d' % result.returncode)
    return result.stdout


def playbook(inventory, env, *extra):
    return run([os.path.join(BIN, 'ansible-playbook'), 'consul.peering.peer_clusters', '-i', inventory] +
               list(extra), env)


def recap_changed(output):
    return sum(int(count) for count in re.findall(r'changed=(\d+)', output))


def adhoc(cluster, env, module, args=''):
    """Run a module of the collection ad hoc against `cluster` (connection from the environment, as an operator
    would: no token on the command line) and return its result."""
    cluster_env = dict(env)
    cluster_env.update(cluster.connection_env())
    command = [os.path.join(BIN, 'ansible'), 'localhost', '-o', '-m', module] + (['-a', args] if args else [])
    result = subprocess.run(command, env=cluster_env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.split('=>', 1)[1])


def print_table(rows):
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print('  '.join(str(value).ljust(width) for value, width in zip(row, widths)))


def peering_table(clusters, env):
    """Read each side with the collection's info module, ad hoc, and print one row per peering."""
    rows = [('cluster', 'peer', 'state', 'peer ID')]
    for cluster in clusters:
        for peering in adhoc(cluster, env, 'consul.peering.consul_peering_info')['peerings']:
            rows.append((cluster.name, peering['Name'], peering['State'], peering.get('PeerID') or
                         '(accepting side: dialer holds %s)' % peering['ID']))
    print_table(rows)
    return rows[1:]


def import_table(cluster, env, service, peer):
    """What `cluster` imports of `service` from `peer`, read with consul_imported_service_info; one row each."""
    data = adhoc(cluster, env, 'consul.peering.consul_imported_service_info', 'service=%s peer=%s' % (service, peer))
    rows = [('on', 'service', 'from peer', 'instance', 'address', 'status')]
    rows.extend((cluster.name, item['service'], item['peer'], item['id'], '%s:%s' % (item['address'], item['port']),
                 item['status']) for item in data['instances'])
    print_table(rows)
    return data['summary']


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--keep', action='store_true', help='leave the clusters running and print how to reach them')
    options = parser.parse_args()

    state_dir = tempfile.mkdtemp(prefix='consul-peering-demo-')
    banner('Starting two Consul clusters on 127.0.0.1 (ACLs default-deny, HTTPS only)')
    clusters = ClusterSet.start(2, acl=True, tls=True, base_dir=state_dir, daemon=options.keep)
    try:
        for cluster in clusters:
            print('%s: %s (CA %s)' % (cluster.name, cluster.address, cluster.ca_file))
        inventory = write_inventory(state_dir, clusters)
        env = ansible_env(clusters)
        print('inventory: %s' % inventory)

        banner('Check mode: what would change on each side (nothing is written)')
        playbook(inventory, env, '--check', '--diff')

        banner('Peering dc1 (accepts) and dc2 (dials)')
        playbook(inventory, env)

        banner('Both sides, as the consul_peering_info module reads them')
        rows = peering_table(clusters, env)
        if [row[2] for row in rows] != ['ACTIVE', 'ACTIVE']:
            raise SystemExit('expected both sides ACTIVE')

        banner('Registering web on dc1 and exporting it to dc2: consul_exports {web: [dc2]} on dc1 in the inventory')
        # Through the agent API (a service of the agent's own node), without a check: it is passing.
        clusters[0].api('PUT', '/v1/agent/service/register', json={'Name': 'web', 'ID': 'web-1', 'Port': 8080})
        inventory = write_inventory(state_dir, clusters, exports={'dc1': {'web': ['dc2']}})
        playbook(inventory, env)

        banner("dc2's view: instances of web imported from dc1, as consul_imported_service_info reads them")
        summary = import_table(clusters[1], env, 'web', 'dc1')
        if summary['passing'] != 1:
            raise SystemExit('expected one passing instance of web on dc2, imported from dc1')

        banner('Running the playbook again: nothing to do')
        again = playbook(inventory, env)
        print('changed tasks on the re-run: %d' % recap_changed(again))
        if recap_changed(again):
            raise SystemExit('the re-run changed something')
    except BaseException:
        clusters.stop(keep_logs=True)
        raise

    if options.keep:
        clusters.save(state_dir)
        banner('Clusters left running')
        for cluster in clusters:
            # The management token goes to a file only the user can read, not to the terminal or a CI log.
            env_file = os.path.join(state_dir, '%s.env' % cluster.name)
            with os.fdopen(os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as handle:
                handle.writelines('export %s=%s\n' % item for item in sorted(cluster.connection_env().items()))
            print('%s: %s (for the consul CLI and the modules: source %s)' % (cluster.name, cluster.address, env_file))
        print('inventory: %s\nstop them with: PYTHONPATH=%s %s -m %s stop --state-dir %s' % (
            inventory, collections_path(), sys.executable, cluster_cli.__name__, state_dir))
    else:
        banner('Stopping the clusters')
        clusters.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
