"""The local stack's own certificate authority and the edge's server certificate.

`up` creates a CA once per local dir and issues Traefik's certificate from it; every local
client trusts that CA file (ES_CA_CERTS, KAFKA_SSL_CA_LOCATION) and nothing else, so TLS
verification stays on everywhere. The CA key never leaves the config dir (mode 0600)."""

from __future__ import annotations

import datetime
import ipaddress
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pipeline_common.timestamps import utc_now

log = logging.getLogger(__name__)

CA_DAYS = 3650
SERVER_DAYS = 397  # what browsers accept for a server certificate
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca-key.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "edge.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "edge-key.pem"


def _now() -> datetime.datetime:
    return utc_now()


def _write_private(path: Path, data: bytes) -> None:
    """Create `path` readable by its owner only, atomically."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    partial.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load(cert_path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None


def _fresh(cert: x509.Certificate | None) -> bool:
    return cert is not None and cert.not_valid_after_utc - RENEW_BEFORE > _now()


def ensure_ca(files: TlsFiles, label: str) -> x509.Certificate:
    """The CA of this local dir, created when missing or about to expire."""
    cert = _load(files.ca_cert)
    if _fresh(cert) and files.ca_key.is_file():
        return cert  # type: ignore[return-value]
    files.directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "image-pipeline local stack"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"image-pipeline local CA ({label})"),
        ]
    )
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(files.ca_key, _key_pem(key))
    files.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.ca_cert.chmod(0o644)  # public: every client reads it
    files.server_cert.unlink(missing_ok=True)  # issued by the old CA
    log.info("created a local CA: %s", files.ca_cert)
    return cert


def _names(cert: x509.Certificate) -> set[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {str(name) for name in san.get_values_for_type(x509.DNSName)} | {
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    }


def ensure_server_cert(files: TlsFiles, hosts: list[str], label: str) -> Path:
    """Traefik's certificate for `hosts` (names or IP addresses), issued by the local CA;
    reissued when missing, expiring, for other names or from another CA."""
    ca = ensure_ca(files, label)
    current = _load(files.server_cert)
    if (
        _fresh(current)
        and files.server_key.is_file()
        and _names(current) == set(hosts)  # type: ignore[arg-type]
        and current.issuer == ca.subject
    ):  # type: ignore[union-attr]
        return files.server_cert
    ca_key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            alt_names.append(x509.DNSName(host))
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),  # type: ignore[arg-type]
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    _write_private(files.server_key, _key_pem(key))
    files.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.info("issued the edge's certificate for %s", ", ".join(hosts))
    return files.server_cert
