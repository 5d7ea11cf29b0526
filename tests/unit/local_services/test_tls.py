"""The local CA and the edge's certificate: a chain a client verifies, keys kept private."""

from __future__ import annotations

import ssl

from cryptography import x509

from local_services.tls import TlsFiles, ensure_ca, ensure_server_cert


def load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_edge_certificate_verifies_against_the_local_ca(tmp_path):
    files = TlsFiles(tmp_path)
    ensure_server_cert(files, ["localhost", "127.0.0.1"], label="test")
    ca, leaf = load(files.ca_cert), load(files.server_cert)
    leaf.verify_directly_issued_by(ca)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    # what Python's TLS clients do with it: load the CA as their only trust anchor
    context = ssl.create_default_context(cafile=str(files.ca_cert))
    assert context.get_ca_certs()[0]["subject"]


def test_keys_are_private_and_the_ca_public(tmp_path):
    files = TlsFiles(tmp_path)
    ensure_server_cert(files, ["localhost"], label="test")
    assert files.ca_key.stat().st_mode & 0o777 == 0o600
    assert files.server_key.stat().st_mode & 0o777 == 0o600
    assert files.ca_cert.stat().st_mode & 0o777 == 0o644


def test_certificates_are_reused_until_something_changes(tmp_path):
    files = TlsFiles(tmp_path)
    ensure_server_cert(files, ["localhost"], label="test")
    ca, leaf = files.ca_cert.read_bytes(), files.server_cert.read_bytes()
    ensure_server_cert(files, ["localhost"], label="test")
    assert (files.ca_cert.read_bytes(), files.server_cert.read_bytes()) == (ca, leaf)
    ensure_server_cert(files, ["edge.example"], label="test")  # another name: reissued, same CA
    assert files.server_cert.read_bytes() != leaf and files.ca_cert.read_bytes() == ca
    files.ca_key.unlink()  # a lost CA key: a new CA, and a certificate from it
    ensure_ca(files, "test")
    ensure_server_cert(files, ["edge.example"], label="test")
    load(files.server_cert).verify_directly_issued_by(load(files.ca_cert))
    assert files.ca_cert.read_bytes() != ca
