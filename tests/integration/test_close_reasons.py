"""Every way a session ends reaches the handler exactly once, with the right reason."""

from __future__ import annotations

import queue
from dataclasses import replace

import pytest
from protocol.wire.clients import WsClosed
from protocol.wire.helpers import (
    SEP,
    park_poll,
    poll,
    polling_handshake,
    polling_url,
    post,
    start_poll,
    upgrade,
    websocket_session,
)

from eio import DisconnectReason, EngineSocket

from .conftest import QUIET, RecordingHandler, ServerThread, StartServer

R = DisconnectReason


def expect_reason(handler: RecordingHandler, sid: str, reason: DisconnectReason) -> None:
    """The session's one disconnect, then no second one (nor any other event for it)."""
    assert handler.wait_disconnect(sid) is reason
    try:
        while True:
            event = handler.events.get(timeout=0.15)
            assert event.sid != sid, f"event after the disconnect: {event}"
    except queue.Empty:
        pass


# -- the client leaves ----------------------------------------------------------------------------


def test_polling_close_packet(engine: ServerThread) -> None:
    sid = polling_handshake(engine.wire)
    with park_poll(engine.wire, sid) as parked:
        assert post(engine.wire, sid, "1").body == b"ok"
        assert parked.get_response().text == "6"
    expect_reason(engine.handler, sid, R.TRANSPORT_CLOSE)


def test_websocket_close_frame(engine: ServerThread) -> None:
    ws, sid = websocket_session(engine.wire)
    ws.close()
    expect_reason(engine.handler, sid, R.TRANSPORT_CLOSE)


def test_websocket_close_packet(engine: ServerThread) -> None:
    ws, sid = websocket_session(engine.wire)
    with ws:
        ws.send_text("1")
        ws.wait_closed()
    expect_reason(engine.handler, sid, R.TRANSPORT_CLOSE)


def test_websocket_dropped_without_close_frame(engine: ServerThread) -> None:
    ws, sid = websocket_session(engine.wire)
    ws.sock.close()
    expect_reason(engine.handler, sid, R.TRANSPORT_CLOSE)


def test_upgraded_session_websocket_closed(engine: ServerThread) -> None:
    sid = polling_handshake(engine.wire)
    ws = upgrade(engine.wire, sid)
    ws.send_text("4sync")
    assert ws.recv() == "4sync"
    ws.close()
    expect_reason(engine.handler, sid, R.TRANSPORT_CLOSE)


# -- transport errors -----------------------------------------------------------------------------


def test_polling_parked_get_dropped(engine: ServerThread) -> None:
    sid = polling_handshake(engine.wire)
    park_poll(engine.wire, sid).close()
    expect_reason(engine.handler, sid, R.TRANSPORT_ERROR)


def test_polling_duplicate_get(engine: ServerThread) -> None:
    sid = polling_handshake(engine.wire)
    with park_poll(engine.wire, sid) as first, start_poll(engine.wire, sid) as second:
        assert second.get_response().status == 400
        assert first.get_response().text == "1"
    expect_reason(engine.handler, sid, R.TRANSPORT_ERROR)


def test_polling_concurrent_post(engine: ServerThread) -> None:
    sid = polling_handshake(engine.wire)
    with engine.wire.http() as first:
        url = polling_url(engine.wire, sid)
        first.send_request("POST", url, [("Content-Length", "10")], b"4hel", end=False)
        first.expect_no_response(0.1)
        assert post(engine.wire, sid, "4x").status == 400
        expect_reason(engine.handler, sid, R.TRANSPORT_ERROR)


def test_polling_post_dropped_mid_body(engine: ServerThread) -> None:
    sid = polling_handshake(engine.wire)
    client = engine.wire.http()
    url = polling_url(engine.wire, sid)
    client.send_request("POST", url, [("Content-Length", "100")], b"4partial", end=False)
    client.expect_no_response(0.1)
    client.close()
    expect_reason(engine.handler, sid, R.TRANSPORT_ERROR)


def test_polling_binary_content_type(engine: ServerThread) -> None:
    sid = polling_handshake(engine.wire)
    response = engine.wire.request(
        "POST", polling_url(engine.wire, sid), [("Content-Type", "application/octet-stream")], b"x"
    )
    assert response.status == 400
    expect_reason(engine.handler, sid, R.TRANSPORT_ERROR)


def test_websocket_client_ping(engine: ServerThread) -> None:
    ws, sid = websocket_session(engine.wire)
    with ws:
        ws.send_text("2")
        ws.wait_closed()
    expect_reason(engine.handler, sid, R.TRANSPORT_ERROR)


def test_websocket_message_too_big(start_server: StartServer) -> None:
    server = start_server(replace(QUIET, max_payload=100))
    ws, sid = websocket_session(server.wire)
    with ws:
        ws.send_text("4" + "x" * 200)
        assert ws.wait_closed().code == 1009
    expect_reason(server.handler, sid, R.TRANSPORT_ERROR)


def test_websocket_closed_with_error_code(engine: ServerThread) -> None:
    ws, sid = websocket_session(engine.wire)
    ws.close(code=1011)
    expect_reason(engine.handler, sid, R.TRANSPORT_ERROR)


# -- parse errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["abc", f"4ok{SEP}zzz", "b!!!"])
def test_polling_parse_error(engine: ServerThread, body: str) -> None:
    sid = polling_handshake(engine.wire)
    assert post(engine.wire, sid, body).status == 400
    expect_reason(engine.handler, sid, R.PARSE_ERROR)


def test_polling_parse_error_delivers_packets_before_it(engine: ServerThread) -> None:
    sid = polling_handshake(engine.wire)
    post(engine.wire, sid, f"4first{SEP}4second{SEP}?")
    assert engine.handler.wait_for("message", sid).data == "first"
    assert engine.handler.wait_for("message", sid).data == "second"
    expect_reason(engine.handler, sid, R.PARSE_ERROR)


def test_websocket_parse_error(engine: ServerThread) -> None:
    ws, sid = websocket_session(engine.wire)
    with ws:
        ws.send_text("abc")
        ws.wait_closed()
    expect_reason(engine.handler, sid, R.PARSE_ERROR)


# -- timers ---------------------------------------------------------------------------------------

FAST_PINGS = replace(QUIET, ping_interval=0.1, ping_timeout=0.1)


def test_polling_ping_timeout(start_server: StartServer) -> None:
    server = start_server(FAST_PINGS)
    sid = polling_handshake(server.wire)
    assert server.handler.wait_disconnect(sid, timeout=2) is R.PING_TIMEOUT
    server.handler.assert_quiet()


def test_websocket_ping_timeout(start_server: StartServer) -> None:
    server = start_server(FAST_PINGS)
    ws, sid = websocket_session(server.wire)
    with ws:
        closed = ws.wait_closed(timeout=2)
        assert closed.messages == ["2"]
    expect_reason(server.handler, sid, R.PING_TIMEOUT)


def test_pongs_keep_session_alive(start_server: StartServer) -> None:
    server = start_server(FAST_PINGS)
    ws, sid = websocket_session(server.wire)
    with ws:
        for _ in range(5):
            assert ws.recv(timeout=2) == "2"
            ws.send_text("3")
    expect_reason(server.handler, sid, R.TRANSPORT_CLOSE)


# -- the server ends it ---------------------------------------------------------------------------


def test_forced_close_polling(engine: ServerThread) -> None:
    sid = polling_handshake(engine.wire)
    assert post(engine.wire, sid, "4queued").status == 200
    engine.call(lambda: engine.handler.sockets[sid].close())
    # What was queued still goes out, then CLOSE, in the next poll (as the reference server).
    assert poll(engine.wire, sid).text == "4queued"
    assert poll(engine.wire, sid).text == "1"
    expect_reason(engine.handler, sid, R.FORCED_CLOSE)
    assert poll(engine.wire, sid).status == 400


def test_forced_close_polling_parked(engine: ServerThread) -> None:
    sid = polling_handshake(engine.wire)
    with park_poll(engine.wire, sid) as parked:
        engine.call(lambda: engine.handler.sockets[sid].close())
        assert parked.get_response().text == "1"
    expect_reason(engine.handler, sid, R.FORCED_CLOSE)


def test_forced_close_websocket(engine: ServerThread) -> None:
    ws, sid = websocket_session(engine.wire)
    with ws:
        engine.call(lambda: engine.handler.sockets[sid].send("last words"))
        engine.call(lambda: engine.handler.sockets[sid].close())
        closed = ws.wait_closed()
        assert closed.messages == ["4last words"]
    expect_reason(engine.handler, sid, R.FORCED_CLOSE)


def test_forced_close_twice_reports_once(engine: ServerThread) -> None:
    ws, sid = websocket_session(engine.wire)
    with ws:
        esock = engine.handler.sockets[sid]

        def close_twice() -> None:
            esock.close()
            esock.close(R.SERVER_SHUTDOWN)

        engine.call(close_twice)
        ws.wait_closed()
    expect_reason(engine.handler, sid, R.FORCED_CLOSE)


def test_forced_close_from_handler(start_server: StartServer) -> None:
    """A handler may close the session from inside on_message."""

    class Closer(RecordingHandler):
        def on_message(self, socket: EngineSocket, data: str) -> None:
            super().on_message(socket, data)
            socket.close()

    server = start_server(handler=Closer(echo=False))
    ws, sid = websocket_session(server.wire)
    with ws:
        ws.send_text("4bye")
        ws.wait_closed()
    expect_reason(server.handler, sid, R.FORCED_CLOSE)


def test_server_shutdown(engine: ServerThread) -> None:
    ws, ws_sid = websocket_session(engine.wire)
    poll_sid = polling_handshake(engine.wire)
    upgraded_sid = polling_handshake(engine.wire)
    upgraded = upgrade(engine.wire, upgraded_sid)
    upgraded.send_text("4sync")
    assert upgraded.recv() == "4sync"
    with ws, upgraded, park_poll(engine.wire, poll_sid) as parked:
        engine.call(engine.server.close)
        assert parked.get_response().text == "1"
        assert isinstance(ws.wait_closed(), WsClosed)
        assert isinstance(upgraded.wait_closed(), WsClosed)
    reasons = {}
    for _ in range(3):
        event = engine.handler.wait_for("disconnect")
        assert event.sid not in reasons
        reasons[event.sid] = event.data
    assert reasons == {s: R.SERVER_SHUTDOWN for s in (ws_sid, poll_sid, upgraded_sid)}
    engine.handler.assert_quiet()
    assert engine.call(lambda: engine.server.closed)


def test_server_shutdown_refuses_new_connections(engine: ServerThread) -> None:
    engine.call(engine.server.close)
    with pytest.raises(OSError):
        polling_handshake(engine.wire)
