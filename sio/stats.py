"""Socket.IO statistics: plain counters, always on, read when someone asks (``/metrics``).

As in ``eio/stats.py``: an increment is an attribute ``+= 1`` (or a ``Counter`` entry on the
rarer paths: a connect, a disconnect); gauges (sockets connected now) are counted from the
namespaces when read.
"""

from __future__ import annotations

from collections import Counter

__all__ = ["ServerStats"]


class ServerStats:
    """What a ``sio.Server`` has done since it started (``Server.stats``)."""

    __slots__ = (
        "broadcasts",
        "connections",
        "deliveries",
        "disconnections",
        "handler_errors",
        "recovery_hits",
        "recovery_misses",
        "volatile_drops",
    )

    def __init__(self) -> None:
        #: Sockets connected (joined a namespace), by namespace.
        self.connections: Counter[str] = Counter()
        #: Sockets disconnected, by namespace and Socket.IO reason.
        self.disconnections: Counter[tuple[str, str]] = Counter()
        #: Adapter broadcasts with at least one recipient in this process.
        self.broadcasts = 0
        #: Packets handed to a recipient's Engine.IO socket by a broadcast (once per recipient)
        #: or an emit to one socket.
        self.deliveries = 0
        #: Volatile packets not sent because the recipient could not take them right then.
        self.volatile_drops = 0
        #: Exceptions raised by application code: event and connection handlers, middlewares,
        #: acknowledgement callbacks (each is logged too).
        self.handler_errors = 0
        #: Connection state recovery: sessions given back, and restores asked for in vain.
        self.recovery_hits = 0
        self.recovery_misses = 0

    def snapshot(self) -> dict[str, object]:
        """The counters as plain data (for a report, or a message to another process)."""
        return {
            "connections": dict(self.connections),
            "disconnections": [
                [nsp, reason, n] for (nsp, reason), n in self.disconnections.items()
            ],
            "broadcasts": self.broadcasts,
            "deliveries": self.deliveries,
            "volatile_drops": self.volatile_drops,
            "handler_errors": self.handler_errors,
            "recovery_hits": self.recovery_hits,
            "recovery_misses": self.recovery_misses,
        }
