"""``ClusterAdapter``, sans-IO: a broadcast is encoded once in the sending worker and the other
workers deliver those very bytes; operations travel as JSON and are applied, not re-published.
The bus and the namespace are fakes that record what is sent."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import pytest

import cluster.adapter
import sio.adapter
from cluster.adapter import ClusterAdapter
from cluster.bus import WorkerBus
from cluster.frames import ALL, Kind, decode_broadcast, decode_json, encode_broadcast
from eio import Outbound
from sio.adapter import BroadcastFlags, BroadcastOptions, outbound_for
from sio.namespace import Namespace
from sio.protocol.packet import Packet, PacketType


class FakeConn:
    writable = True

    def __init__(self) -> None:
        self.sent: list[Outbound] = []

    def send_outbound(self, outbound: Outbound) -> None:
        self.sent.append(outbound)


class FakeSocket:
    def __init__(self, sid: str, adapter: ClusterAdapter) -> None:
        self.id = sid
        self.conn = FakeConn()
        self._adapter = adapter
        self.disconnected: list[bool] = []

    def join(self, rooms: Iterable[str]) -> None:
        self._adapter.add_all(self.id, rooms)

    def leave(self, room: str) -> None:
        self._adapter.remove(self.id, room)

    def disconnect(self, close: bool = False) -> None:
        self.disconnected.append(close)


class FakeNamespace:
    def __init__(self, name: str = "/") -> None:
        self.name = name
        self.sockets: dict[str, FakeSocket] = {}


class FakeBus:
    def __init__(self, *peers: int) -> None:
        self.peers = set(peers)
        self.adapters: dict[str, ClusterAdapter] = {}
        self.published: list[tuple[int, bytes, int]] = []

    def publish(self, kind: int, payload: bytes, target: int = ALL) -> None:
        self.published.append((kind, payload, target))


class Worker:
    def __init__(self, *peers: int) -> None:
        self.bus = FakeBus(*peers)
        self.nsp = FakeNamespace()
        self.adapter = ClusterAdapter(cast(Namespace, self.nsp), cast(WorkerBus, self.bus))

    def connect(self, sid: str, *rooms: str) -> FakeSocket:
        socket = FakeSocket(sid, self.adapter)
        self.nsp.sockets[sid] = socket
        self.adapter.add_all(sid, (sid, *rooms))
        return socket


def opts(rooms: Iterable[str] = (), except_rooms: Iterable[str] = (), **flags: bool) -> Any:
    return BroadcastOptions(frozenset(rooms), frozenset(except_rooms), BroadcastFlags(**flags))


def event(*data: Any) -> Packet:
    return Packet(PacketType.EVENT, "/", list(data))


def test_broadcast_is_encoded_once_and_forwarded_as_bytes() -> None:
    sender = Worker(2, 3)
    local = sender.connect("a", "red")
    sender.adapter.broadcast(event("m", "héllo", b"\x00\xff"), opts(["red"], ["blue"]))
    (outbound,) = local.conn.sent
    ((kind, payload, target),) = sender.bus.published
    assert (kind, target) == (Kind.BROADCAST, ALL)
    header, items = decode_broadcast(payload)
    assert header == {"nsp": "/", "rooms": ["red"], "except": ["blue"], "volatile": False}
    assert items == outbound.items  # the same encoded messages, text and binary attachment
    assert isinstance(items[0], str) and items[0].startswith("451-")
    assert items[1] == b"\x00\xff"


def test_the_receiving_worker_delivers_the_bytes_without_encoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items: list[str | bytes] = list(outbound_for(event("m", "é", b"\x01")).items)
    payload = encode_broadcast({"nsp": "/", "rooms": ["red"], "except": []}, items)

    def no_encoding(*_args: Any) -> Any:
        raise AssertionError("a forwarded broadcast was encoded again")

    monkeypatch.setattr(sio.adapter, "outbound_for", no_encoding)
    monkeypatch.setattr(sio.adapter, "encode_messages", no_encoding)
    monkeypatch.setattr(cluster.adapter, "outbound_for", no_encoding)
    receiver = Worker(1)
    red = receiver.connect("r", "red")
    other = receiver.connect("o")
    receiver.adapter.on_bus_frame(Kind.BROADCAST, 1, payload)
    (outbound,) = red.conn.sent
    assert outbound.items == items
    assert other.conn.sent == []
    assert receiver.bus.published == []  # delivered here only, never sent on


def test_recipients_on_the_receiving_side_share_one_outbound() -> None:
    payload = encode_broadcast({"nsp": "/"}, ['42["m"]'])
    receiver = Worker(1)
    sockets = [receiver.connect(sid) for sid in "abc"]
    receiver.adapter.on_bus_frame(Kind.BROADCAST, 1, payload)
    outbounds = [s.conn.sent[0] for s in sockets]
    assert all(o is outbounds[0] for o in outbounds)


def test_local_broadcast_and_no_peers_stay_in_this_worker() -> None:
    worker = Worker(2)
    worker.connect("a")
    worker.adapter.broadcast(event("m"), opts(local=True))
    assert worker.bus.published == []
    alone = Worker()
    alone.connect("a")
    alone.adapter.broadcast(event("m"), opts())
    assert alone.bus.published == []
    assert len(alone.nsp.sockets["a"].conn.sent) == 1


def test_volatile_flag_travels() -> None:
    worker = Worker(2)
    worker.adapter.broadcast(event("m"), opts(volatile=True))
    header, _items = decode_broadcast(worker.bus.published[0][1])
    assert header["volatile"] is True


def test_room_operations_travel_as_json_and_are_applied_not_republished() -> None:
    sender = Worker(2)
    sender.connect("a", "red")
    sender.adapter.add_sockets(opts(["red"]), frozenset({"green"}))
    sender.adapter.del_sockets(opts(["blue"]), frozenset({"red"}))
    sender.adapter.disconnect_sockets(opts(["green"]), True)
    kinds = [kind for kind, _payload, _target in sender.bus.published]
    assert kinds == [Kind.SOCKETS_JOIN, Kind.SOCKETS_LEAVE, Kind.DISCONNECT_SOCKETS]
    assert sender.adapter.socket_rooms("a") == {"a", "red", "green"}  # applied here too

    receiver = Worker(1)
    r = receiver.connect("r", "red")
    b = receiver.connect("b", "blue", "red")
    for kind, payload, _target in sender.bus.published:
        assert isinstance(decode_json(payload), dict)
        receiver.adapter.on_bus_frame(kind, 1, payload)
    assert receiver.adapter.socket_rooms("r") == {"r", "red", "green"}
    assert receiver.adapter.socket_rooms("b") == {"b", "blue", "green"}
    assert r.disconnected == [True] and b.disconnected == [True]
    assert receiver.bus.published == []


def test_local_operations_are_not_published() -> None:
    worker = Worker(2)
    worker.connect("a")
    worker.adapter.add_sockets(opts(local=True), frozenset({"x"}))
    worker.adapter.disconnect_sockets(opts(local=True), False)
    assert worker.bus.published == []
