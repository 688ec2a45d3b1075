"""The PyPI ``python-socketio`` client (synchronous: requests + websocket-client) against our
server running the chat app, in each transport mode, with connection state recovery on and off.

With recovery on, every event ends with the server's offset: a handler with a fixed number of
arguments fails on it (documented), so the one here takes ``*args``."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest

from .helpers import QUIET, WAIT, ServerHandle, strip_offset

socketio = pytest.importorskip("socketio")

MODES = {
    "upgrade": ["polling", "websocket"],
    "websocket": ["websocket"],
    "polling": ["polling"],
}


class PyClient:
    def __init__(self, url: str, user: str, transports: list[str], recovery: bool) -> None:
        self.recovery = recovery
        self.messages: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.client = socketio.Client(reconnection=False)
        self.client.on("chat message", lambda *args: self.messages.put(args))
        self.client.connect(url, transports=transports, auth={"user": user}, wait_timeout=WAIT)

    def next_message(self) -> list[Any]:
        """The next chat message's arguments, the offset checked and left out."""
        try:
            args = self.messages.get(timeout=WAIT)
        except queue.Empty:
            raise AssertionError("no chat message within the wait") from None
        return strip_offset(args, self.recovery)

    def call(self, event: str, *args: Any) -> Any:
        return self.client.call(event, args if len(args) != 1 else args[0], timeout=WAIT)


@pytest.fixture
def clients() -> Iterator[list[PyClient]]:
    made: list[PyClient] = []
    yield made
    for client in made:
        client.client.disconnect()


@pytest.mark.parametrize("mode", MODES)
def test_python_socketio_chat(
    mode: str, interop_chat_server: ServerHandle, recovery: bool, clients: list[PyClient]
) -> None:
    url = interop_chat_server.url
    a = PyClient(url, "A", MODES[mode], recovery)
    clients.append(a)
    b = PyClient(url, "B", MODES[mode], recovery)
    clients.append(b)
    assert a.client.connected and b.client.connected
    expected = "polling" if mode == "polling" else "websocket"
    assert a.client.transport() == expected
    a.client.emit("chat message", ("A", "hello"))
    assert b.next_message() == ["hello from A"]
    b.client.emit("chat message", ("B", "hi"))
    assert a.next_message() == ["hi from B"]
    with pytest.raises(queue.Empty):
        a.messages.get(timeout=QUIET)
    # call() waits for the ack: "echo" answers with its own arguments
    assert a.call("echo", "one") == "one"
    assert a.call("echo", "x", 2, [None, True]) == ("x", 2, [None, True])
    blob = bytes(range(256)) * 3
    assert a.call("echo", blob, {"inner": b"\x00\x01"}) == (blob, {"inner": b"\x00\x01"})
    assert sorted(a.call("who")) == ["A", "B"]
