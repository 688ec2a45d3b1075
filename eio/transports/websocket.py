"""The websocket transport, and the websocket that wants to take over a polling session.

Every frame is one packet. Text messages take the fast path of the session's rules
(``Session.message_text`` / ``message_packet``); every other packet is decoded and goes through
``Session.receive``. The upgrade of a polling session (see the diagram in
``eio/protocol/session.py``) runs on an ``UpgradeCandidate`` until the client sends ``5``; the
websocket then becomes the session's ``WebSocketTransport``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from reactor import SlowConsumerError

from ..errors import ParseError
from ..net.websocket import frame_text
from ..protocol.packet import Packet, PacketType, decode_packet
from ..protocol.request import TransportName
from ..protocol.session import (
    DisconnectReason,
    ProbeAnswered,
    UpgradeAborted,
    UpgradeCompleted,
)

if TYPE_CHECKING:
    from ..net.websocket import WebSocketConnection
    from ..outbound import Outbound
    from ..socket import EngineSocket

__all__ = ["UpgradeCandidate", "WebSocketTransport"]

log = logging.getLogger(__name__)


class WebSocketTransport:
    """A session's websocket (the ``WebSocketListener`` of its connection)."""

    __slots__ = ("owner", "session", "stats", "stream", "ws")

    name = TransportName.WEBSOCKET

    def __init__(self, owner: EngineSocket, ws: WebSocketConnection) -> None:
        self.owner = owner
        self.session = owner.session
        self.ws = ws
        self.stats = ws.stats
        #: Where frames shared by many sessions go straight (None with permessage-deflate,
        #: which keeps state per connection: nothing to share).
        self.stream = ws.stream if ws.plain else None

    # -- Transport ------------------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        stream = self.ws.stream
        return stream is not None and not stream.closing and stream.buffered == 0

    def send_message(self, data: str) -> None:
        packet = self.session.message_packet(data)
        if packet is None:
            return
        stream = self.stream
        if stream is not None:  # the hot path: one frame, no wsproto
            frame = frame_text(packet)
            stream.write(frame)
            stats = self.stats
            if stats is not None:
                stats.packets_out += 1
                stats.bytes_out += len(frame)
        else:
            self.ws.send_text(packet)

    def send_binary(self, data: bytes) -> None:
        if self.session.sending:
            self.ws.send_binary(data)

    def send_outbound(self, outbound: Outbound) -> None:
        """The shared frames; the sender counted them (``Outbound.count_sent``)."""
        if not self.session.sending:
            outbound.count_sent(self.stats, -1)
            return
        stream = self.stream
        if stream is not None:  # the hot path of a fan-out: the shared frames, as they are
            stream.write(outbound.frames)
        else:
            outbound.count_sent(self.stats, -1)  # each frame is counted as written
            for packet in outbound.packets:
                self._send(packet)

    def flush(self) -> None:
        """Send what the session queued (pings, and what waited for the upgrade)."""
        session = self.session
        if session.has_pending():
            for packet in session.take_pending():
                self._send(packet)

    def close(self) -> None:
        self.ws.close(1000)

    def _send(self, packet: str | bytes) -> None:
        if isinstance(packet, str):
            self.ws.send_text(packet)
        else:
            self.ws.send_binary(packet)

    # -- WebSocketListener ----------------------------------------------------------------------

    def ws_text(self, ws: WebSocketConnection, text: str) -> None:
        data = self.session.message_text(text)
        if data is not None:
            owner = self.owner
            handler = owner.text_handler
            if handler is None:
                owner.deliver_text(data)
                return
            try:  # the hot path: deliver_text, one call less
                handler(data)
            except Exception:
                log.exception("error in the text handler (sid=%s)", owner.sid)
            return
        try:
            packet = decode_packet(text)
        except ParseError:
            self.owner.fail(DisconnectReason.PARSE_ERROR)
            return
        self.owner.receive(packet)

    def ws_binary(self, ws: WebSocketConnection, data: bytes) -> None:
        self.owner.receive(Packet(PacketType.MESSAGE, data))

    def ws_closed(self, ws: WebSocketConnection, exc: BaseException | None) -> None:
        if exc is not None:
            log.debug("websocket error sid=%s: %s", self.owner.sid, exc)
            if isinstance(exc, SlowConsumerError):
                self.owner.server.stats.slow_consumers += 1
        self.owner.fail(
            DisconnectReason.TRANSPORT_CLOSE if exc is None else DisconnectReason.TRANSPORT_ERROR
        )


class UpgradeCandidate:
    """A websocket that wants to take over a polling session: ``2probe``, then ``5``."""

    __slots__ = ("owner", "ws")

    def __init__(self, owner: EngineSocket, ws: WebSocketConnection) -> None:
        self.owner = owner
        self.ws = ws

    def close(self) -> None:
        self.ws.close(1000)

    def ws_text(self, ws: WebSocketConnection, text: str) -> None:
        owner = self.owner
        if owner.candidate is not self:
            return
        try:
            packet = decode_packet(text)
        except ParseError:
            self._abort()
            return
        event = owner.session.receive_on_candidate(packet)
        if isinstance(event, ProbeAnswered):
            ws.send_text(event.reply)
            owner.mark_dirty()  # a parked poll is now answered with a noop
        elif isinstance(event, UpgradeCompleted):
            owner.upgrade_to(ws)
        elif isinstance(event, UpgradeAborted):
            owner.handle(event)

    def ws_binary(self, ws: WebSocketConnection, data: bytes) -> None:
        self._abort()

    def ws_closed(self, ws: WebSocketConnection, exc: BaseException | None) -> None:
        owner = self.owner
        if owner.candidate is self:
            owner.candidate = None
            owner.session.abort_upgrade()

    def _abort(self) -> None:
        owner = self.owner
        if owner.candidate is self:
            owner.session.abort_upgrade()
            owner.handle(UpgradeAborted())
