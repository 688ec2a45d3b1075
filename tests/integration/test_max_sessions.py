"""``max_sessions``: past it a handshake (polling or websocket) is answered 503 with
``Retry-After``; the sessions already open go on; once one ends, a new one is admitted. A polling
client keeps its session between requests without any connection, so ``max_connections`` alone
does not bound them."""

from __future__ import annotations

import dataclasses

import pytest
from protocol.wire.clients import WsRefused
from protocol.wire.helpers import (
    assert_error,
    assert_unknown_sid,
    poll,
    polling_handshake,
    polling_url,
    post,
    websocket_session,
    websocket_url,
)

from eio import EngineIOConfig

from .conftest import QUIET, WAIT, RecordingHandler, ServerThread, StartServer
from .test_max_connections import CAPPED as CONNECTIONS_CAPPED
from .test_max_connections import LIMIT

#: The max_connections tests' server, with the session limit instead.
CAPPED = dataclasses.replace(CONNECTIONS_CAPPED, max_connections=None, max_sessions=LIMIT)


def refused_polling_handshake(server: ServerThread) -> None:
    response = server.wire.request("GET", polling_url(server.wire), [("Origin", "http://x")])
    assert_error(response, 503, 3, "Too many sessions")
    assert response.header("retry-after") == "1"
    assert response.header("access-control-allow-origin") == "http://x"  # readable by a page


def refused_websocket_handshake(server: ServerThread) -> None:
    with pytest.raises(WsRefused) as refused:
        server.wire.websocket(websocket_url(server.wire))
    assert refused.value.status == 503
    assert refused.value.body == b'{"code":3,"message":"Too many sessions"}'


def test_past_the_limit_handshakes_get_503_and_open_sessions_go_on(
    start_server: StartServer, caplog: pytest.LogCaptureFixture
) -> None:
    handler = RecordingHandler(echo=True)
    server = start_server(CAPPED, handler)
    # Polling sessions hold no connection between requests: only the session limit stops more.
    polling = [polling_handshake(server.wire) for _ in range(LIMIT - 1)]
    ws, ws_sid = websocket_session(server.wire)
    for sid in [*polling, ws_sid]:
        handler.wait_for("connect", sid)

    refused_polling_handshake(server)
    refused_websocket_handshake(server)
    assert server.call(lambda: len(server.server.sessions)) == LIMIT  # the refused left nothing
    # One warning for the first refusal; the next ones are counted into the next warning.
    warnings = [r.getMessage() for r in caplog.records if "max_sessions" in r.getMessage()]
    assert warnings == ["max_sessions (3) reached: 1 handshake(s) answered 503"]

    # The open sessions keep working, both transports.
    for sid in polling:
        assert post(server.wire, sid, "4still here").status == 200
        assert poll(server.wire, sid).text == "4still here"
    ws.send_text("4still here")
    assert ws.recv_text(WAIT) == "4still here"

    # One ends: a handshake is admitted again, and the limit holds again after it.
    assert post(server.wire, polling[0], "1").status == 200
    handler.wait_disconnect(polling[0])
    assert_unknown_sid(server.wire, polling[0])
    again = polling_handshake(server.wire)
    handler.wait_for("connect", again)
    refused_polling_handshake(server)
    ws.close()


def test_zero_means_no_limit_and_the_default_is_max_connections(
    start_server: StartServer,
) -> None:
    unlimited = start_server(
        EngineIOConfig(path=QUIET.path, max_connections=2, max_sessions=0), RecordingHandler()
    )
    assert unlimited.server.max_sessions == 0
    for _ in range(LIMIT + 2):  # more sessions than connections allowed: fine, none is kept
        polling_handshake(unlimited.wire)
    default = start_server(EngineIOConfig(path=QUIET.path, max_connections=7), RecordingHandler())
    assert default.server.max_sessions == 7
