"""HTTP hardening: chunked bodies too large (even only by their declared chunk size), request
smuggling (``Content-Length`` with ``Transfer-Encoding``), and slow request bodies
(``request_timeout``, 408), each answered promptly and closed."""

from __future__ import annotations

import dataclasses
import socket

from protocol.wire.helpers import parse_open

from .conftest import QUIET, StartServer

#: Seconds any wait here may take before the test fails.
WAIT = 3.0


def _config(**changes: object) -> object:
    return dataclasses.replace(QUIET, **changes)  # type: ignore[arg-type]


def _read_response(sock: socket.socket, timeout: float = WAIT) -> tuple[int, bytes]:
    """The next response's status and head (plus whatever body came with it)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            raise AssertionError(f"no response within {timeout}s (got {data!r})") from None
        if not chunk:
            raise AssertionError(f"closed without a response (got {data!r})")
        data += chunk
    return int(data.split(b" ", 2)[1]), data


def _closed_within(sock: socket.socket, timeout: float = WAIT) -> bool:
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


def _handshake(sock: socket.socket) -> str:
    sock.sendall(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
    status, data = _read_response(sock)
    assert status == 200
    return str(parse_open(data.split(b"\r\n\r\n", 1)[1].decode())["sid"])


def _post_head(sid: str, *headers: bytes) -> bytes:
    target = f"/engine.io/?EIO=4&transport=polling&sid={sid}".encode()
    lines = [b"POST " + target + b" HTTP/1.1", b"Host: x", b"Content-Type: text/plain", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_chunk_size_2_pow_64_is_refused_promptly(start_server: StartServer) -> None:
    server = start_server()
    with socket.create_connection(server.address) as sock:
        sid = _handshake(sock)
        sock.sendall(_post_head(sid, b"Transfer-Encoding: chunked") + b"ffffffffffffffff\r\n4")
        status, _ = _read_response(sock)
        assert status in (400, 413)
        assert _closed_within(sock)


def test_chunked_body_larger_than_max_payload_is_413(start_server: StartServer) -> None:
    server = start_server(config=_config(max_payload=100))
    with socket.create_connection(server.address) as sock:
        sid = _handshake(sock)
        chunk = b"40\r\n" + b"4" * 64 + b"\r\n"
        sock.sendall(_post_head(sid, b"Transfer-Encoding: chunked") + chunk + chunk)
        status, _ = _read_response(sock)
        assert status == 413
        assert _closed_within(sock)


def test_chunked_body_within_max_payload_is_accepted(start_server: StartServer) -> None:
    server = start_server()
    with socket.create_connection(server.address) as sock:
        sid = _handshake(sock)
        sock.sendall(_post_head(sid, b"Transfer-Encoding: chunked") + b"1\r\n6\r\n0\r\n\r\n")
        status, data = _read_response(sock)
        assert status == 200
        assert data.endswith(b"\r\n\r\nok")


def test_content_length_with_transfer_encoding_is_400(start_server: StartServer) -> None:
    server = start_server()
    with socket.create_connection(server.address) as sock:
        sid = _handshake(sock)
        head = _post_head(sid, b"Content-Length: 6", b"Transfer-Encoding: chunked")
        sock.sendall(head + b"1\r\n6\r\n0\r\n\r\n")
        status, _ = _read_response(sock)
        assert status == 400
        assert _closed_within(sock)


def test_slow_body_is_answered_408_and_closed(start_server: StartServer) -> None:
    server = start_server(config=_config(request_timeout=0.3))
    with socket.create_connection(server.address) as sock:
        sid = _handshake(sock)
        sock.sendall(_post_head(sid, b"Content-Length: 100000") + b"4")
        status, _ = _read_response(sock)
        assert status == 408
        assert _closed_within(sock)


def test_slow_body_to_unknown_path_is_answered_404_and_closed(start_server: StartServer) -> None:
    server = start_server()  # the default request timeout: the 404 closes, not a timeout
    with socket.create_connection(server.address) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nx")
        status, data = _read_response(sock)
        assert status == 404
        assert b"connection: close" in data.lower()
        assert _closed_within(sock)


def test_whole_body_to_unknown_path_keeps_the_connection(start_server: StartServer) -> None:
    server = start_server()
    with socket.create_connection(server.address) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        status, _ = _read_response(sock)
        assert status == 404
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _ = _read_response(sock)
        assert status == 404
