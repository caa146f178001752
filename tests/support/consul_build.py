# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Find or build the Consul server binary that the tests, the demo and the benchmarks run.

Order: $CONSUL_BIN; a `consul` on PATH that is 1.14 or newer (peering with a gRPC TLS port); the cache
${XDG_CACHE_HOME:-~/.cache}/consul-peering/consul-<version>/consul; else build the version pinned in
tests/consul/go.mod into that cache with the installed Go (a few minutes on 2 cores). Prints the binary's
path on stdout. Before building it checks that the pinned module graph holds no forbidden module and that
Consul's LICENSE is MPL-2.0. Standard library only, so it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

GO_MODULE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'consul')
CONSUL_MODULE = 'github.com/hashicorp/consul'
# Consul 1.15+ depends on these; the environment marks them as not to be used (not open source).
FORBIDDEN_MODULES = ('github.com/hashicorp/consul/envoyextensions', 'github.com/hashicorp/consul/troubleshoot')
# 1.14 is the first release whose servers have the gRPC TLS port that peering tokens advertise.
MIN_VERSION = (1, 14)


class BuildError(RuntimeError):
    """The binary cannot be found, checked or built; the message says why."""


def pinned_version():
    """The Consul version tests/consul/go.mod requires, e.g. '1.14.11'."""
    with open(os.path.join(GO_MODULE_DIR, 'go.mod'), encoding='utf-8') as handle:
        match = re.search(r'^require %s v(\S+)$' % re.escape(CONSUL_MODULE), handle.read(), re.MULTILINE)
    if not match:
        raise BuildError('tests/consul/go.mod does not require %s' % CONSUL_MODULE)
    return match.group(1)


def cache_path(version):
    """Where the build of `version` is cached: outside the repo, keyed by version."""
    cache = os.environ.get('XDG_CACHE_HOME') or os.path.expanduser('~/.cache')
    return os.path.join(cache, 'consul-peering', 'consul-%s' % version, 'consul')


def binary_version(path):
    """(major, minor, patch) of a consul binary, or None when it does not run or says no version."""
    try:
        out = subprocess.run([path, 'version'], capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'Consul v(\d+)\.(\d+)\.(\d+)', out)
    return tuple(int(part) for part in match.groups()) if match else None


def _go(*args, capture=True):
    if not shutil.which('go'):
        raise BuildError('Go is not installed: install Go, or set CONSUL_BIN to a Consul >= 1.14 binary')
    result = subprocess.run(('go',) + args, cwd=GO_MODULE_DIR, capture_output=capture, text=True, check=False)
    if result.returncode:
        raise BuildError('go %s failed:\n%s%s' % (' '.join(args), result.stdout or '', result.stderr or ''))
    return result.stdout


def forbidden_in_graph(graph):
    """The forbidden module paths that occur (at any version) in `go mod graph` output."""
    paths = set(node.split('@', 1)[0] for node in graph.split())
    return sorted(paths.intersection(FORBIDDEN_MODULES))


def check_pin():
    """Fail unless the pinned module graph is free of forbidden modules and Consul's licence is MPL-2.0.

    Returns the pinned version.
    """
    found = forbidden_in_graph(_go('mod', 'graph'))
    if found:
        raise BuildError('the Consul module graph contains modules that must not be used: %s' % ', '.join(found))
    version = pinned_version()
    module_dir = _download(version)['Dir']
    license_file = os.path.join(module_dir, 'LICENSE')
    with open(license_file, encoding='utf-8') as handle:
        text = handle.read(2000)
    # BUSL-1.1 (Consul 1.17+) would name itself here instead.
    if 'Mozilla Public License, version 2.0' not in text:
        raise BuildError('%s is not the MPL-2.0 licence; refusing to build a non-open-source Consul' % license_file)
    return version


def _download(version):
    """`go mod download -json` of the pinned Consul: its folder in GOMODCACHE and its .info file."""
    return json.loads(_go('mod', 'download', '-json', '%s@v%s' % (CONSUL_MODULE, version)))


def _ldflags(version):
    """Linker flags that stamp what a release build stamps and a module build can know.

    Consul's release builds set version.BuildDate to the release commit's date; the module proxy's .info
    holds the tag's time, which is the same thing. GitCommit stays empty: the proxy does not say it.
    """
    with open(_download(version)['Info'], encoding='utf-8') as handle:
        released = json.load(handle).get('Time', '')
    if not released:
        return []
    return ['-ldflags', '-X %s/version.BuildDate=%s' % (CONSUL_MODULE, released)]


def build(destination):
    """Build the pinned Consul into `destination` (atomically) and return the seconds it took."""
    version = check_pin()
    started = time.monotonic()
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    # Build next to the destination, then rename: a half-written binary is never found by a later run.
    fd, partial = tempfile.mkstemp(prefix='consul.partial.', dir=os.path.dirname(destination))
    os.close(fd)
    try:
        print('Building Consul %s with %s (a few minutes on a cold build cache) ...'
              % (version, _go('version').strip()), file=sys.stderr, flush=True)
        _go('build', '-trimpath', *_ldflags(version), '-o', partial, CONSUL_MODULE, capture=False)
        os.chmod(partial, 0o755)
        os.replace(partial, destination)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return time.monotonic() - started


def consul_binary(allow_build=True):
    """Return the path of the Consul binary to use, building the pinned one when needed."""
    explicit = os.environ.get('CONSUL_BIN')
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise BuildError('CONSUL_BIN=%s is not an executable file' % explicit)
        return explicit
    on_path = shutil.which('consul')
    if on_path and (binary_version(on_path) or (0,)) >= MIN_VERSION:
        return on_path
    cached = cache_path(pinned_version())
    if os.access(cached, os.X_OK):
        return cached
    if not allow_build:
        raise BuildError('no Consul binary: run tests/support/consul_build.py to build one')
    seconds = build(cached)
    print('Built %s in %.0f s' % (cached, seconds), file=sys.stderr)
    return cached


def main(argv=None):
    """Command line: print the binary's path (building it if needed), or only check the pin."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--check-pin', action='store_true',
                        help='only check that the pinned module graph and licence are allowed')
    options = parser.parse_args(argv)
    started = time.monotonic()
    try:
        if options.check_pin:
            print('Consul %s: MPL-2.0, no forbidden modules in the graph' % check_pin())
            return 0
        path = consul_binary()
    except BuildError as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 1
    print(path)
    print('Consul binary resolved in %.1f s' % (time.monotonic() - started), file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
