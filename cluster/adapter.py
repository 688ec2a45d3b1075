"""The cluster adapter: the in-memory adapter, plus the same operations on every other server,
as Node's ``ClusterAdapter`` does them, over any ``ClusterTransport``.

A broadcast is encoded once, here: the message to the other servers carries it encoded
(``eio.Outbound``), and this server's recipients get the very same object. A receiving server
delivers it without encoding it again. Room operations, disconnects, ``fetch_sockets``,
server-side emits and broadcasts with acknowledgements travel as the other message types
(``cluster/messages.py``). ``local`` operations stay here.

With connection state recovery on, the transport must also be a ``RecoveryTransport``: the
log of recoverable broadcasts and the sessions live with it, not in this process (see
``cluster/recovery.py``), so that they outlive it. A recoverable broadcast is delivered here
once the transport has logged it; sessions are reported as they join, change rooms and leave.

A request that waits for the other servers (``fetch_sockets``, a server-side emit with an
acknowledgement) waits for those up when it was sent; it ends with what it has, and an error,
when one of them leaves or at its timeout. Never a hang.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from eio import Outbound
from sio import (
    BroadcastFlags,
    BroadcastOperator,
    BroadcastOptions,
    ClientCountCallback,
    InMemoryAdapter,
    Packet,
    PacketError,
    RestoreCallback,
    Session,
    decode_messages,
    outbound_of,
    recoverable,
)

from .messages import (
    ClusterMessage,
    ClusterTransport,
    EncodedPacket,
    MessageType,
    RecoveryTransport,
)

if TYPE_CHECKING:
    from reactor import TimerHandle
    from sio import Namespace, Socket

__all__ = [
    "REQUEST_TIMEOUT",
    "ClusterAdapter",
    "ClusterRequestError",
    "RemoteSocket",
    "cluster_adapter_factory",
]

log = logging.getLogger(__name__)

#: Seconds a request waits for the other servers (Node's DEFAULT_TIMEOUT).
REQUEST_TIMEOUT = 5.0

Done = Callable[[list[Any], BaseException | None], None]


def encode_options(opts: BroadcastOptions) -> dict[str, Any]:
    """``opts`` as Node writes them (its flags' timeout is in milliseconds)."""
    flags: dict[str, Any] = {}
    if opts.flags.local:
        flags["local"] = True
    if opts.flags.volatile:
        flags["volatile"] = True
    if opts.flags.timeout is not None:
        flags["timeout"] = round(opts.flags.timeout * 1000)
    return {"rooms": sorted(opts.rooms), "except": sorted(opts.except_rooms), "flags": flags}


def decode_options(value: Any) -> BroadcastOptions:
    """The options of a message from another server, applied here only (``local``).

    Raises:
        ValueError: ``value`` is not options.
    """
    if not isinstance(value, dict):
        raise ValueError("broadcast options are not an object")
    rooms = value.get("rooms") or ()
    except_rooms = value.get("except") or ()
    flags = value.get("flags") or {}
    if not isinstance(rooms, list | tuple) or not isinstance(except_rooms, list | tuple):
        raise ValueError("rooms are not lists")
    if not isinstance(flags, dict):
        raise ValueError("flags are not an object")
    timeout = flags.get("timeout")
    return BroadcastOptions(
        frozenset(str(room) for room in rooms),
        frozenset(str(room) for room in except_rooms),
        BroadcastFlags(
            local=True,
            volatile=bool(flags.get("volatile")),
            timeout=timeout / 1000 if isinstance(timeout, int | float) else None,
        ),
    )


class ClusterRequestError(Exception):
    """A cluster-wide request ended without every server's answer (one left, or timeout)."""


def request_id() -> str:
    """A request id, as Node makes them (8 random bytes in hex)."""
    return secrets.token_hex(8)


class _Request:
    """A request waiting for the other servers' answers."""

    __slots__ = ("done", "errors", "missing", "responses", "timer")

    def __init__(self, missing: set[str], responses: list[Any], done: Done) -> None:
        self.missing = missing
        self.responses = responses
        self.done = done
        self.errors: list[str] = []
        self.timer: TimerHandle | None = None


class RemoteSocket:
    """A socket of another server, as ``fetch_sockets`` describes it; acting on it goes through
    the cluster (its own room is its id)."""

    def __init__(self, adapter: ClusterAdapter, description: dict[str, Any]) -> None:
        self._adapter = adapter
        self.id: str = str(description.get("id"))
        self.handshake: dict[str, Any] = dict(description.get("handshake") or {})
        self.rooms: set[str] = set(description.get("rooms") or ())
        self.data: dict[str, Any] = dict(description.get("data") or {})
        self.connected = True

    def __repr__(self) -> str:
        return f"<RemoteSocket {self.id}>"

    def _only_me(self) -> BroadcastOptions:
        return BroadcastOptions(frozenset((self.id,)))

    def emit(self, event: str, *args: Any) -> None:
        BroadcastOperator(self._adapter, frozenset((self.id,))).emit(event, *args)

    def join(self, rooms: str | Iterable[str]) -> None:
        names = frozenset((rooms,)) if isinstance(rooms, str) else frozenset(rooms)
        self._adapter.add_sockets(self._only_me(), names)

    def leave(self, room: str) -> None:
        self._adapter.del_sockets(self._only_me(), frozenset((room,)))

    def disconnect(self, close: bool = False) -> None:
        self._adapter.disconnect_sockets(self._only_me(), close)


class ClusterAdapter(InMemoryAdapter):
    """One namespace's adapter in a cluster (a ``MessageSink`` of its transport)."""

    keeps_recovery_state = False  # the transport keeps it (see the module docstring)

    def __init__(self, nsp: Namespace, transport: ClusterTransport) -> None:
        super().__init__(nsp)
        self.transport = transport
        self.uid = transport.uid
        self._requests: dict[str, _Request] = {}
        self._ack_requests: dict[str, tuple[ClientCountCallback, Callable[[Any], None]]] = {}
        #: Where the recovery state lives (recovery on), instead of this process's store.
        self.recovery: RecoveryTransport | None = None
        #: Sockets whose session the transport knows (recovery on).
        self._reported: set[str] = set()
        #: Sockets whose rooms changed in this tick (reported at its end, by ``flush``).
        self._changed: set[str] = set()
        self._offset_prefix = secrets.token_hex(4)
        self._offsets = 0
        if nsp.server.recovery is not None:
            self.recovery = transport  # type: ignore[assignment]
        transport.register(nsp.name, self)

    def health(self) -> dict[str, float] | None:
        """The transport's health figures for metrics, if it has any (Redis Streams)."""
        health = getattr(self.transport, "health", None)
        return health() if callable(health) else None

    # -- sending --------------------------------------------------------------------------------

    def _publish(self, kind: MessageType, data: Any = None) -> None:
        self.transport.publish(ClusterMessage(self.uid, self.nsp.name, kind, data))

    def _respond(self, requester: str, kind: MessageType, data: Any) -> None:
        message = ClusterMessage(self.uid, self.nsp.name, kind, data)
        self.transport.publish_response(requester, message)

    def _remote(self, opts: BroadcastOptions) -> bool:
        """Does this operation go to the other servers too?"""
        return not opts.flags.local and bool(self.transport.nodes)

    def server_count(self) -> int:
        return 1 + len(self.transport.nodes)

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        if self.recovery is not None and recoverable(packet, opts):
            self._broadcast_logged(packet, opts, self.recovery)
            return
        if not self._remote(opts):
            self.deliver(packet, opts, None)
            return
        outbound = outbound_of(packet, self.parser)
        encoded = EncodedPacket(outbound.messages, packet)
        self._publish(MessageType.BROADCAST, {"packet": encoded, "opts": encode_options(opts)})
        self.deliver(None, opts, outbound)

    def _broadcast_logged(
        self, packet: Packet, opts: BroadcastOptions, recovery: RecoveryTransport
    ) -> None:
        """A recoverable broadcast: an offset, the log, the others; delivered here once logged
        (so that every server delivers in the log's order)."""
        if recovery.assigns_offsets:
            self._broadcast_at_log_offset(packet, opts, recovery)
            return
        self._offsets += 1
        offset = f"{self._offset_prefix}.{self._offsets:x}"
        packet = packet._replace(data=[*packet.data, offset])
        outbound = outbound_of(packet, self.parser)
        data = {
            "packet": EncodedPacket(outbound.messages, packet),
            "opts": encode_options(opts),
            "offset": offset,
        }
        message = ClusterMessage(self.uid, self.nsp.name, MessageType.BROADCAST, data)
        rooms = opts.rooms
        # To one socket of this server (``socket.emit``): the log only.
        mine = len(rooms) == 1 and not opts.except_rooms and next(iter(rooms)) in self.nsp.sockets
        everywhere = not opts.flags.local and not mine

        def logged(_offset: str | None) -> None:
            self.deliver(None, opts, outbound)

        recovery.publish_logged(message, everywhere, logged)

    def _broadcast_at_log_offset(
        self, packet: Packet, opts: BroadcastOptions, recovery: RecoveryTransport
    ) -> None:
        """The same, with a log that names the offsets itself (``assigns_offsets``: Redis
        Streams, whose offsets are the entries' ids, as Node's adapter has them): the packet
        goes without one, and ``on_logged(offset)`` says which it got (None: not logged, sent
        without one, as Node does). The receivers append it too."""
        data = {"packet": packet, "opts": encode_options(opts)}
        message = ClusterMessage(self.uid, self.nsp.name, MessageType.BROADCAST, data)

        def logged(offset: str | None) -> None:
            if offset is not None:
                self.deliver(packet._replace(data=[*packet.data, offset]), opts, None)
            else:
                self.deliver(packet, opts, None)

        recovery.publish_logged(message, not opts.flags.local, logged)

    # -- sessions (recovery on) -----------------------------------------------------------------

    # A session is reported at the end of the tick in which its rooms changed, with its data
    # as the handlers left it (an app often sets ``data`` right after a join), once per tick.

    def add_all(self, sid: str, rooms: Iterable[str]) -> None:
        super().add_all(sid, rooms)
        if self.recovery is not None:
            self._session_changed(sid)

    def remove(self, sid: str, room: str) -> None:
        super().remove(sid, room)
        if self.recovery is not None:
            self._session_changed(sid)

    def remove_all(self, sid: str) -> None:
        super().remove_all(sid)
        if self.recovery is not None:
            self._changed.discard(sid)
            if sid in self._reported:
                self._reported.discard(sid)
                self.recovery.update_session(self.nsp.name, {"op": "end", "sid": sid})

    def _session_changed(self, sid: str) -> None:
        if not self._changed:
            self.nsp.server.reactor.mark_dirty(self)
        self._changed.add(sid)

    def flush(self) -> None:
        """End of the tick: report the sessions that changed (see above)."""
        recovery = self.recovery
        changed, self._changed = self._changed, set()
        if recovery is None:
            return
        sockets = self.nsp.sockets
        for sid in changed:
            socket = sockets.get(sid)
            if socket is None or socket.pid is None:
                continue
            update: dict[str, Any] = {
                "op": "rooms",
                "sid": sid,
                "rooms": sorted(self.sids.get(sid, ())),
                "data": socket.data,
            }
            if sid not in self._reported:
                self._reported.add(sid)
                update["op"] = "open"
                update["pid"] = socket.pid
            recovery.update_session(self.nsp.name, update)

    def persist_session(self, session: Session) -> None:
        if self.recovery is not None:
            self._reported.discard(session.sid)
            self._changed.discard(session.sid)
            update = {
                "op": "end",
                "sid": session.sid,
                "pid": session.pid,
                "rooms": session.rooms,
                "data": session.data,
                "keep": True,
            }
            self.recovery.update_session(self.nsp.name, update)

    def restore_session(self, pid: str, offset: str, callback: RestoreCallback) -> None:
        if self.recovery is None:
            callback(None)
            return
        self.recovery.restore_session(self.nsp.name, pid, offset, callback)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: ClientCountCallback,
        ack: Callable[[Any], None],
    ) -> int:
        if self._remote(opts):
            rid = request_id()
            self._ack_requests[rid] = (client_count, ack)
            data = {"packet": packet, "requestId": rid, "opts": encode_options(opts)}
            self._publish(MessageType.BROADCAST, data)
            # Whether every client answered is the operator's to know: forget the request
            # when its time is up.
            timeout = opts.flags.timeout or REQUEST_TIMEOUT
            self.nsp.server.reactor.call_later(timeout, self._ack_requests.pop, rid, None)
        return super().broadcast_with_ack(packet, opts, client_count, ack)

    def add_sockets(self, opts: BroadcastOptions, rooms: frozenset[str]) -> None:
        if self._remote(opts):
            data = {"opts": encode_options(opts), "rooms": sorted(rooms)}
            self._publish(MessageType.SOCKETS_JOIN, data)
        super().add_sockets(opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: frozenset[str]) -> None:
        if self._remote(opts):
            data = {"opts": encode_options(opts), "rooms": sorted(rooms)}
            self._publish(MessageType.SOCKETS_LEAVE, data)
        super().del_sockets(opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        if self._remote(opts):
            data = {"opts": encode_options(opts), "close": close}
            self._publish(MessageType.DISCONNECT_SOCKETS, data)
        super().disconnect_sockets(opts, close)

    def fetch_sockets(self, opts: BroadcastOptions, callback: Done) -> None:
        local: list[Any] = self.local_sockets(opts)
        if not self._remote(opts):
            callback(local, None)
            return

        def gathered(items: list[Any], error: BaseException | None) -> None:
            remote = [RemoteSocket(self, item) for item in items if isinstance(item, dict)]
            callback(local + remote, error)

        rid = self._request(gathered, opts.flags.timeout)
        self._publish(MessageType.FETCH_SOCKETS, {"opts": encode_options(opts), "requestId": rid})

    def server_side_emit(
        self,
        args: list[Any],
        callback: Callable[[BaseException | None, list[Any]], None] | None,
    ) -> None:
        if callback is None:
            self._publish(MessageType.SERVER_SIDE_EMIT, {"packet": args})
            return
        if not self.transport.nodes:
            callback(None, [])
            return
        rid = self._request(lambda responses, error: callback(error, responses), None)
        self._publish(MessageType.SERVER_SIDE_EMIT, {"requestId": rid, "packet": args})

    def close(self) -> None:
        super().close()
        self._publish(MessageType.ADAPTER_CLOSE)

    # -- requests -------------------------------------------------------------------------------

    def _request(self, done: Done, timeout: float | None) -> str:
        """Track a request to every server up now; returns its id."""
        rid = request_id()
        request = _Request(set(self.transport.nodes), [], done)
        self._requests[rid] = request
        request.timer = self.nsp.server.reactor.call_later(
            timeout or REQUEST_TIMEOUT, self._expire, rid
        )
        return rid

    def _answered(self, rid: Any, uid: str, responses: list[Any]) -> None:
        request = self._requests.get(rid) if isinstance(rid, str) else None
        if request is None or uid not in request.missing:
            return  # stray, late or duplicate
        request.responses.extend(responses)
        request.missing.discard(uid)
        if not request.missing:
            self._finish(rid)

    def _expire(self, rid: str) -> None:
        request = self._requests.get(rid)
        if request is not None:
            missing = ", ".join(sorted(request.missing))
            request.errors.append(f"no answer from server(s) {missing}")
            self._finish(rid)

    def _finish(self, rid: str) -> None:
        request = self._requests.pop(rid, None)
        if request is None:
            return
        if request.timer is not None:
            request.timer.cancel()
        failure = ClusterRequestError("; ".join(request.errors)) if request.errors else None
        try:
            request.done(request.responses, failure)
        except Exception:
            log.exception("error in a cluster request callback")

    def on_node_left(self, uid: str, why: str) -> None:
        for rid, request in list(self._requests.items()):
            if uid in request.missing:
                request.missing.discard(uid)
                request.errors.append(why)
                if not request.missing:
                    self._finish(rid)

    # -- receiving ------------------------------------------------------------------------------

    def on_message(self, message: ClusterMessage) -> None:
        if message.uid == self.uid or message.nsp != self.nsp.name:
            return
        data = message.data if isinstance(message.data, dict) else {}
        kind = message.type
        try:
            if kind is MessageType.BROADCAST:
                self._on_broadcast(message.uid, data)
            elif kind is MessageType.SOCKETS_JOIN:
                rooms = frozenset(str(room) for room in data.get("rooms", ()))
                InMemoryAdapter.add_sockets(self, decode_options(data.get("opts")), rooms)
            elif kind is MessageType.SOCKETS_LEAVE:
                rooms = frozenset(str(room) for room in data.get("rooms", ()))
                InMemoryAdapter.del_sockets(self, decode_options(data.get("opts")), rooms)
            elif kind is MessageType.DISCONNECT_SOCKETS:
                close = bool(data.get("close"))
                InMemoryAdapter.disconnect_sockets(self, decode_options(data.get("opts")), close)
            elif kind is MessageType.FETCH_SOCKETS:
                matching = self.local_sockets(decode_options(data.get("opts")))
                described = [_describe(socket) for socket in matching]
                answer = {"requestId": data.get("requestId"), "sockets": described}
                self._respond(message.uid, MessageType.FETCH_SOCKETS_RESPONSE, answer)
            elif kind is MessageType.SERVER_SIDE_EMIT:
                self._on_server_side_emit(message.uid, data)
            elif kind is MessageType.FETCH_SOCKETS_RESPONSE:
                found = data.get("sockets")
                found = found if isinstance(found, list) else []
                self._answered(data.get("requestId"), message.uid, found)
            elif kind is MessageType.SERVER_SIDE_EMIT_RESPONSE:
                responses = [data["packet"]] if "packet" in data else []
                self._answered(data.get("requestId"), message.uid, responses)
            elif kind is MessageType.BROADCAST_CLIENT_COUNT:
                entry = self._ack_requests.get(data.get("requestId"))  # type: ignore[arg-type]
                if entry is not None:
                    entry[0](int(data.get("clientCount", 0)))
            elif kind is MessageType.BROADCAST_ACK:
                entry = self._ack_requests.get(data.get("requestId"))  # type: ignore[arg-type]
                if entry is not None:
                    entry[1](data.get("packet"))
            # INITIAL_HEARTBEAT, HEARTBEAT and ADAPTER_CLOSE: who is up is the transport's.
        except (ValueError, TypeError, PacketError) as exc:
            log.warning("bad %s message from server %s: %s", kind.name, message.uid, exc)

    def _on_broadcast(self, requester: str, data: dict[str, Any]) -> None:
        packet = data.get("packet")
        if not isinstance(packet, Packet | EncodedPacket):
            raise ValueError("a broadcast without a packet")
        opts = decode_options(data.get("opts"))
        rid = data.get("requestId")
        if rid is None:
            if isinstance(packet, EncodedPacket):  # delivered as encoded by its sender
                self.deliver(None, opts, Outbound(packet.messages))
            else:
                self.deliver(packet, opts, None)
            return
        if isinstance(packet, EncodedPacket):  # acks need this server's own ack id: re-encode
            # (the sender framed a ``Packet``, so the bus's own JSON encoding: parser-neutral)
            packet = packet.packet or decode_messages(packet.messages)

        def count(clients: int) -> None:
            answer = {"requestId": rid, "clientCount": clients}
            self._respond(requester, MessageType.BROADCAST_CLIENT_COUNT, answer)

        def acked(response: Any) -> None:
            self._respond(
                requester, MessageType.BROADCAST_ACK, {"requestId": rid, "packet": response}
            )

        ack_id = InMemoryAdapter.broadcast_with_ack(self, packet, opts, count, acked)
        # The requester stops listening at its timeout: so do its clients' acks here.
        timeout = opts.flags.timeout or REQUEST_TIMEOUT
        self.nsp.server.reactor.call_later(timeout, self.forget_acks, ack_id)

    def _on_server_side_emit(self, requester: str, data: dict[str, Any]) -> None:
        args = data.get("packet")
        if not isinstance(args, list) or not args:
            return
        rid = data.get("requestId")
        ack = None
        if rid is not None:
            answered = False

            def ack(*values: Any) -> None:
                nonlocal answered
                if not answered:  # one answer per server, its first argument (as Node)
                    answered = True
                    answer = {"requestId": rid, "packet": values[0] if values else None}
                    self._respond(requester, MessageType.SERVER_SIDE_EMIT_RESPONSE, answer)

        errors = self.nsp.server_side_handlers.dispatch(args[0], args[1:], ack, self.nsp)
        self.nsp.server.stats.handler_errors += errors


def _describe(socket: Socket) -> dict[str, Any]:
    handshake = socket.handshake
    return {
        "id": socket.id,
        "handshake": {
            "headers": handshake.headers,
            "query": handshake.query,
            "auth": handshake.auth,
            "address": handshake.address,
            "time": handshake.time,
            "issued": handshake.issued,
            "url": handshake.url,
            "xdomain": handshake.xdomain,
            "secure": handshake.secure,
        },
        "rooms": sorted(socket.rooms),
        "data": socket.data,
    }


def cluster_adapter_factory(transport: ClusterTransport) -> Callable[[Namespace], ClusterAdapter]:
    def make(nsp: Namespace) -> ClusterAdapter:
        return ClusterAdapter(nsp, transport)

    return make
