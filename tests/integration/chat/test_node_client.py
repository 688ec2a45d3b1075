"""The official Node ``socket.io-client`` (``tests/node/sio_client.js``) against ``sio-chat
server``, in each transport mode: the chat broadcast, acks, binary; with connection state
recovery on (every event ends with an offset) and off (the tutorial's wire, exactly)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import (
    RECOVERY,
    NodeClient,
    ServerProcess,
    b64,
    chat_server_process,
    recovery_args,
    running,
    strip_offset,
)

pytestmark = pytest.mark.node

MODES = {
    "upgrade": ["polling", "websocket"],
    "websocket": ["websocket"],
    "polling": ["polling"],
}


@pytest.fixture(scope="module", params=RECOVERY)
def recovery(request: pytest.FixtureRequest) -> bool:
    """One server per module and mode: the tests below run against each."""
    return bool(request.param)


@pytest.fixture(scope="module")
def chat_server(recovery: bool) -> Iterator[ServerProcess]:
    server = chat_server_process(0, *recovery_args(recovery))
    yield server
    server.stop()


def event_args(client: NodeClient, name: str, recovery: bool) -> list[object]:
    """The arguments of the next ``name`` event, its offset checked and left out."""
    return strip_offset(client.expect("event", name=name)["args"], recovery)


@pytest.mark.parametrize("mode", MODES)
def test_node_clients_chat(mode: str, chat_server: ServerProcess, recovery: bool) -> None:
    a = NodeClient(chat_server.url, transports=MODES[mode], auth={"user": "A"})
    b = NodeClient(chat_server.url, transports=MODES[mode], auth={"user": "B"})
    with running(a, b):
        first = a.expect("connect")
        if mode != "upgrade":  # (with an upgrade, either: the probe races the CONNECT reply)
            assert first["transport"] == MODES[mode][0]
        b.expect("connect")
        if mode == "upgrade":
            assert a.expect("upgrade")["transport"] == "websocket"
        a.emit("chat message", "A", "hello")
        assert event_args(b, "chat message", recovery) == ["hello from A"]
        b.emit("chat message", "B", "hi")
        assert event_args(a, "chat message", recovery) == ["hi from B"]
        a.assert_no_event("chat message")
        # acks: "echo" answers with its own arguments, binary included
        assert a.call("echo", "ping", 1, {"k": [True, None]}) == ["ping", 1, {"k": [True, None]}]
        blob = bytes(range(256))
        assert a.call("echo", b64(blob), {"nested": b64(b"\x00\xff")}) == [
            b64(blob),
            {"nested": b64(b"\x00\xff")},
        ]
        # the chat's extras: "who" lists both users
        assert sorted(a.call("who")[0]) == ["A", "B"]


def test_node_client_sees_notices(chat_server: ServerProcess, recovery: bool) -> None:
    a = NodeClient(chat_server.url, auth={"user": "Ann"})
    with running(a):
        a.expect("connect")
        b = NodeClient(chat_server.url, transports=["websocket"], auth={"user": "Bob"})
        with running(b):
            b.expect("connect")
            assert event_args(a, "notice", recovery) == ["Bob joined"]
        # b closed: its DISCONNECT (or the closed connection) makes the server say so
        assert event_args(a, "notice", recovery) == ["Bob left"]
