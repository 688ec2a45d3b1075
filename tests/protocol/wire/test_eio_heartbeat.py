"""The v4 heartbeat: the server pings every pingInterval and gives up pingTimeout later."""

from __future__ import annotations

import time

import pytest

from .helpers import (
    Server,
    assert_unknown_sid,
    poll,
    polling_handshake,
    post,
    wait_websocket_session_gone,
    websocket_session,
)

# The suite's server: pingInterval 300 ms, pingTimeout 200 ms.
INTERVAL = 0.3
TIMEOUT = 0.2


def test_polling_heartbeat(server: Server) -> None:
    sid = polling_handshake(server)
    for _ in range(3):
        response = poll(server, sid)
        assert response.status == 200
        assert response.text == "2"
        assert post(server, sid, "3").status == 200


def test_websocket_heartbeat(server: Server) -> None:
    ws, _ = websocket_session(server)
    with ws:
        for _ in range(3):
            assert ws.recv(timeout=2) == "2"
            ws.send_text("3")


def test_polling_ping_waits_for_interval(server: Server) -> None:
    started = time.monotonic()
    sid = polling_handshake(server)
    assert poll(server, sid).text == "2"
    assert time.monotonic() - started >= INTERVAL * 0.8


def test_websocket_pong_delays_next_ping(server: Server) -> None:
    ws, _ = websocket_session(server)
    with ws:
        assert ws.recv(timeout=2) == "2"
        ws.send_text("3")
        ponged = time.monotonic()
        assert ws.recv(timeout=2) == "2"
        assert time.monotonic() - ponged >= INTERVAL * 0.8


def test_websocket_messages_flow_between_pings(server: Server) -> None:
    ws, _ = websocket_session(server)
    with ws:
        ws.send_text("4a")
        assert ws.recv() == "4a"
        assert ws.recv(timeout=2) == "2"
        ws.send_text("3")
        ws.send_text("4b")
        assert ws.recv() == "4b"


def test_polling_heartbeat_timeout(server: Server) -> None:
    """No pong: the session closes and the parked GET gets CLOSE."""
    sid = polling_handshake(server)
    assert poll(server, sid).text == "2"
    response = poll(server, sid)  # parked until the ping timeout closes the session
    assert response.status == 200
    assert response.text == "1"
    assert_unknown_sid(server, sid)


def test_polling_heartbeat_timeout_without_requests(server: Server) -> None:
    """The timers run with no request in flight (the official suite's version)."""
    sid = polling_handshake(server)
    time.sleep(INTERVAL + TIMEOUT + 0.2)  # allowed: the ping interval and timeout must expire
    assert_unknown_sid(server, sid)


def test_websocket_heartbeat_timeout(server: Server) -> None:
    ws, sid = websocket_session(server)
    with ws:
        started = time.monotonic()
        closed = ws.wait_closed(timeout=2)
        assert closed.messages == ["2"]
        assert time.monotonic() - started >= INTERVAL + TIMEOUT - 0.1
    wait_websocket_session_gone(server, sid)


def test_websocket_client_ping_closes_session(server: Server) -> None:
    """In v4 only the server pings: a client ping is a protocol error."""
    ws, sid = websocket_session(server)
    with ws:
        ws.send_text("2")
        closed = ws.wait_closed(timeout=2)
        assert closed.messages == []
    wait_websocket_session_gone(server, sid)


def test_polling_client_ping_closes_session(server: Server) -> None:
    sid = polling_handshake(server)
    assert post(server, sid, "2").status in (200, 400)
    assert_unknown_sid(server, sid)


@pytest.mark.parametrize("packet", ["6", "3"], ids=["noop", "unsolicited-pong"])
def test_websocket_harmless_packets_keep_session(server: Server, packet: str) -> None:
    ws, _ = websocket_session(server)
    with ws:
        ws.send_text(packet)
        ws.send_text("4still")
        assert ws.recv() == "4still"
