"""HTTPS while connecting to an address: the name still travels as the TLS server
name (SNI) and the certificate is verified against the name, not the address."""

from __future__ import annotations

import datetime
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from delinkcious.models import LinkStatus
from link_checker.checker import check_url
from link_checker.limits import CheckLimits
from tests.checker.conftest import ALLOW, fixed_resolver
from tests.checker.pages import PageServer, page, serve

NAME = "secure.test"


@dataclass
class Tls:
    pages: PageServer
    client: ssl.SSLContext
    server_names: list[str | None]


Issuer = tuple[ec.EllipticCurvePrivateKey, x509.Name]


def _cert(subject: str, issuer: Issuer | None) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A CA certificate when `issuer` is None (self-signed), else a server certificate
    for the DNS name `subject`, signed by `issuer`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    signer_key, signer_name = issuer or (key, name)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return key, builder.sign(signer_key, hashes.SHA256())


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[Tls]:
    ca_key, ca_cert = _cert("Test CA", None)
    key, cert = _cert(NAME, (ca_key, ca_cert.subject))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server_names: list[str | None] = []
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    def record_server_name(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        server_names.append(name)

    server_ctx.sni_callback = record_server_name
    client_ctx = ssl.create_default_context(cadata=ca_cert.public_bytes(serialization.Encoding.PEM).decode())
    with serve(wrap=lambda sock: server_ctx.wrap_socket(sock, server_side=True)) as pages:
        pages.routes["/"] = page(b"<title>Secure</title>")
        yield Tls(pages, client_ctx, server_names)


async def test_https_by_name_to_a_checked_address(tls: Tls) -> None:
    resolver = fixed_resolver({NAME: ["127.0.0.1"]})
    outcome = await check_url(
        f"https://{NAME}:{tls.pages.port}/",
        policy=ALLOW,
        resolver=resolver,
        limits=CheckLimits(),
        tls=tls.client,
    )
    assert (outcome.status, outcome.title) == (LinkStatus.VALID, "Secure")
    assert tls.server_names == [NAME]
    assert tls.pages.seen[0].headers["Host"] == f"{NAME}:{tls.pages.port}"


async def test_the_certificate_must_match_the_name(tls: Tls) -> None:
    resolver = fixed_resolver({"other.test": ["127.0.0.1"]})
    outcome = await check_url(
        f"https://other.test:{tls.pages.port}/",
        policy=ALLOW,
        resolver=resolver,
        limits=CheckLimits(),
        tls=tls.client,
    )
    assert outcome.status is LinkStatus.INVALID and "CERTIFICATE_VERIFY_FAILED" in outcome.reason
    assert tls.pages.seen == []


async def test_unknown_certificate_authorities_are_not_trusted(tls: Tls) -> None:
    resolver = fixed_resolver({NAME: ["127.0.0.1"]})
    outcome = await check_url(
        f"https://{NAME}:{tls.pages.port}/", policy=ALLOW, resolver=resolver, limits=CheckLimits()
    )
    assert outcome.status is LinkStatus.INVALID and "CERTIFICATE_VERIFY_FAILED" in outcome.reason
