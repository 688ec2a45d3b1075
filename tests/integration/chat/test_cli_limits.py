"""``sio-chat server``'s limit options reach the server, in one process and in every worker."""

from __future__ import annotations

import json
import socket

import pytest
from click.testing import CliRunner

from cli.main import main as cli_main

from .helpers import WAIT, ServerProcess, chat_server_process

LIMITS = ("--ping-interval", "2", "--ping-timeout", "3", "--max-http-buffer-size", "5000")


def handshake(server: ServerProcess, sock: socket.socket) -> bytes:
    """A polling handshake on ``sock`` (kept alive); returns the response."""
    sock.sendall(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
    return read_response(sock)


def read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, f"closed after {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += sock.recv(4096)
    return head + b"\r\n\r\n" + body


@pytest.mark.parametrize("workers", [1, 2])
def test_limits_reach_every_worker(workers: int) -> None:
    server = chat_server_process(
        0, "--max-connections", "1", "--max-sessions", "1", *LIMITS, workers=workers
    )
    try:
        with socket.create_connection((server.host, server.port), timeout=WAIT) as first:
            response = handshake(server, first)
            assert response.startswith(b"HTTP/1.1 200"), response
            open_payload = json.loads(response.split(b"\r\n\r\n", 1)[1][1:])
            assert open_payload["pingInterval"] == 2000
            assert open_payload["pingTimeout"] == 3000
            assert open_payload["maxPayload"] == 5000
            # One connection is the limit (all of 127.0.0.1 goes to one worker in a cluster).
            with socket.create_connection((server.host, server.port), timeout=WAIT) as second:
                refused = handshake(server, second)
                assert refused.startswith(b"HTTP/1.1 503 "), refused
                assert refused.endswith(b'{"code":3,"message":"Too many connections"}')
                assert second.recv(4096) == b""
            # One session is the limit too: a second handshake on the same connection.
            refused = handshake(server, first)
            assert refused.startswith(b"HTTP/1.1 503 "), refused
            assert refused.endswith(b'{"code":3,"message":"Too many sessions"}')
            # The first one still works.
            first.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_response(first).startswith(b"HTTP/1.1 200")
    finally:
        server.stop()


@pytest.mark.parametrize(
    "option",
    [
        "--max-depth=129",
        "--max-ack-id-digits=16",
        "--ping-interval=0",
        "--max-connections=-1",
        "--max-sessions=-1",
    ],
)
def test_a_limit_out_of_range_is_a_usage_error(option: str) -> None:
    result = CliRunner().invoke(cli_main, ["server", option])
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output
