"""Rooms and broadcasts: who gets a packet, and that nobody gets it twice or from itself.

That a socket got nothing is shown without waiting: after the broadcast has reached the sockets
that should get it, the others do a ``message`` round trip; the server writes to a socket in
order, so a broadcast meant for it would have come before ``message-back``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest

from .helpers import Server
from .sio_helpers import TRANSPORTS, Engine, connect, echo_check, event, sio_client

#: Three clients: two on the first transport, one on the other (broadcasts cross transports).
MIXES = {
    "polling": ("polling", "polling", "websocket"),
    "websocket": ("websocket", "websocket", "polling"),
}


@contextmanager
def clients(server: Server, transports: tuple[str, ...], nsp: str = "/") -> Iterator[list[Engine]]:
    with ExitStack() as stack:
        yield [stack.enter_context(sio_client(server, t, nsp))[0] for t in transports]


def room_name() -> str:
    return f"room-{uuid.uuid4().hex[:8]}"


def join(engine: Engine, room: str, nsp: str = "/") -> None:
    engine.send(event("join", room, nsp=nsp, ack=1))
    engine.expect("43" + ("" if nsp == "/" else nsp + ",") + "1[]")


def nothing_more(*engines: Engine, nsp: str = "/") -> None:
    for engine in engines:
        echo_check(engine, nsp, "sync")


@pytest.mark.parametrize("mix", MIXES)
def test_broadcast_excludes_sender(sio_server: Server, mix: str) -> None:
    with clients(sio_server, MIXES[mix]) as (a, b, c):
        a.send(event("broadcast", "from a", {"n": 1}))
        b.expect(event("broadcast-message", "from a", {"n": 1}))
        c.expect(event("broadcast-message", "from a", {"n": 1}))
        nothing_more(a, b, c)


@pytest.mark.parametrize("mix", MIXES)
def test_broadcast_binary(sio_server: Server, mix: str) -> None:
    with clients(sio_server, MIXES[mix]) as (a, b, c):
        a.send('451-["broadcast",{"_placeholder":true,"num":0}]', b"\x01\x02")
        for engine in (b, c):
            engine.expect('451-["broadcast-message",{"_placeholder":true,"num":0}]', b"\x01\x02")
        nothing_more(a, b, c)


@pytest.mark.parametrize("mix", MIXES)
def test_broadcast_stays_in_namespace(sio_server: Server, mix: str) -> None:
    """A broadcast in ``/custom`` reaches ``/custom`` sockets only, not ``/`` ones (even on the
    same session)."""
    first, second, _ = MIXES[mix]
    with (
        sio_client(sio_server, first, "/custom") as (a, _),
        sio_client(sio_server, second, "/custom") as (b, _),
        sio_client(sio_server, first) as (main, _),
    ):
        connect(b, "/")  # b is in both namespaces
        a.send(event("broadcast", "custom only", nsp="/custom"))
        b.expect(event("broadcast-message", "custom only", nsp="/custom"))
        nothing_more(b, main)
        nothing_more(a, nsp="/custom")


@pytest.mark.parametrize("mix", MIXES)
def test_to_room_reaches_members_only(sio_server: Server, mix: str) -> None:
    room = room_name()
    with clients(sio_server, MIXES[mix]) as (a, b, c):
        join(a, room)
        join(b, room)
        # from outside the room: both members
        c.send(event("to-room", room, "hi", 1))
        a.expect(event("room-message", "hi", 1))
        b.expect(event("room-message", "hi", 1))
        nothing_more(a, b, c)
        # from a member: the other members, never the sender
        a.send(event("to-room", room, "from a"))
        b.expect(event("room-message", "from a"))
        nothing_more(a, b, c)


@pytest.mark.parametrize("mix", MIXES)
def test_to_several_rooms_reaches_each_socket_once(sio_server: Server, mix: str) -> None:
    r1, r2 = room_name(), room_name()
    with clients(sio_server, MIXES[mix]) as (a, b, c):
        join(a, r1)
        join(a, r2)
        join(b, r2)
        c.send(event("to-room", [r1, r2], "once"))
        a.expect(event("room-message", "once"))
        b.expect(event("room-message", "once"))
        nothing_more(a, b, c)


@pytest.mark.parametrize("mix", MIXES)
def test_room_of_socket_id(sio_server: Server, mix: str) -> None:
    """Every socket is in the room named by its id: ``to(id)`` is a private message."""
    transports = MIXES[mix]
    with (
        sio_client(sio_server, transports[0]) as (a, a_id),
        sio_client(sio_server, transports[1]) as (b, _),
        sio_client(sio_server, transports[2]) as (c, _),
    ):
        b.send(event("to-room", a_id, "private"))
        a.expect(event("room-message", "private"))
        nothing_more(a, b, c)


@pytest.mark.parametrize("mix", MIXES)
def test_room_left_on_namespace_disconnect(sio_server: Server, mix: str) -> None:
    """A socket that left (``41``) and joined again is a new socket, in none of the old rooms."""
    room = room_name()
    with clients(sio_server, MIXES[mix]) as (a, b, c):
        join(a, room)
        join(b, room)
        connect(a, "/custom")
        a.send("41")
        echo_check(a, "/custom")  # orders the 41 before the 40 (see test_sio_connect)
        connect(a, "/")
        c.send(event("to-room", room, "after"))
        b.expect(event("room-message", "after"))
        nothing_more(a, b, c)


@pytest.mark.parametrize("mix", MIXES)
def test_namespace_emit_includes_sender(sio_server: Server, mix: str) -> None:
    """``nsp.emit`` reaches every socket of the namespace, the one that asked included."""
    with clients(sio_server, MIXES[mix]) as (a, b, c):
        a.send(event("io-emit", "to all"))
        for engine in (a, b, c):
            engine.expect(event("io-message", "to all"))
        nothing_more(a, b, c)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_broadcast_to_custom_room(sio_server: Server, transport: str) -> None:
    """Rooms are per namespace: a ``/custom`` room of the same name is another room."""
    room = room_name()
    with (
        clients(sio_server, (transport, transport), "/custom") as (a, b),
        sio_client(sio_server, transport) as (main, _),
    ):
        join(a, room, "/custom")
        join(main, room)
        b.send(event("to-room", room, "x", nsp="/custom"))
        a.expect(event("room-message", "x", nsp="/custom"))
        nothing_more(main)
        nothing_more(a, b, nsp="/custom")
