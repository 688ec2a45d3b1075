"""Polling limits against a real server: packets per poll response, packets per POST, and
polling sessions that never poll again (dropped once their queue passes ``max_poll_queue``)."""

from __future__ import annotations

from protocol.wire.helpers import poll, polling_handshake, post, websocket_session

from eio import DisconnectReason, Outbound
from eio.protocol.payload import SEPARATOR

from .conftest import WAIT, RecordingHandler, StartServer

ZOMBIES = 200
BROADCASTS = 300


def test_poll_response_holds_at_most_16_packets(start_server: StartServer) -> None:
    handler = RecordingHandler(echo=False)
    server = start_server(handler=handler)
    wire = server.wire
    sid = polling_handshake(wire)
    handler.wait_for("connect", sid)

    def send_40() -> None:
        for i in range(40):
            handler.sockets[sid].send(f"m{i}")

    server.call(send_40)
    sizes = []
    received: list[str] = []
    while len(received) < 40:
        response = poll(wire, sid)
        assert response.status == 200, response
        packets = response.text.split(SEPARATOR)
        sizes.append(len(packets))
        received.extend(packets)
    assert sizes == [16, 16, 8]
    assert received == [f"4m{i}" for i in range(40)]


def test_post_of_too_many_packets_is_refused_and_closes(start_server: StartServer) -> None:
    handler = RecordingHandler(echo=False)
    server = start_server(handler=handler)
    wire = server.wire
    limit = server.server.config.max_decode_packets
    sid = polling_handshake(wire)
    handler.wait_for("connect", sid)
    # A batch at the limit goes through, every packet delivered.
    response = post(wire, sid, SEPARATOR.join(f"4a{i}" for i in range(limit)))
    assert response.status == 200, response
    for i in range(limit):
        assert handler.wait_for("message", sid).data == f"a{i}"
    # One more packet: 400, nothing delivered, the session closes with "parse error".
    response = post(wire, sid, SEPARATOR.join(f"4b{i}" for i in range(limit + 1)))
    assert response.status == 400, response
    event = handler.next_event()
    assert event.kind == "disconnect" and event.data is DisconnectReason.PARSE_ERROR, event
    assert server.call(lambda: sid not in server.server.sessions)


def test_polling_sessions_that_never_poll_are_dropped(start_server: StartServer) -> None:
    handler = RecordingHandler(echo=False)
    server = start_server(handler=handler)
    wire = server.wire
    engine = server.server
    max_queue = engine.config.max_poll_queue
    zombies = {polling_handshake(wire) for _ in range(ZOMBIES)}
    ws, ws_sid = websocket_session(wire)
    with ws:
        connected = set()
        while len(connected) < ZOMBIES + 1:
            connected.add(handler.wait_for("connect").sid)
        assert connected == zombies | {ws_sid}

        def broadcast(i: int) -> tuple[int, int]:
            """One broadcast to every session; returns (sessions, packets queued in all)."""
            Outbound([f"news {i}"]).send_to(list(engine.sessions.values()))
            queued = sum(len(s.session._queue) for s in engine.sessions.values())
            return len(engine.sessions), queued

        peak_queued = 0
        for i in range(BROADCASTS):
            _, queued = server.call(broadcast, i)
            peak_queued = max(peak_queued, queued)

        # Every zombie is closed as a slow consumer...
        reasons = {}
        while len(reasons) < ZOMBIES:
            event = handler.wait_for("disconnect", timeout=WAIT)
            assert event.sid in zombies, event
            reasons[event.sid] = event.data
        assert set(reasons.values()) == {DisconnectReason.TRANSPORT_ERROR}
        # ... and gone from the session table, while the websocket session stays.
        assert server.call(lambda: set(engine.sessions)) == {ws_sid}
        # Memory for them was bounded: never more than max_poll_queue + 1 packets each (the one
        # that passes the bound is dropped with the rest); 300 each without the bound.
        assert peak_queued <= ZOMBIES * (max_queue + 1)
        assert (
            server.call(lambda: sum(len(s.session._queue) for s in engine.sessions.values())) == 0
        )

        # The live websocket client got every broadcast, in order.
        for i in range(BROADCASTS):
            assert ws.recv_text() == f"4news {i}"
        ws.send_text("4still here")
        assert handler.wait_for("message", ws_sid).data == "still here"

    # A zombie that comes back learns its session is gone.
    response = poll(wire, next(iter(zombies)))
    assert response.status == 400, response
