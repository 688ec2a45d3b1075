"""``InMemoryAdapter`` (rooms and delivery) and ``BroadcastOperator`` (who gets a broadcast).

The namespace and the sockets are minimal fakes: the adapter only reads ``nsp.name``,
``nsp.sockets``, ``socket.id``, ``socket.conn.writable`` and calls ``conn.send_outbound``
(through ``Outbound.send_to``, which asks the reactor whether the tick is quiet and calls the
session's ``active_transport``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

import sio.adapter
from eio import Outbound
from eio.stats import EngineStats
from sio.adapter import BroadcastFlags, BroadcastOptions, InMemoryAdapter, outbound_of
from sio.broadcast import BroadcastOperator
from sio.protocol.packet import RESERVED_EVENTS, Packet, PacketType
from sio.protocol.parser import JSON_PARSER, Parser
from sio.stats import ServerStats


class FakeReactor:
    quiet_tick = False


class FakeServer:
    reactor = FakeReactor()
    recovery = None
    parser = JSON_PARSER

    def __init__(self) -> None:
        self.stats = ServerStats()


class FakeEngineServer:
    """What ``Outbound.send_to`` reads of a session's server."""

    reactor = FakeReactor()

    def __init__(self) -> None:
        self.stats = EngineStats()
        self.traffic: EngineStats | None = self.stats  # counted, as with metrics on


class FakeConn:
    server = FakeEngineServer()

    def __init__(self, writable: bool) -> None:
        self.writable = writable
        self.sent: list[Outbound] = []
        #: What ``Outbound.send_to`` writes through (the session's transport).
        self.active_transport = self

    def send_outbound(self, outbound: Outbound) -> None:
        self.sent.append(outbound)


class FakeSocket:
    def __init__(self, sid: str, adapter: InMemoryAdapter, writable: bool = True) -> None:
        self.id = sid
        self.conn = FakeConn(writable)
        self._adapter = adapter
        self.disconnected: list[bool] = []

    # What BroadcastOperator.sockets_join/sockets_leave/disconnect_sockets call.
    def join(self, rooms: Iterable[str]) -> None:
        self._adapter.add_all(self.id, rooms)

    def leave(self, room: str) -> None:
        self._adapter.remove(self.id, room)

    def disconnect(self, close: bool = False) -> None:
        self.disconnected.append(close)


class FakeNamespace:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sockets: dict[str, FakeSocket] = {}
        self.server = FakeServer()


class World:
    """A namespace, its adapter and its sockets; each socket is in its own room (as on connect)."""

    def __init__(self, name: str = "/") -> None:
        self.nsp = FakeNamespace(name)
        self.adapter = InMemoryAdapter(self.nsp)  # type: ignore[arg-type]

    def connect(self, sid: str, *rooms: str, writable: bool = True) -> FakeSocket:
        socket = FakeSocket(sid, self.adapter, writable)
        self.nsp.sockets[sid] = socket
        self.adapter.add_all(sid, (sid, *rooms))
        return socket

    def received(self) -> dict[str, int]:
        """sid -> number of outbounds it got (every socket listed, zeros included)."""
        return {sid: len(s.conn.sent) for sid, s in self.nsp.sockets.items()}

    def recipients(self) -> set[str]:
        return {sid for sid, count in self.received().items() if count}

    def operator(self) -> BroadcastOperator:
        return BroadcastOperator(self.adapter)


def opts(
    rooms: Iterable[str] = (),
    except_rooms: Iterable[str] = (),
    local: bool = False,
    volatile: bool = False,
) -> BroadcastOptions:
    return BroadcastOptions(
        frozenset(rooms), frozenset(except_rooms), BroadcastFlags(local=local, volatile=volatile)
    )


def event(*data: Any, namespace: str = "/") -> Packet:
    return Packet(PacketType.EVENT, namespace, list(data))


@pytest.fixture
def world() -> World:
    """a in red; b in red and blue; c in blue; d in no room but its own."""
    w = World()
    w.connect("a", "red")
    w.connect("b", "red", "blue")
    w.connect("c", "blue")
    w.connect("d")
    return w


# -- membership ---------------------------------------------------------------------------------


def test_adapter_add_all_and_socket_rooms(world: World) -> None:
    assert world.adapter.socket_rooms("b") == {"b", "red", "blue"}
    assert world.adapter.socket_rooms("d") == {"d"}
    assert set(world.adapter.rooms["red"]) == {"a", "b"}
    member: object = world.adapter.rooms["red"]["a"]
    assert member is world.nsp.sockets["a"]


def test_adapter_add_all_is_idempotent(world: World) -> None:
    world.adapter.add_all("a", ["red", "red", "green"])
    assert world.adapter.socket_rooms("a") == {"a", "red", "green"}
    assert list(world.adapter.rooms["red"]) == ["a", "b"]


def test_adapter_add_all_unknown_sid_is_ignored(world: World) -> None:
    world.adapter.add_all("ghost", ["red"])
    assert world.adapter.socket_rooms("ghost") == set()
    assert "ghost" not in world.adapter.rooms["red"]
    assert "ghost" not in world.adapter.sids


def test_adapter_socket_rooms_unknown_sid_is_empty(world: World) -> None:
    assert world.adapter.socket_rooms("ghost") == set()


def test_adapter_socket_rooms_returns_a_copy(world: World) -> None:
    rooms = world.adapter.socket_rooms("a")
    rooms.add("injected")
    rooms.discard("red")
    assert world.adapter.socket_rooms("a") == {"a", "red"}


def test_adapter_remove_one_room(world: World) -> None:
    world.adapter.remove("b", "red")
    assert world.adapter.socket_rooms("b") == {"b", "blue"}
    assert set(world.adapter.rooms["red"]) == {"a"}


def test_adapter_remove_last_member_deletes_the_room(world: World) -> None:
    world.adapter.remove("c", "blue")
    world.adapter.remove("b", "blue")
    assert "blue" not in world.adapter.rooms


def test_adapter_remove_unknown_is_harmless(world: World) -> None:
    world.adapter.remove("ghost", "red")
    world.adapter.remove("a", "nowhere")
    world.adapter.remove("a", "blue")  # a room that exists, that a is not in
    assert set(world.adapter.rooms["red"]) == {"a", "b"}
    assert set(world.adapter.rooms["blue"]) == {"b", "c"}
    assert world.adapter.socket_rooms("a") == {"a", "red"}


def test_adapter_remove_all(world: World) -> None:
    world.adapter.remove_all("b")
    assert world.adapter.socket_rooms("b") == set()
    assert "b" not in world.adapter.sids
    assert "b" not in world.adapter.rooms  # its own room is gone with it
    assert set(world.adapter.rooms["red"]) == {"a"}
    assert set(world.adapter.rooms["blue"]) == {"c"}


def test_adapter_remove_all_deletes_emptied_rooms(world: World) -> None:
    world.adapter.remove_all("a")
    world.adapter.remove_all("b")
    assert "red" not in world.adapter.rooms
    assert set(world.adapter.rooms) == {"c", "d", "blue"}


def test_adapter_membership_holds_past_a_few_rooms(world: World) -> None:
    # A socket's rooms are kept compactly while few, in a set past that: same answers either way.
    many = [f"r{i}" for i in range(40)]
    for room in many:
        world.adapter.add_all("d", [room, room])
    assert world.adapter.socket_rooms("d") == {"d", *many}
    world.adapter.add_all("d", many)  # again: nothing changes
    for room in many[:-1]:
        world.adapter.remove("d", room)
        assert room not in world.adapter.rooms
    assert world.adapter.socket_rooms("d") == {"d", "r39"}
    world.adapter.add_all("a", ["red", *many[:20]])
    assert world.adapter.socket_rooms("a") == {"a", "red", *many[:20]}
    world.adapter.remove_all("a")
    assert set(world.adapter.rooms["r39"]) == {"d"} and "r0" not in world.adapter.rooms
    assert world.adapter.socket_rooms("a") == set()


def test_adapter_remove_all_unknown_sid_is_harmless(world: World) -> None:
    world.adapter.remove_all("ghost")
    assert set(world.adapter.sids) == {"a", "b", "c", "d"}


# -- recipients ---------------------------------------------------------------------------------

# (id, options, recipients)
RECIPIENT_CASES: list[tuple[str, BroadcastOptions, set[str]]] = [
    ("all", opts(), {"a", "b", "c", "d"}),
    ("one-room", opts(["red"]), {"a", "b"}),
    ("own-room", opts(["d"]), {"d"}),
    ("several-rooms", opts(["red", "blue"]), {"a", "b", "c"}),
    ("unknown-room", opts(["green"]), set()),
    ("room-and-unknown-room", opts(["green", "blue"]), {"b", "c"}),
    ("except", opts(except_rooms=["red"]), {"c", "d"}),
    ("except-own-room", opts(except_rooms=["a"]), {"b", "c", "d"}),
    ("except-unknown-room", opts(except_rooms=["green"]), {"a", "b", "c", "d"}),
    ("except-several", opts(except_rooms=["red", "blue"]), {"d"}),
    ("room-except", opts(["red"], ["blue"]), {"a"}),
    ("room-except-own-room", opts(["red"], ["a"]), {"b"}),
    ("rooms-except", opts(["red", "blue"], ["b"]), {"a", "c"}),
    ("rooms-except-everyone", opts(["red", "blue"], ["red", "blue"]), set()),
    ("room-except-itself", opts(["red"], ["red"]), set()),
]


@pytest.mark.parametrize(
    ("options", "expected"),
    [c[1:] for c in RECIPIENT_CASES],
    ids=[c[0] for c in RECIPIENT_CASES],
)
def test_adapter_broadcast_recipients(
    world: World, options: BroadcastOptions, expected: set[str]
) -> None:
    world.adapter.broadcast(event("news"), options)
    assert world.recipients() == expected
    # Each recipient exactly once, however many of the rooms it is in.
    assert all(count in (0, 1) for count in world.received().values())


@pytest.mark.parametrize(
    ("options", "expected"),
    [c[1:] for c in RECIPIENT_CASES],
    ids=[c[0] for c in RECIPIENT_CASES],
)
def test_adapter_local_sockets(world: World, options: BroadcastOptions, expected: set[str]) -> None:
    sockets: list[Any] = world.adapter.local_sockets(options)
    assert isinstance(sockets, list)
    assert sorted(s.id for s in sockets) == sorted(expected)  # no duplicates
    assert all(s is world.nsp.sockets[s.id] for s in sockets)
    assert world.received() == dict.fromkeys(world.nsp.sockets, 0)  # nothing was sent


@pytest.mark.parametrize(
    ("options", "expected"),
    [c[1:] for c in RECIPIENT_CASES],
    ids=[c[0] for c in RECIPIENT_CASES],
)
def test_adapter_deliver_returns_recipient_count(
    world: World, options: BroadcastOptions, expected: set[str]
) -> None:
    assert world.adapter.deliver(event("news"), options, None) == len(expected)


def test_adapter_broadcast_with_no_sockets() -> None:
    w = World()
    assert w.adapter.deliver(event("news"), opts(), None) == 0
    assert w.adapter.local_sockets(opts(["red"])) == []


def test_adapter_socket_joined_after_broadcast_gets_nothing(world: World) -> None:
    world.adapter.broadcast(event("first"), opts(["red"]))
    world.adapter.add_all("c", ["red"])
    world.adapter.broadcast(event("second"), opts(["red"]))
    assert world.received() == {"a": 2, "b": 2, "c": 1, "d": 0}


# -- volatile -----------------------------------------------------------------------------------


def test_adapter_volatile_skips_non_writable_sockets() -> None:
    w = World()
    w.connect("fast", "room")
    w.connect("slow", "room", writable=False)
    assert w.adapter.deliver(event("tick"), opts(["room"], volatile=True), None) == 1
    assert w.received() == {"fast": 1, "slow": 0}
    w.adapter.broadcast(event("tick"), opts(volatile=True))
    assert w.received() == {"fast": 2, "slow": 0}


def test_adapter_non_volatile_sends_to_non_writable_sockets() -> None:
    w = World()
    w.connect("fast")
    w.connect("slow", writable=False)
    w.adapter.broadcast(event("important"), opts())
    assert w.received() == {"fast": 1, "slow": 1}


# -- encode once --------------------------------------------------------------------------------


def test_adapter_broadcast_encodes_once_for_everyone(world: World) -> None:
    world.adapter.broadcast(event("news", "héllo", namespace="/admin™"), opts())
    outbounds = [s.conn.sent[0] for s in world.nsp.sockets.values()]
    first = outbounds[0]
    assert all(o is first for o in outbounds)
    assert first.packets == ['42/admin™,["news","héllo"]']
    frames = [o.frames for o in outbounds]
    assert all(f is frames[0] for f in frames)
    assert isinstance(frames[0], bytes)


def test_adapter_broadcast_binary_shares_attachments(world: World) -> None:
    world.adapter.broadcast(event("file", b"\x00\x01", namespace="/admin"), opts(["blue"]))
    b, c = world.nsp.sockets["b"].conn.sent, world.nsp.sockets["c"].conn.sent
    assert len(b) == len(c) == 1
    assert b[0] is c[0]
    assert b[0].packets == ['451-/admin,["file",{"_placeholder":true,"num":0}]', b"\x00\x01"]


def test_outbound_of_makes_engine_io_packets_of_text_messages_only() -> None:
    outbound = outbound_of(Packet(PacketType.ACK, "/", [b"x", "y"], 4))
    assert outbound.packets == ['461-4[{"_placeholder":true,"num":0},"y"]', b"x"]
    assert outbound_of(event("e")).packets == ['42["e"]']


class CountingOutboundOf:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, packet: Packet, parser: Parser = JSON_PARSER) -> Outbound:
        self.calls += 1
        return outbound_of(packet, parser)


@pytest.fixture
def encodings(monkeypatch: pytest.MonkeyPatch) -> CountingOutboundOf:
    counter = CountingOutboundOf()
    monkeypatch.setattr(sio.adapter, "outbound_of", counter)
    return counter


def test_adapter_broadcast_encodes_exactly_once(
    world: World, encodings: CountingOutboundOf
) -> None:
    world.adapter.broadcast(event("news"), opts())
    assert encodings.calls == 1
    world.adapter.broadcast(event("news"), opts(["red", "blue"]))
    assert encodings.calls == 2


@pytest.mark.parametrize(
    "options",
    [
        opts(["green"]),
        opts(except_rooms=["a", "b", "c", "d"]),
        opts(["red"], ["red"]),
        opts(["red", "blue"], ["red", "blue"]),
    ],
    ids=["unknown-room", "except-everyone", "room-except-itself", "rooms-except-all"],
)
def test_adapter_no_recipients_no_encoding(
    world: World, encodings: CountingOutboundOf, options: BroadcastOptions
) -> None:
    world.adapter.broadcast(event("news"), options)
    assert encodings.calls == 0
    assert world.recipients() == set()


def test_adapter_volatile_nobody_writable_no_encoding(encodings: CountingOutboundOf) -> None:
    w = World()
    w.connect("slow1", writable=False)
    w.connect("slow2", writable=False)
    w.adapter.broadcast(event("tick"), opts(volatile=True))
    assert encodings.calls == 0


def test_adapter_unencodable_packet_with_no_recipients_does_not_raise() -> None:
    # Proof that nothing is encoded: a set is not JSON, yet with no recipient nothing fails.
    w = World()
    w.connect("a")
    w.adapter.broadcast(event("bad", {1, 2}), opts(["nobody"]))
    with pytest.raises(TypeError):
        w.adapter.broadcast(event("bad", {1, 2}), opts())


def test_adapter_deliver_uses_a_pre_encoded_outbound(
    world: World, encodings: CountingOutboundOf
) -> None:
    pre = Outbound(['42["from-elsewhere"]'])
    count = world.adapter.deliver(event("ignored"), opts(["blue"]), pre)
    assert count == 2
    assert encodings.calls == 0
    assert world.nsp.sockets["b"].conn.sent == [pre]
    assert world.nsp.sockets["c"].conn.sent[0] is pre
    assert world.recipients() == {"b", "c"}


# -- operations on selected sockets -------------------------------------------------------------


def test_adapter_fetch_sockets_calls_back_with_local_sockets(world: World) -> None:
    got: list[tuple[list[Any], BaseException | None]] = []
    world.adapter.fetch_sockets(opts(["blue"]), lambda sockets, err: got.append((sockets, err)))
    assert len(got) == 1
    assert sorted(s.id for s in got[0][0]) == ["b", "c"]
    assert got[0][1] is None


def test_adapter_add_and_del_sockets(world: World) -> None:
    world.adapter.add_sockets(opts(["red"]), frozenset({"green", "gold"}))
    assert set(world.adapter.rooms["green"]) == {"a", "b"}
    assert set(world.adapter.rooms["gold"]) == {"a", "b"}
    world.adapter.del_sockets(opts(["blue"]), frozenset({"green", "gold"}))
    assert set(world.adapter.rooms["green"]) == {"a"}
    assert set(world.adapter.rooms["gold"]) == {"a"}


def test_adapter_disconnect_sockets(world: World) -> None:
    world.adapter.disconnect_sockets(opts(except_rooms=["red"]), True)
    assert {sid: s.disconnected for sid, s in world.nsp.sockets.items()} == {
        "a": [],
        "b": [],
        "c": [True],
        "d": [True],
    }


# -- BroadcastOperator --------------------------------------------------------------------------


def test_broadcast_operator_starts_with_everyone(world: World) -> None:
    assert world.operator().options == BroadcastOptions()


def test_broadcast_operator_to_returns_a_new_operator(world: World) -> None:
    base = world.operator()
    red = base.to("red")
    assert red is not base
    assert base.options == BroadcastOptions()
    assert red.options.rooms == frozenset({"red"})
    both = red.to("blue")
    assert red.options.rooms == frozenset({"red"})
    assert both.options.rooms == frozenset({"red", "blue"})


def test_broadcast_operator_room_string_is_one_room(world: World) -> None:
    assert world.operator().to("red").options.rooms == frozenset({"red"})
    assert world.operator().to(["red", "blue"]).options.rooms == frozenset({"red", "blue"})
    assert world.operator().in_("red").options.rooms == frozenset({"red"})
    assert world.operator().except_("red").options.except_rooms == frozenset({"red"})


def test_broadcast_operator_except_is_immutable(world: World) -> None:
    base = world.operator().to("red")
    excepted = base.except_("blue")
    more = excepted.except_(["a", "d"])
    assert base.options == BroadcastOptions(frozenset({"red"}))
    assert excepted.options == BroadcastOptions(frozenset({"red"}), frozenset({"blue"}))
    assert more.options.except_rooms == frozenset({"blue", "a", "d"})


def test_broadcast_operator_flags_are_immutable(world: World) -> None:
    base = world.operator().to("red")
    volatile = base.volatile
    local = volatile.local
    assert base.options.flags == BroadcastFlags()
    assert volatile.options.flags == BroadcastFlags(volatile=True)
    assert local.options.flags == BroadcastFlags(local=True, volatile=True)
    assert local.options.rooms == frozenset({"red"})
    assert base.local.options.flags == BroadcastFlags(local=True)


def test_broadcast_operator_emit_reaches_the_selection(world: World) -> None:
    admin = World("/admin")
    a = admin.connect("a", "red")
    b = admin.connect("b", "red", "blue")
    c = admin.connect("c")
    admin.operator().to("red").except_("blue").emit("news", 1, {"k": "v"})
    assert [o.packets for o in a.conn.sent] == [['42/admin,["news",1,{"k":"v"}]']]
    assert b.conn.sent == []
    assert c.conn.sent == []


def test_broadcast_operator_emit_with_binary(world: World) -> None:
    world.operator().to("d").emit("file", b"\x01")
    (outbound,) = world.nsp.sockets["d"].conn.sent
    assert outbound.packets == ['451-["file",{"_placeholder":true,"num":0}]', b"\x01"]


def test_broadcast_operator_volatile_emit(world: World) -> None:
    world.nsp.sockets["a"].conn.writable = False
    world.operator().volatile.to("red").emit("tick")
    assert world.recipients() == {"b"}


@pytest.mark.parametrize("name", sorted(RESERVED_EVENTS))
def test_broadcast_operator_emit_reserved_name_raises(world: World, name: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        world.operator().emit(name, 1)
    assert world.recipients() == set()


def test_broadcast_operator_fetch_sockets(world: World) -> None:
    sockets = world.operator().to("blue").except_("b").fetch_sockets()
    assert sockets is not None
    assert [s.id for s in sockets] == ["c"]
    got: list[list[Any]] = []
    assert world.operator().to("red").fetch_sockets(lambda s, err: got.append(s)) is None
    assert sorted(s.id for s in got[0]) == ["a", "b"]


def test_broadcast_operator_sockets_join_and_leave(world: World) -> None:
    world.operator().to("blue").sockets_join("green")
    assert set(world.adapter.rooms["green"]) == {"b", "c"}
    world.operator().except_("c").sockets_leave(["green", "red"])
    assert set(world.adapter.rooms["green"]) == {"c"}
    assert "red" not in world.adapter.rooms


def test_broadcast_operator_disconnect_sockets(world: World) -> None:
    world.operator().to("red").disconnect_sockets()
    assert world.nsp.sockets["a"].disconnected == [False]
    assert world.nsp.sockets["b"].disconnected == [False]
    assert world.nsp.sockets["c"].disconnected == []


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("add_all", ("s", ["r"])),
        ("remove", ("s", "r")),
        ("remove_all", ("s",)),
        ("socket_rooms", ("s",)),
        ("broadcast", (Packet(PacketType.EVENT, "/", ["e"]), BroadcastOptions())),
        ("local_sockets", (BroadcastOptions(),)),
    ],
)
def test_adapter_base_class_is_only_a_contract(method: str, args: tuple[Any, ...]) -> None:
    base = sio.adapter.Adapter(FakeNamespace("/"))  # type: ignore[arg-type]
    with pytest.raises(NotImplementedError):
        getattr(base, method)(*args)
    base.close()  # the one method with a default: nothing to release
