"""Messages encoded once and sent to many sessions (broadcasts)."""

from __future__ import annotations

from .net.websocket import frame_binary, frame_text

__all__ = ["Outbound"]


class Outbound:
    """Engine.IO MESSAGE packets, encoded for polling and (on first use) framed for websocket.

    ``items`` are encoded packets: ``"4..."`` strings for text messages, ``bytes`` for binary ones.
    """

    __slots__ = ("_frames", "items")

    def __init__(self, items: list[str | bytes]) -> None:
        self.items = items
        self._frames: bytes | None = None

    @classmethod
    def message(cls, text: str) -> Outbound:
        return cls(["4" + text])

    @property
    def frames(self) -> bytes:
        """The websocket frames of every item, made once and shared by all recipients."""
        frames = self._frames
        if frames is None:
            frames = self._frames = b"".join(
                frame_text(item) if isinstance(item, str) else frame_binary(item)
                for item in self.items
            )
        return frames
