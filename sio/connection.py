"""One client's Engine.IO connection on the Socket.IO server: decoding and namespace routing."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from eio import DisconnectReason as EngineReason
from eio import EngineSocket

from .errors import PacketError
from .protocol.binary import has_binary
from .protocol.decoder import PacketDecoder
from .protocol.encoder import encode_messages
from .protocol.packet import Packet, PacketType, decode_text, encode_text
from .reasons import DisconnectReason

if TYPE_CHECKING:
    from reactor import TimerHandle

    from .server import Server
    from .socket import Socket

__all__ = ["Connection"]

_EVENT = PacketType.EVENT

log = logging.getLogger(__name__)


class Connection:
    """The Socket.IO side of one Engine.IO session (the reference server's ``Client``)."""

    __slots__ = ("_connect_timer", "closed", "conn", "decoder", "server", "sockets")

    def __init__(self, server: Server, conn: EngineSocket) -> None:
        self.server = server
        self.conn = conn
        self.decoder = PacketDecoder(server.max_attachments)
        #: namespace name -> socket
        self.sockets: dict[str, Socket] = {}
        self.closed = False
        self._connect_timer: TimerHandle | None = server.reactor.call_later(
            server.connect_timeout, self._connect_timeout
        )

    # -- from Engine.IO -------------------------------------------------------------------------

    def on_text(self, text: str) -> None:
        decoder = self.decoder
        try:
            if decoder.partial is not None:
                raise PacketError("text message while waiting for binary attachments")
            packet = decode_text(text, self.server.max_attachments)
        except PacketError as exc:
            self._invalid(exc)
            return
        kind = packet.type
        if kind is _EVENT:  # the hot path: an event for a connected namespace
            socket = self.sockets.get(packet.namespace)
            if socket is not None:
                socket._on_event(packet.data, packet.id)
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

    def on_binary(self, data: bytes) -> None:
        try:
            packet = self.decoder.receive_binary(data)
        except PacketError as exc:
            self._invalid(exc)
            return
        if packet is not None:
            self._route(packet)

    def on_close(self, reason: EngineReason | DisconnectReason) -> None:
        """The connection ended; every socket leaves with the reason (only the first counts)."""
        if self.closed:
            return
        self.closed = True
        self._cancel_connect_timer()
        self.decoder.reset()
        sio_reason = DisconnectReason(str(reason))
        for socket in list(self.sockets.values()):
            socket._on_close(sio_reason)
        self.sockets.clear()

    # -- routing --------------------------------------------------------------------------------

    def _route(self, packet: Packet) -> None:
        socket = self.sockets.get(packet.namespace)
        if socket is not None:
            if packet.type is PacketType.CONNECT or packet.type is PacketType.CONNECT_ERROR:
                self._invalid(PacketError("CONNECT to a namespace already connected"))
            else:
                socket._on_packet(packet)
        elif packet.type is PacketType.CONNECT:
            self.server._connect(self, packet.namespace, packet.data or {})
        else:
            # An event, ack or disconnect for a namespace this client never joined.
            self._invalid(PacketError(f"{packet.type.name} for unconnected {packet.namespace}"))

    def _invalid(self, error: PacketError) -> None:
        log.debug("invalid packet from sid=%s: %s", self.conn.sid, error)
        self.close(DisconnectReason.PARSE_ERROR)

    # -- to the client --------------------------------------------------------------------------

    def send_packet(self, packet: Packet) -> None:
        conn = self.conn
        if not has_binary(packet.data):  # the usual case: one text message
            conn.send(encode_text(packet))
            return
        for message in encode_messages(packet):
            if isinstance(message, str):
                conn.send(message)
            else:
                conn.send_binary(message)

    def disconnect(self) -> None:
        """Disconnect every socket (a DISCONNECT packet each), then close the connection."""
        for socket in list(self.sockets.values()):
            socket.disconnect()
        self.close(DisconnectReason.FORCED_SERVER_CLOSE)

    def close(self, reason: DisconnectReason = DisconnectReason.FORCED_SERVER_CLOSE) -> None:
        """Close the Engine.IO connection; every socket leaves with ``reason``."""
        if self.closed:
            return
        self.on_close(reason)
        self.conn.close()

    # -- namespaces -----------------------------------------------------------------------------

    def _add(self, socket: Socket) -> None:
        self.sockets[socket.nsp.name] = socket
        self._cancel_connect_timer()

    def _remove(self, socket: Socket) -> None:
        if self.sockets.get(socket.nsp.name) is socket:
            del self.sockets[socket.nsp.name]

    def _connect_timeout(self) -> None:
        self._connect_timer = None
        if not self.sockets and not self.closed:
            log.debug("no namespace joined within connectTimeout, closing sid=%s", self.conn.sid)
            self.close(DisconnectReason.FORCED_SERVER_CLOSE)

    def _cancel_connect_timer(self) -> None:
        if self._connect_timer is not None:
            self._connect_timer.cancel()
            self._connect_timer = None
