"""``adopt()``: serving a connection accepted elsewhere (the cluster hands sockets to workers)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from protocol.wire.clients import HttpClient
from protocol.wire.helpers import parse_open, polling_url, websocket_url
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, Message, Request, TextMessage

from .conftest import WAIT, ServerThread


@pytest.fixture
def acceptor() -> Iterator[socket.socket]:
    """A listening socket of the test's own: the test accepts, the server adopts."""
    sock = socket.create_server(("127.0.0.1", 0))
    sock.settimeout(WAIT)
    yield sock
    sock.close()


def read_head(sock: socket.socket) -> bytes:
    """Read until the end of a request head, as an acceptor that peeks at the request would."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "client closed"
        data += chunk
    return data


def test_adopt_with_initial_request(engine: ServerThread, acceptor: socket.socket) -> None:
    client = HttpClient(acceptor.getsockname())
    with client:
        client.send_request("GET", polling_url(engine.wire))
        conn, peer = acceptor.accept()
        initial = read_head(conn)
        engine.reactor.call_soon_threadsafe(engine.server.adopt, conn, peer, initial)
        response = client.get_response()
        assert response.status == 200
        sid = parse_open(response.text)["sid"]
        # The connection goes on as any other: keep-alive, messages, the session's peer address.
        assert client.request("POST", polling_url(engine.wire, sid), body=b"4adopted").body == b"ok"
        assert client.request("GET", polling_url(engine.wire, sid)).body == b"4adopted"
    assert engine.handler.wait_for("message").data == "adopted"
    esock = engine.handler.sockets[sid]
    assert esock.remote_address == "127.0.0.1"
    assert esock.request.remote_address == peer


def test_adopt_with_partial_initial_data(engine: ServerThread, acceptor: socket.socket) -> None:
    """The acceptor read only part of the request; the rest arrives on the socket."""
    with HttpClient(acceptor.getsockname()) as client:
        head = (
            f"GET {polling_url(engine.wire)} HTTP/1.1\r\nHost: {engine.address[0]}\r\n\r\n"
        ).encode()
        client.send_raw(head[:10])
        conn, peer = acceptor.accept()
        initial = conn.recv(10)
        engine.reactor.call_soon_threadsafe(engine.server.adopt, conn, peer, initial)
        client.send_raw(head[10:])
        raw = b""
        client.sock.settimeout(WAIT)
        while b"\r\n\r\n" not in raw or not raw.rstrip().endswith(b"}"):
            chunk = client.sock.recv(4096)
            assert chunk
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 200 ")
    parse_open(raw.split(b"\r\n\r\n", 1)[1].decode())


def test_adopt_without_peer(engine: ServerThread, acceptor: socket.socket) -> None:
    """No peer given: the server asks the socket."""
    with HttpClient(acceptor.getsockname()) as client:
        client.send_request("GET", polling_url(engine.wire))
        conn, peer = acceptor.accept()
        engine.reactor.call_soon_threadsafe(engine.server.adopt, conn)
        sid = parse_open(client.get_response().text)["sid"]
    assert engine.handler.sockets[sid].request.remote_address == peer


def test_adopt_socketpair_websocket(engine: ServerThread) -> None:
    """A socket that is not TCP at all (no peer address, no Nagle), carrying a websocket whose
    upgrade request came as initial data."""
    ours, theirs = socket.socketpair()
    ours.settimeout(WAIT)
    try:
        ws = WSConnection(ConnectionType.CLIENT)
        upgrade = ws.send(Request(host="localhost", target=websocket_url(engine.wire)))
        engine.reactor.call_soon_threadsafe(engine.server.adopt, theirs, None, upgrade)
        messages: list[str] = []
        accepted = False
        while len(messages) < 1:
            data = ours.recv(65536)
            assert data, "closed"
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    accepted = True
                elif isinstance(event, TextMessage):
                    messages.append(event.data)
        assert accepted
        sid = parse_open(messages[0])["sid"]
        ours.sendall(ws.send(Message(data="4over a pair")))
        reply: list[str] = []
        while not reply:
            data = ours.recv(65536)
            assert data, "closed"
            ws.receive_data(data)
            reply.extend(e.data for e in ws.events() if isinstance(e, TextMessage))
        assert reply == ["4over a pair"]
        assert engine.handler.sockets[sid].remote_address is None
    finally:
        ours.close()
