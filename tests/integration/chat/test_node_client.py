"""The official Node ``socket.io-client`` (``tests/node/sio_client.js``) against ``sio-chat
server``, in each transport mode: the chat broadcast, acks, binary."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .helpers import NodeClient, ServerProcess, b64, chat_server_process, running

pytestmark = pytest.mark.node

MODES = {
    "upgrade": ["polling", "websocket"],
    "websocket": ["websocket"],
    "polling": ["polling"],
}


@pytest.fixture(scope="module")
def chat_server() -> Iterator[ServerProcess]:
    server = chat_server_process()
    yield server
    server.stop()


@pytest.mark.parametrize("mode", MODES)
def test_node_clients_chat(mode: str, chat_server: ServerProcess) -> None:
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
        assert b.expect("event", name="chat message")["args"] == ["hello from A"]
        b.emit("chat message", "B", "hi")
        assert a.expect("event", name="chat message")["args"] == ["hi from B"]
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


def test_node_client_sees_notices(chat_server: ServerProcess) -> None:
    a = NodeClient(chat_server.url, auth={"user": "Ann"})
    with running(a):
        a.expect("connect")
        b = NodeClient(chat_server.url, transports=["websocket"], auth={"user": "Bob"})
        with running(b):
            b.expect("connect")
            assert a.expect("event", name="notice")["args"] == ["Bob joined"]
        # b closed: its DISCONNECT (or the closed connection) makes the server say so
        assert a.expect("event", name="notice")["args"] == ["Bob left"]
