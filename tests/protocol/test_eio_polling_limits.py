"""Polling limits, sans-IO: packets per poll response, packets waiting for a poll, packets per
POST payload."""

from __future__ import annotations

import pytest

from eio import EngineIOConfig
from eio.errors import ParseError
from eio.protocol.payload import SEPARATOR, decode_payload
from eio.protocol.session import (
    MAX_POLL_PACKETS,
    MAX_POLL_QUEUE,
    DisconnectReason,
    ReadyState,
    SessionClosed,
)

from .helpers import PING_INTERVAL, POLLING, T0, WEBSOCKET, make_session, pkt

# -- packets per poll response --------------------------------------------------------------------


def test_defaults_are_python_engineio_and_socketioxide_numbers() -> None:
    assert MAX_POLL_PACKETS == 16
    assert MAX_POLL_QUEUE == 128
    session = make_session()
    assert session.max_poll_packets == 16
    assert session.max_poll_queue == 128
    config = EngineIOConfig()
    assert config.max_poll_packets == 16
    assert config.max_poll_queue == 128
    assert config.max_decode_packets == 256


def test_poll_reply_holds_at_most_max_poll_packets_the_rest_goes_next_poll() -> None:
    session = make_session()
    for i in range(40):
        assert session.send_message(f"m{i}")
    replies = []
    while session.has_pending():
        assert session.open_poll() is None
        reply = session.poll_reply()
        assert reply is not None
        replies.append(reply)
    assert [len(reply) for reply in replies] == [16, 16, 8]
    assert [p for reply in replies for p in reply] == [f"4m{i}" for i in range(40)]
    # Nothing left: the next poll stays parked.
    assert session.open_poll() is None
    assert session.poll_reply() is None


def test_poll_reply_of_exactly_max_poll_packets_is_whole() -> None:
    session = make_session()
    for i in range(16):
        session.send_message(str(i))
    session.open_poll()
    reply = session.poll_reply()
    assert reply is not None and len(reply) == 16
    assert not session.has_pending()


def test_poll_cap_is_configurable() -> None:
    session = make_session()
    session.max_poll_packets = 3
    for i in range(7):
        session.send(f"4{i}")
    sizes = []
    while session.has_pending():
        session.open_poll()
        reply = session.poll_reply()
        assert reply is not None
        sizes.append(len(reply))
    assert sizes == [3, 3, 1]


def test_closing_session_drains_capped_then_sends_close() -> None:
    session = make_session()
    for i in range(20):
        session.send_message(str(i))
    assert session.close(T0 + 1) == SessionClosed(DisconnectReason.FORCED_CLOSE)
    session.open_poll()
    assert session.poll_reply() == [f"4{i}" for i in range(16)]
    session.open_poll()
    assert session.poll_reply() == [f"4{i}" for i in range(16, 20)]
    assert session.ready_state is ReadyState.CLOSING
    session.open_poll()
    assert session.poll_reply() == ["1"]
    assert session.ready_state is ReadyState.CLOSED


def test_binary_items_count_as_packets() -> None:
    session = make_session()
    for i in range(17):
        session.send(bytes([i]))
    session.open_poll()
    reply = session.poll_reply()
    assert reply == [bytes([i]) for i in range(16)]
    session.open_poll()
    assert session.poll_reply() == [bytes([16])]


# -- packets waiting for a poll -------------------------------------------------------------------


def test_queue_up_to_max_poll_queue_is_kept() -> None:
    session = make_session()
    for i in range(MAX_POLL_QUEUE):
        session.send_message(str(i))
        assert session.check_poll_queue() is None
    assert session.ready_state is ReadyState.OPEN
    assert len(session.take_pending()) == MAX_POLL_QUEUE


def test_queue_past_max_poll_queue_closes_with_transport_error() -> None:
    """A client that never polls again: dropped as a slow websocket reader is."""
    session = make_session()
    for i in range(MAX_POLL_QUEUE + 1):
        assert session.send_message(str(i))
    assert session.check_poll_queue() == SessionClosed(DisconnectReason.TRANSPORT_ERROR)
    assert session.ready_state is ReadyState.CLOSED
    assert not session.sending
    assert not session.has_pending()  # memory released at once
    assert session.next_deadline() is None
    # Reported once; nothing more is queued.
    assert session.check_poll_queue() is None
    assert not session.send_message("late")
    assert not session.has_pending()
    # A poll that comes back after all learns the session is over.
    session.open_poll()
    assert session.poll_reply() == ["1"]


def test_closing_session_past_the_bound_is_dropped_without_a_second_event() -> None:
    session = make_session()
    session.max_poll_queue = 4
    for i in range(5):
        session.send(f"4{i}")
    assert session.close(T0 + 1) is not None
    assert session.check_poll_queue() is None  # already reported by close
    assert session.ready_state is ReadyState.CLOSED
    assert not session.has_pending()


def test_a_client_that_keeps_polling_never_hits_the_bound() -> None:
    """100 ticks of 16 packets (2048 in all, 16 times the bound), a poll per tick."""
    session = make_session()
    now = T0
    for _ in range(100):
        for i in range(MAX_POLL_PACKETS):
            session.send_message(str(i))
            assert session.check_poll_queue() is None
        session.open_poll()
        assert session.poll_reply() is not None
        now += 0.01
        assert session.handle_timeout(now) == []
    assert session.ready_state is ReadyState.OPEN
    assert not session.has_pending()


def test_backlog_that_outgrows_the_polls_is_dropped() -> None:
    session = make_session()
    closed = None
    ticks = 0
    while closed is None and ticks < 1000:
        for i in range(20):
            session.send_message(str(i))
            closed = closed or session.check_poll_queue()
        if closed is None:
            session.open_poll()
            session.poll_reply()
        ticks += 1
    assert closed == SessionClosed(DisconnectReason.TRANSPORT_ERROR)


def test_queue_bound_counts_the_ping_too() -> None:
    session = make_session()
    session.max_poll_queue = 2
    session.send_message("a")
    session.send_message("b")
    session.handle_timeout(T0 + PING_INTERVAL)  # queues "2"
    assert session.check_poll_queue() == SessionClosed(DisconnectReason.TRANSPORT_ERROR)


def test_websocket_session_has_no_poll_queue_bound() -> None:
    """A websocket session queues only while its shell drains at once (upgrade, flush); the
    bound is not its business (its stream has ``max_write_buffer``)."""
    session = make_session(WEBSOCKET)
    for i in range(MAX_POLL_QUEUE + 10):
        session.send_message(str(i))
    assert session.check_poll_queue() is None
    assert session.ready_state is ReadyState.OPEN


def test_poll_queue_bound_is_configurable() -> None:
    session = make_session(POLLING)
    session.max_poll_queue = 1
    session.send_message("a")
    assert session.check_poll_queue() is None
    session.send_message("b")
    assert session.check_poll_queue() == SessionClosed(DisconnectReason.TRANSPORT_ERROR)


def test_messages_before_the_overflow_are_still_received() -> None:
    """Only outbound is bounded: inbound on a full-queued session goes on until it is closed."""
    session = make_session()
    for i in range(MAX_POLL_QUEUE):
        session.send_message(str(i))
    assert session.receive(pkt("4hi"), T0 + 1) is not None


# -- packets per POST payload ---------------------------------------------------------------------


def _payload(count: int) -> str:
    return SEPARATOR.join(f"4m{i}" for i in range(count))


def test_payload_up_to_max_packets_decodes() -> None:
    assert len(decode_payload(_payload(256), 256)) == 256
    assert len(decode_payload(_payload(256).encode(), 256)) == 256
    assert len(decode_payload(_payload(1), 1)) == 1


@pytest.mark.parametrize("limit", [1, 16, 256])
def test_payload_past_max_packets_is_a_parse_error_with_nothing_decoded(limit: int) -> None:
    with pytest.raises(ParseError) as info:
        decode_payload(_payload(limit + 1), limit)
    assert info.value.decoded == []
    assert str(limit) in str(info.value)


def test_payload_without_a_limit_is_unbounded() -> None:
    """The client side (a server's poll response) takes any count, as before."""
    assert len(decode_payload(_payload(1000))) == 1000


def test_no_bound_while_an_upgrade_is_under_way_then_it_applies_again() -> None:
    """Mid-upgrade, polls get noops and the queue waits for the websocket; the upgrade timeout
    bounds that. Once the upgrade is aborted, the bound applies again."""
    session = make_session()
    assert session.begin_upgrade(T0 + 1)
    assert session.receive_on_candidate(pkt("2probe")) is not None
    for i in range(MAX_POLL_QUEUE + 50):
        session.send_message(str(i))
        assert session.check_poll_queue() is None
    session.abort_upgrade()
    assert session.check_poll_queue() == SessionClosed(DisconnectReason.TRANSPORT_ERROR)


def test_upgraded_session_drains_everything_over_websocket() -> None:
    session = make_session()
    session.begin_upgrade(T0 + 1)
    session.receive_on_candidate(pkt("2probe"))
    for i in range(MAX_POLL_QUEUE + 50):
        session.send_message(str(i))
    session.receive_on_candidate(pkt("5"))
    assert session.check_poll_queue() is None
    assert len(session.take_pending()) == MAX_POLL_QUEUE + 50


def test_no_bound_while_a_get_is_parked_the_burst_is_drained_by_polls() -> None:
    """A burst in one tick (replies to a batched POST) while the client polls: kept; what is
    left after the answer is checked at the next send, with no GET parked."""
    session = make_session()
    assert session.open_poll() is None
    for i in range(MAX_POLL_QUEUE + 10):
        session.send_message(str(i))
        assert session.check_poll_queue() is None
    assert session.poll_reply() is not None  # 16 out, 122 left: under the bound
    session.send_message("more")
    assert session.check_poll_queue() is None
    assert session.ready_state is ReadyState.OPEN


def test_no_bound_while_a_post_is_handled() -> None:
    """Replies to a batched POST (100 CONNECTs, 200 packets back) come in one tick."""
    session = make_session()
    assert session.open_post() is None
    for i in range(2 * MAX_POLL_QUEUE):
        session.send_message(str(i))
        assert session.check_poll_queue() is None
    session.close_post()
    assert session.ready_state is ReadyState.OPEN
