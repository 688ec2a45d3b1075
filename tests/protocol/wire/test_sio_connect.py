"""Joining namespaces: CONNECT and its reply, auth, custom, dynamic and unknown namespaces,
middleware refusals, several namespaces on one session, and the connect timeout."""

from __future__ import annotations

import json
import time

import pytest

from .helpers import Server
from .sio_helpers import (
    TRANSPORTS,
    connect,
    dumps,
    echo_check,
    event,
    open_engine,
)

pytestmark = pytest.mark.parametrize("transport", TRANSPORTS)


def test_connect_main_namespace(sio_server: Server, transport: str) -> None:
    """``40`` -> ``40{"sid":...}`` first (the sid is the socket's, not the session's), then the
    app's ``auth`` event with an empty handshake auth."""
    with open_engine(sio_server, transport) as engine:
        engine.send("40")
        reply = engine.recv()
        assert isinstance(reply, str) and reply.startswith("40{"), reply
        payload = json.loads(reply[2:])
        assert list(payload) == ["sid"], reply
        assert isinstance(payload["sid"], str) and payload["sid"] != engine.sid
        engine.expect('42["auth",{}]')
        echo_check(engine)


def test_connect_main_namespace_with_auth(sio_server: Server, transport: str) -> None:
    with open_engine(sio_server, transport) as engine:
        auth = {"token": "123", "n": [1, None, "é"]}
        engine.send("40" + dumps(auth))
        reply = engine.recv()
        assert isinstance(reply, str) and reply.startswith('40{"sid":"'), reply
        engine.expect("42" + dumps(["auth", auth]))


def test_connect_custom_namespace(sio_server: Server, transport: str) -> None:
    with open_engine(sio_server, transport) as engine:
        engine.send("40/custom,")
        reply = engine.recv()
        assert isinstance(reply, str) and reply.startswith('40/custom,{"sid":"'), reply
        assert list(json.loads(reply[len("40/custom,") :])) == ["sid"]
        engine.expect('42/custom,["auth",{}]')
        echo_check(engine, "/custom")


def test_connect_custom_namespace_with_auth(sio_server: Server, transport: str) -> None:
    with open_engine(sio_server, transport) as engine:
        connect(engine, "/custom", {"token": "abc"})  # checks the auth event's payload


def test_connect_several_namespaces_on_one_session(sio_server: Server, transport: str) -> None:
    """Each namespace gets its own socket id; packets stay in their namespace."""
    with open_engine(sio_server, transport) as engine:
        main = connect(engine, "/")
        custom = connect(engine, "/custom", {"x": 1})
        dynamic = connect(engine, "/dyn-7")
        assert len({main, custom, dynamic, engine.sid}) == 4
        engine.send(event("message", "to custom", nsp="/custom"), event("message", "to main"))
        engine.expect(
            event("message-back", "to custom", nsp="/custom"), event("message-back", "to main")
        )
        echo_check(engine, "/dyn-7")


def test_connect_unknown_namespace(sio_server: Server, transport: str) -> None:
    """Refused with "Invalid namespace"; the session stays open for other namespaces."""
    with open_engine(sio_server, transport) as engine:
        engine.send("40/random,")
        engine.expect('44/random,{"message":"Invalid namespace"}')
        connect(engine, "/")
        echo_check(engine)


def test_connect_unknown_namespace_without_comma(sio_server: Server, transport: str) -> None:
    with open_engine(sio_server, transport) as engine:
        engine.send("40/random")
        engine.expect('44/random,{"message":"Invalid namespace"}')


def test_connect_dynamic_namespace(sio_server: Server, transport: str) -> None:
    """``/dyn-<digits>`` exists on demand; ``/dyn-x`` does not match."""
    with open_engine(sio_server, transport) as engine:
        sid = connect(engine, "/dyn-42", {"k": "v"})
        assert sid != engine.sid
        echo_check(engine, "/dyn-42")
        engine.send("40/dyn-x,")
        engine.expect('44/dyn-x,{"message":"Invalid namespace"}')
        engine.send("40/dyn-42x,")
        engine.expect('44/dyn-42x,{"message":"Invalid namespace"}')


def test_connect_refused_by_middleware(sio_server: Server, transport: str) -> None:
    """A middleware's error goes out with its message and data; the session stays open."""
    with open_engine(sio_server, transport) as engine:
        engine.send("40/refused,")
        engine.expect('44/refused,{"message":"not authorized","data":{"code":42}}')
        engine.send('40/refused,{"token":"anything"}')
        engine.expect('44/refused,{"message":"not authorized","data":{"code":42}}')
        connect(engine, "/")
        echo_check(engine)


def test_connect_again_after_namespace_disconnect(sio_server: Server, transport: str) -> None:
    """After ``41`` the client may join the same namespace again: a new socket.

    Node handles a socket's packets a tick after decoding them but a CONNECT at once: a ``40``
    arriving in the same read as the ``41`` finds the old socket still there and closes the
    session. A round trip on another namespace orders them.
    """
    with open_engine(sio_server, transport) as engine:
        first = connect(engine, "/")
        connect(engine, "/custom")
        engine.send("41")
        echo_check(engine, "/custom")
        second = connect(engine, "/")
        assert second != first
        echo_check(engine)


def test_connect_timeout(sio_server: Server, transport: str) -> None:
    """No CONNECT within connectTimeout (1 s): the server closes the Engine.IO session."""
    started = time.monotonic()
    with open_engine(sio_server, transport) as engine:
        messages = engine.wait_closed(timeout=5)
    elapsed = time.monotonic() - started
    assert messages == []
    assert 0.8 <= elapsed < 4, elapsed


def test_connect_timeout_cancelled_by_connect(sio_server: Server, transport: str) -> None:
    """A session that joined a namespace outlives connectTimeout, even after leaving it."""
    with open_engine(sio_server, transport) as engine:
        connect(engine, "/")
        engine.send("41")
        engine.expect_silence(1.3)  # past the 1 s connectTimeout: still open
        connect(engine, "/")
        echo_check(engine)


def test_connect_refused_does_not_cancel_connect_timeout(
    sio_server: Server, transport: str
) -> None:
    """Only a namespace actually joined counts: refusals leave the timer running."""
    started = time.monotonic()
    with open_engine(sio_server, transport) as engine:
        engine.send("40/random,")
        engine.expect('44/random,{"message":"Invalid namespace"}')
        engine.send("40/refused,")
        engine.expect('44/refused,{"message":"not authorized","data":{"code":42}}')
        assert engine.wait_closed(timeout=5) == []
    assert 0.8 <= time.monotonic() - started < 4
