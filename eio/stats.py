"""Engine.IO statistics: plain counters, read when someone asks (``/metrics``, the Admin UI).

Packets and bytes are counted only once ``EngineIOServer.count_traffic()`` was called (their
four increments per echo round trip are 2.6 % of it); the rest always.

An increment is an attribute ``+= 1``: no lock (one thread per process), no call, nothing
allocated per packet beyond the int itself. Gauges (how many sessions, on which transport)
are not kept here: they are counted from the session table when read.
"""

from __future__ import annotations

from collections import Counter

__all__ = ["EngineStats"]


class EngineStats:
    """What an ``EngineIOServer`` has done since it started (``EngineIOServer.stats``).

    Packets and bytes are Engine.IO packets on every transport: a websocket frame is one
    packet (its bytes: the frame as written or read, header included); a polling body holds
    several (its bytes: the body, before HTTP compression). A broadcast's shared frame counts
    once per recipient it was handed to.
    """

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "closes",
        "handshakes",
        "packets_in",
        "packets_out",
        "slow_consumers",
    )

    def __init__(self) -> None:
        #: Sessions opened (handshakes answered).
        self.handshakes = 0
        #: Sessions closed, by Engine.IO reason (``"transport close"``, ``"ping timeout"``...).
        self.closes: Counter[str] = Counter()
        #: Engine.IO packets received and sent, and their bytes (see the class docstring).
        self.packets_in = 0
        self.packets_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        #: Connections dropped as too slow: a write buffer over its cap, or a poll queue full.
        self.slow_consumers = 0

    def snapshot(self) -> dict[str, object]:
        """The counters as plain data (for a report, or a message to another process)."""
        return {
            "handshakes": self.handshakes,
            "closes": dict(self.closes),
            "packets_in": self.packets_in,
            "packets_out": self.packets_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "slow_consumers": self.slow_consumers,
        }
