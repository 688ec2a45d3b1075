"""Our client against our server (the chat app), in each transport mode, with connection state
recovery on (every event ends with an offset) and off (the tutorial's wire, exactly)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ClientFactory
from .helpers import Loop, Recorder, ServerHandle, strip_offset

MODES = {
    "upgrade": ("polling", "websocket"),
    "websocket": ("websocket",),
    "polling": ("polling",),
}


def _users(
    client_factory: ClientFactory, url: str, transports: tuple[str, ...], *names: str
) -> dict[str, tuple[Any, Recorder]]:
    users = {
        name: client_factory(url, auth={"user": name}, transports=transports) for name in names
    }
    for _, recorder in users.values():
        recorder.expect("connect")
    return users


@pytest.mark.parametrize("mode", MODES)
def test_chat_message_reaches_every_other_user(
    mode: str,
    interop_chat_server: ServerHandle,
    recovery: bool,
    client_factory: ClientFactory,
    loop: Loop,
) -> None:
    users = _users(client_factory, interop_chat_server.url, MODES[mode], "A", "B", "C")

    def message(name: str) -> list[Any]:
        """The next chat message ``name`` receives, its offset checked and left out."""
        return strip_offset(users[name][1].expect("chat message"), recovery)

    a, a_events = users["A"]
    loop.call(a.emit, "chat message", "A", "hello")
    for name in ("B", "C"):
        assert message(name) == ["hello from A"]
    a_events.assert_none("chat message")
    # The others' messages reach A (and not their sender).
    b, b_events = users["B"]
    loop.call(b.emit, "chat message", "B", "hi A")
    assert message("A") == ["hi A from B"]
    assert message("C") == ["hi A from B"]
    b_events.assert_none("chat message")
    # C leaves: the server tells the others (a notice: an event, with its offset too).
    loop.call(users["C"][0].disconnect)
    for events in (a_events, b_events):
        left = events.expect("notice", where=lambda text, *_: text == "C left")
        assert strip_offset(left, recovery) == ["C left"]


def test_default_mode_ends_on_websocket(
    interop_chat_server: ServerHandle, client_factory: ClientFactory, loop: Loop
) -> None:
    socket, events = client_factory(interop_chat_server.url)
    events.expect("connect")
    # The handshake is made over polling, then the connection moves to websocket.
    assert events.expect("upgrade") == ("websocket",)
    assert loop.call(lambda: socket.manager.transport) == "websocket"
    # Still usable after the upgrade, both ways, binary included (an ack: never an offset).
    acks = Recorder()
    loop.call(socket.emit, "echo", "after upgrade", b"\x01\x02", callback=acks.handler("ack"))
    assert acks.expect("ack") == ("after upgrade", b"\x01\x02")
    events.assert_none("disconnect")


def test_polling_only_stays_on_polling(
    interop_chat_server: ServerHandle, client_factory: ClientFactory, loop: Loop
) -> None:
    socket, events = client_factory(interop_chat_server.url, transports=("polling",))
    events.expect("connect")
    for _ in range(3):
        acks = Recorder()
        loop.call(socket.emit, "echo", 1, callback=acks.handler("ack"))
        assert acks.expect("ack") == (1,)
        assert loop.call(lambda: socket.manager.transport) == "polling"
    events.assert_none("upgrade")


def test_websocket_only_never_polls(
    interop_chat_server: ServerHandle, client_factory: ClientFactory, loop: Loop
) -> None:
    socket, events = client_factory(interop_chat_server.url, transports=("websocket",))
    events.expect("connect")
    assert loop.call(lambda: socket.manager.transport) == "websocket"
