"""TLS against Node: the official ``socket.io-client`` reaches ``sio-chat server --certfile``
over https and wss (the CA passed as its ``ca`` option, which it forwards to Node's https and
ws), and our client chats with the official server on Node's ``https.createServer``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..tls_support import TlsFiles
from .conftest import ClientFactory
from .helpers import Loop, NodeClient, ServerProcess, chat_server_process, node_server, running

pytestmark = pytest.mark.node

MODES = {
    "upgrade": ["polling", "websocket"],
    "websocket": ["websocket"],
    "polling": ["polling"],
}


@pytest.fixture(scope="module")
def tls_chat_server(tls_files: TlsFiles) -> Iterator[ServerProcess]:
    cert = tls_files.good
    server = chat_server_process(
        0, "--certfile", cert.certfile, "--keyfile", cert.keyfile, "--recovery-window", "0"
    )
    yield server
    server.stop()


@pytest.mark.parametrize("mode", list(MODES))
def test_tls_node_client_chats_over_https_and_wss(
    mode: str, tls_chat_server: ServerProcess, tls_files: TlsFiles
) -> None:
    url = f"https://localhost:{tls_chat_server.port}"
    ca = Path(tls_files.cafile).read_text()
    options: dict[str, Any] = {"transports": MODES[mode], "ca": ca}
    a = NodeClient(url, auth={"user": "A"}, **options)
    b = NodeClient(url, auth={"user": "B"}, **options)
    with running(a, b):
        a.expect("connect")
        b.expect("connect")
        if mode == "upgrade":
            assert a.expect("upgrade")["transport"] == "websocket"
        a.emit("chat message", "A", "hello over TLS")
        assert b.expect("event", name="chat message")["args"] == ["hello over TLS from A"]
        b.emit("chat message", "B", "hi")
        assert a.expect("event", name="chat message")["args"] == ["hi from B"]
        assert a.call("echo", "x" * 200_000) == ["x" * 200_000]


def test_tls_node_client_refuses_our_server_without_the_ca(
    tls_chat_server: ServerProcess,
) -> None:
    """The Node client verifies too: without the CA our (test) certificate is refused."""
    client = NodeClient(
        f"https://localhost:{tls_chat_server.port}", transports=["websocket"], reconnection=False
    )
    with running(client):
        assert client.expect("connect_error")["message"] == "websocket error"


@pytest.mark.parametrize("transports", [("polling",), ("websocket",), ("polling", "websocket")])
def test_tls_our_client_chats_with_a_node_https_server(
    tls_files: TlsFiles, transports: tuple[str, ...], client_factory: ClientFactory, loop: Loop
) -> None:
    cert = tls_files.good
    server = node_server("sio_https_server.js", {"key": cert.keyfile, "cert": cert.certfile})
    with running(server.proc.stop):
        url = f"https://localhost:{server.port}"
        options: dict[str, Any] = {"transports": transports, "ca_file": tls_files.cafile}
        a, a_events = client_factory(url, events=("chat message",), **options)
        b, b_events = client_factory(url, events=("chat message",), **options)
        a_events.expect("connect")
        b_events.expect("connect")
        if len(transports) == 2:
            a_events.expect("upgrade")
        loop.call(a.emit, "chat message", "A", "hello Node")
        assert b_events.expect("chat message") == ("hello Node from A",)
        loop.call(b.emit, "chat message", "B", "hello Python")
        assert a_events.expect("chat message") == ("hello Python from B",)
