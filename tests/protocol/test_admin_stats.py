"""The Admin UI's ``aggregatedEvents`` from two snapshots of ``EngineStats`` (sans-IO): only
what changed, stamped to the second, closes by reason as ``rawDisconnection`` subtypes."""

from __future__ import annotations

from admin.stats import aggregated_events, read_engine_counters
from eio.stats import EngineStats


def test_deltas_between_snapshots() -> None:
    stats = EngineStats()
    before = read_engine_counters(stats)
    stats.handshakes += 3
    stats.packets_in += 5
    stats.bytes_in += 120
    stats.packets_out += 7
    stats.bytes_out += 300
    stats.closes["transport close"] += 2
    stats.closes["ping timeout"] += 1
    after = read_engine_counters(stats)
    events = aggregated_events(before, after, 1_700_000_001_234)
    stamp = 1_700_000_001_000
    assert events == [
        {"timestamp": stamp, "type": "rawConnection", "count": 3},
        {"timestamp": stamp, "type": "packetsIn", "count": 5},
        {"timestamp": stamp, "type": "packetsOut", "count": 7},
        {"timestamp": stamp, "type": "bytesIn", "count": 120},
        {"timestamp": stamp, "type": "bytesOut", "count": 300},
        {"timestamp": stamp, "type": "rawDisconnection", "subType": "ping timeout", "count": 1},
        {"timestamp": stamp, "type": "rawDisconnection", "subType": "transport close", "count": 2},
    ]
    # The snapshot is a copy: later counts do not change it, and nothing new is nothing.
    stats.closes["transport close"] += 1
    assert aggregated_events(after, read_engine_counters(stats), 0) == [
        {"timestamp": 0, "type": "rawDisconnection", "subType": "transport close", "count": 1}
    ]
    assert aggregated_events(after, after, 0) == []
