"""The statistics seam, sans-IO: the adapter's broadcast counts and the handler-error counts
(``sio/stats.py``), with the fakes of ``test_sio_adapter.py``."""

from __future__ import annotations

from typing import Any

from eio.stats import EngineStats
from sio.adapter import BroadcastFlags, BroadcastOptions
from sio.events import EventHandlers, call_handlers, call_safely
from sio.protocol.packet import Packet, PacketType
from sio.stats import ServerStats

from .test_sio_adapter import World


def event(*data: Any) -> Packet:
    return Packet(PacketType.EVENT, "/", list(data))


def test_a_broadcast_counts_once_and_each_recipient_once() -> None:
    world = World()
    for sid in ("a", "b", "c"):
        world.connect(sid, "lobby")
    stats = world.nsp.server.stats
    world.adapter.broadcast(event("hi"), BroadcastOptions(frozenset({"lobby"})))
    world.adapter.broadcast(event("hi"), BroadcastOptions(frozenset({"b"})))
    assert (stats.broadcasts, stats.deliveries) == (2, 4)


def test_a_broadcast_to_nobody_counts_nothing() -> None:
    world = World()
    world.connect("a")
    stats = world.nsp.server.stats
    world.adapter.broadcast(event("hi"), BroadcastOptions(frozenset({"empty room"})))
    assert (stats.broadcasts, stats.deliveries, stats.volatile_drops) == (0, 0, 0)


def test_volatile_broadcasts_count_the_recipients_skipped() -> None:
    world = World()
    world.connect("a")
    world.connect("b", writable=False)
    world.connect("c", writable=False)
    stats = world.nsp.server.stats
    volatile = BroadcastOptions(flags=BroadcastFlags(volatile=True))
    world.adapter.broadcast(event("hi"), volatile)
    assert (stats.broadcasts, stats.deliveries, stats.volatile_drops) == (1, 1, 2)


def test_a_broadcast_with_acks_counts_its_recipients() -> None:
    world = World()
    world.connect("a")
    world.connect("b")
    stats = world.nsp.server.stats
    counts: list[int] = []
    world.nsp.next_ack_id = lambda: 7  # type: ignore[attr-defined]
    for sid in ("a", "b"):
        world.nsp.sockets[sid].client = _AckBook()  # type: ignore[attr-defined]
    world.adapter.broadcast_with_ack(event("q"), BroadcastOptions(), counts.append, print)
    assert counts == [2]
    assert (stats.broadcasts, stats.deliveries) == (1, 2)


class _AckBook:
    def expect_ack(self, *args: Any) -> None:
        pass


def _raises(*args: Any) -> None:
    raise RuntimeError("application bug")


def test_handler_errors_are_returned_to_be_counted() -> None:
    ok = (lambda *args: None, False)
    bad = (_raises, False)
    assert call_handlers((ok, bad, bad), ["x"], None, "ev", None) == 2
    assert call_handlers((ok,), ["x"], None, "ev", None) == 0
    assert call_safely(_raises) == 1
    assert call_safely(lambda: None) == 0
    handlers = EventHandlers()
    handlers.on("ev", _raises)
    handlers.on_any(_raises)
    assert handlers.dispatch("ev", [], None, None) == 2
    assert handlers.emit_local("ev") == 1


def test_snapshots_are_plain_data() -> None:
    engine = EngineStats()
    engine.handshakes += 2
    engine.closes["ping timeout"] += 1
    assert engine.snapshot()["handshakes"] == 2
    assert engine.snapshot()["closes"] == {"ping timeout": 1}
    server = ServerStats()
    server.connections["/"] += 3
    server.disconnections["/", "transport close"] += 1
    snapshot = server.snapshot()
    assert snapshot["connections"] == {"/": 3}
    assert snapshot["disconnections"] == [["/", "transport close", 1]]
