"""Connection state recovery, sans-IO: ``RecoveryStore`` (the packet log and the sessions of
disconnected clients) and its helpers, driven by a clock that is just a number (``now``).

The reference is ``socket.io-adapter``'s ``SessionAwareAdapter``; beyond it, the store bounds its
log in entries and bytes, bounds its sessions, and gives a session back once.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest

from sio.protocol.recovery import (
    RECOVERABLE_REASONS,
    RecoveryOptions,
    RecoveryStore,
    Restored,
    Session,
    generate_pid,
    packet_matches,
    recovery_auth,
)

NONE: frozenset[str] = frozenset()

#: What ``_size`` adds to a packet's encoded length (bookkeeping of one log entry).
ENTRY_OVERHEAD = 64


def rooms(*names: str) -> frozenset[str]:
    return frozenset(names)


def store_of(
    window: float = 120.0,
    max_packets: int = 10_000,
    max_bytes: int = 64 * 1024 * 1024,
    max_sessions: int = 100_000,
    prefix: str | None = "p",
) -> RecoveryStore:
    options = RecoveryOptions(
        max_disconnection_duration=window,
        max_packets=max_packets,
        max_bytes=max_bytes,
        max_sessions=max_sessions,
    )
    return RecoveryStore(options, offset_prefix=prefix)


def send(
    store: RecoveryStore,
    text: str,
    now: float,
    to: frozenset[str] = NONE,
    except_: frozenset[str] = NONE,
    binary: bytes | None = None,
) -> str:
    """Log one packet as the adapter does: a new offset, appended to the encoded event."""
    offset = store.next_offset()
    messages: list[str | bytes] = [f'2["{text}","{offset}"]']
    if binary is not None:
        messages = [f'51-["{text}",{{"_placeholder":true,"num":0}},"{offset}"]', binary]
    store.log(offset, to, except_, messages, now)
    return offset


def names(restored: Restored | None) -> list[str]:
    """The event names of the missed packets, in order."""
    assert restored is not None
    out = []
    for messages in restored.missed:
        text = messages[0]
        assert isinstance(text, str)
        out.append(re.findall(r'\["([^"]+)"', text)[0])
    return out


def session(sid: str = "sid1", pid: str = "pid1", *joined: str, data: Any = None) -> Session:
    return Session(sid, pid, [sid, *joined], data if data is not None else {})


# -- offsets --------------------------------------------------------------------------------------


def test_sio_recovery_offsets_are_unique_and_prefixed() -> None:
    store = store_of(prefix="abc")
    offsets = [store.next_offset() for _ in range(10_000)]
    assert len(set(offsets)) == len(offsets)
    assert all(re.fullmatch(r"abc\.[0-9a-f]+", offset) for offset in offsets)
    # increasing: the sequence after the prefix counts up
    numbers = [int(offset.split(".", 1)[1], 16) for offset in offsets]
    assert numbers == sorted(numbers)


def test_sio_recovery_default_prefix_is_random_per_store() -> None:
    """An offset of a previous run (another store) never names a packet of this one."""
    prefixes = {RecoveryStore(RecoveryOptions()).next_offset().split(".")[0] for _ in range(50)}
    assert len(prefixes) >= 49  # 24 random bits each: a collision among 50 is ~1e-4
    assert all(re.fullmatch(r"[0-9a-f]{6}", prefix) for prefix in prefixes)
    first, second = RecoveryStore(RecoveryOptions()), RecoveryStore(RecoveryOptions())
    offset = send(first, "a", 0.0)
    send(second, "a", 0.0)
    assert first.knows(offset)
    assert not second.knows(offset)  # (unless the two 24-bit prefixes collide: ~6e-8)


def test_sio_recovery_logging_the_same_offset_twice_keeps_the_first() -> None:
    store = store_of()
    before = send(store, "before", 0.0)
    offset = store.next_offset()
    store.log(offset, NONE, NONE, ['2["first"]'], 0.0)
    store.log(offset, NONE, NONE, ['2["second"]'], 1.0)
    assert len(store) == 2
    store.persist(session(), 1.0)
    restored = store.restore("pid1", before, 2.0)
    assert restored is not None and restored.missed == [['2["first"]']]


# -- the log's bounds -----------------------------------------------------------------------------


def test_sio_recovery_log_is_bounded_by_max_packets() -> None:
    store = store_of(max_packets=3)
    offsets = [send(store, f"e{i}", 0.0) for i in range(10)]
    assert len(store) == 3
    assert [store.knows(o) for o in offsets] == [False] * 7 + [True] * 3
    assert store.bytes == sum(len(f'2["e{i}","{offsets[i]}"]') + ENTRY_OVERHEAD for i in (7, 8, 9))
    # what is left still answers: after e7 come e8 and e9
    store.persist(session(), 0.0)
    assert names(store.restore("pid1", offsets[7], 0.0)) == ["e8", "e9"]


def test_sio_recovery_log_is_bounded_by_max_bytes() -> None:
    # each entry: its 10-byte text + the 64-byte overhead = 74; 200 bytes hold two
    store = store_of(max_bytes=200)
    offsets = []
    for i in range(6):
        offset = store.next_offset()
        store.log(offset, NONE, NONE, [f"2[{i:07d}]"], 0.0)
        offsets.append(offset)
        assert store.bytes <= 200
    assert len(store) == 2
    assert store.bytes == 2 * (10 + ENTRY_OVERHEAD)
    assert [store.knows(o) for o in offsets] == [False] * 4 + [True] * 2


def test_sio_recovery_log_counts_binary_attachments_in_bytes() -> None:
    store = store_of(max_bytes=10_000)
    send(store, "bin", 0.0, binary=b"\x00" * 5_000)
    assert store.bytes > 5_000
    send(store, "bin", 0.0, binary=b"\x00" * 5_000)
    assert len(store) == 1  # two would be over 10 000 bytes


def test_sio_recovery_one_packet_bigger_than_max_bytes_is_not_kept() -> None:
    store = store_of(max_bytes=100)
    offset = send(store, "x" * 500, 0.0)
    assert len(store) == 0 and store.bytes == 0
    assert not store.knows(offset)


def test_sio_recovery_log_drops_packets_older_than_the_window() -> None:
    store = store_of(window=10.0)
    old = send(store, "old", 0.0)
    kept = send(store, "kept", 5.0)
    assert len(store) == 2
    send(store, "new", 10.0)  # "old" is exactly 10 s old: still in the window
    assert store.knows(old)
    send(store, "newer", 10.5)  # now it is older than the window: trimmed on the next log
    assert not store.knows(old)
    assert store.knows(kept)
    assert len(store) == 3


def test_sio_recovery_prune_drops_expired_packets_and_sessions() -> None:
    store = store_of(window=10.0)
    early = send(store, "early", 0.0)
    late = send(store, "late", 8.0)
    store.persist(session("s1", "early-pid"), 1.0)
    store.persist(session("s2", "late-pid"), 9.0)
    store.prune(10.0)  # nothing is older than 10 s yet
    assert len(store) == 2 and store.session_count == 2
    store.prune(11.5)  # "early" (0.0) and session "early-pid" (1.0) are
    assert not store.knows(early) and store.knows(late)
    assert store.session_count == 1
    assert store.bytes == len(f'2["late","{late}"]') + ENTRY_OVERHEAD
    store.prune(100.0)
    assert len(store) == 0 and store.session_count == 0 and store.bytes == 0
    assert store.restore("late-pid", late, 100.0) is None
    # an empty store keeps working
    offset = send(store, "again", 100.0)
    store.persist(session("s3", "pid3"), 100.0)
    assert names(store.restore("pid3", offset, 101.0)) == []


# -- restoring ------------------------------------------------------------------------------------


def test_sio_recovery_restore_gives_the_session_and_what_it_missed_in_order() -> None:
    store = store_of()
    last_seen = send(store, "seen", 0.0)
    data = {"user": "ann", "n": [1, 2]}
    kept = Session("sid1", "pid1", ["sid1", "room1", "room2"], data)
    store.persist(kept, 1.0)
    send(store, "to-all", 2.0)
    send(store, "to-room1", 2.0, to=rooms("room1"))
    send(store, "to-room3", 2.0, to=rooms("room3"))
    send(store, "to-me", 2.0, to=rooms("sid1"))
    send(store, "to-someone-else", 2.0, to=rooms("sid2"))
    send(store, "to-room1-or-3", 2.0, to=rooms("room1", "room3"))
    send(store, "all-but-room2", 2.0, except_=rooms("room2"))
    send(store, "all-but-room3", 2.0, except_=rooms("room3"))
    send(store, "room1-but-room2", 2.0, to=rooms("room1"), except_=rooms("room2"))
    send(store, "room3-but-room2", 2.0, to=rooms("room3"), except_=rooms("room2"))
    send(store, "bin", 2.0, to=rooms("room2"), binary=b"\x01\x02")
    send(store, "last", 3.0)
    restored = store.restore("pid1", last_seen, 4.0)
    assert restored is not None
    assert restored.session is kept
    assert restored.session.data is data
    assert restored.session.rooms == ["sid1", "room1", "room2"]
    assert names(restored) == [
        "to-all",
        "to-room1",
        "to-me",
        "to-room1-or-3",
        "all-but-room3",
        "bin",
        "last",
    ]
    assert restored.missed[5][1] == b"\x01\x02"  # the attachment follows its packet
    assert store.session_count == 0


def test_sio_recovery_restore_from_the_last_packet_misses_nothing() -> None:
    store = store_of()
    send(store, "a", 0.0)
    last = send(store, "b", 0.0)
    store.persist(session(), 1.0)
    restored = store.restore("pid1", last, 2.0)
    assert restored is not None and restored.missed == []


def test_sio_recovery_missed_packets_carry_their_messages_as_logged() -> None:
    store = store_of()
    seen = send(store, "seen", 0.0)
    offset = store.next_offset()
    messages: list[str | bytes] = [f'51-["b",{{"_placeholder":true,"num":0}},"{offset}"]', b"\xff"]
    store.log(offset, NONE, NONE, messages, 1.0)
    store.persist(session(), 1.0)
    restored = store.restore("pid1", seen, 2.0)
    assert restored is not None
    assert restored.missed == [messages]


def test_sio_recovery_restore_is_one_shot() -> None:
    store = store_of()
    offset = send(store, "a", 0.0)
    store.persist(session(), 1.0)
    assert store.restore("pid1", offset, 2.0) is not None
    assert store.restore("pid1", offset, 2.0) is None  # replayed
    assert store.session_count == 0


def test_sio_recovery_a_session_persisted_again_can_be_restored_again() -> None:
    """A restored socket that drops again leaves its (same) session once more."""
    store = store_of()
    offset = send(store, "a", 0.0)
    store.persist(session(), 1.0)
    restored = store.restore("pid1", offset, 2.0)
    assert restored is not None
    store.persist(restored.session, 3.0)
    later = send(store, "b", 3.5)
    again = store.restore("pid1", offset, 4.0)
    assert again is not None and again.session is restored.session
    assert names(again) == ["b"]
    assert store.restore("pid1", later, 4.0) is None


def test_sio_recovery_expired_session_is_not_restored() -> None:
    store = store_of(window=2.0)
    offset = send(store, "a", 10.0)
    store.persist(session(), 10.0)
    assert store.restore("pid1", offset, 12.5) is None
    assert store.session_count == 0  # and it is gone


def test_sio_recovery_session_at_the_window_edge_is_restored() -> None:
    store = store_of(window=2.0)
    offset = send(store, "a", 10.0)
    store.persist(session(), 10.0)
    assert store.restore("pid1", offset, 12.0) is not None


def test_sio_recovery_unknown_pid_or_offset_is_not_restored() -> None:
    store = store_of()
    offset = send(store, "a", 0.0)
    store.persist(session(), 1.0)
    assert store.restore("nobody", offset, 2.0) is None
    assert store.session_count == 1  # a wrong pid does not touch the session
    assert store.restore("pid1", "p.ffffff", 2.0) is None
    assert store.restore("pid1", offset, 2.0) is None  # its client has started afresh


def test_sio_recovery_offset_trimmed_from_the_log_is_unknown() -> None:
    store = store_of(max_packets=2)
    first = send(store, "a", 0.0)
    store.persist(session(), 1.0)
    send(store, "b", 1.0)
    send(store, "c", 1.0)  # "a" leaves the log: what came after it cannot be known in full
    assert store.restore("pid1", first, 2.0) is None


def test_sio_recovery_missed_after_an_unknown_offset_is_none() -> None:
    store = store_of()
    assert store.missed_after("p.1", ["r"]) is None
    offset = send(store, "a", 0.0)
    send(store, "b", 0.0, to=rooms("r"))
    assert store.missed_after(offset, ["r"]) is not None
    assert store.missed_after(offset, ["x"]) == []


def test_sio_recovery_discard_forgets_a_session() -> None:
    store = store_of()
    offset = send(store, "a", 0.0)
    kept = session()
    store.persist(kept, 1.0)
    assert store.discard("pid1") is kept
    assert store.discard("pid1") is None
    assert store.restore("pid1", offset, 2.0) is None


# -- sessions' bound ------------------------------------------------------------------------------


def test_sio_recovery_max_sessions_drops_the_oldest() -> None:
    store = store_of(max_sessions=3)
    offset = send(store, "a", 0.0)
    for i in range(5):
        store.persist(session(f"s{i}", f"pid{i}"), float(i))
    assert store.session_count == 3
    assert store.restore("pid0", offset, 5.0) is None
    assert store.restore("pid1", offset, 5.0) is None
    for i in (2, 3, 4):
        restored = store.restore(f"pid{i}", offset, 5.0)
        assert restored is not None and restored.session.sid == f"s{i}"


def test_sio_recovery_persisting_again_makes_a_session_the_newest() -> None:
    store = store_of(max_sessions=2)
    offset = send(store, "a", 0.0)
    store.persist(session("s0", "pid0"), 0.0)
    store.persist(session("s1", "pid1"), 1.0)
    store.persist(session("s0", "pid0"), 2.0)  # pid0 left again: now the newest
    store.persist(session("s2", "pid2"), 3.0)  # pid1 goes
    assert store.session_count == 2
    assert store.restore("pid1", offset, 3.0) is None
    assert store.restore("pid0", offset, 3.0) is not None
    # and its time is the new one: still there after the first persist's window
    store = store_of(window=2.0)
    store.persist(session("s0", "pid0"), 0.0)
    offset = send(store, "a", 1.2)
    store.persist(session("s0", "pid0"), 1.5)
    store.prune(3.0)
    assert store.session_count == 1
    assert store.restore("pid0", offset, 3.0) is not None


# -- helpers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("session_rooms", "to", "except_", "included"),
    [
        (["s"], (), (), True),  # to everyone
        (["s", "a"], ("a",), (), True),
        (["s", "a"], ("b",), (), False),
        (["s", "a"], ("b", "a"), (), True),  # any of the rooms
        (["s", "a"], (), ("a",), False),
        (["s", "a"], (), ("b",), True),
        (["s", "a", "b"], ("a",), ("b",), False),  # except wins
        (["s", "b", "a"], ("a",), ("b",), False),  # whatever the order
        (["s", "a", "b"], ("a",), ("c",), True),
        ([], (), (), True),
        ([], ("a",), (), False),
        ([], (), ("a",), True),
    ],
)
def test_sio_recovery_packet_matches_is_nodes_should_include_packet(
    session_rooms: list[str], to: tuple[str, ...], except_: tuple[str, ...], included: bool
) -> None:
    assert packet_matches(session_rooms, frozenset(to), frozenset(except_)) is included


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "pid",
        ["pid", "offset"],
        {},
        {"pid": "p"},
        {"offset": "o"},
        {"pid": None, "offset": None},
        {"pid": "p", "offset": None},
        {"pid": None, "offset": "o"},
        {"pid": 1, "offset": "o"},
        {"pid": "p", "offset": 1},
        {"pid": "p", "offset": 1.5},
        {"pid": True, "offset": "o"},
        {"pid": {"$gt": ""}, "offset": "o"},
        {"pid": ["p"], "offset": "o"},
        {"pid": "p", "offset": {"o": 1}},
    ],
)
def test_sio_recovery_auth_needs_a_string_pid_and_offset(auth: Any) -> None:
    assert recovery_auth(auth) is None


def test_sio_recovery_auth_takes_string_pid_and_offset() -> None:
    assert recovery_auth({"pid": "p", "offset": "o"}) == ("p", "o")
    assert recovery_auth({"pid": "p", "offset": "o", "token": 1}) == ("p", "o")
    assert recovery_auth({"pid": "", "offset": ""}) == ("", "")  # then simply unknown


def test_sio_recovery_generate_pid_has_at_least_128_random_bits() -> None:
    pids = [generate_pid() for _ in range(10_000)]
    assert len(set(pids)) == len(pids)
    for pid in pids[:100]:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", pid), pid
        raw = base64.urlsafe_b64decode(pid + "=" * (-len(pid) % 4))
        assert len(raw) * 8 >= 128
    # every bit varies across draws (no constant prefix or structure)
    decoded = [int.from_bytes(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) for p in pids]
    ones = 0
    zeros = 0
    for value in decoded:
        ones |= value
        zeros |= ~value
    assert ones.bit_count() >= 128
    assert (zeros & ((1 << 128) - 1)).bit_count() == 128


def test_sio_recovery_reasons_are_the_reference_servers() -> None:
    assert {
        "transport error",
        "transport close",
        "forced close",
        "ping timeout",
        "server shutting down",
        "forced server close",
    } == RECOVERABLE_REASONS
    # a disconnect asked for (by either side) or a protocol violation is final
    for final in (
        "client namespace disconnect",
        "server namespace disconnect",
        "parse error",
    ):
        assert final not in RECOVERABLE_REASONS
