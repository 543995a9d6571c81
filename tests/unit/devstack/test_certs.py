"""The stack's certificates: what they say, who signed them, file modes, and reuse."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from devstack import certs
from devstack.certs import DevCertificates, ensure_certificates


@pytest.fixture
def made(tmp_path: Path) -> DevCertificates:
    return ensure_certificates(tmp_path)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _cn(cert: x509.Certificate) -> str:
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _usages(cert: x509.Certificate) -> set[x509.ObjectIdentifier]:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def test_files_live_under_certs_and_keys_are_private(made: DevCertificates, tmp_path: Path) -> None:
    assert made.directory == (tmp_path / "certs").resolve()
    assert stat.S_IMODE(made.directory.stat().st_mode) == 0o700
    leaves = [made.server, made.broker, made.client, made.stranger]
    for private in [
        made.ca.with_suffix(".key"),
        *(f.key for f in leaves),
        *(f.bundle for f in leaves),
    ]:
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private
    for public in [made.ca, made.other_ca, *(f.cert for f in leaves)]:
        assert b"PRIVATE KEY" not in public.read_bytes()


def test_server_certificates_name_loopback_and_chain_to_the_ca(made: DevCertificates) -> None:
    ca = _cert(made.ca)
    for leaf, cn in ((made.server, "localhost"), (made.broker, "broker")):
        cert = _cert(leaf.cert)
        cert.verify_directly_issued_by(ca)
        assert _cn(cert) == cn
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert names.get_values_for_type(x509.DNSName) == ["localhost"]
        assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
        assert _usages(cert) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}


def test_client_certificate_is_for_clients_only_and_names_the_principal(
    made: DevCertificates,
) -> None:
    cert = _cert(made.client.cert)
    cert.verify_directly_issued_by(_cert(made.ca))
    assert _cn(cert) == "worker"
    assert _usages(cert) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_the_other_ca_is_unrelated(made: DevCertificates) -> None:
    ca, other = _cert(made.ca), _cert(made.other_ca)
    assert ca.subject != other.subject
    stranger = _cert(made.stranger.cert)
    stranger.verify_directly_issued_by(other)
    with pytest.raises(ValueError):
        stranger.verify_directly_issued_by(ca)


def test_bundle_is_key_then_chain_and_loads_as_a_tls_identity(made: DevCertificates) -> None:
    text = made.broker.bundle.read_text()
    assert text.index("PRIVATE KEY") < text.index("CERTIFICATE")
    assert text.count("BEGIN CERTIFICATE") == 2  # the leaf and its CA
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(made.broker.bundle)  # key and certificate in one file
    verifier = ssl.create_default_context(cafile=str(made.ca))
    assert verifier.get_ca_certs()[0]["subject"] == ((("commonName", "SoccerPredict dev CA"),),)


def test_a_second_call_reuses_every_file(made: DevCertificates, tmp_path: Path) -> None:
    before = {p: p.read_bytes() for p in made.directory.iterdir()}
    again = ensure_certificates(tmp_path)
    assert again == made
    assert {p: p.read_bytes() for p in made.directory.iterdir()} == before


def test_a_broken_leaf_is_issued_again_and_the_rest_kept(
    made: DevCertificates, tmp_path: Path
) -> None:
    ca_before = made.ca.read_bytes()
    broker_before = made.broker.cert.read_bytes()
    made.client.cert.write_text("not a certificate")
    again = ensure_certificates(tmp_path)
    _cert(again.client.cert).verify_directly_issued_by(_cert(again.ca))
    assert again.ca.read_bytes() == ca_before
    assert again.broker.cert.read_bytes() == broker_before


def test_a_new_ca_issues_every_leaf_again(made: DevCertificates, tmp_path: Path) -> None:
    made.ca.with_suffix(".key").unlink()
    again = ensure_certificates(tmp_path)
    ca = _cert(again.ca)
    for leaf in (again.server, again.broker, again.client):
        _cert(leaf.cert).verify_directly_issued_by(ca)


def test_a_leaf_near_expiry_is_renewed(
    made: DevCertificates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A leaf issued for 3 days is inside the renewal window of a week.
    monkeypatch.setattr(certs, "LEAF_DAYS", 3)
    made.server.cert.unlink()
    short = ensure_certificates(tmp_path)
    assert _cert(short.server.cert).not_valid_after_utc < dt.datetime.now(dt.UTC) + dt.timedelta(
        days=4
    )
    monkeypatch.setattr(certs, "LEAF_DAYS", 365)
    renewed = ensure_certificates(tmp_path)
    assert _cert(renewed.server.cert).not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(
        days=300
    )


def test_key_matches_certificate(made: DevCertificates) -> None:
    key = serialization.load_pem_private_key(made.client.key.read_bytes(), password=None)
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*fmt) == _cert(made.client.cert).public_key().public_bytes(
        *fmt
    )
    assert _cert(made.client.cert).signature_hash_algorithm.name == hashes.SHA256.name
