"""The adapter seam: who is in which room, and delivering a broadcast to them.

``InMemoryAdapter`` serves one process. A cross-process adapter (the cluster, Redis) subclasses
it: it delivers locally through ``super()`` and forwards the same encoded messages to its peers,
so the namespace code never changes. A broadcast is encoded once, on its first recipient: every
recipient gets the same ``eio.Outbound`` (same packets, same websocket frames); with no
recipient nothing is encoded at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from eio import Outbound
from reactor import TimerHandle

from .protocol.packet import Packet, PacketType
from .protocol.parser import JSON_PARSER, Parser
from .protocol.recovery import RecoveryStore, Restored, Session

if TYPE_CHECKING:
    from .namespace import Namespace
    from .socket import Socket

__all__ = [
    "Adapter",
    "BroadcastFlags",
    "BroadcastOptions",
    "ClientCountCallback",
    "InMemoryAdapter",
    "RestoreCallback",
    "outbound_of",
    "recoverable",
]


class BroadcastFlags(NamedTuple):
    #: Only this process's sockets (no forwarding to other processes).
    local: bool = False
    #: Skip sockets that cannot take the packet right now instead of queueing it.
    volatile: bool = False
    #: Seconds a broadcast with acknowledgements waits for them (None: no acknowledgements).
    timeout: float | None = None


class BroadcastOptions(NamedTuple):
    """Recipients: sockets in any of ``rooms`` (all if empty), minus those in ``except_rooms``."""

    rooms: frozenset[str] = frozenset()
    except_rooms: frozenset[str] = frozenset()
    flags: BroadcastFlags = BroadcastFlags()


NO_FLAGS = BroadcastFlags()

#: ``callback(count)``: how many clients of one server got a broadcast that awaits acks.
ClientCountCallback = Callable[[int], None]

#: ``callback(restored)``: a session given back (None: the client starts afresh).
RestoreCallback = Callable[[Restored | None], None]

_EVENT = PacketType.EVENT

#: Seconds between two prunings of an idle recovery store.
PRUNE_INTERVAL = 10.0


def recoverable(packet: Packet, opts: BroadcastOptions) -> bool:
    """Does this packet get an offset? An EVENT without an ack id, not volatile (the
    reference server's rule: an ack callback cannot be restored on another server)."""
    return packet.type is _EVENT and packet.id is None and not opts.flags.volatile


def outbound_of(packet: Packet, parser: Parser = JSON_PARSER) -> Outbound:
    """A packet encoded once (by ``parser``), for any number of recipients."""
    return Outbound(parser.encode(packet))


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

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: ClientCountCallback,
        ack: Callable[[Any], None],
    ) -> int:
        """Send ``packet`` with one ack id to every recipient; ``client_count(n)`` once per
        server with its number of recipients, ``ack(answer)`` per answer (its first argument).
        Returns the ack id used here (see ``forget_acks``)."""
        raise NotImplementedError

    def forget_acks(self, ack_id: int) -> None:
        """A broadcast's acknowledgements timed out: stop waiting for the late ones."""

    def server_count(self) -> int:
        """How many servers a broadcast reaches (this one included)."""
        return 1

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

    # Connection state recovery (only called when the server has it on).

    def persist_session(self, session: Session) -> None:
        """A socket left for a recoverable reason: keep its session for the window."""

    def restore_session(self, pid: str, offset: str, callback: RestoreCallback) -> None:
        """Give session ``pid`` back (once), with what its client missed after ``offset``."""
        callback(None)

    def close(self) -> None:
        """The namespace's server is shutting down."""


#: Rooms a socket's tuple holds before it becomes a set (joining is linear in them).
_FEW_ROOMS = 8


def _joined(joined: tuple[str, ...] | set[str], room: str) -> tuple[str, ...] | set[str]:
    """A socket's rooms with ``room`` added (the same set, or a new tuple or set)."""
    if isinstance(joined, set):
        joined.add(room)
        return joined
    if room in joined:
        return joined
    if len(joined) < _FEW_ROOMS:
        return (*joined, room)
    return {*joined, room}


class InMemoryAdapter(Adapter):
    """Rooms of one process: room name -> {sid: socket}, and sid -> room names."""

    #: Keep the recovery state (log, sessions) in this process; a subclass whose peers keep
    #: it elsewhere says no.
    keeps_recovery_state = True

    def __init__(self, nsp: Namespace) -> None:
        super().__init__(nsp)
        #: The server's packet codec: a broadcast is encoded with it, once.
        self.parser: Parser = nsp.server.parser
        self.rooms: dict[str, dict[str, Socket]] = {}
        #: sid -> its rooms: a tuple while they are few (a socket's own room and one or two
        #: more: 56 bytes where a set takes 216, per connection), a set past ``_FEW_ROOMS``.
        self.sids: dict[str, tuple[str, ...] | set[str]] = {}
        options = nsp.server.recovery
        #: The packet log and kept sessions (connection state recovery on).
        self.store = (
            RecoveryStore(options) if options is not None and self.keeps_recovery_state else None
        )
        self._prune_timer: TimerHandle | None = None
        if self.store is not None:
            self._prune_timer = nsp.server.reactor.call_later(PRUNE_INTERVAL, self._prune)

    # -- membership -----------------------------------------------------------------------------

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        socket = self.nsp.sockets.get(sid)
        if socket is None:
            return
        joined = self.sids.get(sid, ())
        for room in rooms:
            joined = _joined(joined, room)
            self.rooms.setdefault(room, {})[sid] = socket
        self.sids[sid] = joined

    def remove(self, sid: str, room: str) -> None:
        joined = self.sids.get(sid)
        if isinstance(joined, set):
            joined.discard(room)
        elif joined is not None:
            self.sids[sid] = tuple(item for item in joined if item != room)
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
        store = self.store
        if store is not None and recoverable(packet, opts):
            offset = store.next_offset()
            outbound = outbound_of(packet._replace(data=[*packet.data, offset]), self.parser)
            now = self.nsp.server.reactor.time()
            store.log(offset, opts.rooms, opts.except_rooms, outbound.messages, now)
            self.deliver(None, opts, outbound)
            return
        self.deliver(packet, opts, None)

    # -- connection state recovery --------------------------------------------------------------

    def persist_session(self, session: Session) -> None:
        if self.store is not None:
            self.store.persist(session, self.nsp.server.reactor.time())

    def restore_session(self, pid: str, offset: str, callback: RestoreCallback) -> None:
        if self.store is None:
            callback(None)
            return
        callback(self.store.restore(pid, offset, self.nsp.server.reactor.time()))

    def _prune(self) -> None:
        assert self.store is not None
        reactor = self.nsp.server.reactor
        self.store.prune(reactor.time())
        self._prune_timer = reactor.call_later(PRUNE_INTERVAL, self._prune)

    def close(self) -> None:
        if self._prune_timer is not None:
            self._prune_timer.cancel()
            self._prune_timer = None

    def deliver(
        self, packet: Packet | None, opts: BroadcastOptions, outbound: Outbound | None
    ) -> int:
        """Send to this process's recipients; returns how many got it.

        ``outbound`` may carry the packet already encoded (by another process); else it is
        encoded on the first recipient.
        """
        if opts.flags.volatile:
            everyone = [s.conn for s in self._recipients(opts)]
            conns = [conn for conn in everyone if conn.writable]
            if len(conns) < len(everyone):
                self.nsp.server.stats.volatile_drops += len(everyone) - len(conns)
        else:
            conns = [s.conn for s in self._recipients(opts)]
        if conns:
            if outbound is None:
                assert packet is not None
                outbound = outbound_of(packet, self.parser)
            outbound.send_to(conns)
            stats = self.nsp.server.stats
            stats.broadcasts += 1
            stats.deliveries += len(conns)
        return len(conns)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: ClientCountCallback,
        ack: Callable[[Any], None],
    ) -> int:
        # One ack id for every recipient: the namespace's counter never gives it to another.
        packet = packet._replace(id=self.nsp.next_ack_id())
        assert packet.id is not None
        name = self.nsp.name

        def answered(*args: Any) -> None:
            ack(args[0] if args else None)

        outbound: Outbound | None = None
        count = 0
        for socket in self._recipients(opts):
            if outbound is None:
                outbound = outbound_of(packet, self.parser)
            socket.client.expect_ack(name, packet.id, answered, None)
            socket.conn.send_outbound(outbound)
            count += 1
        if count:
            stats = self.nsp.server.stats
            stats.broadcasts += 1
            stats.deliveries += count
        client_count(count)
        return packet.id

    def forget_acks(self, ack_id: int) -> None:
        name = self.nsp.name
        for socket in self.nsp.sockets.values():
            socket.client.forget_ack(name, ack_id)

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
