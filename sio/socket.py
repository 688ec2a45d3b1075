"""A socket: one client connected to one namespace, with the API Socket.IO users know."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

from eio import EngineSocket, HttpRequest, parse_query

from .adapter import BroadcastOptions
from .broadcast import BroadcastOperator, BroadcastShortcuts, rooms_of
from .events import Ack, EventHandlers, Listening, TimedEmitter, call_handlers
from .protocol.binary import has_binary
from .protocol.packet import RESERVED_EVENTS, Packet, PacketType, encode_ack
from .reasons import DisconnectReason

if TYPE_CHECKING:
    from .connection import Connection
    from .namespace import Namespace

__all__ = ["Handshake", "Socket"]

log = logging.getLogger(__name__)

#: Events a socket emits to its own listeners; a peer may not send them.
LOCAL_EVENTS = frozenset({"disconnect", "disconnecting", "error"})


class Handshake:
    """What the client sent when it connected (``socket.handshake``).

    Headers and query are read from the handshake request when asked for: most applications
    never look, and every connection would otherwise carry two more dicts.
    """

    __slots__ = ("_request", "address", "auth", "issued")

    def __init__(
        self, request: HttpRequest, auth: dict[str, Any], address: str | None, issued: int
    ) -> None:
        self._request = request
        #: The auth payload of the CONNECT packet.
        self.auth = auth
        self.address = address
        #: When the connection was made, in milliseconds since the epoch.
        self.issued = issued

    @property
    def headers(self) -> dict[str, str]:
        """Request headers by lower-case name (repeated headers joined with ", ")."""
        headers: dict[str, str] = {}
        for key, value in self._request.headers:
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return headers

    @property
    def query(self) -> dict[str, str]:
        return parse_query(self._request.query_string)

    @property
    def time(self) -> str:
        """When the connection was made, as an HTTP date."""
        return formatdate(self.issued / 1000, usegmt=True)

    @property
    def url(self) -> str:
        return self._request.target

    @property
    def xdomain(self) -> bool:
        return self._request.header("origin") is not None

    @property
    def secure(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<Handshake {self.address} {self.url} auth={self.auth!r}>"


class Socket(Listening, BroadcastShortcuts):
    """One namespace connection. Handlers run on the reactor thread and must not block."""

    __slots__ = (
        "_events",
        "_middlewares",
        "client",
        "conn",
        "connected",
        "data",
        "handshake",
        "id",
        "nsp",
        "pid",
        "recovered",
    )

    def __init__(self, nsp: Namespace, client: Connection, sid: str, handshake: Handshake) -> None:
        self.id = sid
        self.nsp = nsp
        self.client = client
        #: The Engine.IO session carrying this socket.
        self.conn: EngineSocket = client.conn
        self.handshake = handshake
        #: Free for the application (``socket.data`` in Node).
        self.data: dict[str, Any] = {}
        self.connected = False
        #: The private session id (connection state recovery on): a bearer secret.
        self.pid: str | None = None
        #: Whether this socket is a restored session (connection state recovery).
        self.recovered = False
        self._events = EventHandlers()
        self._middlewares: list[Callable[[list[Any], Callable[..., None]], None]] = []

    def __repr__(self) -> str:
        return f"<Socket {self.id} nsp={self.nsp.name} connected={self.connected}>"

    # -- listeners ------------------------------------------------------------------------------

    def use(
        self, middleware: Callable[[list[Any], Callable[..., None]], None]
    ) -> Callable[[list[Any], Callable[..., None]], None]:
        """An incoming-event middleware ``middleware([event, *args], next)``.

        Calling ``next()`` passes the event on; ``next(error)`` drops it and emits ``error``.
        """
        self._middlewares.append(middleware)
        return middleware

    # -- emitting -------------------------------------------------------------------------------

    def emit(
        self,
        event: str,
        *args: Any,
        callback: Callable[..., Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Send ``event`` to this client; ``bytes`` anywhere in ``args`` become attachments.

        ``callback`` receives the client's acknowledgement arguments. With ``timeout`` (seconds)
        it is called ``callback(None, *args)`` on time or ``callback(AckTimeoutError())`` after.
        """
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        ack_id = None
        if callback is not None:
            ack_id = self.nsp.next_ack_id()
            self.client.expect_ack(self.nsp.name, ack_id, callback, timeout)
        elif self.pid is not None:
            # Recovery on: through the adapter to this socket's own room, as the reference
            # server does, so that the event gets an offset and is kept for a reconnect.
            packet = Packet(PacketType.EVENT, self.nsp.name, [event, *args])
            self.nsp.adapter.broadcast(packet, BroadcastOptions(frozenset((self.id,))))
            return
        if self.conn.connected:
            self.client.send_packet(Packet(PacketType.EVENT, self.nsp.name, [event, *args], ack_id))
            self.nsp.server.stats.deliveries += 1

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        """``emit("message", *args)``."""
        self.emit("message", *args, callback=callback)

    def timeout(self, seconds: float) -> TimedEmitter:
        """``socket.timeout(5).emit("x", callback=cb)``: the callback gets an error first."""
        return TimedEmitter(self, seconds)

    def packet(self, packet: Packet) -> None:
        """Send one packet to this client (encoded for this client only)."""
        if self.conn.connected:
            self.client.send_packet(packet)

    # -- rooms ----------------------------------------------------------------------------------

    def join(self, rooms: str | Iterable[str]) -> None:
        if self.connected:
            self.nsp.adapter.add_all(self.id, rooms_of(rooms))

    def leave(self, room: str) -> None:
        self.nsp.adapter.remove(self.id, room)

    @property
    def rooms(self) -> set[str]:
        """The rooms this socket is in, its own (named by its id) included."""
        return self.nsp.adapter.socket_rooms(self.id)

    # -- broadcasting from this socket (never to itself) ----------------------------------------

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self.nsp.adapter, except_rooms=frozenset((self.id,)))

    @property
    def broadcast(self) -> BroadcastOperator:
        """Every other socket of the namespace."""
        return self._operator()

    @property
    def volatile(self) -> _VolatileEmitter:
        """``socket.volatile.emit(...)``: dropped if the client cannot take it right now."""
        return _VolatileEmitter(self)

    # -- state ----------------------------------------------------------------------------------

    @property
    def transport(self) -> str:
        return self.conn.transport

    def disconnect(self, close: bool = False) -> None:
        """Leave the namespace ("server namespace disconnect"); ``close``: every socket of the
        connection leaves that way (the client gets a DISCONNECT for each, so it does not
        reconnect), then the connection closes, as the reference server does."""
        if not self.connected:
            return
        if close:
            self.client.disconnect()
            return
        self.packet(Packet(PacketType.DISCONNECT, self.nsp.name))
        self.client.leave(self, DisconnectReason.SERVER_NAMESPACE_DISCONNECT)

    # -- events from the client -----------------------------------------------------------------

    def on_event(self, data: list[Any], ack_id: int | None) -> None:
        """An EVENT packet from the client: the middlewares, then the handlers."""
        ack = _SocketAck(self, ack_id) if ack_id is not None else None
        if self._middlewares:
            self._run_middlewares(data, 0, ack)
        else:
            self._dispatch(data, ack)

    def _run_middlewares(self, data: list[Any], index: int, ack: Ack | None) -> None:
        if index == len(self._middlewares):
            self._dispatch(data, ack)
            return

        def next_(error: BaseException | None = None) -> None:
            if error is not None:
                self.emit_reserved("error", error)
            elif self.connected:
                self._run_middlewares(data, index + 1, ack)

        try:
            self._middlewares[index](data, next_)
        except Exception as exc:
            log.exception("error in socket middleware (sid=%s)", self.id)
            self.nsp.server.stats.handler_errors += 1
            self.emit_reserved("error", exc)

    def _dispatch(self, data: list[Any], ack: Ack | None) -> None:
        event = data[0]
        if event in LOCAL_EVENTS:
            return
        only = self.nsp.event_handlers.handlers_for(event)
        if only is not None and self._events.empty:
            # The usual case (namespace-level handlers only): the decoded list is ours, so it
            # becomes the arguments, the socket in place of the event name.
            data[0] = self
            errors = call_handlers(only, data, ack, event, self)
            if errors:
                self.nsp.server.stats.handler_errors += errors
            return
        args = data[1:]
        shared = self.nsp.event_handlers
        errors = 0
        if shared.has(event):
            # Namespace-level handlers answer the ack; this socket's own ones just listen.
            if not self._events.empty:
                errors = self._events.dispatch(event, args, None, self)
            errors += shared.dispatch(event, args, ack, self, (self,))
        else:
            errors = self._events.dispatch(event, args, ack, self)
        if errors:
            self.nsp.server.stats.handler_errors += errors

    def emit_reserved(self, event: str, *args: Any) -> None:
        """Call this socket's and the namespace's handlers of a local event (``disconnecting``,
        ``disconnect``, ``error``)."""
        errors = self._events.emit_local(event, *args)
        errors += self.nsp.event_handlers.emit_local(event, self, *args)
        if errors:
            self.nsp.server.stats.handler_errors += errors


class _SocketAck:
    """The acknowledgement of one event: an ACK packet, at most once."""

    __slots__ = ("ack_id", "sent", "socket")

    def __init__(self, socket: Socket, ack_id: int) -> None:
        self.socket = socket
        self.ack_id = ack_id
        self.sent = False

    def __call__(self, *args: Any) -> None:
        if self.sent:
            return
        self.sent = True
        socket = self.socket
        if socket.client.text and not has_binary(args):
            # The hot path: no Packet, one text message (dropped if the session closed).
            socket.conn.send(encode_ack(socket.nsp.name, self.ack_id, args))
        else:
            socket.packet(Packet(PacketType.ACK, socket.nsp.name, list(args), self.ack_id))


class _VolatileEmitter:
    __slots__ = ("_socket",)

    def __init__(self, socket: Socket) -> None:
        self._socket = socket

    def emit(self, event: str, *args: Any) -> None:
        socket = self._socket
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        if socket.conn.writable:  # not recoverable: sent as is, never logged (no offset)
            socket.packet(Packet(PacketType.EVENT, socket.nsp.name, [event, *args]))
            socket.nsp.server.stats.deliveries += 1
        else:
            socket.nsp.server.stats.volatile_drops += 1
