"""HTTP compression of polling responses, and permessage-deflate on websockets."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Sequence

import pytest
from wsproto.extensions import PerMessageDeflate

from .clients import HttpResponse, WsClient
from .conftest import RELAXED, ServerFactory
from .helpers import (
    Server,
    parse_open,
    poll,
    polling_handshake,
    post,
    upgrade,
    websocket_session,
    websocket_url,
)

BIG = "4" + "x" * 2000  # over the default 1024-byte threshold
SMALL = "4" + "x" * 100


def echo_poll(server: Server, message: str, accept_encoding: str | None) -> HttpResponse:
    """Have ``message`` echoed into the queue, then fetch it with this Accept-Encoding."""
    sid = polling_handshake(server)
    assert post(server, sid, message).status == 200
    headers = [] if accept_encoding is None else [("Accept-Encoding", accept_encoding)]
    response = poll(server, sid, headers)
    assert response.status == 200
    return response


def decoded(response: HttpResponse) -> bytes:
    encoding = response.header("content-encoding")
    if encoding is None:
        return response.body
    if encoding == "gzip":
        return gzip.decompress(response.body)
    assert encoding == "deflate"
    return zlib.decompress(response.body)  # zlib format (RFC 1950), as node's createDeflate


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("gzip", "gzip"),
        ("deflate", "deflate"),
        ("gzip, deflate, br", "gzip"),
        ("gzip;q=0, deflate", "deflate"),
        ("deflate;q=0.5, gzip;q=0.1", "deflate"),
    ],
)
def test_polling_compressed_above_threshold(relaxed: Server, accept: str, expected: str) -> None:
    response = echo_poll(relaxed, BIG, accept)
    assert response.header("content-encoding") == expected
    assert len(response.body) < len(BIG)
    assert response.header("content-length") == str(len(response.body))
    assert decoded(response) == BIG.encode()


def test_polling_compression_tie(relaxed: Server) -> None:
    """Equal weights: Node takes the client's first (deflate here), we prefer gzip; both valid."""
    response = echo_poll(relaxed, BIG, "deflate, gzip")
    assert response.header("content-encoding") in ("gzip", "deflate")
    assert decoded(response) == BIG.encode()


@pytest.mark.parametrize("accept", [None, "br", "identity", "gzip;q=0, deflate;q=0"])
def test_polling_not_compressed_without_acceptable_encoding(
    relaxed: Server, accept: str | None
) -> None:
    response = echo_poll(relaxed, BIG, accept)
    assert response.header("content-encoding") is None
    assert response.text == BIG


def test_polling_not_compressed_below_threshold(relaxed: Server) -> None:
    response = echo_poll(relaxed, SMALL, "gzip, deflate")
    assert response.header("content-encoding") is None
    assert response.text == SMALL


def test_polling_threshold_boundary(relaxed: Server) -> None:
    """Payloads of exactly the threshold are compressed, one byte less are not."""
    at = echo_poll(relaxed, "4" + "y" * 1023, "gzip")
    assert at.header("content-encoding") == "gzip"
    assert decoded(at) == b"4" + b"y" * 1023
    below = echo_poll(relaxed, "4" + "y" * 1022, "gzip")
    assert below.header("content-encoding") is None


def test_polling_compression_disabled(server_factory: ServerFactory) -> None:
    server = server_factory(httpCompression=False, **RELAXED)
    response = echo_poll(server, BIG, "gzip, deflate")
    assert response.header("content-encoding") is None
    assert response.text == BIG


def test_polling_compression_custom_threshold(server_factory: ServerFactory) -> None:
    server = server_factory(httpCompression={"threshold": 50}, **RELAXED)
    response = echo_poll(server, SMALL, "gzip")
    assert response.header("content-encoding") == "gzip"
    assert decoded(response) == SMALL.encode()


def test_polling_compressed_joined_payload(relaxed: Server) -> None:
    """The threshold applies to the whole payload, separators included."""
    sid = polling_handshake(relaxed)
    for _ in range(3):
        assert post(relaxed, sid, "4" + "z" * 400).status == 200
    response = poll(relaxed, sid, [("Accept-Encoding", "gzip")])
    assert response.header("content-encoding") == "gzip"
    assert decoded(response) == "\x1e".join(["4" + "z" * 400] * 3).encode()


# -- permessage-deflate ---------------------------------------------------------------------------

DEFLATE = {"perMessageDeflate": True, **RELAXED}


def negotiated_deflate(extensions: Sequence[object]) -> bool:
    return any(isinstance(ext, PerMessageDeflate) for ext in extensions)


def test_websocket_deflate_negotiated_when_enabled(server_factory: ServerFactory) -> None:
    server = server_factory(**DEFLATE)
    with server.websocket(websocket_url(server), deflate=True) as ws:
        assert negotiated_deflate(ws.extensions)
        parse_open(ws.recv_text())
        for message in (BIG, SMALL, "4" + "é" * 3000):
            ws.send_text(message)
            assert ws.recv() == message
        ws.send_binary(bytes(range(256)) * 20)
        assert ws.recv() == bytes(range(256)) * 20


class PlainDeflateOffer(PerMessageDeflate):
    """Offers ``permessage-deflate`` with no parameters at all."""

    def offer(self) -> bool:
        return True


def test_websocket_deflate_plain_offer(server_factory: ServerFactory) -> None:
    server = server_factory(**DEFLATE)
    ws = WsClient.connect(server.address, websocket_url(server), extensions=[PlainDeflateOffer()])
    with ws:
        assert negotiated_deflate(ws.extensions)
        parse_open(ws.recv_text())
        ws.send_text(BIG)
        assert ws.recv() == BIG


def test_websocket_deflate_not_negotiated_when_disabled(relaxed: Server) -> None:
    with relaxed.websocket(websocket_url(relaxed), deflate=True) as ws:
        assert not negotiated_deflate(ws.extensions)
        parse_open(ws.recv_text())
        ws.send_text(BIG)
        assert ws.recv() == BIG


def test_websocket_no_deflate_without_offer(server_factory: ServerFactory) -> None:
    server = server_factory(**DEFLATE)
    ws, _ = websocket_session(server)
    with ws:
        assert not negotiated_deflate(ws.extensions)
        ws.send_text(BIG)
        assert ws.recv() == BIG


def test_websocket_deflate_on_upgrade(server_factory: ServerFactory) -> None:
    server = server_factory(**DEFLATE)
    sid = polling_handshake(server)
    assert post(server, sid, BIG).status == 200  # queued, flushed over the compressed socket
    with server.websocket(websocket_url(server, sid), deflate=True) as ws:
        assert negotiated_deflate(ws.extensions)
        ws.send_text("2probe")
        assert ws.recv() == "3probe"
        ws.send_text("5")
        assert ws.recv() == BIG
        ws.send_text(BIG + "!")
        assert ws.recv() == BIG + "!"


def test_websocket_upgrade_without_deflate(relaxed: Server) -> None:
    sid = polling_handshake(relaxed)
    with upgrade(relaxed, sid) as ws:
        assert not negotiated_deflate(ws.extensions)
        ws.send_text(BIG)
        assert ws.recv() == BIG
