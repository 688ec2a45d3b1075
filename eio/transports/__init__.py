"""The transports that carry an Engine.IO session: HTTP long-polling and websocket.

Both implement ``Transport``, so the session glue (``eio/socket.py``) never asks which one it
holds. The rules (what may be sent or received, and when) are the session's
(``eio/protocol/session.py``); a transport only moves the packets the session lets through.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..outbound import Outbound
    from ..protocol.request import TransportName

__all__ = ["Transport"]


class Transport(Protocol):
    """What carries a session's packets."""

    #: ``polling`` or ``websocket``.
    name: TransportName

    @property
    def writable(self) -> bool:
        """Could a packet leave right now? (Volatile packets are dropped otherwise.)"""
        ...

    def send_message(self, data: str) -> None:
        """A text message, if the session still sends."""
        ...

    def send_binary(self, data: bytes) -> None:
        """A binary message, if the session still sends."""
        ...

    def send_outbound(self, outbound: Outbound) -> None:
        """Messages encoded once for many sessions, if the session still sends."""
        ...

    def flush(self) -> None:
        """End of tick: move what the session queued (pings, a close) onto the wire."""
        ...

    def close(self) -> None:
        """The session no longer uses this transport (it ended, or moved to a websocket):
        give back what it holds. A parked poll gets its last answer, a websocket a close frame."""
        ...
