# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start, show and stop the harness's clusters from the command line, for the demo, molecule and benchmarks.

  python -m ansible_collections.consul.peering.tests.support.cluster_cli start --count 2 --state-dir DIR
  python -m ansible_collections.consul.peering.tests.support.cluster_cli status --state-dir DIR
  python -m ansible_collections.consul.peering.tests.support.cluster_cli stop --state-dir DIR

`start` prints the connection details as JSON (tokens included) and writes them to DIR/clusters.json;
the servers run in the background, in their own session, until `stop`. The collections folder holding
this collection (.venv/collections, which `make` puts on PYTHONPATH) must be on the Python path.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ansible_collections.consul.peering.tests.support.clusters import ClusterSet, HarnessError


def main(argv=None):
    """Command line: start, status or stop the clusters of a state dir."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    start = sub.add_parser('start', help='start clusters in the background and print their details as JSON')
    start.add_argument('--count', type=int, default=2, help='number of clusters, dc1..dcN (default: 2)')
    start.add_argument('--no-acl', dest='acl', action='store_false', help='ACLs off (default: on, default deny)')
    start.add_argument('--no-tls', dest='tls', action='store_false', help='plain HTTP (default: HTTPS only)')
    start.add_argument('--http', action='store_true', help='also listen on plain HTTP when TLS is on')
    start.add_argument('--verify-incoming', action='store_true', help='require client certificates on HTTPS')
    status = sub.add_parser('status', help='show which clusters of a state dir run (exit 1 if any does not)')
    stop = sub.add_parser('stop', help='stop the clusters of a state dir (exit 0 also when already stopped)')
    for command in (start, status, stop):
        command.add_argument('--state-dir', required=True,
                             help='folder holding clusters.json, configs, certificates, data and logs')
    options = parser.parse_args(argv)
    state_dir = os.path.abspath(options.state_dir)
    state_file = os.path.join(state_dir, 'clusters.json')

    if options.command == 'start':
        if os.path.exists(state_file):
            ClusterSet.load(state_dir).stop(keep_logs=True)
        try:
            cluster_set = ClusterSet.start(options.count, acl=options.acl, tls=options.tls, base_dir=state_dir,
                                           verify_incoming=options.verify_incoming, http=options.http, daemon=True)
        except HarnessError as exc:
            print('error: %s' % exc, file=sys.stderr)
            return 1
        cluster_set.save(state_dir)
        # The one place tokens are printed: connection details for scripts, on request.
        print(json.dumps(cluster_set.details(), indent=2))
        print('started %d clusters in %.1f s' % (len(cluster_set), cluster_set.start_seconds), file=sys.stderr)
        return 0

    if not os.path.exists(state_file):
        print('no clusters in %s' % state_dir, file=sys.stderr)
        return 0 if options.command == 'stop' else 1
    cluster_set = ClusterSet.load(state_dir)
    if options.command == 'status':
        running = [cluster.is_running() for cluster in cluster_set]
        for cluster, up in zip(cluster_set, running):
            print('%s %s %s pid %s' % (cluster.name, cluster.address, 'running' if up else 'stopped', cluster.pid))
        return 0 if all(running) else 1
    cluster_set.stop(keep_logs=True)
    os.unlink(state_file)
    print('stopped %d clusters; logs in %s' % (len(cluster_set), state_dir))
    return 0


if __name__ == '__main__':
    sys.exit(main())
