"""Certificates for the TLS tests, made by ``trustme`` at test time (none is committed).

``tls_files`` (session-scoped) writes a CA, a server certificate for ``localhost`` and
``127.0.0.1``, one for another name, an expired one and one from an unknown CA, as PEM files.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.client
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization


@dataclass(frozen=True)
class ServerCert:
    certfile: str  # the leaf then the chain
    keyfile: str


@dataclass(frozen=True)
class TlsFiles:
    #: The CA that signed ``good``, ``wrong_host`` and ``expired``.
    cafile: str
    #: For localhost and 127.0.0.1.
    good: ServerCert
    #: For "other.example" only.
    wrong_host: ServerCert
    #: For localhost and 127.0.0.1, but expired a day ago.
    expired: ServerCert
    #: For localhost and 127.0.0.1, signed by a CA nobody trusts.
    unknown_ca: ServerCert
    #: base64 of the SHA-256 of ``good``'s SubjectPublicKeyInfo (Chromium's SPKI pin).
    good_spki_sha256: str

    def server_context(self, cert: ServerCert | None = None) -> ssl.SSLContext:
        cert = cert or self.good
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert.certfile, cert.keyfile)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.cafile)


def _write(directory: Path, name: str, leaf: trustme.LeafCert) -> ServerCert:
    certfile, keyfile = directory / f"{name}.pem", directory / f"{name}.key"
    certfile.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(keyfile))
    return ServerCert(str(certfile), str(keyfile))


def make_tls_files(directory: Path) -> TlsFiles:
    ca = trustme.CA()
    cafile = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    now = datetime.datetime.now(datetime.UTC)
    good = ca.issue_cert("localhost", "127.0.0.1")
    expired = ca.issue_cert(
        "localhost",
        "127.0.0.1",
        not_before=now - datetime.timedelta(days=30),
        not_after=now - datetime.timedelta(days=1),
    )
    leaf = x509.load_pem_x509_certificate(good.cert_chain_pems[0].bytes())
    spki = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TlsFiles(
        cafile=str(cafile),
        good=_write(directory, "good", good),
        wrong_host=_write(directory, "wrong-host", ca.issue_cert("other.example")),
        expired=_write(directory, "expired", expired),
        unknown_ca=_write(
            directory, "unknown-ca", trustme.CA().issue_cert("localhost", "127.0.0.1")
        ),
        good_spki_sha256=base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii"),
    )


def https_get(
    host: str,
    port: int,
    path: str = "/",
    *,
    source: str | None = None,
    cafile: str | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """GET over https from ``source``; verified against ``cafile``, or not at all without it
    (to check readiness only)."""
    if cafile is None:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection(
        host,
        port,
        timeout=timeout,
        context=context,
        source_address=(source, 0) if source else None,
    )
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
