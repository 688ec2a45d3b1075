"""One client's Engine.IO connection on the Socket.IO server (the reference server's ``Client``),
and the one owner of the Socket.IO connection lifecycle.

Connecting to a namespace, in order (``connect`` then ``_admit``):

1. a CONNECT packet names a namespace (``Server.namespace_for`` also creates dynamic ones);
   with connection state recovery on, a CONNECT whose auth holds ``pid`` and ``offset`` first
   asks the adapter for that session back (``_restored``; in a cluster the answer comes later);
2. a ``Socket`` is made (a restored one keeps its id, ``pid`` and ``data``) and the
   namespace's middlewares run (``Namespace.run_middlewares``; a restored socket skips them
   if the options say so);
3. refused: CONNECT_ERROR. Admitted: the connect timeout ends, the socket is registered with
   the connection, the namespace and its own room (a restored one: its rooms too, then the
   packets it missed), the CONNECT reply goes out (``{sid}``, or ``{sid, pid}`` with recovery
   on), and then the namespace's ``connection`` handlers run (so anything they send follows
   the reply).

Leaving a namespace (``leave``): ``disconnecting``, the session kept if the reason is
recoverable (recovery on), out of every room, unregistered, then ``disconnect`` with the
reason. When the Engine.IO session ends (``close``), every socket
leaves with the Socket.IO reason of the Engine.IO one (``reasons.FROM_ENGINE``).

The time-dependent state (connect timeout, acknowledgement deadlines) is the sans-IO
``ConnectionState``; this shell keeps one alarm on its next deadline.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any

from eio import DisconnectReason as EngineReason
from eio import EngineSocket, generate_sid
from reactor import Alarmed

from .errors import AckTimeoutError, ConnectRefusedError, PacketError
from .events import call_safely
from .protocol.binary import has_binary
from .protocol.connection import AckTimedOut, ConnectionState, ConnectTimedOut
from .protocol.packet import Packet, PacketType, encode_text
from .protocol.recovery import (
    RECOVERABLE_REASONS,
    Restored,
    Session,
    generate_pid,
    recovery_auth,
)
from .reasons import FROM_ENGINE, DisconnectReason
from .socket import Handshake, Socket

if TYPE_CHECKING:
    from collections.abc import Callable

    from .namespace import Namespace
    from .server import Server

__all__ = ["Connection"]

_EVENT = PacketType.EVENT

log = logging.getLogger(__name__)


class Connection(Alarmed):
    """The Socket.IO side of one Engine.IO session."""

    __slots__ = ("closed", "conn", "decoder", "parser", "server", "sockets", "state", "text")

    def __init__(self, server: Server, conn: EngineSocket) -> None:
        self.server = server
        self.conn = conn
        self.parser = server.parser
        #: Packets without binary are text (the JSON parser): the fast paths may write them.
        self.text = self.parser.text
        self.decoder = self.parser.decoder(
            server.max_attachments, server.max_depth, server.max_ack_id_digits
        )
        #: namespace name -> socket
        self.sockets: dict[str, Socket] = {}
        self.closed = False
        reactor = server.reactor
        self.state = ConnectionState(reactor.time(), server.connect_timeout)
        self.init_alarm()
        self.set_alarm(reactor, self.state.next_deadline())

    # -- from Engine.IO -------------------------------------------------------------------------

    def on_text(self, text: str) -> None:
        """A text message, with the JSON parser (its fast path: ``decode_text`` inline)."""
        decoder = self.decoder
        try:
            if decoder.partial is not None:
                raise PacketError("text message while waiting for binary attachments")
            packet = self.server.decode_packet_text(text)
        except PacketError as exc:
            self._invalid(exc)
            return
        kind = packet.type
        if kind is _EVENT:  # the hot path: an event for a connected namespace
            socket = self.sockets.get(packet.namespace)
            if socket is not None:
                socket.on_event(packet.data, packet.id)
                return
        elif kind is PacketType.BINARY_EVENT or kind is PacketType.BINARY_ACK:
            try:
                complete = decoder.receive_packet(packet)
            except PacketError as exc:
                self._invalid(exc)
                return
            if complete is None:
                return  # attachments follow
            packet = complete
        self._route(packet)

    def on_other_text(self, text: str) -> None:
        """A text message, with another parser: its decoder's (the msgpack one refuses it)."""
        try:
            packet = self.decoder.receive_text(text)
        except PacketError as exc:
            self._invalid(exc)
            return
        if packet is not None:
            self._route(packet)

    def on_binary(self, data: bytes) -> None:
        try:
            packet = self.decoder.receive_binary(data)
        except PacketError as exc:
            self._invalid(exc)
            return
        if packet is not None:
            self._route(packet)

    def on_engine_closed(self, reason: EngineReason) -> None:
        """The Engine.IO session ended."""
        self._closed(FROM_ENGINE[reason])

    # -- routing --------------------------------------------------------------------------------

    def _route(self, packet: Packet) -> None:
        kind = packet.type
        socket = self.sockets.get(packet.namespace)
        if socket is None:
            if kind is PacketType.CONNECT:
                self.connect(packet.namespace, packet.data or {})
            else:  # an event, ack or disconnect for a namespace this client never joined
                self._invalid(PacketError(f"{kind.name} for unconnected {packet.namespace}"))
        elif kind is _EVENT:
            socket.on_event(packet.data, packet.id)
        elif kind is PacketType.ACK:
            self._acknowledged(packet)
        elif kind is PacketType.DISCONNECT:
            self.leave(socket, DisconnectReason.CLIENT_NAMESPACE_DISCONNECT)
        else:  # CONNECT or CONNECT_ERROR
            self._invalid(PacketError("CONNECT to a namespace already connected"))

    def _invalid(self, error: PacketError) -> None:
        log.debug("invalid packet from sid=%s: %s", self.conn.sid, error)
        self.close(DisconnectReason.PARSE_ERROR)

    # -- connecting to a namespace --------------------------------------------------------------

    def connect(self, name: str, auth: Any) -> None:
        """A CONNECT packet for namespace ``name``."""
        nsp = self.server.namespace_for(name, auth)
        if nsp is None:
            self.send_packet(
                Packet(PacketType.CONNECT_ERROR, name, {"message": "Invalid namespace"})
            )
            return
        if self.server.recovery is not None:
            asked = recovery_auth(auth)
            if asked is not None:
                pid, offset = asked
                # The pid is a bearer secret: the application's view of the auth goes without it.
                auth = {k: v for k, v in auth.items() if k != "pid" and k != "offset"}
                nsp.adapter.restore_session(pid, offset, partial(self._restored, nsp, auth))
                return
        self._new_socket(nsp, auth, None)

    def _restored(self, nsp: Namespace, auth: Any, restored: Restored | None) -> None:
        """The adapter's answer to a CONNECT that asked for its session back."""
        if restored is not None and (self.closed or restored.session.sid in nsp.sockets):
            # Gone meanwhile (or the id is in use): keep the session for another try.
            nsp.adapter.persist_session(restored.session)
            restored = None
        stats = self.server.stats
        if restored is None:
            stats.recovery_misses += 1
        else:
            stats.recovery_hits += 1
        if not self.closed:
            self._new_socket(nsp, auth, restored)

    def _new_socket(self, nsp: Namespace, auth: Any, restored: Restored | None) -> None:
        conn = self.conn
        issued = int(self.server.reactor.wall_time() * 1000)
        handshake = Handshake(conn.request, auth, conn.remote_address, issued)
        recovery = self.server.recovery
        if restored is None:
            socket = nsp.socket_class(nsp, self, generate_sid(), handshake)
            if recovery is not None:
                socket.pid = generate_pid()
        else:
            session = restored.session
            socket = nsp.socket_class(nsp, self, session.sid, handshake)
            socket.pid = session.pid
            socket.data = session.data
            socket.recovered = True
            if recovery is not None and recovery.skip_middlewares:
                self._admit(socket, restored, None)
                return
        nsp.run_middlewares(socket, partial(self._admit, socket, restored))

    def _admit(
        self, socket: Socket, restored: Restored | None, error: BaseException | None
    ) -> None:
        """The middlewares are done: refuse, or join (see the module docstring)."""
        nsp = socket.nsp
        if self.closed or nsp.name in self.sockets:
            if restored is not None:
                nsp.adapter.persist_session(restored.session)
            return  # the client left while the middlewares ran, or connected twice
        if error is not None:
            if isinstance(error, ConnectRefusedError):
                payload = error.payload()
            else:
                payload = {"message": str(error) or type(error).__name__}
            self.send_packet(Packet(PacketType.CONNECT_ERROR, nsp.name, payload))
            return
        self.state.joined()
        # No connect timeout any more: the timer goes now, not at its deadline (idle memory).
        self.set_alarm(self.server.reactor, self.state.next_deadline())
        self.sockets[nsp.name] = socket
        nsp.sockets[socket.id] = socket
        self.server.stats.connections[nsp.name] += 1
        socket.connected = True
        if restored is None:
            nsp.adapter.add_all(socket.id, (socket.id,))
        else:
            # Its rooms first, then what it missed, then the reply: from here on, anything sent
            # to its rooms reaches it live, and nothing was sent between the two.
            nsp.adapter.add_all(socket.id, (socket.id, *restored.session.rooms))
            self._replay(restored.missed)
        reply: dict[str, Any] = {"sid": socket.id}
        if socket.pid is not None:
            reply["pid"] = socket.pid
        self.send_packet(Packet(PacketType.CONNECT, nsp.name, reply))
        nsp.run_connection_handlers(socket)

    def _replay(self, missed: list[list[str | bytes]]) -> None:
        conn = self.conn
        for messages in missed:
            for message in messages:
                if isinstance(message, str):
                    conn.send(message)
                else:
                    conn.send_binary(message)

    def leave(self, socket: Socket, reason: DisconnectReason) -> None:
        """``socket`` leaves its namespace (see the module docstring)."""
        if not socket.connected:
            return
        socket.emit_reserved("disconnecting", reason)
        nsp = socket.nsp
        if socket.pid is not None and reason in RECOVERABLE_REASONS:
            session = Session(socket.id, socket.pid, sorted(socket.rooms), socket.data)
            nsp.adapter.persist_session(session)
        nsp.adapter.remove_all(socket.id)
        if nsp.sockets.get(socket.id) is socket:
            del nsp.sockets[socket.id]
        if self.sockets.get(nsp.name) is socket:
            del self.sockets[nsp.name]
        socket.connected = False
        self.server.stats.disconnections[nsp.name, reason.value] += 1
        socket.emit_reserved("disconnect", reason)

    # -- acknowledgements -----------------------------------------------------------------------

    def expect_ack(
        self, namespace: str, ack_id: int, callback: Callable[..., Any], timeout: float | None
    ) -> None:
        """Call ``callback`` with the client's answer to ack id ``ack_id``; with ``timeout``,
        ``callback(None, *answer)`` in time or ``callback(AckTimeoutError())`` after."""
        deadline = None if timeout is None else self.server.reactor.time() + timeout
        self.state.expect_ack(namespace, ack_id, callback, deadline)
        if deadline is not None:
            self.set_alarm(self.server.reactor, self.state.next_deadline())

    def forget_ack(self, namespace: str, ack_id: int) -> None:
        self.state.drop_ack(namespace, ack_id)

    def _acknowledged(self, packet: Packet) -> None:
        if packet.id is None:
            return
        pending = self.state.take_ack(packet.namespace, packet.id)
        if pending is not None:
            errors = call_safely(pending.callback, *pending.arguments(packet.data))
            self.server.stats.handler_errors += errors

    def on_alarm(self) -> None:
        for event in self.state.handle_timeout(self.server.reactor.time()):
            if isinstance(event, ConnectTimedOut):
                if not self.sockets and not self.closed:
                    log.debug("no namespace joined within connectTimeout, sid=%s", self.conn.sid)
                    self.close(DisconnectReason.FORCED_SERVER_CLOSE)
            elif isinstance(event, AckTimedOut):
                errors = call_safely(event.pending.callback, AckTimeoutError())
                self.server.stats.handler_errors += errors
        self.set_alarm(self.server.reactor, self.state.next_deadline())

    # -- to the client --------------------------------------------------------------------------

    def send_packet(self, packet: Packet) -> None:
        conn = self.conn
        if self.text and not has_binary(packet.data):  # the usual case: one text message
            conn.send(encode_text(packet))
            return
        for message in self.parser.encode(packet):
            if isinstance(message, str):
                conn.send(message)
            else:
                conn.send_binary(message)

    # -- closing --------------------------------------------------------------------------------

    def disconnect(self) -> None:
        """Disconnect every socket (a DISCONNECT packet each), then close the connection."""
        for socket in list(self.sockets.values()):
            socket.disconnect()
        self.close(DisconnectReason.FORCED_SERVER_CLOSE)

    def close(self, reason: DisconnectReason = DisconnectReason.FORCED_SERVER_CLOSE) -> None:
        """Close the Engine.IO connection; every socket leaves with ``reason``."""
        if self.closed:
            return
        self._closed(reason)
        self.conn.close()

    def _closed(self, reason: DisconnectReason) -> None:
        """Every socket leaves with ``reason`` (only the first reason counts)."""
        if self.closed:
            return
        self.closed = True
        self.state.joined()  # no connect timeout for a closed connection
        # Acks with a deadline still expire.
        self.set_alarm(self.server.reactor, self.state.next_deadline())
        self.decoder.reset()
        for socket in list(self.sockets.values()):
            self.leave(socket, reason)
