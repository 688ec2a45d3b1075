"""The Admin UI's ``aggregatedEvents``: deltas of the server's statistics counters.

The counters are the shared seam (``eio.EngineStats`` on ``EngineIOServer.stats``); this module
only reads them, at report time, and turns what changed since the last report into the UI's
``{timestamp, type, subType?, count}`` entries.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Protocol

__all__ = ["EngineCounters", "EngineStats", "aggregated_events", "read_engine_counters"]

#: The UI's event type for each Engine.IO counter.
COUNTER_TYPES = (
    ("rawConnection", "handshakes"),
    ("packetsIn", "packets_in"),
    ("packetsOut", "packets_out"),
    ("bytesIn", "bytes_in"),
    ("bytesOut", "bytes_out"),
)

EngineCounters = dict[str, Any]


class EngineStats(Protocol):
    """What is read of ``eio``'s ``EngineStats`` (``EngineIOServer.stats``, the shared seam)."""

    handshakes: int
    closes: Counter[str]
    packets_in: int
    packets_out: int
    bytes_in: int
    bytes_out: int


def read_engine_counters(stats: EngineStats) -> EngineCounters:
    """A snapshot of the counters the UI shows."""
    snapshot: EngineCounters = {name: getattr(stats, name) for _, name in COUNTER_TYPES}
    snapshot["closes"] = Counter(stats.closes)
    return snapshot


def aggregated_events(
    before: EngineCounters, after: EngineCounters, timestamp_ms: int
) -> list[dict[str, Any]]:
    """What happened between two snapshots, stamped with the second (truncated to the second,
    as the Node package's buckets are)."""
    timestamp = timestamp_ms - timestamp_ms % 1000
    events: list[dict[str, Any]] = []
    for kind, name in COUNTER_TYPES:
        count = after[name] - before.get(name, 0)
        if count > 0:
            events.append({"timestamp": timestamp, "type": kind, "count": count})
    previous: Counter[str] = before.get("closes") or Counter()
    for reason, total in sorted(after["closes"].items()):
        count = total - previous.get(reason, 0)
        if count > 0:
            events.append(
                {
                    "timestamp": timestamp,
                    "type": "rawDisconnection",
                    "subType": reason,
                    "count": count,
                }
            )
    return events
