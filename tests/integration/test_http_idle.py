"""Idle HTTP connections: one that never sends a request, or that idles between keep-alive
requests, is closed after ``http_idle_timeout``; websockets and parked polls are not."""

from __future__ import annotations

import dataclasses
import socket

from protocol.wire.clients import WsClient
from protocol.wire.helpers import parse_open

from .conftest import QUIET, StartServer

IDLE = 0.3
#: Long enough to see the idle timeout fire, short enough for the suite.
WAIT_CLOSE = 3.0


def _closed_within(sock: socket.socket, timeout: float) -> bool:
    """Does the server close ``sock`` within ``timeout`` (EOF or reset)?"""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def _config(**changes: object) -> object:
    return dataclasses.replace(QUIET, http_idle_timeout=IDLE, **changes)  # type: ignore[arg-type]


def test_http_connection_without_request_is_closed(start_server: StartServer) -> None:
    server = start_server(config=_config())
    with socket.create_connection(server.address) as sock:
        assert _closed_within(sock, WAIT_CLOSE)


def test_http_half_sent_request_head_is_closed(start_server: StartServer) -> None:
    server = start_server(config=_config())
    with socket.create_connection(server.address) as sock:
        sock.sendall(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
        assert _closed_within(sock, WAIT_CLOSE)


def test_http_keep_alive_connection_idle_after_response_is_closed(
    start_server: StartServer,
) -> None:
    server = start_server(config=_config())
    with socket.create_connection(server.address) as sock:
        sock.sendall(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(WAIT_CLOSE)
        head = sock.recv(4096)
        assert head.startswith(b"HTTP/1.1 200")
        assert _closed_within(sock, WAIT_CLOSE)


def test_http_idle_timeout_spares_websockets(start_server: StartServer) -> None:
    server = start_server(config=_config())
    with WsClient.connect(server.address, "/engine.io/?EIO=4&transport=websocket") as ws:
        assert ws.recv_text().startswith("0")
        ws.expect_silence(IDLE * 4)  # several idle timeouts pass: no close
        ws.send_text("4still here")
        assert ws.recv_text() == "4still here"


def test_http_idle_timeout_spares_a_parked_poll(start_server: StartServer) -> None:
    # The poll stays parked longer than the idle timeout, until the ping answers it.
    server = start_server(config=_config(ping_interval=IDLE * 4, ping_timeout=5.0))
    with socket.create_connection(server.address) as sock:
        sock.settimeout(WAIT_CLOSE)
        sock.sendall(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        handshake = sock.recv(4096)
        sid = parse_open(handshake.split(b"\r\n\r\n", 1)[1].decode())["sid"]
        target = f"/engine.io/?EIO=4&transport=polling&sid={sid}".encode()
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 200")
        assert reply.endswith(b"\r\n\r\n2")
