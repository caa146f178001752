# -*- coding: utf-8 -*-
# Copyright (c) consul.peering contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Certificates made up for a run: a CA, a server certificate per datacenter, a client certificate and an
unrelated CA (write_pki); and the check that a TLS port serves a certificate for a name (serves_tls_name).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl

from ansible_collections.consul.peering.tests.support.processes import HOST


def write_pki(directory, datacenters):
    """Write a CA, a server certificate per datacenter, a client certificate and an unrelated CA.

    Returns {file name: path}; names are ca.pem, wrong-ca.pem, client.pem, client-key.pem,
    <dc>-server.pem and <dc>-server-key.pem.
    """
    # Imported here so that `--help` and the build resolver do not need the venv.
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import ec  # pylint: disable=import-outside-toplevel
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # pylint: disable=import-outside-toplevel

    now = datetime.datetime.now(datetime.timezone.utc)
    # Valid a little in the past too: the servers and the client may disagree slightly about "now".
    valid = {'not_valid_before': now - datetime.timedelta(minutes=5), 'not_valid_after': now + datetime.timedelta(days=7)}
    paths = {}

    def new_key():
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return key, pem

    def write(name, data):
        path = os.path.join(directory, name)
        mode = 0o600 if name.endswith('-key.pem') else 0o644  # the state dir may be a shared folder
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), 'wb') as handle:
            handle.write(data)
        paths[name] = path

    def make_ca(common_name):
        key, _pem = new_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(valid['not_valid_before']).not_valid_after(valid['not_valid_after'])
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                             crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                .sign(key, hashes.SHA256()))
        return key, cert

    def make_leaf(ca_key, ca_cert, common_name, dns_names, ips, usage):
        key, key_pem = new_key()
        sans = [x509.DNSName(name) for name in dns_names] + [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(ca_cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(valid['not_valid_before']).not_valid_after(valid['not_valid_after'])
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), key_pem

    ca_key, ca_cert = make_ca('consul-peering test CA')
    write('ca.pem', ca_cert.public_bytes(serialization.Encoding.PEM))
    _wrong_key, wrong_cert = make_ca('an unrelated CA')
    write('wrong-ca.pem', wrong_cert.public_bytes(serialization.Encoding.PEM))
    for dc in datacenters:
        # server.<dc>.consul is the name Consul itself expects for verify_server_hostname.
        cert, key = make_leaf(ca_key, ca_cert, 'server.%s.consul' % dc, ['server.%s.consul' % dc, 'localhost'],
                              [HOST], [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH])
        write('%s-server.pem' % dc, cert)
        write('%s-server-key.pem' % dc, key)
    cert, key = make_leaf(ca_key, ca_cert, 'client.consul', [], [], [ExtendedKeyUsageOID.CLIENT_AUTH])
    write('client.pem', cert)
    write('client-key.pem', key)
    return paths


def serves_tls_name(port, server_name):
    """Whether a TLS handshake asking for `server_name` (SNI) gets a certificate that names it."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # signed by the Connect CA; only the name matters here
    context.set_alpn_protocols(['h2'])
    try:
        with socket.create_connection((HOST, port), timeout=2) as raw:
            with context.wrap_socket(raw, server_hostname=server_name) as tls:
                der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return False
    names = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    return server_name in names
