"""Upgrade from polling to websocket: 2probe/3probe, NOOP to the poll, 5, and every way it fails.

The websocket is the "candidate" until it sends ``5``; its packets go to ``receive_on_candidate``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from eio.protocol.session import (
    DisconnectReason,
    ProbeAnswered,
    ReadyState,
    Session,
    SessionClosed,
    UpgradeAborted,
    UpgradeCompleted,
    UpgradeState,
)

from .helpers import (
    PING_INTERVAL,
    POLLING,
    T0,
    UPGRADE_TIMEOUT,
    WEBSOCKET,
    make_session,
    pkt,
)


def probed_session(now: float = T0 + 1) -> Session:
    session = make_session()
    assert session.begin_upgrade(now)
    assert session.receive_on_candidate(pkt("2probe")) == ProbeAnswered("3probe")
    return session


# -- the happy path -------------------------------------------------------------------------------


def test_upgrade_begin_starts_probing_with_a_deadline() -> None:
    session = make_session()
    assert session.begin_upgrade(T0 + 1) is True
    assert session.upgrade is UpgradeState.PROBING
    assert session.transport is POLLING
    assert session.next_deadline() == T0 + 1 + UPGRADE_TIMEOUT


def test_upgrade_probe_is_answered_with_3probe() -> None:
    session = make_session()
    session.begin_upgrade(T0 + 1)
    reply = session.receive_on_candidate(pkt("2probe"))
    assert reply == ProbeAnswered("3probe")
    assert isinstance(reply, ProbeAnswered) and pkt(reply.reply) == pkt("3probe")
    assert session.upgrade is UpgradeState.PROBED
    assert session.transport is POLLING


def test_upgrade_parked_poll_waits_while_probing_and_gets_noop_once_probed() -> None:
    session = make_session()
    session.open_poll()
    session.begin_upgrade(T0 + 1)
    assert session.poll_reply() is None  # no probe yet: the poll stays parked
    session.receive_on_candidate(pkt("2probe"))
    assert session.poll_reply() == ["6"]
    assert not session.poll_parked


def test_upgrade_later_poll_gets_noop_at_once_while_probed() -> None:
    session = probed_session()
    assert session.open_poll() is None
    assert session.poll_reply() == ["6"]


def test_upgrade_poll_while_probed_still_carries_queued_packets() -> None:
    session = probed_session()
    session.send("4during")
    session.open_poll()
    assert session.poll_reply() == ["4during"]


def test_upgrade_5_completes_and_keeps_the_queue() -> None:
    session = probed_session()
    session.send("4a")
    session.send(b"\x01")
    assert session.receive_on_candidate(pkt("5")) == UpgradeCompleted()
    assert session.upgrade is UpgradeState.DONE
    assert session.transport is WEBSOCKET
    assert session.ready_state is ReadyState.OPEN
    assert session.next_deadline() == T0 + PING_INTERVAL  # the upgrade deadline is gone
    assert session.take_pending() == ["4a", b"\x01"]


def test_upgrade_5_without_probe_completes() -> None:
    # socket.ts _maybeUpgrade accepts "upgrade" whatever came before, as long as not closed.
    session = make_session()
    session.begin_upgrade(T0 + 1)
    assert session.receive_on_candidate(pkt("5")) == UpgradeCompleted()
    assert session.transport is WEBSOCKET
    assert session.upgrade is UpgradeState.DONE


def test_upgrade_repeated_probe_is_answered_again() -> None:
    session = probed_session()
    assert session.receive_on_candidate(pkt("2probe")) == ProbeAnswered("3probe")
    assert session.upgrade is UpgradeState.PROBED


def test_upgrade_parked_poll_after_upgrade_gets_noop_and_leaves_the_queue() -> None:
    session = make_session()
    session.begin_upgrade(T0 + 1)
    session.open_poll()
    session.receive_on_candidate(pkt("5"))
    session.send("4for-websocket")
    assert session.poll_reply() == ["6"]
    assert session.take_pending() == ["4for-websocket"]


def test_upgrade_session_packets_flow_on_the_new_transport() -> None:
    session = probed_session()
    session.receive_on_candidate(pkt("5"))
    assert session.handle_timeout(T0 + PING_INTERVAL) == []
    assert session.take_pending() == ["2"]
    assert session.receive(pkt("3"), T0 + PING_INTERVAL + 1) is None
    assert session.next_deadline() == T0 + PING_INTERVAL + 1 + PING_INTERVAL


def test_upgrade_candidate_packets_after_completion_are_not_upgrade_business() -> None:
    session = probed_session()
    session.receive_on_candidate(pkt("5"))
    assert session.receive_on_candidate(pkt("2probe")) is None
    assert session.receive_on_candidate(pkt("4x")) is None
    assert session.upgrade is UpgradeState.DONE


def test_upgrade_candidate_packet_without_an_upgrade_is_ignored() -> None:
    session = make_session()
    assert session.receive_on_candidate(pkt("2probe")) is None
    assert session.upgrade is UpgradeState.NONE


# -- aborts ---------------------------------------------------------------------------------------

ABORTING_FRAMES = [
    ("ping", "2"),
    ("ping-other", "2probes"),
    ("pong-probe", "3probe"),
    ("message", "4hello"),
    ("binary", b"\x01"),
    ("close", "1"),
    ("open", "0"),
    ("noop", "6"),
]


@pytest.mark.parametrize("probed", [False, True], ids=["probing", "probed"])
@pytest.mark.parametrize(
    "frame", [f for _, f in ABORTING_FRAMES], ids=[name for name, _ in ABORTING_FRAMES]
)
def test_upgrade_any_other_candidate_packet_aborts(probed: bool, frame: str | bytes) -> None:
    session = probed_session() if probed else make_session()
    if not probed:
        session.begin_upgrade(T0 + 1)
    session.open_poll()
    assert session.receive_on_candidate(pkt(frame)) == UpgradeAborted()
    assert session.upgrade is UpgradeState.NONE
    assert session.transport is POLLING
    assert session.ready_state is ReadyState.OPEN
    assert session.next_deadline() == T0 + PING_INTERVAL
    # Polling goes on as before: a parked poll waits for real packets again.
    assert session.poll_reply() is None
    session.send("4back")
    assert session.poll_reply() == ["4back"]


def test_upgrade_5_with_data_completes() -> None:
    # "5x" is an UPGRADE packet with data "x": socket.ts checks only the packet type.
    session = make_session()
    session.begin_upgrade(T0 + 1)
    assert session.receive_on_candidate(pkt("5x")) == UpgradeCompleted()
    assert session.transport is WEBSOCKET


def test_upgrade_timeout_aborts() -> None:
    session = probed_session(now=T0 + 1)
    deadline = T0 + 1 + UPGRADE_TIMEOUT
    assert session.handle_timeout(deadline - 0.001) == []
    assert session.upgrade is UpgradeState.PROBED
    assert session.handle_timeout(deadline) == [UpgradeAborted()]
    assert session.upgrade is UpgradeState.NONE
    assert session.ready_state is ReadyState.OPEN
    assert session.next_deadline() == T0 + PING_INTERVAL
    assert session.handle_timeout(deadline + 1) == []  # reported once


def test_upgrade_timeout_and_ping_at_the_same_time() -> None:
    session = make_session()
    session.begin_upgrade(T0 + PING_INTERVAL - UPGRADE_TIMEOUT)
    assert session.handle_timeout(T0 + PING_INTERVAL) == [UpgradeAborted()]
    assert session.take_pending() == ["2"]


def test_upgrade_abort_when_candidate_goes_away() -> None:
    session = probed_session()
    session.abort_upgrade()
    assert session.upgrade is UpgradeState.NONE
    assert session.next_deadline() == T0 + PING_INTERVAL
    session.abort_upgrade()  # idempotent
    assert session.upgrade is UpgradeState.NONE


def test_upgrade_abort_after_completion_changes_nothing() -> None:
    session = probed_session()
    session.receive_on_candidate(pkt("5"))
    session.abort_upgrade()
    assert session.upgrade is UpgradeState.DONE
    assert session.transport is WEBSOCKET


def test_upgrade_may_be_tried_again_after_an_abort() -> None:
    session = probed_session()
    session.receive_on_candidate(pkt("4oops"))
    assert session.begin_upgrade(T0 + 5) is True
    assert session.receive_on_candidate(pkt("2probe")) == ProbeAnswered("3probe")
    assert session.receive_on_candidate(pkt("5")) == UpgradeCompleted()


# -- refusals -------------------------------------------------------------------------------------

REFUSED: list[tuple[str, Callable[[], Session]]] = [
    ("websocket-session", lambda: make_session(WEBSOCKET)),
    ("probing", lambda: _begun(make_session())),
    ("probed", lambda: probed_session()),
    ("upgraded", lambda: _completed(probed_session())),
    ("closing", lambda: _closed_by_server(make_session())),
    ("closed", lambda: _failed(make_session())),
]


def _begun(session: Session) -> Session:
    session.begin_upgrade(T0 + 1)
    return session


def _completed(session: Session) -> Session:
    session.receive_on_candidate(pkt("5"))
    return session


def _closed_by_server(session: Session) -> Session:
    session.close(T0 + 1)
    return session


def _failed(session: Session) -> Session:
    session.fail(DisconnectReason.TRANSPORT_ERROR)
    return session


@pytest.mark.parametrize("factory", [f for _, f in REFUSED], ids=[name for name, _ in REFUSED])
def test_upgrade_begin_is_refused(factory: Callable[[], Session]) -> None:
    session = factory()
    before = (session.upgrade, session.transport, session.ready_state, session.next_deadline())
    assert session.begin_upgrade(T0 + 3) is False
    after = (session.upgrade, session.transport, session.ready_state, session.next_deadline())
    assert after == before


# -- upgrade and close ----------------------------------------------------------------------------


def test_upgrade_completing_while_closing_closes_over_websocket() -> None:
    # socket.ts: on "upgrade" while "closing", flush onto the websocket, then close it.
    session = probed_session()
    session.send("4last")
    assert session.close(T0 + 2) == SessionClosed(DisconnectReason.FORCED_CLOSE)
    assert session.receive_on_candidate(pkt("5")) == UpgradeCompleted()
    assert session.transport is WEBSOCKET
    assert session.ready_state is ReadyState.CLOSED
    assert session.next_deadline() is None
    assert session.take_pending() == ["4last"]


def test_upgrade_probe_is_still_answered_while_closing() -> None:
    session = make_session()
    session.begin_upgrade(T0 + 1)
    session.close(T0 + 2)
    assert session.receive_on_candidate(pkt("2probe")) == ProbeAnswered("3probe")


def test_upgrade_closing_poll_gets_close_not_noop_while_probed() -> None:
    session = probed_session()
    session.send("4last")
    session.close(T0 + 2)
    session.open_poll()
    assert session.poll_reply() == ["4last"]  # CLOSE comes alone, in the next poll
    session.open_poll()
    assert session.poll_reply() == ["1"]
    assert session.ready_state is ReadyState.CLOSED


def test_upgrade_closing_poll_with_empty_queue_gets_close_while_probed() -> None:
    session = probed_session()
    session.close(T0 + 2)
    session.open_poll()
    assert session.poll_reply() == ["1"]


@pytest.mark.parametrize("frame", ["5", "2probe", "4x"], ids=["upgrade", "probe", "message"])
def test_upgrade_candidate_aborts_once_the_session_is_closed(frame: str) -> None:
    session = probed_session()
    session.fail(DisconnectReason.TRANSPORT_ERROR)
    assert session.receive_on_candidate(pkt(frame)) == UpgradeAborted()
    assert session.transport is POLLING
    assert session.upgrade is UpgradeState.NONE


def test_upgrade_candidate_aborts_after_the_get_took_close() -> None:
    session = probed_session()
    session.close(T0 + 2)
    session.open_poll()
    assert session.poll_reply() == ["1"]
    assert session.receive_on_candidate(pkt("5")) == UpgradeAborted()
    assert session.transport is POLLING


def test_upgrade_timeout_does_not_fire_after_close() -> None:
    session = probed_session(now=T0 + 1)
    session.fail(DisconnectReason.PARSE_ERROR)
    assert session.handle_timeout(T0 + 1 + UPGRADE_TIMEOUT) == []
