"""Our client against the official Node ``socket.io`` server (``tests/node/sio_server.js``) and
against ours running the same application: events, acks both ways (with timeouts), binary both
ways, a second namespace on the same connection, auth, ``connect_error`` with message and data.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sio import AckTimeoutError
from sio.client import ConnectError, connect

from .conftest import ClientFactory
from .helpers import (
    Loop,
    Recorder,
    ServerHandle,
    ServerProcess,
    install_features,
    node_server,
    start_server,
)

MODES = {
    "upgrade": ("polling", "websocket"),
    "websocket": ("websocket",),
    "polling": ("polling",),
}
#: Seconds of an ack timeout that must expire.
SHORT = 0.2


class Target:
    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name


@pytest.fixture(scope="module", params=["ours", pytest.param("node", marks=pytest.mark.node)])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """The feature server: ours in-process, or the official one in a subprocess."""
    server: ServerHandle | ServerProcess
    if request.param == "ours":
        server = start_server(chat=False)
        server.loop.call(install_features, server.io)
    else:
        server = node_server("sio_server.js", {})
    yield Target(server.url, request.param)
    server.stop()


def _call(loop: Loop, socket: Any, event: str, *args: Any, timeout: float | None = None) -> Any:
    """Emit with an ack and wait for it; the ack's arguments."""
    acks = Recorder()
    loop.call(socket.emit, event, *args, callback=acks.handler("ack"), timeout=timeout)
    return acks.expect("ack")


@pytest.mark.parametrize("mode", MODES)
def test_events_acks_and_binary(
    mode: str, target: Target, client_factory: ClientFactory, loop: Loop
) -> None:
    socket, events = client_factory(
        target.url, transports=MODES[mode], events=("question", "answer")
    )
    events.expect("connect")
    # client -> server ack, text and binary (nested) both ways
    assert _call(loop, socket, "echo", "text", 42) == ("text", 42)
    blob = bytes(range(256)) * 4
    payload = {"blob": blob, "list": [b"\x00", "x", {"deep": b"\xff\xfe"}]}
    assert _call(loop, socket, "echo", blob, payload) == (blob, payload)
    assert _call(loop, socket, "echo") == ()
    # server -> client ack: our handler's return value is the answer
    loop.call(socket.on, "question", lambda *args: ("got", *args))
    loop.call(socket.emit, "ask", "q1", b"\x01\x02")
    assert events.expect("question") == ("q1", b"\x01\x02")
    assert events.expect("answer") == ("got", "q1", b"\x01\x02")
    # A chat message from a second client reaches this one only.
    other, other_events = client_factory(target.url, transports=MODES[mode])
    other_events.expect("connect")
    loop.call(other.emit, "chat message", "B", "hello")
    assert events.expect("chat message") == ("hello from B",)
    other_events.assert_none("chat message")
    if mode == "upgrade":
        assert events.expect("upgrade") == ("websocket",)
    info = _call(loop, socket, "whoami")[0]
    assert info["transport"] == ("polling" if mode == "polling" else "websocket")


def test_ack_timeouts_both_ways(target: Target, client_factory: ClientFactory, loop: Loop) -> None:
    socket, events = client_factory(target.url, events=("question", "answer"))
    events.expect("connect")
    # Nobody acknowledges "nothing": our callback gets the timeout error first.
    (error,) = _call(loop, socket, "nothing", timeout=SHORT)
    assert isinstance(error, AckTimeoutError)
    # An ack on time: error None first, then the arguments.
    assert _call(loop, socket, "echo", 1, timeout=2.0) == (None, 1)

    # The server asks with a timeout; our handler takes the ack and never calls it.
    def never_answers(*args: Any, ack: Any) -> None:
        pass

    loop.call(socket.on, "question", never_answers)
    loop.call(socket.emit, "ask-timeout", int(SHORT * 1000), "late?")
    assert events.expect("question") == ("late?",)
    assert events.expect("answer") == ("operation has timed out",)


def test_broadcast_with_acks_collects_every_clients_answer(
    target: Target, client_factory: ClientFactory, loop: Loop
) -> None:
    room = f"room-{target.name}-{id(loop)}"
    asker, asker_events = client_factory(target.url, events=("question", "answers"))
    other, other_events = client_factory(target.url, events=("question",))
    asker_events.expect("connect")
    other_events.expect("connect")
    assert _call(loop, asker, "join", room) == (room,)
    assert _call(loop, other, "join", room) == (room,)

    def answer_as(name: str) -> Any:
        def question(*args: Any, ack: Any) -> None:
            ack(name, "ignored: only the first argument counts")

        return question

    loop.call(asker.on, "question", answer_as("asker"))
    loop.call(other.on, "question", answer_as("other"))
    loop.call(asker.emit, "ask-room", room, 2000, "who is there?")
    error, responses = asker_events.expect("answers")
    assert error is None
    assert sorted(responses) == ["asker", "other"]
    assert other_events.expect("question") == ("who is there?",)

    # One client keeps its ack: the error, with the answers that came in time.
    def keeps_it(*args: Any, ack: Any) -> None:
        pass

    loop.call(other.off, "question")
    loop.call(other.on, "question", keeps_it)
    loop.call(asker.emit, "ask-room", room, int(SHORT * 1000), "again?")
    error, responses = asker_events.expect("answers")
    assert error == "operation has timed out"
    assert responses == ["asker"]


def test_second_namespace_shares_the_connection(
    target: Target, client_factory: ClientFactory, loop: Loop
) -> None:
    main, main_events = client_factory(target.url, auth={"user": "A"})
    main_events.expect("connect")
    admin_events = Recorder()

    def open_admin() -> Any:
        admin = main.manager.socket("/admin", {"token": "secret"})
        admin_events.listen(admin, "connect", "connect_error", "disconnect")
        return admin.connect()

    admin = loop.call(open_admin)
    admin_events.expect("connect")
    main_info = _call(loop, main, "whoami")[0]
    admin_info = _call(loop, admin, "whoami")[0]
    assert main_info["nsp"] == "/" and admin_info["nsp"] == "/admin"
    assert main_info["auth"] == {"user": "A"}
    assert admin_info["auth"] == {"token": "secret"}
    assert main_info["engine"] == admin_info["engine"]  # one Engine.IO connection
    assert main_info["id"] != admin_info["id"]
    # Leaving one namespace keeps the other (and the connection).
    loop.call(admin.disconnect)
    assert admin_events.expect("disconnect") == ("io client disconnect",)
    assert _call(loop, main, "echo", "still here") == ("still here",)
    main_events.assert_none("disconnect")


def test_connect_error_carries_message_and_data(
    target: Target, client_factory: ClientFactory, loop: Loop
) -> None:
    admin, events = client_factory(target.url, namespace="/admin", auth={"token": "wrong"})
    (error,) = events.expect("connect_error")
    assert isinstance(error, ConnectError)
    assert error.message == "not authorized"
    assert error.data == {"reason": "bad token"}
    events.assert_none("connect")
    assert loop.call(lambda: admin.connected) is False


def test_server_disconnect_is_final(
    target: Target, client_factory: ClientFactory, loop: Loop
) -> None:
    socket, events = client_factory(target.url, reconnection_delay=0.05)
    events.expect("connect")
    loop.call(socket.emit, "bye")
    assert events.expect("disconnect") == ("io server disconnect",)
    events.assert_none("reconnect_attempt")
    events.assert_none("connect")


def test_url_path_names_the_namespace(target: Target, loop: Loop) -> None:
    events = Recorder()

    def build() -> Any:
        socket = connect(
            f"{target.url}/admin?room=blue", auth={"token": "secret"}, reactor=loop.reactor
        )
        events.listen(socket, "connect", "connect_error")
        return socket

    socket = loop.call(build)
    try:
        events.expect("connect")
        info = _call(loop, socket, "whoami")[0]
        assert info["nsp"] == "/admin"
        assert info["query"]["room"] == "blue"
    finally:
        loop.call(socket.manager.close)


def test_emit_from_another_thread_is_refused(
    chat_server: ServerHandle, client_factory: ClientFactory, loop: Loop
) -> None:
    """``emit`` from a thread that does not run the client's reactor raced it (the admin tests
    lost a packet, then the connection, ~1 run in 4 mid-upgrade); now it raises at once and
    leaves nothing behind (no ack waiting), and the same emit through the loop works."""
    socket, events = client_factory(chat_server.url, auth={"user": "tom"})
    events.expect("connect")
    acks = Recorder()
    with pytest.raises(RuntimeError, match="thread that does not run its reactor"):
        socket.emit("join", "blue", callback=acks.handler("ack"))
    assert loop.call(lambda: dict(socket._acks)) == {}
    loop.call(socket.emit, "join", "blue", callback=acks.handler("ack"))
    acks.expect("ack")
