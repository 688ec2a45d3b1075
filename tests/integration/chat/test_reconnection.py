"""Reconnection as the official client does it: backoff with jitter, attempt events, emits made
while offline buffered (bounded, volatile ones dropped) and sent once connected again."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import pytest

import sio
from reactor import Reactor
from sio.client import Backoff, Manager

from .conftest import ClientFactory, ServerFactory
from .helpers import Loop, Recorder, chat_server_process, install_features, running

#: Reconnection options that keep these tests fast.
FAST = {"reconnection_delay": 0.05, "reconnection_delay_max": 0.2}
#: Disconnect reasons of a client whose server stopped.
GONE = ("transport close", "transport error")


def gate_until_user(user: str, held: str) -> Callable[[sio.Server], None]:
    """A server setup: ``held``'s namespace connection waits until ``user`` has connected, so
    that what ``held`` sends on connecting (its offline buffer) finds ``user`` in the room."""

    def setup(io: sio.Server) -> None:
        waiting: list[Callable[[], None]] = []
        arrived = False

        @io.use
        def gate(socket: sio.Socket, next_: Callable[..., None]) -> None:
            nonlocal arrived
            name = socket.handshake.auth.get("user")
            if name == held and not arrived:
                waiting.append(next_)
                return
            next_()
            if name == user:
                arrived = True
                for release in waiting:
                    release()
                waiting.clear()

    return setup


def _chat(loop: Loop, socket: Any, text: str, volatile: bool = False) -> bool:
    """Emit a chat message as A; whether the socket was connected at that moment."""

    def send() -> bool:
        connected = bool(socket.connected)
        if volatile:
            socket.volatile.emit("chat message", "A", text)
        else:
            socket.emit("chat message", "A", text)
        return connected

    return loop.call(send)


def test_reconnects_to_a_restarted_server_and_sends_offline_emits(
    client_factory: ClientFactory, server_factory: ServerFactory, loop: Loop
) -> None:
    first = chat_server_process()
    with running(first.proc.stop):
        a, a_events = client_factory(first.url, auth={"user": "A"}, **FAST)
        a_events.expect("connect")
        assert first.stop() == 0  # SIGTERM: a clean exit
    # "transport close" when the server's CLOSE reaches us, "transport error" when it stopped
    # between two polls (the next request finds nobody listening).
    (reason,) = a_events.expect("disconnect")
    assert reason in GONE
    assert a_events.expect("close") == (reason,)
    # The server is gone: attempts fail, and say so.
    assert a_events.expect("reconnect_attempt") == (1,)
    assert isinstance(a_events.expect("reconnect_error")[0], Exception)
    a_events.expect("reconnect_attempt", lambda n: n >= 2)
    assert _chat(loop, a, "offline one") is False
    assert _chat(loop, a, "offline two") is False
    assert _chat(loop, a, "volatile", volatile=True) is False
    # A server on the same port; A's namespace connection waits for B (see gate_until_user).
    second = server_factory(port=first.port, setup=gate_until_user("B", held="A"))
    _b, b_events = client_factory(second.url, auth={"user": "B"}, reconnection=False)
    b_events.expect("connect")
    (attempts,) = a_events.expect("reconnect")
    assert attempts >= 2
    a_events.expect("connect")
    assert b_events.expect("chat message") == ("offline one from A",)
    assert b_events.expect("chat message") == ("offline two from A",)
    # Connected again, volatile emits go out; the offline one never did.
    assert _chat(loop, a, "online", volatile=True) is True
    assert b_events.expect("chat message") == ("online from A",)
    assert not [e for e in b_events.drain() if e == ("chat message", ("volatile from A",))]


def test_offline_buffer_keeps_the_newest(
    client_factory: ClientFactory,
    server_factory: ServerFactory,
    loop: Loop,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = server_factory()
    a, a_events = client_factory(first.url, auth={"user": "A"}, max_buffered=2, **FAST)
    a_events.expect("connect")
    first.stop()
    a_events.expect("disconnect")
    for text in ("m1", "m2", "m3", "m4"):
        assert _chat(loop, a, text) is False
    dropped = [r for r in caplog.records if "offline buffer full" in r.getMessage()]
    assert len(dropped) == 2 and all(r.levelno == logging.WARNING for r in dropped)
    second = server_factory(port=first.port, setup=gate_until_user("B", held="A"))
    _b, b_events = client_factory(second.url, auth={"user": "B"}, reconnection=False)
    b_events.expect("connect")
    a_events.expect("reconnect")
    assert b_events.expect("chat message") == ("m3 from A",)
    assert b_events.expect("chat message") == ("m4 from A",)
    # And nothing else: the oldest two were dropped.
    loop.call(a.emit, "chat message", "A", "marker")
    assert b_events.expect("chat message") == ("marker from A",)
    assert not [e for e in b_events.drain() if e[0] == "chat message"]


def test_gives_up_after_the_configured_attempts(
    client_factory: ClientFactory, server_factory: ServerFactory
) -> None:
    gone = server_factory()
    url = gone.url
    gone.stop()  # nothing listens there any more
    _, events = client_factory(url, reconnection_attempts=2, **FAST)
    (error,) = events.expect("connect_error")
    assert "connect" in str(error)
    events.expect("reconnect_failed")
    attempts = [args for name, args in events.drain() if name == "reconnect_attempt"]
    assert attempts == [(1,), (2,)]
    events.assert_none("reconnect_attempt")


def test_attempt_errors_are_reported_in_order(
    client_factory: ClientFactory, server_factory: ServerFactory
) -> None:
    gone = server_factory()
    url = gone.url
    gone.stop()
    _, events = client_factory(url, reconnection_attempts=2, **FAST)
    events.expect("reconnect_failed")
    names = [name for name, _ in events.drain()]  # (no "close": nothing ever opened)
    assert names == [
        "error",
        "connect_error",
        "reconnect_attempt",
        "error",
        "reconnect_error",
        "connect_error",
        "reconnect_attempt",
        "error",
        "reconnect_error",
        "connect_error",
    ]


def test_close_stops_reconnecting(
    client_factory: ClientFactory, server_factory: ServerFactory, loop: Loop
) -> None:
    gone = server_factory()
    url = gone.url
    gone.stop()
    socket, events = client_factory(url, **FAST)
    events.expect("reconnect_attempt")
    loop.call(socket.disconnect)
    events.drain()
    events.assert_none("reconnect_attempt", within=0.5)


def test_no_reconnection_when_disabled(
    client_factory: ClientFactory, server_factory: ServerFactory
) -> None:
    server = server_factory()
    _, events = client_factory(server.url, reconnection=False)
    events.expect("connect")
    server.stop()
    assert events.expect("disconnect")[0] in GONE
    events.assert_none("reconnect_attempt")


def test_backoff_defaults_and_jitter() -> None:
    reactor = Reactor()
    try:
        manager = Manager("http://127.0.0.1:1", reactor=reactor)
    finally:
        reactor.close()
    backoff = manager.backoff
    assert (backoff.base, backoff.cap, backoff.jitter) == (1.0, 5.0, 0.5)
    assert manager.reconnection_attempts == math.inf
    assert manager.timeout == 20.0
    exact = Backoff(0.1, 1.0, 0.0)
    assert [exact.duration() for _ in range(6)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])
    exact.reset()
    assert exact.duration() == pytest.approx(0.1)
    jittery = Backoff(1.0, 5.0, 0.5)
    seen = set()
    for attempt in range(200):
        jittery.attempts = attempt % 4
        nominal = 2.0 ** (attempt % 4)
        delay = jittery.duration()
        assert min(nominal * 0.5, 5.0) <= delay <= min(nominal * 1.5, 5.0)
        seen.add(round(delay, 3))
    assert len(seen) > 10  # randomised


def test_every_namespace_reconnects_over_one_connection(
    client_factory: ClientFactory, server_factory: ServerFactory, loop: Loop
) -> None:
    first = server_factory(chat=False, setup=install_features)
    main, main_events = client_factory(first.url, auth={"user": "A"}, **FAST)
    main_events.expect("connect")
    admin_events = Recorder()

    def open_admin() -> Any:
        admin = main.manager.socket("/admin", {"token": "secret"})
        admin_events.listen(admin, "connect", "disconnect")
        return admin.connect()

    admin = loop.call(open_admin)
    admin_events.expect("connect")
    first.stop()
    assert main_events.expect("disconnect")[0] in GONE
    assert admin_events.expect("disconnect")[0] in GONE
    server_factory(chat=False, port=first.port, setup=install_features)
    main_events.expect("reconnect")
    main_events.expect("connect")
    admin_events.expect("connect")
    acks = Recorder()
    loop.call(main.emit, "whoami", callback=acks.handler("main"))
    loop.call(admin.emit, "whoami", callback=acks.handler("admin"))
    (main_info,) = acks.expect("main")
    (admin_info,) = acks.expect("admin")
    assert main_info["engine"] == admin_info["engine"]
    assert (main_info["auth"], admin_info["auth"]) == ({"user": "A"}, {"token": "secret"})


def test_socket_connects_again_after_leaving(
    client_factory: ClientFactory, server_factory: ServerFactory, loop: Loop
) -> None:
    server = server_factory()
    socket, events = client_factory(server.url, **FAST)
    events.expect("connect")
    first_id = loop.call(lambda: socket.id)
    loop.call(socket.disconnect)
    assert events.expect("disconnect") == ("io client disconnect",)
    events.expect("close")  # the last socket gone, the connection closes
    events.assert_none("reconnect_attempt")
    loop.call(socket.connect)
    events.expect("connect")
    assert loop.call(lambda: socket.id) not in (None, first_id)


def test_acks_of_lost_emits_fail_on_disconnect(
    client_factory: ClientFactory, server_factory: ServerFactory, loop: Loop
) -> None:
    first = server_factory()
    socket, events = client_factory(first.url, **FAST)
    events.expect("connect")
    acks = Recorder()
    # Nobody answers "nothing": the acks wait, until the connection goes.
    loop.call(socket.emit, "nothing", callback=acks.handler("timed"), timeout=30.0)
    loop.call(socket.emit, "nothing", callback=acks.handler("untimed"))
    first.stop()
    events.expect("disconnect")
    (error,) = acks.expect("timed", timeout=1.0)  # at once, not after 30 s
    assert str(error) == "socket has been disconnected"
    # An emit made while offline keeps its ack: it goes out on reconnection.
    loop.call(socket.emit, "echo", 1, callback=acks.handler("buffered"), timeout=30.0)
    server_factory(port=first.port)
    events.expect("connect")
    assert acks.expect("buffered") == (None, 1)
    assert "untimed" not in [name for name, _ in acks.drain()]
