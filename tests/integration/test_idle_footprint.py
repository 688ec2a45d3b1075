"""What an idle connected client keeps alive on the server: one timer (its heartbeat), and no
timer it no longer needs waiting in the heap for its deadline (memory per idle connection)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import sio
from reactor.timers import COMPACT_MIN

from .test_stats_seam import Client


@pytest.fixture
def io() -> Iterator[sio.Server]:
    server = sio.Server()
    yield server
    server.reactor.close()


def _timers(io: sio.Server) -> tuple[int, int]:
    """(live, cancelled) entries of the reactor's timer heap."""
    entries = [entry[2] for entry in io.reactor._timers._heap]
    live = sum(1 for handle in entries if not handle.cancelled)
    return live, len(entries) - live


def test_a_connected_idle_client_holds_only_its_heartbeat_timer(io: sio.Server) -> None:
    client = Client(io)
    client.send("40")
    client.expect("40{")
    heartbeat = io.eio.sessions[next(iter(io.eio.sessions))]._alarm_handle
    live, _ = _timers(io)
    assert live == 1 and heartbeat is not None and not heartbeat.cancelled


def test_timers_cancelled_at_connect_do_not_pile_up(io: sio.Server) -> None:
    # Each websocket client cancels two timers on its way in (the HTTP idle timer at the
    # upgrade, the connect timeout at the CONNECT); they must not outnumber the live ones.
    clients = [Client(io) for _ in range(COMPACT_MIN)]
    for client in clients:
        client.send("40")
    for client in clients:
        client.expect("40{")
    live, cancelled = _timers(io)
    assert live == COMPACT_MIN
    assert cancelled <= live
