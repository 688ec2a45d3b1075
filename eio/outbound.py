"""Messages encoded once and sent to many sessions (broadcasts)."""

from __future__ import annotations

from .net.websocket import frame_binary, frame_text
from .protocol.session import MESSAGE_PREFIX

__all__ = ["Outbound"]


class Outbound:
    """The layer above's messages, made into Engine.IO packets once for any number of sessions.

    ``messages`` are what the layer above would pass to ``EngineSocket.send`` (``str``) and
    ``send_binary`` (``bytes``), in order. ``packets`` are their Engine.IO packets (a polling
    session queues them); ``frames`` are the websocket frames of them all, made on first use and
    shared by every websocket recipient. ``recipients`` counts the sessions it was sent to.
    """

    __slots__ = ("_frames", "messages", "packets", "recipients")

    def __init__(self, messages: list[str | bytes]) -> None:
        self.messages = messages
        self.packets: list[str | bytes] = [
            MESSAGE_PREFIX + message if isinstance(message, str) else message
            for message in messages
        ]
        self.recipients = 0
        self._frames: bytes | None = None

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
