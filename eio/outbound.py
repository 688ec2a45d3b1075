"""Messages encoded once and sent to many sessions (broadcasts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .net.websocket import frame_binary, frame_text
from .protocol.session import MESSAGE_PREFIX

if TYPE_CHECKING:
    from .socket import EngineSocket
    from .stats import EngineStats

__all__ = ["EARLY_FLUSH_CHUNK", "Outbound"]

#: Recipients of a broadcast written between two early flushes in a quiet tick (see
#: ``Outbound.send_to``).
EARLY_FLUSH_CHUNK = 16


class Outbound:
    """The layer above's messages, made into Engine.IO packets once for any number of sessions.

    ``messages`` are what the layer above would pass to ``EngineSocket.send`` (``str``) and
    ``send_binary`` (``bytes``), in order. ``packets`` are their Engine.IO packets (a polling
    session queues them); ``frames`` are the websocket frames of them all, made on first use and
    shared by every websocket recipient.
    """

    __slots__ = ("_frames", "messages", "packets")

    def __init__(self, messages: list[str | bytes]) -> None:
        self.messages = messages
        self.packets: list[str | bytes] = [
            MESSAGE_PREFIX + message if isinstance(message, str) else message
            for message in messages
        ]
        self._frames: bytes | None = None

    def send_to(self, sessions: Sequence[EngineSocket]) -> None:
        """Send to every session of ``sessions``.

        In a quiet tick (few readiness events) there is nothing to coalesce with, so a large
        fan-out flushes every ``EARLY_FLUSH_CHUNK`` recipients: the first need not wait for
        the whole loop. A busy tick flushes once, at its end.
        """
        if not sessions:
            return
        server = sessions[0].server
        reactor = server.reactor
        # Counted here, once for all: a recipient costs no counting (see ``count_sent``).
        if server.traffic is not None:
            self.count_sent(server.traffic, len(sessions))
        # The active transport's own method: one call per recipient, not two.
        if len(sessions) <= EARLY_FLUSH_CHUNK or not reactor.quiet_tick:
            for session in sessions:
                session.active_transport.send_outbound(self)
            return
        for index, session in enumerate(sessions, 1):
            session.active_transport.send_outbound(self)
            if index % EARLY_FLUSH_CHUNK == 0:
                reactor.flush_now()

    def count_sent(self, stats: EngineStats | None, recipients: int) -> None:
        """Count this outbound as sent to ``recipients`` sessions as shared websocket frames.

        Whoever hands it to transports counts it so, up front: a fan-out then costs one count,
        not one per recipient. A transport that does not write the shared frames (polling, whose
        answers are counted when written; a websocket with permessage-deflate, counted per
        frame; a session that is closing) takes its share back with ``recipients=-1``.
        """
        if stats is None:  # traffic is not counted
            return
        stats.packets_out += recipients * len(self.packets)
        stats.bytes_out += recipients * len(self.frames)

    @property
    def frames(self) -> bytes:
        """The websocket frames of every packet, made once and shared by all recipients."""
        frames = self._frames
        if frames is None:
            frames = self._frames = b"".join(
                frame_text(packet) if isinstance(packet, str) else frame_binary(packet)
                for packet in self.packets
            )
        return frames
