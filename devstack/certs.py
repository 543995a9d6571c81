"""Certificates for the secured local stack, made on the fly with ``cryptography``.

Everything lives under ``<home>/certs/`` as PEM:

- ``ca.pem`` / ``ca.key``: the development CA every client trusts (``KAFKA_SSL_CAFILE``,
  ``REDIS_SSL_CAFILE``).
- ``server``: CN=localhost, SANs ``localhost`` and ``127.0.0.1`` (Redis).
- ``broker``: CN=broker, the same SANs, for server *and* client use: the Kafka broker
  presents it on every listener and to itself on the inter-broker and controller
  listeners, where the principal ``User:broker`` is taken from its CN.
- ``client``: CN=worker by default, client use only (mTLS: Kafka's SSL listener names the
  principal ``User:worker`` from it; Redis accepts it too).
- ``other-ca.pem``: an unrelated CA, and ``stranger``, a client certificate it signed
  (CN=worker as well): the "unknown CA" failure cases.

A leaf's ``bundle`` file holds its private key followed by its certificate chain, the form
Kafka's ``ssl.keystore.type=PEM`` reads. Keys are written with mode 600. The files are
reused while they parse, chain to the current CA, and are more than a week from expiry;
anything else is made again (a new CA re-issues every leaf).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import BaseModel, ConfigDict

CA_DAYS = 3 * 365
LEAF_DAYS = 365
RENEW_BEFORE = dt.timedelta(days=7)
LOOPBACK_NAMES = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1",)
PRIVATE = 0o600


class LeafFiles(BaseModel):
    """One issued certificate: its PEM files."""

    model_config = ConfigDict(frozen=True)

    cert: Path
    """The certificate alone (PEM)."""
    key: Path
    """Its private key, PKCS#8 PEM, unencrypted, mode 600."""
    chain: Path
    """The certificate followed by its CA (what a server presents)."""
    bundle: Path
    """The key followed by the chain, mode 600: Kafka's PEM keystore."""


class DevCertificates(BaseModel):
    """Every file the secured stack and its tests use."""

    model_config = ConfigDict(frozen=True)

    directory: Path
    ca: Path
    """The development CA certificate: what clients trust."""
    other_ca: Path
    """An unrelated CA: a client trusting only it must fail the handshake."""
    server: LeafFiles
    broker: LeafFiles
    client: LeafFiles
    stranger: LeafFiles
    """A client certificate signed by the other CA: servers must refuse it."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write atomically, with ``mode`` from the start (a key is never briefly readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.chmod(partial, mode)  # the umask may have narrowed it
    partial.replace(path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _fresh(cert: x509.Certificate) -> bool:
    now = _now()
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - RENEW_BEFORE > now


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, x509.InvalidSignature):
        return False
    return True


def _same_public_key(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return cert.public_key().public_bytes(*fmt) == key.public_key().public_bytes(*fmt)


class _Authority:
    """A CA on disk: ``<stem>.pem`` and ``<stem>.key``, made when missing or stale."""

    def __init__(self, directory: Path, stem: str, common_name: str) -> None:
        self.cert_path = directory / f"{stem}.pem"
        self.key_path = directory / f"{stem}.key"
        cert, key = _load_cert(self.cert_path), _load_key(self.key_path)
        self.renewed = not (
            cert is not None and key is not None and _fresh(cert) and _same_public_key(cert, key)
        )
        if self.renewed:
            key = ec.generate_private_key(ec.SECP256R1())
            now = _now()
            cert = (
                x509.CertificateBuilder()
                .subject_name(_name(common_name))
                .issuer_name(_name(common_name))
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=CA_DAYS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(
                        digital_signature=True,
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
                .add_extension(
                    x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
                )
                .sign(key, hashes.SHA256())
            )
            _write(self.key_path, _key_pem(key), PRIVATE)
            _write(self.cert_path, _cert_pem(cert))
        assert cert is not None and key is not None
        self.cert: x509.Certificate = cert
        self.key: ec.EllipticCurvePrivateKey = key

    def leaf(self, directory: Path, stem: str, common_name: str, *, server: bool) -> LeafFiles:
        """Issue (or reuse) ``<stem>.pem``/``.key``/``-chain.pem``/``-bundle.pem``."""
        files = LeafFiles(
            cert=directory / f"{stem}.pem",
            key=directory / f"{stem}.key",
            chain=directory / f"{stem}-chain.pem",
            bundle=directory / f"{stem}-bundle.pem",
        )
        cert, key = _load_cert(files.cert), _load_key(files.key)
        reusable = (
            not self.renewed
            and cert is not None
            and key is not None
            and _fresh(cert)
            and _signed_by(cert, self.cert)
            and _same_public_key(cert, key)
            and cert.subject == _name(common_name)
            and files.chain.is_file()
            and files.bundle.is_file()
        )
        if reusable:
            return files
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self._issue(key, common_name, server=server)
        chain = _cert_pem(cert) + _cert_pem(self.cert)
        _write(files.key, _key_pem(key), PRIVATE)
        _write(files.cert, _cert_pem(cert))
        _write(files.chain, chain)
        _write(files.bundle, _key_pem(key) + chain, PRIVATE)
        return files

    def _issue(
        self, key: ec.EllipticCurvePrivateKey, common_name: str, *, server: bool
    ) -> x509.Certificate:
        now = _now()
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        if server:
            usages.insert(0, ExtendedKeyUsageOID.SERVER_AUTH)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=True,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.cert.public_key()),
                critical=False,
            )
        )
        if server:
            names: list[x509.GeneralName] = [x509.DNSName(n) for n in LOOPBACK_NAMES]
            names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in LOOPBACK_IPS]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(self.key, hashes.SHA256())


def ensure_certificates(home: Path, client_name: str = "worker") -> DevCertificates:
    """Make (or reuse) the stack's certificates under ``home/certs``."""
    directory = home.resolve() / "certs"
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    ca = _Authority(directory, "ca", "SoccerPredict dev CA")
    other = _Authority(directory, "other-ca", "Unrelated dev CA")
    return DevCertificates(
        directory=directory,
        ca=ca.cert_path,
        other_ca=other.cert_path,
        server=ca.leaf(directory, "server", "localhost", server=True),
        broker=ca.leaf(directory, "broker", "broker", server=True),
        client=ca.leaf(directory, "client", client_name, server=False),
        stranger=other.leaf(directory, "stranger", client_name, server=False),
    )
