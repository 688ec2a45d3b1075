"""The cluster adapter: the in-memory adapter, plus the same operations on every other worker.

A broadcast is encoded once, here; this worker's recipients get it at once and the other
workers get the encoded messages over the bus, in order, and deliver them to theirs without
re-encoding. Room operations, disconnects, ``fetch_sockets`` and server-side emits travel the
same way. ``local`` broadcasts stay in this worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from eio import Outbound
from sio.adapter import BroadcastFlags, BroadcastOptions, InMemoryAdapter, outbound_for
from sio.broadcast import BroadcastOperator
from sio.events import make_ack
from sio.protocol.packet import Packet

from .bus import WorkerBus
from .frames import Kind, decode_broadcast, decode_json, encode_broadcast, encode_json

if TYPE_CHECKING:
    from sio.namespace import Namespace
    from sio.socket import Socket

__all__ = ["ClusterAdapter", "RemoteSocket", "cluster_adapter_factory"]

log = logging.getLogger(__name__)


def _options_to_json(opts: BroadcastOptions) -> dict[str, Any]:
    return {
        "rooms": sorted(opts.rooms),
        "except": sorted(opts.except_rooms),
        "volatile": opts.flags.volatile,
    }


def _options_from_json(body: dict[str, Any]) -> BroadcastOptions:
    return BroadcastOptions(
        frozenset(str(r) for r in body.get("rooms", ())),
        frozenset(str(r) for r in body.get("except", ())),
        BroadcastFlags(local=True, volatile=bool(body.get("volatile", False))),
    )


class RemoteSocket:
    """A socket of another worker, as ``fetch_sockets`` describes it; acting on it goes through
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
    def __init__(self, nsp: Namespace, bus: WorkerBus) -> None:
        super().__init__(nsp)
        self.bus = bus
        bus.adapters[nsp.name] = self

    # -- outgoing -------------------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        if opts.flags.local or not self.bus.peers:
            self.deliver(packet, opts, None)
            return
        outbound = outbound_for(packet)
        self.deliver(packet, opts, outbound)
        header = {"nsp": self.nsp.name, **_options_to_json(opts)}
        self.bus.publish(Kind.BROADCAST, encode_broadcast(header, outbound.items))

    def _publish_operation(self, kind: Kind, opts: BroadcastOptions, **extra: Any) -> None:
        if not opts.flags.local:
            body = {"nsp": self.nsp.name, **_options_to_json(opts), **extra}
            self.bus.publish(kind, encode_json(body))

    def add_sockets(self, opts: BroadcastOptions, rooms: frozenset[str]) -> None:
        super().add_sockets(opts, rooms)
        self._publish_operation(Kind.SOCKETS_JOIN, opts, target_rooms=sorted(rooms))

    def del_sockets(self, opts: BroadcastOptions, rooms: frozenset[str]) -> None:
        super().del_sockets(opts, rooms)
        self._publish_operation(Kind.SOCKETS_LEAVE, opts, target_rooms=sorted(rooms))

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        super().disconnect_sockets(opts, close)
        self._publish_operation(Kind.DISCONNECT_SOCKETS, opts, close=close)

    def fetch_sockets(
        self, opts: BroadcastOptions, callback: Callable[[list[Any], BaseException | None], None]
    ) -> None:
        local: list[Any] = self.local_sockets(opts)
        if opts.flags.local:
            callback(local, None)
            return

        def gathered(items: list[Any], error: BaseException | None) -> None:
            remote = [RemoteSocket(self, item) for item in items if isinstance(item, dict)]
            callback(local + remote, error)

        body = {"nsp": self.nsp.name, **_options_to_json(opts)}
        self.bus.request(Kind.FETCH_SOCKETS, body, gathered)

    def server_side_emit(
        self,
        args: list[Any],
        callback: Callable[[BaseException | None, list[Any]], None] | None,
    ) -> None:
        body = {"nsp": self.nsp.name, "args": args, "ack": callback is not None}
        if callback is None:
            self.bus.publish(Kind.SERVER_SIDE_EMIT, encode_json(body))
            return
        self.bus.request(
            Kind.SERVER_SIDE_EMIT,
            body,
            lambda responses, error: callback(error, responses),
        )

    # -- incoming -------------------------------------------------------------------------------

    def on_bus_frame(self, kind: int, source: int, payload: bytes) -> None:
        if kind == Kind.BROADCAST:
            header, items = decode_broadcast(payload)
            self.deliver(None, _options_from_json(header), Outbound(items))
            return
        body = decode_json(payload)
        opts = _options_from_json(body)
        if kind == Kind.SOCKETS_JOIN:
            InMemoryAdapter.add_sockets(self, opts, frozenset(body.get("target_rooms", ())))
        elif kind == Kind.SOCKETS_LEAVE:
            InMemoryAdapter.del_sockets(self, opts, frozenset(body.get("target_rooms", ())))
        elif kind == Kind.DISCONNECT_SOCKETS:
            InMemoryAdapter.disconnect_sockets(self, opts, bool(body.get("close")))
        elif kind == Kind.FETCH_SOCKETS:
            described = [_describe(socket) for socket in self.local_sockets(opts)]
            self.bus.respond(
                Kind.FETCH_SOCKETS_RESPONSE, source, int(body["request_id"]), {"items": described}
            )
        elif kind == Kind.SERVER_SIDE_EMIT:
            self._on_server_side_emit(source, body)

    def _on_server_side_emit(self, source: int, body: dict[str, Any]) -> None:
        args = body.get("args")
        if not isinstance(args, list) or not args:
            return
        ack = None
        if body.get("ack"):
            request_id = int(body["request_id"])

            def send(values: list[Any]) -> None:
                response = {"items": [values[0] if len(values) == 1 else values]}
                self.bus.respond(Kind.SERVER_SIDE_EMIT_RESPONSE, source, request_id, response)

            ack = make_ack(send)
        self.nsp.server_side_handlers.dispatch(args[0], args[1:], ack, self.nsp)


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


def cluster_adapter_factory(bus: WorkerBus) -> Callable[[Namespace], ClusterAdapter]:
    def make(nsp: Namespace) -> ClusterAdapter:
        return ClusterAdapter(nsp, bus)

    return make
