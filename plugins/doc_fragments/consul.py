# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    """Connection options and attributes shared by every consul.peering module."""

    DOCUMENTATION = r'''
options:
  host:
    description:
      - Host name or IP address (IPv4, or IPv6 with or without brackets) of the Consul agent or server to talk to.
        White space around it is removed. A URL or C(host:port) is refused before any call; set O(scheme) and
        O(port), or E(CONSUL_HTTP_ADDR).
      - When not set, the host part of E(CONSUL_HTTP_ADDR) is used, and then C(localhost).
    type: str
  port:
    description:
      - Port of Consul's HTTP(S) API.
      - When not set, the port part of E(CONSUL_HTTP_ADDR) is used, and then C(8500) for O(scheme=http)
        or C(8501) for O(scheme=https).
    type: int
  scheme:
    description:
      - Protocol of Consul's HTTP API.
      - When not set, the scheme part of E(CONSUL_HTTP_ADDR) is used, then C(https) if E(CONSUL_HTTP_SSL) is
        true, and then C(http).
    type: str
    choices: [http, https]
  validate_certs:
    description:
      - Whether to verify the TLS certificate of the Consul server. Only set this to V(false) for tests;
        prefer O(ca_path).
      - When not set, E(CONSUL_HTTP_SSL_VERIFY) is used, and then V(true).
    type: bool
  ca_path:
    description:
      - CA bundle file, or directory of CA certificates, used to verify the Consul server certificate.
      - A directory is read as the Consul CLI reads it, every PEM certificate in it and its subdirectories
        (it need not be prepared with C(c_rehash)); files holding no certificate are skipped.
      - When not set, E(CONSUL_CACERT) or E(CONSUL_CAPATH) is used, and then the CA bundle the Python
        C(requests) library ships (certifi). E(REQUESTS_CA_BUNDLE) is ignored, so that only the Consul CLI's
        variables decide whom the modules trust.
    type: path
  client_cert:
    description:
      - Client certificate (PEM) for Consul servers that verify HTTPS clients (C(verify_incoming)).
      - It may hold the private key too; otherwise set O(client_key).
      - When not set, E(CONSUL_CLIENT_CERT) is used.
    type: path
  client_key:
    description:
      - Private key (PEM) of O(client_cert).
      - When not set, E(CONSUL_CLIENT_KEY) is used.
    type: path
  tls_server_name:
    description:
      - Server name to send (SNI) and to check the server certificate against, instead of O(host).
      - Use it to reach a server by IP address or through a load balancer while its certificate names it
        C(server.<datacenter>.<domain>), as certificates made by C(consul tls cert create) do.
      - When not set, E(CONSUL_TLS_SERVER_NAME) is used, and then O(host).
      - It has no effect with O(scheme=http); the modules then warn.
    type: str
  token:
    description:
      - ACL token sent to Consul in the C(X-Consul-Token) header.
      - The modules need C(peering:read) to read and C(peering:write) to change peerings
        (or C(operator:read) / C(operator:write) where the policy has no peering rule).
      - When not set, the contents of the file named by E(CONSUL_HTTP_TOKEN_FILE) are used, and then
        E(CONSUL_HTTP_TOKEN); as in the Consul CLI, the file wins when both are set, and an empty file falls back
        to the variable.
      - White space and newlines around the token are removed, wherever it comes from. A line break, another
        control character or a non-ASCII character left inside (a comment line in a token file, say) is refused
        before any call; the error names the option or variable, never the value.
      - The token never appears in the module's output, errors or diffs, in any form (as is, escaped or
        encoded), and it is only sent to the configured address; redirects are never followed.
    type: str
  http_auth:
    description:
      - HTTP basic authentication, as C(user:password) or C(user), for a proxy in front of Consul that asks for it.
        Consul itself ignores it; its ACLs use O(token).
      - When not set, E(CONSUL_HTTP_AUTH) is used. The value never appears in the module's output, nor does the
        C(Authorization) header that carries it.
    type: str
  timeout:
    description:
      - The most one HTTP call to Consul may take, in seconds, from connecting to the last byte of the answer,
        retries included; a server that answers slowly, or a byte at a time, is cut off then. A positive,
        finite number.
      - Reads (and deletes, which Consul treats as idempotent) that fail to connect, or get an HTTP 5xx answer,
        are retried up to three times within that time, after 0.5, 1 and 2 seconds. Token generation and
        establishment are retried only when they cannot have reached Consul (connection refused).
      - A run makes a handful of calls (see each module's notes), each within O(timeout); waits are bounded by
        their own C(wait_timeout), their reads included.
    type: float
    default: 30
  use_proxy:
    description:
      - Whether to reach Consul through the proxy that E(HTTPS_PROXY) (for O(scheme=https)) or E(HTTP_PROXY)
        (for O(scheme=http)) names, as the Consul CLI does. Upper- and lower-case names are read.
      - E(NO_PROXY) lists hosts to reach directly, by the CLI's (Go's) rules - C(example.com) also covers its
        subdomains, C(.example.com) only them, C(*) every host, an IP range as C(10.0.0.0/8), an optional C(:port).
        C(localhost) and loopback addresses are always reached directly.
      - Credentials in the proxy URL (C(http://user:password@proxy:3128)) are sent to the proxy only and never shown.
        With O(scheme=https), the proxy only tunnels the TLS connection and never sees the ACL token.
      - Other variables that the Python C(requests) library would read (E(REQUESTS_CA_BUNDLE), E(CURL_CA_BUNDLE),
        C(.netrc)) are ignored.
    type: bool
    default: true
  partition:
    description:
      - Admin partition of the peering (Consul Enterprise). Sent to Consul only when set.
      - When not set, E(CONSUL_PARTITION) is used.
    type: str
requirements:
  - Python 3.9 or later on the host that runs the module (the control node with C(connection=local), or the
    execution environment)
  - requests 2.25.1 or later and urllib3 1.26.5 or later (RHEL 9's C(python3-requests) and C(python3-urllib3))
notes:
  - Options left unset fall back to the environment variables the C(consul) CLI reads. An option set in the
    task always wins over the environment. Set-but-empty variables count as unset.
'''

    PEER_NAME = r'''
options:
  peer_name:
    description:
      - Name this cluster gives the peer cluster. Consul requires a DNS label
        (1 to 63 lowercase letters, digits and C(-), starting and ending with a letter or digit);
        it is checked before any call.
    type: str
    required: true
    aliases: [name]
'''

    ATTRIBUTES = r'''
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - Check mode makes no write call to Consul; it reads the current state and reports what would change.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details:
      - The diff shows the peering's name, state, role, IDs, meta and peer server addresses, never a token.
'''

    INFO_ATTRIBUTES = r'''
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The module only reads, so it behaves the same in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: N/A
    details:
      - The module only reads.
'''

    # The modules that take the shared connection options at their top level, listed in meta/runtime.yml.
    ACTION_GROUP = r'''
attributes:
  action_group:
    description: Use C(group/consul.peering.consul) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - consul.peering.consul
'''
