"""Leaving namespaces and losing the connection, with the reason each socket is given.

The app reports every disconnect of a ``/`` or ``/custom`` socket to the ``/observer`` namespace
(``Observer``), so the server-side reason can be checked from outside on both servers.
"""

from __future__ import annotations

import pytest

from .conftest import ServerFactory
from .helpers import SEP, Server
from .sio_helpers import (
    TRANSPORTS,
    Observer,
    PollingEngine,
    connect,
    echo_check,
    event,
    open_engine,
    sio_client,
)

#: A Socket.IO packet the parser refuses. Node closes the Engine.IO connection and its sockets
#: get "forced close"; ours names it "parse error".
PARSE_ERROR_REASONS = {"parse error", "forced close"}
#: A valid packet out of place (here, an EVENT for a namespace not joined). Node closes the
#: connection itself: its sockets get "forced server close" over polling (the Engine.IO close
#: waits for the next GET) but "forced close" over websocket (the Engine.IO session reports its
#: own close first, synchronously); ours counts it as a parse error.
INVALID_STATE_REASONS = {"forced server close", "forced close", "parse error"}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_namespace_disconnect(sio_server: Server, transport: str) -> None:
    """``41``: the socket leaves; the session stays, and may join again."""
    with Observer(sio_server) as observer, sio_client(sio_server, transport) as (engine, sid):
        engine.send("41")
        assert observer.reason(sid) == ("/", "client namespace disconnect")
        connect(engine, "/")
        echo_check(engine)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_custom_namespace_disconnect(sio_server: Server, transport: str) -> None:
    """``41/custom,`` leaves ``/custom`` only."""
    with Observer(sio_server) as observer, sio_client(sio_server, transport) as (engine, main):
        custom = connect(engine, "/custom")
        engine.send("41/custom,")
        assert observer.reason(custom) == ("/custom", "client namespace disconnect")
        echo_check(engine)
        observer.expect_none(main, 0.05)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_namespace_disconnect(sio_server: Server, transport: str) -> None:
    """``socket.disconnect()``: the client gets ``41``; the session stays open."""
    with Observer(sio_server) as observer, sio_client(sio_server, transport) as (engine, sid):
        engine.send(event("server-disconnect"))
        engine.expect("41")
        assert observer.reason(sid) == ("/", "server namespace disconnect")
        connect(engine, "/")
        echo_check(engine)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_custom_namespace_disconnect(sio_server: Server, transport: str) -> None:
    with Observer(sio_server) as observer, sio_client(sio_server, transport) as (engine, _):
        custom = connect(engine, "/custom")
        engine.send(event("server-disconnect", nsp="/custom"))
        engine.expect("41/custom,")
        assert observer.reason(custom) == ("/custom", "server namespace disconnect")
        echo_check(engine)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_disconnect_with_close(sio_server: Server, transport: str) -> None:
    """``socket.disconnect(true)``: every socket of the connection leaves as if disconnected by
    the server (``41`` each, "server namespace disconnect"), then the connection closes."""
    with Observer(sio_server) as observer, sio_client(sio_server, transport) as (engine, main):
        custom = connect(engine, "/custom")
        engine.send(event("server-close", nsp="/custom"))
        assert engine.wait_closed() == ["41", "41/custom,"]
        assert observer.reason(main) == ("/", "server namespace disconnect")
        assert observer.reason(custom) == ("/custom", "server namespace disconnect")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_transport_close(sio_server: Server, transport: str) -> None:
    """The client ends the session (websocket closed; polling: a ``1`` packet): every socket of
    it gets "transport close"."""
    with Observer(sio_server) as observer:
        engine = open_engine(sio_server, transport)
        main = connect(engine, "/")
        custom = connect(engine, "/custom")
        engine.close()
        assert observer.reason(main) == ("/", "transport close")
        assert observer.reason(custom) == ("/custom", "transport close")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ping_timeout(server_factory: ServerFactory, transport: str) -> None:
    """A client that stops answering pings: "ping timeout" after pingInterval + pingTimeout."""
    server = server_factory(kind="sio", pingInterval=300, pingTimeout=200)
    with Observer(server) as observer:  # (it answers pings while it waits)
        engine = open_engine(server, transport)
        sid = connect(engine, "/")
        # from now on nothing is read from this session, so its pings go unanswered
        assert observer.reason(sid, timeout=3) == ("/", "ping timeout")
        engine.drop()


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_parse_error(sio_server: Server, transport: str) -> None:
    with Observer(sio_server) as observer, sio_client(sio_server, transport) as (engine, sid):
        engine.send_unchecked("42{}")
        engine.wait_closed()
        namespace, reason = observer.reason(sid)
        assert namespace == "/"
        assert reason in PARSE_ERROR_REASONS


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_parse_error_in_attachments(sio_server: Server, transport: str) -> None:
    """An error found only when the attachments are in (a placeholder out of range)."""
    with Observer(sio_server) as observer, sio_client(sio_server, transport) as (engine, sid):
        custom = connect(engine, "/custom")
        engine.send_unchecked('451-["message",{"_placeholder":true,"num":1}]', b"\x01")
        engine.wait_closed()
        assert observer.reason(sid)[1] in PARSE_ERROR_REASONS
        assert observer.reason(custom)[1] in PARSE_ERROR_REASONS


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_forced_server_close(sio_server: Server, transport: str) -> None:
    """A packet for a namespace this session never joined: the server closes the connection."""
    with Observer(sio_server) as observer, sio_client(sio_server, transport) as (engine, sid):
        engine.send_unchecked(event("message", "x", nsp="/custom"))
        engine.wait_closed()
        namespace, reason = observer.reason(sid)
        assert namespace == "/"
        assert reason in INVALID_STATE_REASONS


def test_polling_close_comes_alone_after_the_disconnects(sio_server: Server) -> None:
    """Over polling, ``disconnect(true)``'s DISCONNECT packets come before the CLOSE packet, in
    an earlier poll: the official client handles a payload's Socket.IO packets a tick after its
    CLOSE, so a DISCONNECT sharing the CLOSE's payload would be lost ("transport close" instead
    of "io server disconnect", and the client would reconnect)."""
    with sio_client(sio_server, "polling") as (engine, _):
        assert isinstance(engine, PollingEngine)
        connect(engine, "/custom")
        engine.expect_silence(0.05)  # leaves a GET parked, as a real client does
        engine.send(event("server-close"))
        assert engine.wait_closed() == ["41", "41/custom,"]
        # the last poll: CLOSE alone (Node puts a noop before it: "6\x1e1")
        assert engine.bodies[-1].split(SEP) in (["1"], ["6", "1"]), engine.bodies
        assert all("1" not in body.split(SEP) for body in engine.bodies[:-1]), engine.bodies
