"""Churn and abandoned polling sessions give back what they took: sessions, sockets, timers,
fds, and (within 10%) RSS, once the heartbeat has dropped the abandoned ones.

The chat server runs in a subprocess (``benchmarks/churn.py``'s ``serve``, which answers counter
requests on stdin) with a 0.5 s / 0.5 s heartbeat; a raw client drives it. ``benchmarks/churn.py``
runs the full 10,000 cycles and 3,000 zombies; these are bounded versions.
"""

from __future__ import annotations

import gc
import time

from benchmarks.churn import (
    CYCLES,
    IO_TIMEOUT,
    polling_abandoned,
    run_cycles,
    server_process,
    settled,
    wait_until,
)

CYCLE_COUNT = 1000
ZOMBIE_STEPS = (200, 400, 600)
#: A polling session's queue limit (``max_poll_queue``), plus room for its CONNECT reply and
#: the pings queued meanwhile.
QUEUE_BOUND = 128 + 8


def test_churn_returns_to_the_baseline() -> None:
    with server_process(ping_interval=0.5, ping_timeout=0.5) as server:
        run_cycles(server.port, 100, 1, lambda _done: None)  # warm-up: one-time allocations
        baseline = wait_until(server, settled(server.stats()), IO_TIMEOUT)
        assert baseline["sessions"] == baseline["sockets"] == baseline["connections"] == 0
        peak_sessions = [0]

        def sample(_done: int) -> None:
            peak_sessions[0] = max(peak_sessions[0], server.stats()["sessions"])

        run_cycles(server.port, CYCLE_COUNT, 4, sample)
        sample(CYCLE_COUNT)
        # Abandoned polling clients (one cycle in four) were still waiting for their timeout.
        assert peak_sessions[0] > 0
        after = wait_until(server, settled(baseline), IO_TIMEOUT)
    assert after["sessions"] == 0, after
    assert after["sockets"] == 0, after
    assert after["connections"] == 0, after
    assert after["timers"] <= baseline["timers"], (baseline, after)
    assert after["fds"] == baseline["fds"], (baseline, after)
    assert after["rss_kb"] <= baseline["rss_kb"] * 1.10, (baseline, after)


def test_zombie_polling_sessions_cost_bounded_memory() -> None:
    """The issue's repro, bounded: clients that join the chat by name (each join is announced
    to everyone) and never poll again. Each one's queue is capped, so the live zombies stay
    bounded however many came, and so does RSS; after the heartbeat, all is given back."""
    with server_process(ping_interval=2.0, ping_timeout=2.0) as server:
        for i in range(60):  # warm-up, with cycles that end at once
            CYCLES[i % 3](server.port, f"w{i}")
        baseline = wait_until(server, settled(server.stats()), IO_TIMEOUT)
        steps = []
        made = 0
        for target in ZOMBIE_STEPS:
            while made < target:
                polling_abandoned(server.port, f"z{made}")
                made += 1
            steps.append(server.stats())
        after = wait_until(server, settled(baseline), IO_TIMEOUT)
    for stats in steps:
        assert 0 < stats["sessions"] <= QUEUE_BOUND, steps
    # Flat: the later steps cost no more than the first one's plateau (arena-sized noise).
    first = steps[0]["rss_kb"]
    assert all(stats["rss_kb"] - first <= 3 * 1024 for stats in steps[1:]), steps
    assert after["sessions"] == after["sockets"] == after["connections"] == 0, after
    assert after["timers"] <= baseline["timers"], (baseline, after)
    assert after["fds"] == baseline["fds"], (baseline, after)
    assert after["rss_kb"] <= baseline["rss_kb"] * 1.10, (baseline, after)


def test_ended_sessions_are_freed_without_the_cycle_collector() -> None:
    """No reference cycle outlives a session: with the collector off, every kind of ended
    session (polling, websocket, closed cleanly, dropped, abandoned) is gone from memory."""
    from eio import EngineSocket
    from sio.connection import Connection

    from .chat.helpers import start_server

    gc.collect()
    gc.disable()
    server = start_server(ping_interval=0.3, ping_timeout=0.3)
    try:
        for i in range(2 * len(CYCLES)):
            CYCLES[i % len(CYCLES)](server.port, f"u{i}")
        deadline = time.monotonic() + IO_TIMEOUT

        def left() -> tuple[int, int, int]:
            engine = server.io.eio
            alive = sum(1 for o in gc.get_objects() if type(o) in (EngineSocket, Connection))
            return len(engine.sessions), engine.connection_count, alive

        while (counts := server.loop.call(left)) != (0, 0, 0):
            assert time.monotonic() < deadline, f"sessions, connections, objects left: {counts}"
            time.sleep(0.05)  # allowed: the heartbeat drops the abandoned session, no event says so
    finally:
        gc.enable()
        server.stop()
