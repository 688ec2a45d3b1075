"""The Socket.IO state of one connection, sans-IO: connect timeout and acknowledgement
deadlines, driven by a clock that is just a number (``now``)."""

from __future__ import annotations

from typing import Any

import pytest

from sio.protocol.connection import (
    AckTimedOut,
    ConnectionState,
    ConnectTimedOut,
    PendingAck,
)


def callback(*args: Any) -> None:
    """A callback to register (never called by the state itself)."""


def other(*args: Any) -> None:
    """Another one."""


def test_sio_connection_connect_deadline_is_the_first_deadline() -> None:
    state = ConnectionState(now=100.0, connect_timeout=45.0)
    assert state.waiting_for_connect
    assert state.next_deadline() == 145.0
    assert state.handle_timeout(144.999) == []
    assert state.handle_timeout(145.0) == [ConnectTimedOut()]
    assert not state.waiting_for_connect
    assert state.next_deadline() is None
    assert state.handle_timeout(500.0) == []  # reported once


def test_sio_connection_joining_ends_the_connect_timeout() -> None:
    state = ConnectionState(now=0.0, connect_timeout=1.0)
    state.joined()
    assert not state.waiting_for_connect
    assert state.next_deadline() is None
    assert state.handle_timeout(10.0) == []


def test_sio_connection_ack_without_deadline_waits_for_its_answer() -> None:
    state = ConnectionState(now=0.0, connect_timeout=1.0)
    state.joined()
    state.expect_ack("/", 7, callback)
    assert state.pending_acks == 1
    assert state.next_deadline() is None  # no timer for an untimed ack
    assert state.handle_timeout(1e9) == []
    pending = state.take_ack("/", 7)
    assert pending == PendingAck(callback, timed=False)
    assert pending is not None and pending.arguments(["a", 1]) == ["a", 1]
    assert state.take_ack("/", 7) is None  # answered once
    assert state.pending_acks == 0


def test_sio_connection_timed_ack_answered_in_time_gets_none_first() -> None:
    state = ConnectionState(now=0.0, connect_timeout=45.0)
    state.joined()
    state.expect_ack("/chat", 1, callback, deadline=5.0)
    assert state.next_deadline() == 5.0
    pending = state.take_ack("/chat", 1)
    assert pending is not None and pending.timed
    assert pending.arguments(["ok"]) == [None, "ok"]
    # Answered: its deadline is stale and no longer counts.
    assert state.next_deadline() is None
    assert state.handle_timeout(6.0) == []


def test_sio_connection_timed_ack_expires_once_then_a_late_answer_finds_nothing() -> None:
    state = ConnectionState(now=0.0, connect_timeout=45.0)
    state.joined()
    state.expect_ack("/", 3, callback, deadline=2.0)
    (event,) = state.handle_timeout(2.0)
    assert event == AckTimedOut("/", 3, PendingAck(callback, timed=True))
    assert state.handle_timeout(3.0) == []
    assert state.take_ack("/", 3) is None


def test_sio_connection_deadlines_expire_in_order_with_the_connect_timeout_first() -> None:
    state = ConnectionState(now=0.0, connect_timeout=2.0)
    state.expect_ack("/", 2, other, deadline=3.0)
    state.expect_ack("/", 1, callback, deadline=1.0)
    state.expect_ack("/b", 1, callback, deadline=2.0)
    assert state.next_deadline() == 1.0
    events = state.handle_timeout(5.0)
    assert events == [
        ConnectTimedOut(),
        AckTimedOut("/", 1, PendingAck(callback, True)),
        AckTimedOut("/b", 1, PendingAck(callback, True)),
        AckTimedOut("/", 2, PendingAck(other, True)),
    ]


def test_sio_connection_acks_are_keyed_by_namespace_and_id() -> None:
    state = ConnectionState(now=0.0, connect_timeout=1.0)
    state.expect_ack("/", 0, callback)
    state.expect_ack("/admin", 0, other)
    assert state.take_ack("/admin", 0) == PendingAck(other)
    assert state.take_ack("/", 0) == PendingAck(callback)


def test_sio_connection_drop_ack_forgets_it_and_its_deadline() -> None:
    state = ConnectionState(now=0.0, connect_timeout=1.0)
    state.joined()
    state.expect_ack("/", 9, callback, deadline=4.0)
    state.drop_ack("/", 9)
    state.drop_ack("/", 9)  # idempotent
    assert state.next_deadline() is None
    assert state.handle_timeout(10.0) == []


def test_sio_connection_registering_an_id_again_replaces_the_first() -> None:
    state = ConnectionState(now=0.0, connect_timeout=1.0)
    state.joined()
    state.expect_ack("/", 1, callback, deadline=1.0)
    state.expect_ack("/", 1, other, deadline=9.0)
    # The first registration's deadline is stale: only the second one expires, at 9.
    assert state.next_deadline() == 9.0
    assert state.handle_timeout(5.0) == []
    assert state.handle_timeout(9.0) == [AckTimedOut("/", 1, PendingAck(other, True))]


def test_sio_connection_take_ack_before_any_is_none() -> None:
    state = ConnectionState(now=0.0, connect_timeout=1.0)
    assert state.take_ack("/", 0) is None
    assert state.pending_acks == 0


@pytest.mark.parametrize("count", [1, 100, 10_000])
def test_sio_connection_many_timed_acks_one_deadline_at_a_time(count: int) -> None:
    state = ConnectionState(now=0.0, connect_timeout=1.0)
    state.joined()
    for ack_id in range(count):
        state.expect_ack("/", ack_id, callback, deadline=10.0 + ack_id)
    for ack_id in range(0, count, 2):
        assert state.take_ack("/", ack_id) is not None
    expired = state.handle_timeout(10.0 + count)
    assert [event.ack_id for event in expired if isinstance(event, AckTimedOut)] == list(
        range(1, count, 2)
    )
    assert state.next_deadline() is None
