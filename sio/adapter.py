"""The adapter seam: who is in which room, and delivering a broadcast to them.

``InMemoryAdapter`` serves one process. A cross-process adapter (the cluster, Redis) subclasses
it: it delivers locally through ``super()`` and forwards the same encoded bytes to its peers, so
the namespace code never changes. A broadcast encodes its packet once, on its first recipient,
and hands every recipient the same ``Outbound`` (same JSON, same websocket frame); with no
recipient nothing is encoded at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from eio import Outbound
from reactor import Reactor

from .protocol.encoder import encode_messages
from .protocol.packet import Packet

if TYPE_CHECKING:
    from .namespace import Namespace
    from .socket import Socket

__all__ = ["Adapter", "BroadcastFlags", "BroadcastOptions", "InMemoryAdapter", "outbound_for"]


class BroadcastFlags(NamedTuple):
    #: Only this process's sockets (no forwarding to other processes).
    local: bool = False
    #: Skip sockets that cannot take the packet right now instead of queueing it.
    volatile: bool = False


class BroadcastOptions(NamedTuple):
    """Recipients: sockets in any of ``rooms`` (all if empty), minus those in ``except_rooms``."""

    rooms: frozenset[str] = frozenset()
    except_rooms: frozenset[str] = frozenset()
    flags: BroadcastFlags = BroadcastFlags()


NO_FLAGS = BroadcastFlags()

#: A tick with at most this many readiness events is quiet (see ``InMemoryAdapter.deliver``).
QUIET_TICK_EVENTS = 2
#: Recipients written between two early flushes of a broadcast in a quiet tick.
EARLY_FLUSH_CHUNK = 16


def outbound_for(packet: Packet) -> Outbound:
    """Encode a packet once for any number of recipients."""
    return Outbound(
        ["4" + item if isinstance(item, str) else item for item in encode_messages(packet)]
    )


class Adapter:
    """The contract a namespace relies on. ``InMemoryAdapter`` is the reference behaviour."""

    def __init__(self, nsp: Namespace) -> None:
        self.nsp = nsp

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        raise NotImplementedError

    def remove(self, sid: str, room: str) -> None:
        raise NotImplementedError

    def remove_all(self, sid: str) -> None:
        raise NotImplementedError

    def socket_rooms(self, sid: str) -> set[str]:
        raise NotImplementedError

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        raise NotImplementedError

    def local_sockets(self, opts: BroadcastOptions) -> list[Socket]:
        raise NotImplementedError

    # Operations on a selection of sockets. A cross-process adapter also sends them to its peers.

    def fetch_sockets(
        self, opts: BroadcastOptions, callback: Callable[[list[Any], BaseException | None], None]
    ) -> None:
        callback(self.local_sockets(opts), None)

    def add_sockets(self, opts: BroadcastOptions, rooms: frozenset[str]) -> None:
        for socket in self.local_sockets(opts):
            socket.join(rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: frozenset[str]) -> None:
        for socket in self.local_sockets(opts):
            for room in rooms:
                socket.leave(room)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        for socket in self.local_sockets(opts):
            socket.disconnect(close)

    def server_side_emit(
        self,
        args: list[Any],
        callback: Callable[[BaseException | None, list[Any]], None] | None,
    ) -> None:
        """Send an event to the other servers' handlers (there are none in one process)."""
        if callback is not None:
            callback(None, [])

    def close(self) -> None:
        """The namespace's server is shutting down."""


class InMemoryAdapter(Adapter):
    """Rooms of one process: room name -> {sid: socket}, and sid -> room names."""

    def __init__(self, nsp: Namespace) -> None:
        super().__init__(nsp)
        self.rooms: dict[str, dict[str, Socket]] = {}
        server = getattr(nsp, "server", None)
        self._reactor: Reactor | None = getattr(server, "reactor", None)
        self.sids: dict[str, set[str]] = {}

    # -- membership -----------------------------------------------------------------------------

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        socket = self.nsp.sockets.get(sid)
        if socket is None:
            return
        joined = self.sids.setdefault(sid, set())
        for room in rooms:
            joined.add(room)
            self.rooms.setdefault(room, {})[sid] = socket

    def remove(self, sid: str, room: str) -> None:
        joined = self.sids.get(sid)
        if joined is not None:
            joined.discard(room)
        members = self.rooms.get(room)
        if members is not None:
            members.pop(sid, None)
            if not members:
                del self.rooms[room]

    def remove_all(self, sid: str) -> None:
        for room in self.sids.pop(sid, ()):
            members = self.rooms.get(room)
            if members is not None:
                members.pop(sid, None)
                if not members:
                    del self.rooms[room]

    def socket_rooms(self, sid: str) -> set[str]:
        return set(self.sids.get(sid, ()))

    # -- delivery -------------------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        self.deliver(packet, opts, None)

    def deliver(
        self, packet: Packet | None, opts: BroadcastOptions, outbound: Outbound | None
    ) -> int:
        """Send to this process's recipients; returns how many got it.

        ``outbound`` may carry the packet already encoded (by another process); else it is
        encoded on the first recipient.
        """
        volatile = opts.flags.volatile
        count = 0
        reactor = self._reactor
        # In a quiet tick there is nothing to coalesce with: send in chunks as the fan-out goes,
        # so the first recipients need not wait for the whole loop. Busy ticks flush once.
        chunk = 0
        if reactor is not None and reactor.tick_events <= QUIET_TICK_EVENTS:
            chunk = EARLY_FLUSH_CHUNK
        for socket in self._recipients(opts):
            conn = socket.conn
            if volatile and not conn.writable:
                continue
            if outbound is None:
                assert packet is not None
                outbound = outbound_for(packet)
            conn.send_outbound(outbound)
            count += 1
            if chunk and count % chunk == 0:
                reactor.flush_now()  # type: ignore[union-attr]  # chunk implies a reactor
        return count

    def local_sockets(self, opts: BroadcastOptions) -> list[Socket]:
        return list(self._recipients(opts))

    def _recipients(self, opts: BroadcastOptions) -> Iterator[Socket]:
        except_sids: set[str] = set()
        for room in opts.except_rooms:
            members = self.rooms.get(room)
            if members:
                except_sids.update(members)
        if not opts.rooms:
            if except_sids:
                for sid, socket in self.nsp.sockets.items():
                    if sid not in except_sids:
                        yield socket
            else:
                yield from self.nsp.sockets.values()
            return
        if len(opts.rooms) == 1:
            (room,) = opts.rooms
            for sid, socket in self.rooms.get(room, {}).items():
                if sid not in except_sids:
                    yield socket
            return
        seen = except_sids  # each recipient once, however many of the rooms it is in
        for room in opts.rooms:
            for sid, socket in self.rooms.get(room, {}).items():
                if sid not in seen:
                    seen.add(sid)
                    yield socket
