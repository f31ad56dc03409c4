"""webhook over HTTPS: verification on by default, a custom CA, mutual TLS."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sinkhelp import FAST_REQUEST, Siem, route_all, seqs, sink_cfg

from tracehound.agent.router import Router
from tracehound.sinks import check_sinks_health


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(
    subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool, usage: Any = None
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        b = b.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: Any) -> tuple[str, str]:
    crt, pem_key = path.with_suffix(".crt"), path.with_suffix(".key")
    crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pem_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(crt), str(pem_key)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("test CA", ca_key, "test CA", ca_key, ca=True)
    server_key, client_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    server = _cert(
        "siem", server_key, "test CA", ca_key, ca=False, usage=ExtendedKeyUsageOID.SERVER_AUTH
    )
    client = _cert(
        "agent", client_key, "test CA", ca_key, ca=False, usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    ca_crt, _ = _write(d / "ca", ca, ca_key)
    s_crt, s_key = _write(d / "server", server, server_key)
    c_crt, c_key = _write(d / "client", client, client_key)
    return {
        "ca": ca_crt,
        "server_crt": s_crt,
        "server_key": s_key,
        "client_crt": c_crt,
        "client_key": c_key,
    }


def server_context(pki: dict[str, str], *, require_client: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["server_crt"], pki["server_key"])
    if require_client:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki["ca"])
    return ctx


@pytest.fixture
async def mtls_siem(pki: dict[str, str]) -> AsyncIterator[Siem]:
    s = Siem(ssl_context=server_context(pki, require_client=True))
    await s.start()
    yield s
    await s.stop()


def cfg(url: str, tls: dict[str, Any]) -> Any:
    request = {**FAST_REQUEST, "retry_attempts": 2}
    return sink_cfg(type="webhook", url=url, inputs=["events"], tls=tls, request=request)


async def deliver(sink: Any, n: int = 5) -> Router:
    router = Router.from_config({"siem": sink})
    await router.start()
    await route_all(router, n)
    await router.stop(20)
    return router


async def test_mutual_tls_with_custom_ca(mtls_siem: Siem, pki: dict[str, str]) -> None:
    tls = {"ca_file": pki["ca"], "crt_file": pki["client_crt"], "key_file": pki["client_key"]}
    assert await check_sinks_health({"siem": cfg(mtls_siem.url, tls)}) == [("siem", None)]
    router = await deliver(cfg(mtls_siem.url, tls))
    assert seqs(mtls_siem.received) == list(range(5))
    assert router.stats()["siem"]["dropped_total"] == 0


async def test_unknown_ca_is_refused_by_default(mtls_siem: Siem, pki: dict[str, str]) -> None:
    tls = {"crt_file": pki["client_crt"], "key_file": pki["client_key"]}  # system CAs only
    [(_, err)] = await check_sinks_health({"siem": cfg(mtls_siem.url, tls)})
    assert err is not None and "certificate" in err.lower()
    router = await deliver(cfg(mtls_siem.url, tls))
    assert mtls_siem.received == []
    assert router.stats()["siem"]["dropped"] == {"retries_exhausted": 5}


async def test_server_requires_a_client_certificate(mtls_siem: Siem, pki: dict[str, str]) -> None:
    router = await deliver(cfg(mtls_siem.url, {"ca_file": pki["ca"]}))
    assert mtls_siem.received == []
    assert router.stats()["siem"]["dropped"] == {"retries_exhausted": 5}


async def test_verification_can_be_switched_off(pki: dict[str, str]) -> None:
    siem = Siem(ssl_context=server_context(pki, require_client=False))
    await siem.start()
    try:
        await deliver(cfg(siem.url, {"verify_certificate": False}))
    finally:
        await siem.stop()
    assert seqs(siem.received) == list(range(5))
