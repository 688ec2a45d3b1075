"""The Engine.IO session state machine, driven by hand with a fake clock (plain floats)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from eio.errors import LocalProtocolError
from eio.protocol.request import TransportName
from eio.protocol.session import (
    POLLING_CLOSE_TIMEOUT,
    DisconnectReason,
    MessageReceived,
    ProbeAnswered,
    ReadyState,
    Session,
    SessionClosed,
    UpgradeAborted,
    UpgradeCompleted,
    UpgradeState,
)

from .helpers import (
    CLOSE_TIMEOUT,
    PING_INTERVAL,
    PING_TIMEOUT,
    POLLING,
    T0,
    UPGRADE_TIMEOUT,
    WEBSOCKET,
    closed_events,
    make_session,
    pkt,
)

BOTH = pytest.mark.parametrize("transport", [POLLING, WEBSOCKET], ids=["polling", "websocket"])


# -- a new session --------------------------------------------------------------------------------


@BOTH
def test_session_starts_open_with_first_ping_one_interval_away(transport: TransportName) -> None:
    session = make_session(transport)
    assert session.sid == "sid-1"
    assert session.transport is transport
    assert session.ready_state is ReadyState.OPEN
    assert session.upgrade is UpgradeState.NONE
    assert not session.has_pending()
    assert not session.poll_parked
    assert session.next_deadline() == T0 + PING_INTERVAL


def test_session_default_timeouts_are_the_reference_servers() -> None:
    session = Session("s", POLLING, now=0.0, ping_interval=25.0, ping_timeout=20.0)
    assert POLLING_CLOSE_TIMEOUT == 30.0
    assert session.begin_upgrade(5.0)
    assert session.next_deadline() == 5.0 + 10.0  # upgrade timeout 10 s, before the ping at 25
    session.close(6.0)
    assert session.next_deadline() == 6.0 + 30.0


def test_session_events_of_different_kinds_never_compare_equal() -> None:
    events = [
        MessageReceived("transport close"),
        SessionClosed(DisconnectReason.TRANSPORT_CLOSE),
        ProbeAnswered("transport close"),
        UpgradeCompleted(),
        UpgradeAborted(),
    ]
    for i, first in enumerate(events):
        for j, second in enumerate(events):
            assert (first == second) is (i == j)
    assert UpgradeAborted() == UpgradeAborted()
    assert SessionClosed(DisconnectReason.PING_TIMEOUT) != SessionClosed(
        DisconnectReason.TRANSPORT_CLOSE
    )


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        (DisconnectReason.TRANSPORT_CLOSE, "transport close"),
        (DisconnectReason.TRANSPORT_ERROR, "transport error"),
        (DisconnectReason.PING_TIMEOUT, "ping timeout"),
        (DisconnectReason.PARSE_ERROR, "parse error"),
        (DisconnectReason.FORCED_CLOSE, "forced close"),
        (DisconnectReason.SERVER_SHUTDOWN, "server shutting down"),
    ],
)
def test_session_disconnect_reasons_are_named_as_the_reference_names_them(
    reason: DisconnectReason, text: str
) -> None:
    assert reason == text
    assert str(reason) == text


# -- heartbeat ------------------------------------------------------------------------------------


@BOTH
def test_session_heartbeat_nothing_before_the_ping_is_due(transport: TransportName) -> None:
    session = make_session(transport)
    assert session.handle_timeout(T0 + PING_INTERVAL - 0.001) == []
    assert not session.has_pending()
    assert session.next_deadline() == T0 + PING_INTERVAL


@BOTH
def test_session_heartbeat_ping_queued_at_ping_interval(transport: TransportName) -> None:
    session = make_session(transport)
    assert session.handle_timeout(T0 + PING_INTERVAL) == []
    assert session.take_pending() == ["2"]
    assert session.next_deadline() == T0 + PING_INTERVAL + PING_TIMEOUT
    assert session.ready_state is ReadyState.OPEN


def test_session_heartbeat_late_timer_counts_the_timeout_from_the_ping() -> None:
    session = make_session()
    late = T0 + PING_INTERVAL + 3.5
    session.handle_timeout(late)
    assert session.take_pending() == ["2"]
    assert session.next_deadline() == late + PING_TIMEOUT


def test_session_heartbeat_ping_is_queued_only_once() -> None:
    session = make_session()
    session.handle_timeout(T0 + PING_INTERVAL)
    session.handle_timeout(T0 + PING_INTERVAL + 1)
    assert session.take_pending() == ["2"]


def test_session_heartbeat_ping_joins_the_queue_behind_messages() -> None:
    session = make_session()
    session.send("4first")
    session.handle_timeout(T0 + PING_INTERVAL)
    assert session.take_pending() == ["4first", "2"]


@BOTH
def test_session_heartbeat_pong_moves_next_ping_to_now_plus_interval(
    transport: TransportName,
) -> None:
    session = make_session(transport)
    session.handle_timeout(T0 + PING_INTERVAL)
    pong_at = T0 + PING_INTERVAL + 7.0
    assert session.receive(pkt("3"), pong_at) is None
    assert session.next_deadline() == pong_at + PING_INTERVAL
    # The old pong deadline is gone: nothing happens when it passes.
    assert session.handle_timeout(T0 + PING_INTERVAL + PING_TIMEOUT) == []
    assert session.ready_state is ReadyState.OPEN
    assert session.take_pending() == ["2"]


def test_session_heartbeat_unsolicited_pong_postpones_the_ping() -> None:
    session = make_session()
    assert session.receive(pkt("3"), T0 + 10.0) is None
    assert session.next_deadline() == T0 + 10.0 + PING_INTERVAL
    assert session.handle_timeout(T0 + PING_INTERVAL) == []
    assert not session.has_pending()


@BOTH
def test_session_heartbeat_ping_timeout_closes_exactly_once(transport: TransportName) -> None:
    session = make_session(transport)
    session.handle_timeout(T0 + PING_INTERVAL)
    session.send("4unsent")
    deadline = T0 + PING_INTERVAL + PING_TIMEOUT
    assert session.handle_timeout(deadline - 0.001) == []
    assert session.ready_state is ReadyState.OPEN
    assert session.handle_timeout(deadline) == [SessionClosed(DisconnectReason.PING_TIMEOUT)]
    assert session.ready_state is ReadyState.CLOSED
    assert not session.has_pending()  # queued packets are dropped
    assert session.next_deadline() is None
    assert session.handle_timeout(deadline + 100.0) == []


def test_session_heartbeat_one_very_late_call_pings_before_timing_out() -> None:
    # A single overdue call sends the ping; the timeout counts from then.
    session = make_session()
    very_late = T0 + 10 * (PING_INTERVAL + PING_TIMEOUT)
    assert session.handle_timeout(very_late) == []
    assert session.take_pending() == ["2"]
    assert session.next_deadline() == very_late + PING_TIMEOUT


def test_session_heartbeat_cycles_with_prompt_pongs_stay_open() -> None:
    session = make_session()
    now = T0
    for _ in range(5):
        now = session.next_deadline()  # type: ignore[assignment]
        assert session.handle_timeout(now) == []
        assert session.take_pending() == ["2"]
        now += 0.5
        assert session.receive(pkt("3"), now) is None
        assert session.next_deadline() == now + PING_INTERVAL
    assert session.ready_state is ReadyState.OPEN


def test_session_heartbeat_pong_after_close_changes_nothing() -> None:
    session = make_session()
    session.fail(DisconnectReason.TRANSPORT_CLOSE)
    assert session.receive(pkt("3"), T0 + 1) is None
    assert session.next_deadline() is None


# -- next_deadline --------------------------------------------------------------------------------

# (id, steps applied to a fresh polling session, expected next deadline)
Step = Callable[[Session], object]
DEADLINE_CASES: list[tuple[str, list[Step], float | None]] = [
    ("ping-due", [], T0 + PING_INTERVAL),
    (
        "upgrade-before-ping",
        [lambda s: s.begin_upgrade(T0 + 1)],
        T0 + 1 + UPGRADE_TIMEOUT,
    ),
    (
        "ping-before-upgrade",
        [lambda s: s.begin_upgrade(T0 + 20)],
        T0 + PING_INTERVAL,
    ),
    (
        "upgrade-before-pong",
        [lambda s: s.begin_upgrade(T0 + 20), lambda s: s.handle_timeout(T0 + PING_INTERVAL)],
        T0 + 20 + UPGRADE_TIMEOUT,
    ),
    (
        "pong-before-upgrade",
        [lambda s: s.handle_timeout(T0 + PING_INTERVAL), lambda s: s.begin_upgrade(T0 + 40)],
        T0 + PING_INTERVAL + PING_TIMEOUT,
    ),
    (
        "upgrade-aborted",
        [lambda s: s.begin_upgrade(T0 + 1), lambda s: s.abort_upgrade()],
        T0 + PING_INTERVAL,
    ),
    (
        "upgrade-done",
        [lambda s: s.begin_upgrade(T0 + 1), lambda s: s.receive_on_candidate(pkt("5"))],
        T0 + PING_INTERVAL,
    ),
    ("closing", [lambda s: s.close(T0 + 5)], T0 + 5 + CLOSE_TIMEOUT),
    (
        "closing-while-upgrading",
        [lambda s: s.begin_upgrade(T0 + 1), lambda s: s.close(T0 + 2)],
        T0 + 2 + CLOSE_TIMEOUT,
    ),
    ("failed", [lambda s: s.fail(DisconnectReason.TRANSPORT_ERROR)], None),
    (
        "closed-by-poll",
        [lambda s: s.close(T0 + 5), lambda s: s.open_poll(), lambda s: s.poll_reply()],
        None,
    ),
]


@pytest.mark.parametrize(
    ("steps", "expected"), [c[1:] for c in DEADLINE_CASES], ids=[c[0] for c in DEADLINE_CASES]
)
def test_session_next_deadline_is_the_earliest(steps: list[Step], expected: float | None) -> None:
    session = make_session()
    for step in steps:
        step(session)
    assert session.next_deadline() == expected
    if expected is not None:
        # Nothing is due just before it, and something is due at it.
        before = (session.ready_state, session.upgrade, session.has_pending())
        assert session.handle_timeout(expected - 0.001) == []
        assert (session.ready_state, session.upgrade, session.has_pending()) == before
        session.handle_timeout(expected)
        assert (session.ready_state, session.upgrade, session.has_pending()) != before


# -- inbound packets ------------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize(
    ("frame", "data"),
    [
        ("4hello", "hello"),
        ("4", ""),
        ("4€😀", "€😀"),
        (b"\x00\xff", b"\x00\xff"),
        ("bAQID", b"\x01\x02\x03"),
    ],
    ids=["text", "empty", "unicode", "binary-frame", "base64"],
)
def test_session_message_is_reported(
    transport: TransportName, frame: str | bytes, data: str | bytes
) -> None:
    session = make_session(transport)
    assert session.receive(pkt(frame), T0 + 1) == MessageReceived(data)
    assert session.ready_state is ReadyState.OPEN


@BOTH
@pytest.mark.parametrize(
    "frame",
    ["0", "0{}", "5", "6", "6junk"],
    ids=["open", "open-data", "upgrade", "noop", "noop-data"],
)
def test_session_client_packets_without_meaning_are_ignored(
    transport: TransportName, frame: str
) -> None:
    session = make_session(transport)
    assert session.receive(pkt(frame), T0 + 1) is None
    assert session.ready_state is ReadyState.OPEN
    assert session.next_deadline() == T0 + PING_INTERVAL  # no heartbeat effect either


@BOTH
@pytest.mark.parametrize("frame", ["2", "2probe"], ids=["ping", "probe"])
def test_session_client_ping_is_a_transport_error(transport: TransportName, frame: str) -> None:
    # v4 reversed the heartbeat: the server pings, the client never does on its transport.
    session = make_session(transport)
    assert session.receive(pkt(frame), T0 + 1) == SessionClosed(DisconnectReason.TRANSPORT_ERROR)
    assert session.ready_state is ReadyState.CLOSED


@BOTH
def test_session_client_close_is_transport_close(transport: TransportName) -> None:
    session = make_session(transport)
    session.send("4dropped")
    assert session.receive(pkt("1"), T0 + 1) == SessionClosed(DisconnectReason.TRANSPORT_CLOSE)
    assert session.ready_state is ReadyState.CLOSED
    assert not session.has_pending()
    assert session.next_deadline() is None


def test_session_client_close_answers_the_parked_poll_with_noop() -> None:
    session = make_session()
    session.open_poll()
    session.receive(pkt("1"), T0 + 1)
    assert session.poll_reply() == ["6"]
    assert not session.poll_parked


@pytest.mark.parametrize(
    "reason",
    [
        DisconnectReason.TRANSPORT_ERROR,
        DisconnectReason.PARSE_ERROR,
        DisconnectReason.PING_TIMEOUT,
        DisconnectReason.TRANSPORT_CLOSE,
    ],
)
def test_session_other_closes_answer_the_parked_poll_with_close(
    reason: DisconnectReason,
) -> None:
    session = make_session()
    session.send("4dropped")
    session.open_poll()
    assert session.fail(reason) == SessionClosed(reason)
    assert session.poll_reply() == ["1"]


def test_session_ping_timeout_answers_the_parked_poll_with_close() -> None:
    session = make_session()
    session.handle_timeout(T0 + PING_INTERVAL)
    session.open_poll()
    assert session.poll_reply() == ["2"]
    session.open_poll()
    session.handle_timeout(T0 + PING_INTERVAL + PING_TIMEOUT)
    assert session.poll_reply() == ["1"]


@BOTH
def test_session_packets_after_close_are_ignored(transport: TransportName) -> None:
    session = make_session(transport)
    session.fail(DisconnectReason.TRANSPORT_ERROR)
    frames: list[str | bytes] = ["4late", b"\x01", "1", "2", "3"]
    for frame in frames:
        assert session.receive(pkt(frame), T0 + 2) is None
    assert session.ready_state is ReadyState.CLOSED


def test_session_packets_while_closing_are_ignored() -> None:
    session = make_session()
    session.close(T0 + 1)
    assert session.receive(pkt("4late"), T0 + 2) is None
    assert session.receive(pkt("2"), T0 + 2) is None
    # A client CLOSE while closing does not turn the final CLOSE into a NOOP.
    assert session.receive(pkt("1"), T0 + 2) is None
    assert session.ready_state is ReadyState.CLOSING
    session.open_poll()
    assert session.poll_reply() == ["1"]


# -- outbound -------------------------------------------------------------------------------------


@BOTH
def test_session_send_queues_in_order(transport: TransportName) -> None:
    session = make_session(transport)
    assert session.send("4a")
    assert session.send(b"\x01")
    assert session.send("4b")
    assert session.has_pending()
    assert session.take_pending() == ["4a", b"\x01", "4b"]
    assert not session.has_pending()
    assert session.take_pending() == []


@BOTH
@pytest.mark.parametrize(
    "close",
    [
        lambda s: s.fail(DisconnectReason.TRANSPORT_ERROR),
        lambda s: s.close(T0 + 1),
        lambda s: s.receive(pkt("1"), T0 + 1),
    ],
    ids=["fail", "server-close", "client-close"],
)
def test_session_sends_after_close_are_dropped(
    transport: TransportName, close: Callable[[Session], object]
) -> None:
    session = make_session(transport)
    close(session)
    session.take_pending()
    assert session.send("4late") is False
    assert session.send(b"late") is False
    assert not session.has_pending()


# -- one poll at a time ---------------------------------------------------------------------------


def test_session_poll_parks_until_there_is_something_to_say() -> None:
    session = make_session()
    assert session.open_poll() is None
    assert session.poll_parked
    assert session.poll_reply() is None
    assert session.poll_parked


def test_session_poll_reply_joins_the_whole_queue() -> None:
    session = make_session()
    session.open_poll()
    session.send("4a")
    session.send(b"\x01")
    session.send("4b")
    assert session.poll_reply() == ["4a", b"\x01", "4b"]
    assert not session.poll_parked
    assert not session.has_pending()


def test_session_poll_reply_without_a_parked_poll_keeps_the_queue() -> None:
    session = make_session()
    session.send("4a")
    assert session.poll_reply() is None
    assert session.take_pending() == ["4a"]


def test_session_queue_waits_for_the_next_poll() -> None:
    session = make_session()
    session.send("4a")
    assert session.open_poll() is None
    assert session.poll_reply() == ["4a"]


def test_session_polls_one_after_another_are_fine() -> None:
    session = make_session()
    for i in range(3):
        assert session.open_poll() is None
        session.send(f"4m{i}")
        assert session.poll_reply() == [f"4m{i}"]
    assert session.ready_state is ReadyState.OPEN


def test_session_second_parked_poll_is_a_transport_error() -> None:
    session = make_session()
    session.open_poll()
    session.send("4dropped")
    assert session.open_poll() == SessionClosed(DisconnectReason.TRANSPORT_ERROR)
    assert session.ready_state is ReadyState.CLOSED
    # The first poll is released with CLOSE (the second one gets an HTTP 400 from the shell).
    assert session.poll_reply() == ["1"]
    assert session.poll_reply() is None


def test_session_poll_aborted_is_a_transport_error() -> None:
    session = make_session()
    session.open_poll()
    assert session.poll_aborted() == SessionClosed(DisconnectReason.TRANSPORT_ERROR)
    assert not session.poll_parked
    assert session.poll_reply() is None


def test_session_poll_aborted_while_closing_reports_nothing_more() -> None:
    session = make_session()
    session.open_poll()
    session.send("4a")
    session.close(T0 + 1)
    assert session.poll_aborted() is None
    assert session.ready_state is ReadyState.CLOSED
    assert not session.has_pending()


def test_session_poll_on_websocket_session_is_a_local_error() -> None:
    session = make_session(WEBSOCKET)
    with pytest.raises(LocalProtocolError):
        session.open_poll()
    assert not session.poll_parked


def test_session_concurrent_post_is_a_transport_error() -> None:
    session = make_session()
    assert session.open_post() is None
    assert session.open_post() == SessionClosed(DisconnectReason.TRANSPORT_ERROR)
    assert session.ready_state is ReadyState.CLOSED


def test_session_posts_one_after_another_are_fine() -> None:
    session = make_session()
    for _ in range(3):
        assert session.open_post() is None
        session.close_post()
    assert session.ready_state is ReadyState.OPEN


def test_session_post_and_poll_may_overlap() -> None:
    session = make_session()
    assert session.open_poll() is None
    assert session.open_post() is None
    assert session.ready_state is ReadyState.OPEN


# -- server close ---------------------------------------------------------------------------------


def test_session_server_close_over_polling_waits_for_a_get() -> None:
    session = make_session()
    session.send("4last")
    assert session.close(T0 + 1) == SessionClosed(DisconnectReason.FORCED_CLOSE)
    assert session.ready_state is ReadyState.CLOSING
    assert session.next_deadline() == T0 + 1 + CLOSE_TIMEOUT
    # No more heartbeat while closing.
    assert session.handle_timeout(T0 + PING_INTERVAL) == []
    session.open_poll()
    assert session.poll_reply() == ["4last"]  # CLOSE comes alone, in the next poll
    assert session.ready_state is ReadyState.CLOSING
    session.open_poll()
    assert session.poll_reply() == ["1"]
    assert session.ready_state is ReadyState.CLOSED
    assert session.next_deadline() is None


def test_session_server_close_over_polling_answers_a_parked_poll() -> None:
    session = make_session()
    session.open_poll()
    session.close(T0 + 1, DisconnectReason.SERVER_SHUTDOWN)
    assert session.poll_reply() == ["1"]
    assert session.ready_state is ReadyState.CLOSED
    assert session.next_deadline() is None


def test_session_server_close_timeout_when_no_get_comes() -> None:
    session = make_session()
    session.send("4never")
    session.close(T0 + 1)
    deadline = T0 + 1 + CLOSE_TIMEOUT
    assert session.handle_timeout(deadline - 0.001) == []
    assert session.ready_state is ReadyState.CLOSING
    assert session.handle_timeout(deadline) == []  # already reported by close()
    assert session.ready_state is ReadyState.CLOSED
    assert not session.has_pending()
    assert session.next_deadline() is None
    # A poll that still shows up is told to go away.
    session.open_poll()
    assert session.poll_reply() == ["1"]


def test_session_server_close_over_websocket_is_immediate() -> None:
    session = make_session(WEBSOCKET)
    session.send("4last")
    assert session.close(T0 + 1, DisconnectReason.SERVER_SHUTDOWN) == SessionClosed(
        DisconnectReason.SERVER_SHUTDOWN
    )
    assert session.ready_state is ReadyState.CLOSED
    assert session.next_deadline() is None
    # What was queued still goes out (the shell drains it, then closes the socket).
    assert session.take_pending() == ["4last"]


@BOTH
def test_session_server_close_twice_reports_once(transport: TransportName) -> None:
    session = make_session(transport)
    assert session.close(T0 + 1) is not None
    assert session.close(T0 + 2) is None


def test_session_fail_while_closing_drops_the_queue_silently() -> None:
    session = make_session()
    session.send("4never")
    session.close(T0 + 1)
    assert session.fail(DisconnectReason.TRANSPORT_ERROR) is None
    assert session.ready_state is ReadyState.CLOSED
    assert not session.has_pending()
    assert session.next_deadline() is None


# -- SessionClosed exactly once -------------------------------------------------------------------


def _poke_everything(session: Session, now: float) -> list[object]:
    """Every entry point, in an order that would re-close a careless state machine."""
    results: list[object] = []
    for frame in ["4x", "1", "2", "3", "2probe", "5"]:
        results.append(session.receive(pkt(frame), now))
    results.append(session.fail(DisconnectReason.TRANSPORT_ERROR))
    results.append(session.fail(DisconnectReason.PARSE_ERROR))
    results.append(session.close(now))
    results.append(session.handle_timeout(now + 1000.0))
    if session.transport is TransportName.POLLING:
        results.append(session.open_poll())
        results.append(session.open_poll())
        results.append(session.poll_reply())
        results.append(session.poll_aborted())
    results.append(session.open_post())
    results.append(session.open_post())
    results.append(session.begin_upgrade(now))
    results.append(session.receive_on_candidate(pkt("2probe")))
    results.append(session.receive_on_candidate(pkt("5")))
    results.append(session.handle_timeout(now + 5000.0))
    return results


FIRST_CLOSES: list[tuple[str, TransportName, Callable[[Session], list[object]]]] = [
    ("fail", POLLING, lambda s: [s.fail(DisconnectReason.TRANSPORT_ERROR)]),
    ("client-close", POLLING, lambda s: [s.receive(pkt("1"), T0 + 1)]),
    ("client-ping", WEBSOCKET, lambda s: [s.receive(pkt("2"), T0 + 1)]),
    ("server-close-polling", POLLING, lambda s: [s.close(T0 + 1)]),
    ("server-close-websocket", WEBSOCKET, lambda s: [s.close(T0 + 1)]),
    (
        "ping-timeout",
        POLLING,
        lambda s: [
            s.handle_timeout(T0 + PING_INTERVAL),
            s.handle_timeout(T0 + PING_INTERVAL + PING_TIMEOUT),
        ],
    ),
    ("poll-overlap", POLLING, lambda s: [s.open_poll(), s.open_poll()]),
    ("poll-aborted", POLLING, lambda s: [s.open_poll(), s.poll_aborted()]),
    ("post-overlap", POLLING, lambda s: [s.open_post(), s.open_post()]),
    (
        "close-then-close-timeout",
        POLLING,
        lambda s: [s.close(T0 + 1), s.handle_timeout(T0 + 1 + CLOSE_TIMEOUT)],
    ),
    (
        "close-then-get",
        POLLING,
        lambda s: [s.close(T0 + 1), s.open_poll(), s.poll_reply()],
    ),
    (
        "close-during-upgrade-then-upgrade",
        POLLING,
        lambda s: [
            s.begin_upgrade(T0),
            s.receive_on_candidate(pkt("2probe")),
            s.close(T0 + 1),
            s.receive_on_candidate(pkt("5")),
        ],
    ),
]


@pytest.mark.parametrize(
    ("transport", "first_close"),
    [c[1:] for c in FIRST_CLOSES],
    ids=[c[0] for c in FIRST_CLOSES],
)
def test_session_closed_is_reported_exactly_once(
    transport: TransportName, first_close: Callable[[Session], list[object]]
) -> None:
    session = make_session(transport)
    first = closed_events(first_close(session))
    assert len(first) == 1
    assert closed_events(_poke_everything(session, T0 + 2)) == []
    assert session.ready_state is not ReadyState.OPEN


# -- the fast paths: the same rules as receive/send, in one call ------------------------------


def _every_state() -> list[tuple[str, Callable[[], Session]]]:
    def open_() -> Session:
        return make_session(WEBSOCKET)

    def closing() -> Session:
        session = make_session(POLLING)
        session.close(T0 + 1)
        return session

    def closed() -> Session:
        session = make_session(WEBSOCKET)
        session.fail(DisconnectReason.TRANSPORT_CLOSE)
        return session

    def timed_out() -> Session:
        session = make_session(WEBSOCKET)
        session.handle_timeout(T0 + PING_INTERVAL)
        session.handle_timeout(T0 + PING_INTERVAL + PING_TIMEOUT)
        return session

    return [("open", open_), ("closing", closing), ("closed", closed), ("timed-out", timed_out)]


EVERY_STATE = pytest.mark.parametrize(
    "make", [case[1] for case in _every_state()], ids=[case[0] for case in _every_state()]
)


@EVERY_STATE
def test_session_sending_is_open_ready_state(make: Callable[[], Session]) -> None:
    session = make()
    assert session.sending is (session.ready_state is ReadyState.OPEN)


@EVERY_STATE
@pytest.mark.parametrize("text", ["4hello", "4", "4€", "41", "2", "3", "1", "6", "5", "bAQID", ""])
def test_session_message_text_agrees_with_receive(make: Callable[[], Session], text: str) -> None:
    fast = make().message_text(text)
    try:
        event = make().receive(pkt(text), T0 + 1)
    except Exception:  # the slow path's decode refuses it: the fast path must not take it
        assert fast is None
        return
    if isinstance(event, MessageReceived) and isinstance(event.data, str):
        assert fast == event.data
    else:
        assert fast is None


@EVERY_STATE
def test_session_message_packet_only_while_open(make: Callable[[], Session]) -> None:
    session = make()
    packet = session.message_packet("héllo")
    assert packet == ("4héllo" if session.sending else None)
    assert not session.has_pending()  # written at once by the transport, never queued


@EVERY_STATE
def test_session_send_message_queues_its_packet_while_open(make: Callable[[], Session]) -> None:
    session = make()
    session.take_pending()  # a ping may be waiting
    assert session.send_message("hi") is session.sending
    assert session.take_pending() == (["4hi"] if session.sending else [])
