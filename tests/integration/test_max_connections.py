"""``max_connections``: past it a new connection is answered 503 and closed; the connections
already open go on; once one closes, a new one is admitted again."""

from __future__ import annotations

import json
import socket
import time

import pytest
from protocol.wire.clients import HttpClient
from protocol.wire.helpers import polling_url, websocket_session

from eio import EngineIOConfig
from eio.server import FD_RESERVE, default_max_connections

from .conftest import QUIET, WAIT, RecordingHandler, ServerThread, StartServer

LIMIT = 3
CAPPED = EngineIOConfig(
    ping_interval=QUIET.ping_interval,
    ping_timeout=QUIET.ping_timeout,
    path=QUIET.path,
    cors_allowed_origins="*",
    max_connections=LIMIT,
)


def refused_request(server: ServerThread) -> None:
    """A handshake on a new connection: 503 with the JSON error, then a clean close (FIN, not
    a reset: the server lingers)."""
    with HttpClient(server.address) as client:
        client.send_request("GET", polling_url(server.wire))
        response = client.get_response(WAIT)
        assert response.status == 503, response
        assert response.header("content-type") == "application/json"
        assert response.header("connection") == "close"
        assert response.header("retry-after") == "1"
        assert json.loads(response.body) == {"code": 3, "message": "Too many connections"}
        client.sock.settimeout(WAIT)
        assert client.sock.recv(1024) == b""  # closed by the server, after the answer


def wait_connection_count(server: ServerThread, count: int) -> None:
    """Until the server counts ``count`` open connections (asked on its reactor thread)."""
    deadline = time.monotonic() + WAIT
    while server.call(lambda: server.server.connection_count) != count:
        if time.monotonic() > deadline:
            raise AssertionError(f"the server did not get to {count} connections")
        server.handler.assert_quiet(0.02)  # a short wait that also checks nothing else happened


def test_past_the_limit_503_then_admitted_again(start_server: StartServer) -> None:
    handler = RecordingHandler(echo=True)
    server = start_server(CAPPED, handler)
    sessions = [websocket_session(server.wire) for _ in range(LIMIT)]
    for _ws, sid in sessions:
        handler.wait_for("connect", sid)
    wait_connection_count(server, LIMIT)

    refused_request(server)
    refused_request(server)  # again: the refused ones are not counted
    # The open sessions keep working.
    for ws, sid in sessions:
        ws.send_text("4still here")
        assert ws.recv_text(WAIT) == "4still here"
        assert handler.wait_for("message", sid).data == "still here"

    first, first_sid = sessions.pop(0)
    first.close()
    handler.wait_disconnect(first_sid)
    wait_connection_count(server, LIMIT - 1)
    ws, sid = websocket_session(server.wire)  # admitted again
    with ws:
        handler.wait_for("connect", sid)
        ws.send_text("4back")
        assert ws.recv_text(WAIT) == "4back"
        refused_request(server)  # at the limit again
    for other, _sid in sessions:
        other.close()


def test_a_refused_client_that_sends_nothing_still_gets_the_answer(
    start_server: StartServer,
) -> None:
    server = start_server(CAPPED, RecordingHandler())
    sessions = [websocket_session(server.wire) for _ in range(LIMIT)]
    wait_connection_count(server, LIMIT)
    with socket.create_connection(server.address, timeout=WAIT) as sock:
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
    assert received.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), received
    assert received.endswith(b'{"code":3,"message":"Too many connections"}'), received
    for ws, _sid in sessions:
        ws.close()


def test_zero_means_no_limit(start_server: StartServer) -> None:
    config = EngineIOConfig(path=QUIET.path, max_connections=0)
    server = start_server(config, RecordingHandler())
    assert server.server.max_connections == 0
    sessions = [websocket_session(server.wire) for _ in range(LIMIT + 2)]
    wait_connection_count(server, LIMIT + 2)
    for ws, _sid in sessions:
        ws.close()


@pytest.mark.parametrize("configured", [None, 7])
def test_the_default_is_the_fd_limit_minus_a_reserve(
    start_server: StartServer, configured: int | None
) -> None:
    import resource

    server = start_server(EngineIOConfig(max_connections=configured), RecordingHandler())
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    expected = soft - FD_RESERVE if configured is None else configured
    assert server.server.max_connections == expected
    assert default_max_connections() == soft - FD_RESERVE
