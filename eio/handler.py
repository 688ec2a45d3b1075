"""The interface between the Engine.IO server and the layer above it (Socket.IO, or an app)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from .protocol.session import DisconnectReason
    from .socket import EngineSocket

__all__ = ["Handler"]


class Handler(Protocol):
    """Callbacks of an Engine.IO server, all run on the reactor thread."""

    def on_connect(self, socket: EngineSocket) -> None:
        """A session opened (its OPEN packet is already on the way)."""
        ...

    def on_message(self, socket: EngineSocket, data: str) -> None:
        """A text message arrived."""
        ...

    def on_binary(self, socket: EngineSocket, data: bytes) -> None:
        """A binary message arrived."""
        ...

    def on_disconnect(self, socket: EngineSocket, reason: DisconnectReason) -> None:
        """The session ended. Called exactly once per session, never re-entrantly from a send."""
        ...
