"""Our client as socket.io-client 4.8: connection state recovery (against our server and the
official one), the ``retries`` queue and ``ack_timeout``, and the chat client's
``[reconnected: N missed messages]``.

Connections are dropped by the server (``socket.conn.close()``: the client sees "transport
close", the server records "forced close", a recoverable reason); what the server emits
"meanwhile" is emitted in the same server tick, so it is missed whatever the timing.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import sio
from cli.chat import LOBBY
from sio import AckTimeoutError
from sio.client import ClientSocket

from .conftest import ClientFactory, ServerFactory
from .helpers import (
    QUIET,
    SIO_CHAT,
    WAIT,
    Loop,
    Process,
    Recorder,
    ServerHandle,
    ServerProcess,
    node_server,
    running,
    start_server,
)

#: Reconnect quickly (the tests wait for events, never for time).
FAST = {"reconnection_delay": 0.05, "reconnection_delay_max": 0.05, "randomization_factor": 0}
#: The official server's connection state recovery (its defaults, spelled out).
NODE_RECOVERY = {
    "connectionStateRecovery": {"maxDisconnectionDuration": 120000, "skipMiddlewares": True}
}
#: Seconds of an ack timeout that must expire.
SHORT = 0.2

Event = tuple[str, tuple[Any, ...]]


# -- helpers --------------------------------------------------------------------------------------


def _call(loop: Loop, socket: ClientSocket, event: str, *args: Any) -> tuple[Any, ...]:
    """Emit with an ack and wait for it; the ack's arguments."""
    acks = Recorder()
    loop.call(socket.emit, event, *args, callback=acks.handler("ack"))
    return acks.expect("ack")


def _until(recorder: Recorder, name: str, timeout: float = WAIT) -> list[Event]:
    """Every event recorded up to the next ``name`` (included), in the order they came."""
    got: list[Event] = []
    pending, recorder.seen = recorder.seen, []
    deadline = time.monotonic() + timeout
    while True:
        if pending:
            item = pending.pop(0)
        else:
            try:
                item = recorder.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {name!r} within {timeout}s; got {got!r}") from None
        got.append(item)
        if item[0] == name:
            recorder.seen = pending
            return got


def _take(recorder: Recorder, count: int) -> list[Event]:
    """The next ``count`` events, in order; then checks that no other comes (``QUIET``)."""
    got: list[Event] = []
    deadline = time.monotonic() + WAIT
    while len(got) < count:
        try:
            got.append(recorder.queue.get(timeout=max(0.0, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError(f"expected {count} events within {WAIT}s; got {got!r}") from None
    try:
        extra = recorder.queue.get(timeout=QUIET)
    except queue.Empty:
        return got
    raise AssertionError(f"unexpected event {extra!r} after {got!r}")


def _client(
    client_factory: ClientFactory,
    loop: Loop,
    url: str,
    *,
    retries: int = 0,
    ack_timeout: float | None = None,
    **options: Any,
) -> tuple[ClientSocket, Recorder]:
    """A websocket client with the socket options ``retries`` and ``ack_timeout``."""
    socket, events = client_factory(
        url, connect=False, events=("news",), transports=("websocket",), **FAST, **options
    )

    def start() -> None:
        socket.retries = retries
        socket.ack_timeout = ack_timeout
        socket.connect()

    loop.call(start)
    return socket, events


# -- connection state recovery --------------------------------------------------------------------


def recovery_app(io: sio.Server) -> None:
    """What ``tests/node/sio_server.js`` does for these tests, on our server."""

    @io.on("connection")
    def on_connection(socket: sio.Socket) -> None:
        @socket.on("join")
        def join(room: str) -> str:
            socket.join(room)
            return room

        @socket.on("whoami")
        def whoami() -> dict[str, Any]:
            return {
                "id": socket.id,
                "auth": socket.handshake.auth,
                "recovered": socket.recovered,
                "rooms": sorted(socket.rooms),
            }

        @socket.on("to-room")
        def to_room(room: str, *args: Any) -> None:
            io.to(room).emit("news", *args)

        @socket.on("drop")
        def drop(room: str, to_room: str, to_self: str) -> None:
            socket.conn.close()
            io.to(room).emit("news", to_room)
            io.to(socket.id).emit("news", to_self)


@pytest.fixture(params=["ours", pytest.param("node", marks=pytest.mark.node)])
def recovery_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A server with connection state recovery: ours in-process, or the official one."""
    server: ServerHandle | ServerProcess
    if request.param == "ours":
        server = start_server(chat=False, setup=recovery_app, connection_state_recovery=True)
    else:
        server = node_server("sio_server.js", NODE_RECOVERY)
    with running(server):
        yield server.url


def test_recovers_the_session_and_what_it_missed(
    recovery_server: str, client_factory: ClientFactory, loop: Loop
) -> None:
    socket, events = _client(client_factory, loop, recovery_server, auth={"user": "A"})
    events.expect("connect")
    first_id, pid, recovered = loop.call(lambda: (socket.id, socket.pid, socket.recovered))
    assert isinstance(pid, str) and pid and recovered is False
    assert _call(loop, socket, "join", "blue") == ("blue",)
    # Every recoverable event ends with its offset; listeners get it too, as in Node.
    loop.call(socket.emit, "to-room", "blue", "before")
    text, offset = events.expect("news")
    assert text == "before" and isinstance(offset, str)

    loop.call(socket.emit, "drop", "blue", "to the room", "to me")
    got = [
        (name, args[0] if args else None)
        for name, args in _until(events, "connect")
        if name in ("disconnect", "news", "connect")
    ]
    # The missed events, once, in order, before "connect".
    assert got == [
        ("disconnect", "transport close"),
        ("news", "to the room"),
        ("news", "to me"),
        ("connect", None),
    ]
    assert loop.call(lambda: (socket.id, socket.pid, socket.recovered)) == (first_id, pid, True)
    (info,) = _call(loop, socket, "whoami")
    assert info["recovered"] is True
    # Node's server shows the auth as the client sent it; ours keeps the pid (a bearer secret)
    # and the offset out of the application's view.
    assert info["auth"] in ({"pid": pid, "offset": offset, "user": "A"}, {"user": "A"})
    assert info["rooms"] == sorted([first_id, "blue"])
    # Still in its room, and nothing replayed twice.
    loop.call(socket.emit, "to-room", "blue", "after")
    assert events.expect("news")[0] == "after"
    events.assert_none("news")


def test_a_session_the_server_does_not_know_starts_afresh(
    server_factory: ServerFactory, client_factory: ClientFactory, loop: Loop
) -> None:
    first = server_factory(chat=False, setup=recovery_app, connection_state_recovery=True)
    socket, events = _client(client_factory, loop, first.url)
    events.expect("connect")
    first_id, pid = loop.call(lambda: (socket.id, socket.pid))
    loop.call(socket.emit, "to-room", first_id, "hello")
    events.expect("news")
    first.stop()
    events.expect("disconnect")
    # A new server on the same port: it never gave that pid.
    server_factory(chat=False, port=first.port, setup=recovery_app, connection_state_recovery=True)
    events.expect("connect")
    second_id, second_pid, recovered = loop.call(lambda: (socket.id, socket.pid, socket.recovered))
    assert recovered is False and second_id != first_id
    assert second_pid and second_pid != pid
    (info,) = _call(loop, socket, "whoami")
    assert info["recovered"] is False and "pid" not in info["auth"]


def test_without_recovery_nothing_changes(
    server_factory: ServerFactory, client_factory: ClientFactory, loop: Loop
) -> None:
    server = server_factory(chat=False, setup=recovery_app)
    socket, events = _client(client_factory, loop, server.url, auth={"user": "A"})
    events.expect("connect")
    assert loop.call(lambda: (socket.pid, socket.recovered)) == (None, False)
    assert _call(loop, socket, "join", "blue") == ("blue",)
    loop.call(socket.emit, "to-room", "blue", "no offset")
    assert events.expect("news") == ("no offset",)
    loop.call(socket.emit, "drop", "blue", "lost", "lost too")
    events.expect("disconnect")
    events.expect("connect")
    (info,) = _call(loop, socket, "whoami")
    assert info["auth"] == {"user": "A"} and info["recovered"] is False
    assert info["rooms"] == [info["id"]]
    events.assert_none("news")


# -- retries and ack_timeout ----------------------------------------------------------------------


def retries_app(arrivals: Recorder) -> Callable[[sio.Server], None]:
    """Events that record each arrival: ``ok`` (acknowledged), ``never`` (never acknowledged),
    ``flaky`` (acknowledged from the second try of a text on), ``drop-once`` (the first try of a
    text drops the connection; later ones are acknowledged)."""

    def setup(io: sio.Server) -> None:
        tried: set[str] = set()

        @io.on("connection")
        def on_connection(socket: sio.Socket) -> None:
            @socket.on("ok")
            def ok(text: str) -> str:
                arrivals.put("ok", text)
                return text

            @socket.on("never")
            def never(text: str, ack: Any) -> None:
                arrivals.put("never", text)

            @socket.on("flaky")
            def flaky(text: str, ack: Any) -> None:
                arrivals.put("flaky", text)
                if text in tried:
                    ack(text)
                tried.add(text)

            @socket.on("drop-once")
            def drop_once(text: str, ack: Any) -> None:
                arrivals.put("drop-once", text)
                if text in tried:
                    ack(text)
                else:
                    tried.add(text)
                    socket.conn.close()

    return setup


@pytest.fixture
def arrivals() -> Recorder:
    return Recorder()


@pytest.fixture
def retries_server(server_factory: ServerFactory, arrivals: Recorder) -> ServerHandle:
    return server_factory(chat=False, setup=retries_app(arrivals))


def test_retries_one_in_flight_retried_after_its_timeout(
    retries_server: ServerHandle, client_factory: ClientFactory, loop: Loop, arrivals: Recorder
) -> None:
    socket, events = _client(client_factory, loop, retries_server.url, retries=2, ack_timeout=SHORT)
    events.expect("connect")
    acks = Recorder()

    def send() -> None:
        socket.emit("flaky", "a", callback=acks.handler("a"))
        socket.volatile.emit("ok", "volatile")  # never queued
        socket.emit("ok", "b", callback=acks.handler("b"))
        socket.emit("ok", "c", callback=acks.handler("c"))

    loop.call(send)
    # "b" and "c" wait until "a", tried again after its timeout (not before: the later emits
    # do not send it again), is acknowledged.
    assert _take(arrivals, 5) == [
        ("flaky", ("a",)),
        ("ok", ("volatile",)),
        ("flaky", ("a",)),
        ("ok", ("b",)),
        ("ok", ("c",)),
    ]
    assert acks.expect("a") == (None, "a")
    assert acks.expect("b") == (None, "b")
    assert acks.expect("c") == (None, "c")


def test_retries_drop_after_the_last_try_with_the_error(
    retries_server: ServerHandle, client_factory: ClientFactory, loop: Loop, arrivals: Recorder
) -> None:
    socket, events = _client(client_factory, loop, retries_server.url, retries=1, ack_timeout=0.1)
    events.expect("connect")
    acks = Recorder()

    def send() -> None:
        socket.emit("never", "x", callback=acks.handler("x"))
        socket.emit("ok", "y", callback=acks.handler("y"))

    loop.call(send)
    assert _take(arrivals, 3) == [("never", ("x",)), ("never", ("x",)), ("ok", ("y",))]
    (error,) = acks.expect("x")
    assert isinstance(error, AckTimeoutError) and str(error) == "operation has timed out"
    assert acks.expect("y") == (None, "y")


@pytest.mark.parametrize("ack_timeout", [WAIT, None], ids=["ack_timeout", "no_ack_timeout"])
def test_retries_resend_in_flight_and_offline_emits_on_reconnection(
    retries_server: ServerHandle,
    client_factory: ClientFactory,
    loop: Loop,
    arrivals: Recorder,
    ack_timeout: float | None,
) -> None:
    # With a timeout, the disconnection fails the try in flight ("socket has been
    # disconnected"), a try that counts; without, its ack is forgotten and the emit stays in
    # flight: either way it goes again when the socket is connected again.
    socket, events = _client(
        client_factory, loop, retries_server.url, retries=3, ack_timeout=ack_timeout
    )
    events.expect("connect")
    acks = Recorder()

    def offline(reason: str) -> None:
        socket.off("disconnect", offline)
        acks.put("offline", socket.connected)
        for text in ("o1", "o2", "o3"):
            socket.emit("ok", text, callback=acks.handler(text))

    def send() -> None:
        socket.on("disconnect", offline)
        socket.emit("drop-once", "h", callback=acks.handler("h"))

    loop.call(send)
    assert acks.expect("offline") == (False,)
    events.expect("connect")
    # The emit in flight when the connection dropped goes again (its ack was lost with it,
    # well before its timeout); the ones made offline go once each, in order.
    assert _take(arrivals, 5) == [
        ("drop-once", ("h",)),
        ("drop-once", ("h",)),
        ("ok", ("o1",)),
        ("ok", ("o2",)),
        ("ok", ("o3",)),
    ]
    assert acks.expect("h") == (None, "h")
    for text in ("o1", "o2", "o3"):
        assert acks.expect(text) == (None, text)


def test_ack_timeout_applies_to_every_emit_with_a_callback(
    retries_server: ServerHandle, client_factory: ClientFactory, loop: Loop, arrivals: Recorder
) -> None:
    socket, events = _client(client_factory, loop, retries_server.url, ack_timeout=SHORT)
    events.expect("connect")
    (error,) = _call(loop, socket, "never", "x")
    assert isinstance(error, AckTimeoutError)
    assert _call(loop, socket, "ok", "y") == (None, "y")  # the error (None) first
    loop.call(socket.emit, "ok", "no callback")
    # No queue without retries: each emit went once.
    assert _take(arrivals, 3) == [("never", ("x",)), ("ok", ("y",)), ("ok", ("no callback",))]


# -- the chat client ------------------------------------------------------------------------------


def test_chat_client_reports_a_recovered_reconnection(
    server_factory: ServerFactory, client_factory: ClientFactory, loop: Loop
) -> None:
    server = server_factory(connection_state_recovery=True)
    b, b_events = client_factory(server.url, auth={"user": "UserB"})
    b_events.expect("connect")
    options = ["--transports", "websocket", "--reconnection-delay", "0.2"]
    a = Process([SIO_CHAT, "client", "--user", "UserA", "--url", server.url, *options])
    with running(a.stop):
        a.expect_err("connected to")
        # A first message: A has an offset to come back with.
        loop.call(b.emit, "chat message", "UserB", "before")
        assert a.expect_line("from UserB") == "before from UserB"

        def drop_a() -> None:
            sockets = list(server.io.of("/").sockets.values())
            (user_a,) = [s for s in sockets if s.data.get("user") == "UserA"]
            (user_b,) = [s for s in sockets if s.data.get("user") == "UserB"]
            user_a.conn.close()
            for text in ("m1", "m2", "m3"):  # what B says while A is away
                user_b.to(LOBBY).emit("chat message", f"{text} from UserB")

        server.loop.call(drop_a)
        a.expect_err("disconnected: transport close")
        a.write("typed offline")  # (or just after the reconnection: sent once either way)
        for text in ("m1", "m2", "m3"):
            assert a.expect_line("from UserB") == f"{text} from UserB"
        assert a.expect_err("reconnected") == "[reconnected: 3 missed messages]"
        assert b_events.expect("chat message")[0] == "typed offline from UserA"
        a.close_stdin()
        assert a.wait() == 0
    assert not [e for e in b_events.drain() if e[0] == "chat message"]  # once
    # One line per connection: the first as before, the recovered one instead of it.
    assert len([line for line in a.err_lines if line.startswith("[connected to ")]) == 1
    assert [line for line in a.err_lines if "reconnected" in line] == [
        "[reconnected: 3 missed messages]"
    ]
    assert a.out_lines.count("m1 from UserB") == 1


def lose_once(text: str) -> Callable[[sio.Server], None]:
    """A server setup: the first chat message ``text`` is lost with the connection carrying it
    (dropped before the chat handler runs, so never acknowledged)."""

    def setup(io: sio.Server) -> None:
        lost = False

        @io.on("connection")
        def on_connection(socket: sio.Socket) -> None:
            @socket.use
            def drop_it(packet: list[Any], next_: Callable[..., None]) -> None:
                nonlocal lost
                if not lost and packet[0] == "chat message" and text in packet[1:]:
                    lost = True
                    socket.conn.close()
                    return
                next_()

    return setup


def test_chat_client_sends_again_a_line_lost_with_the_connection(
    server_factory: ServerFactory, client_factory: ClientFactory
) -> None:
    server = server_factory(connection_state_recovery=True, setup=lose_once("in flight"))
    _b, b_events = client_factory(server.url, auth={"user": "UserB"})
    b_events.expect("connect")
    options = ["--transports", "websocket", "--reconnection-delay", "0.1"]
    a = Process([SIO_CHAT, "client", "--user", "UserA", "--url", server.url, *options])
    with running(a.stop):
        a.expect_err("connected to")
        a.write("in flight")
        a.expect_err("disconnected: transport close")
        assert b_events.expect("chat message")[0] == "in flight from UserA"
        a.close_stdin()
        assert a.wait() == 0
    assert not [e for e in b_events.drain() if e[0] == "chat message"]  # once
