"""HTTP-level behaviour under the Engine.IO endpoints: pipelining, bad requests, big payloads."""

from __future__ import annotations

import base64

import pytest

from .clients import ConnectionClosedError, HttpClient, HttpResponse
from .helpers import (
    SEP,
    Server,
    parse_open,
    poll,
    polling_handshake,
    polling_url,
    post,
    upgrade,
    websocket_session,
    websocket_url,
)


def raw_request(server: Server, method: str, target: str, body: bytes = b"") -> bytes:
    head = f"{method} {target} HTTP/1.1\r\nHost: {server.host}:{server.port}\r\n"
    if method == "POST":
        head += f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


def get_response_or_none(client: HttpClient) -> HttpResponse | None:
    """The response, or None if the server closed the connection instead of answering."""
    try:
        return client.get_response(timeout=3)
    except ConnectionClosedError:
        return None


def test_polling_pipelined_requests(relaxed: Server) -> None:
    """Requests sent back to back in one write are answered in order."""
    sid = polling_handshake(relaxed)
    with relaxed.http() as client:
        responses = client.pipeline(
            raw_request(relaxed, "GET", polling_url(relaxed))
            + raw_request(relaxed, "POST", polling_url(relaxed, sid), b"4piped")
            + raw_request(relaxed, "GET", polling_url(relaxed, sid)),
            3,
        )
    assert [r.status for r in responses] == [200, 200, 200]
    parse_open(responses[0].text)
    assert responses[1].body == b"ok"
    assert responses[2].body == b"4piped"


def test_malformed_request_line(server: Server) -> None:
    """Not HTTP at all: 400 (or a closed connection), and the server carries on."""
    with server.http() as client:
        client.send_raw(b"GARBAGE\r\n\r\n")
        response = get_response_or_none(client)
    assert response is None or response.status == 400, response
    polling_handshake(server)


def test_oversized_request_head(server: Server) -> None:
    """A request head over 16 KiB is refused with 431 (or the connection dropped)."""
    with server.http() as client:
        client.send_request("GET", polling_url(server), [("X-Big", "a" * 20_000)])
        response = get_response_or_none(client)
    assert response is None or response.status == 431, response
    polling_handshake(server)


def test_large_request_head_under_limit(server: Server) -> None:
    response = server.request("GET", polling_url(server), [("X-Big", "a" * 15_000)])
    assert response.status == 200
    parse_open(response.text)


def test_polling_large_message(relaxed: Server) -> None:
    message = "4" + "é" * 300_000  # 600 kB of UTF-8
    sid = polling_handshake(relaxed)
    assert post(relaxed, sid, message).status == 200
    assert poll(relaxed, sid).body == message.encode()


def test_polling_large_binary_message(relaxed: Server) -> None:
    data = bytes(range(256)) * 1000
    sid = polling_handshake(relaxed)
    assert post(relaxed, sid, "b" + base64.b64encode(data).decode()).status == 200
    assert poll(relaxed, sid).text == "b" + base64.b64encode(data).decode()


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_websocket_large_message(relaxed: Server, binary: bool) -> None:
    ws, _ = websocket_session(relaxed)
    with ws:
        if binary:
            data = bytes(range(256)) * 3000
            ws.send_binary(data)
            assert ws.recv() == data
        else:
            text = "4" + "z" * 700_000
            ws.send_text(text)
            assert ws.recv() == text


def test_polling_post_during_upgrade_goes_out_over_websocket(relaxed: Server) -> None:
    """A message that arrives while the upgrade is being probed waits and leaves over websocket."""
    sid = polling_handshake(relaxed)
    with relaxed.websocket(websocket_url(relaxed, sid)) as ws:
        ws.send_text("2probe")
        assert ws.recv() == "3probe"
        assert post(relaxed, sid, f"4during{SEP}4probe").status == 200
        ws.send_text("5")
        assert ws.recv() == "4during"
        assert ws.recv() == "4probe"


def test_polling_get_on_keep_alive_after_upgrade_refused(relaxed: Server) -> None:
    sid = polling_handshake(relaxed)
    with relaxed.http() as client, upgrade(relaxed, sid) as ws:
        ws.send_text("4sync")
        assert ws.recv() == "4sync"
        assert client.request("GET", polling_url(relaxed, sid)).status == 400
        assert client.request("GET", polling_url(relaxed)).status == 200  # still usable


def test_head_request_answered_without_body(server: Server) -> None:
    """HEAD is no handshake method (code 2); the answer has headers only, and the connection
    stays usable."""
    with server.http() as client:
        response = client.request("HEAD", polling_url(server))
        assert response.status == 400
        assert response.header("content-type") == "application/json"
        assert response.body == b""
        follow_up = client.request("GET", polling_url(server))
        assert follow_up.status == 200
        parse_open(follow_up.text)


def test_head_request_outside_path(server: Server) -> None:
    with server.http() as client:
        response = client.request("HEAD", "/")
        assert response.status == 404
        assert response.body == b""


def test_options_without_origin(server: Server) -> None:
    response = server.request("OPTIONS", polling_url(server))
    assert response.status == 204
    assert response.body == b""


def test_http10_handshake(server: Server) -> None:
    with server.http() as client:
        client.send_raw(f"GET {polling_url(server)} HTTP/1.0\r\n\r\n".encode())
        response = client.get_response_raw()
        client.wait_closed(timeout=3)
    assert response.status == 200
    parse_open(response.text)


def test_connection_close_honoured(server: Server) -> None:
    with server.http() as client:
        response = client.request("GET", polling_url(server), [("Connection", "close")])
        assert response.status == 200
        client.wait_closed(timeout=3)


def test_empty_sid_is_a_handshake(server: Server) -> None:
    response = server.request("GET", polling_url(server, ""))
    assert response.status == 200
    parse_open(response.text)


UPGRADE_HEADERS = (
    "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
)


@pytest.mark.parametrize(
    ("method", "extra", "message"),
    [
        ("GET", "", b""),  # no Sec-WebSocket-Key
        ("POST", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", b"Bad handshake method"),
    ],
    ids=["no-key", "post"],
)
def test_websocket_bad_opening_handshake(
    server: Server, method: str, extra: str, message: bytes
) -> None:
    with server.http() as client:
        client.send_raw(
            f"{method} {websocket_url(server)} HTTP/1.1\r\n{UPGRADE_HEADERS}{extra}"
            "Content-Length: 0\r\n\r\n".encode()
        )
        response = client.get_response_raw()
    assert response.status == 400
    assert message in response.body
