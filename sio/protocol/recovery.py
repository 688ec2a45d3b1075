"""Connection state recovery, sans-IO: the packet log and the sessions of disconnected clients.

As the reference server does it (``socket.io-adapter``'s ``SessionAwareAdapter``):

- every EVENT sent without an ack id and not volatile gets an **offset**, appended as its last
  argument; the log keeps it with its rooms and except-rooms, already encoded;
- a socket that leaves for a recoverable reason is kept as a ``Session`` (sid, pid, rooms,
  data) for ``max_disconnection_duration``;
- a CONNECT whose auth carries that session's ``pid`` and the last ``offset`` its client saw
  gets the session back, with every logged packet after that offset whose rooms match.

Beyond the reference: the log is bounded in entries and bytes as well as in time, a session is
restored at most once, and the number of kept sessions is bounded (the oldest go first).

Time is passed in (``now``, seconds on any monotonic clock). Nothing here does I/O.
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

__all__ = [
    "RECOVERABLE_REASONS",
    "LoggedPacket",
    "RecoveryOptions",
    "RecoveryStore",
    "Restored",
    "Session",
    "generate_pid",
    "packet_matches",
    "recovery_auth",
]

#: Why a socket may leave and still be restored (the reference server's list); a voluntary
#: disconnect is final.
RECOVERABLE_REASONS = frozenset(
    {
        "transport error",
        "transport close",
        "forced close",
        "ping timeout",
        "server shutting down",
        "forced server close",
    }
)


@dataclass(frozen=True, slots=True)
class RecoveryOptions:
    """``connection_state_recovery`` (the reference server's option, plus our bounds)."""

    #: Seconds a disconnected session, and the packets sent meanwhile, are kept (Node: 2 min).
    max_disconnection_duration: float = 120.0
    #: A restored socket skips the connection middlewares (Node's default).
    skip_middlewares: bool = True
    #: Most packets the log keeps, and most bytes (their encoded size); the oldest go first.
    max_packets: int = 10_000
    max_bytes: int = 64 * 1024 * 1024
    #: Most disconnected sessions kept; the oldest go first.
    max_sessions: int = 100_000


@dataclass(slots=True)
class Session:
    """What a socket leaves behind: enough to be the same socket again."""

    sid: str
    pid: str
    rooms: list[str]
    data: Any = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Restored:
    """A session given back, with the packets its client missed (each as its Engine.IO
    messages: text, then binary attachments), in the order they were sent."""

    session: Session
    missed: list[list[str | bytes]]


@dataclass(frozen=True, slots=True)
class LoggedPacket:
    offset: str
    rooms: frozenset[str]
    except_rooms: frozenset[str]
    messages: Sequence[str | bytes]
    size: int
    at: float


def generate_pid() -> str:
    """A private session id: a bearer secret of 128 random bits (URL-safe base64)."""
    return secrets.token_urlsafe(16)


def recovery_auth(auth: Any) -> tuple[str, str] | None:
    """``(pid, offset)`` when a CONNECT's auth asks for a session back (both strings)."""
    if isinstance(auth, dict):
        pid = auth.get("pid")
        offset = auth.get("offset")
        if isinstance(pid, str) and isinstance(offset, str):
            return pid, offset
    return None


def packet_matches(
    session_rooms: Iterable[str], rooms: frozenset[str], except_rooms: frozenset[str]
) -> bool:
    """Would a socket in ``session_rooms`` have received a packet sent to ``rooms`` (all if
    empty) except ``except_rooms``? (Node's ``shouldIncludePacket``.)"""
    included = not rooms
    for room in session_rooms:
        if room in except_rooms:
            return False
        if not included and room in rooms:
            included = True
    return included


def _size(messages: Sequence[str | bytes]) -> int:
    return sum(len(message) for message in messages) + 64


class RecoveryStore:
    """The packet log and the disconnected sessions of one namespace (or of a whole cluster).

    ``offset_prefix`` makes offsets unique beyond this store: a random one by default, so that
    an offset of a previous run of the server never names a packet of this one.
    """

    def __init__(self, options: RecoveryOptions, offset_prefix: str | None = None) -> None:
        self.options = options
        self._prefix = offset_prefix if offset_prefix is not None else secrets.token_hex(3)
        self._next = 0
        self._log: deque[LoggedPacket] = deque()
        #: offset -> sequence number; the log's first entry has ``_first``.
        self._seq: dict[str, int] = {}
        self._first = 0
        self.bytes = 0
        #: pid -> (session, disconnected at), oldest first.
        self._sessions: dict[str, tuple[Session, float]] = {}

    def __len__(self) -> int:
        return len(self._log)

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    # -- the packet log -------------------------------------------------------------------------

    def next_offset(self) -> str:
        """A new offset, never given before by this store."""
        self._next += 1
        return f"{self._prefix}.{self._next:x}"

    def log(
        self,
        offset: str,
        rooms: frozenset[str],
        except_rooms: frozenset[str],
        messages: Sequence[str | bytes],
        now: float,
    ) -> None:
        """Keep a packet sent now (``messages``: encoded, its offset included)."""
        if offset in self._seq:
            return  # the same packet twice (a retried hand-over): keep the first
        entry = LoggedPacket(offset, rooms, except_rooms, messages, _size(messages), now)
        self._seq[offset] = self._first + len(self._log)
        self._log.append(entry)
        self.bytes += entry.size
        options = self.options
        if (
            len(self._log) > options.max_packets
            or self.bytes > options.max_bytes
            or self._log[0].at < now - options.max_disconnection_duration
        ):
            self._trim(now)

    def _trim(self, now: float) -> None:
        options = self.options
        threshold = now - options.max_disconnection_duration
        log = self._log
        while log and (
            log[0].at < threshold
            or len(log) > options.max_packets
            or self.bytes > options.max_bytes
        ):
            entry = log.popleft()
            del self._seq[entry.offset]
            self.bytes -= entry.size
            self._first += 1
        if not log:
            self._seq = {}  # a dict never shrinks: give back what a burst made it grow to

    def knows(self, offset: str) -> bool:
        return offset in self._seq

    # -- sessions -------------------------------------------------------------------------------

    def persist(self, session: Session, now: float) -> None:
        """Keep ``session`` (its socket just left) for the recovery window."""
        sessions = self._sessions
        sessions.pop(session.pid, None)  # re-inserted last: the dict stays oldest first
        sessions[session.pid] = (session, now)
        while len(sessions) > self.options.max_sessions:
            del sessions[next(iter(sessions))]

    def discard(self, pid: str) -> Session | None:
        """Forget session ``pid``; returns it if it was kept."""
        kept = self._sessions.pop(pid, None)
        return kept[0] if kept is not None else None

    def restore(self, pid: str, offset: str, now: float) -> Restored | None:
        """Session ``pid`` and the packets its client missed after ``offset``; None when the
        session is unknown, expired or already restored, or the offset is not in the log
        (then the client starts afresh, as with the reference server). A session is given
        back once."""
        kept = self._sessions.pop(pid, None)
        if kept is None:
            return None
        session, disconnected_at = kept
        if now - disconnected_at > self.options.max_disconnection_duration:
            return None
        missed = self.missed_after(offset, session.rooms)
        if missed is None:
            return None
        return Restored(session, missed)

    def missed_after(self, offset: str, rooms: list[str]) -> list[list[str | bytes]] | None:
        """The messages of every logged packet after ``offset`` that a socket in ``rooms``
        would have received; None if ``offset`` is not in the log."""
        seq = self._seq.get(offset)
        if seq is None:
            return None
        start = seq - self._first + 1
        return [
            list(entry.messages)
            for entry in islice(self._log, start, None)
            if packet_matches(rooms, entry.rooms, entry.except_rooms)
        ]

    def prune(self, now: float) -> None:
        """Drop what has expired (call it now and then: it also frees memory when idle)."""
        threshold = now - self.options.max_disconnection_duration
        sessions = self._sessions
        while sessions:
            pid = next(iter(sessions))
            if sessions[pid][1] >= threshold:
                break
            del sessions[pid]
        if not sessions:
            self._sessions = {}  # as in ``_trim``
        if self._log and self._log[0].at < threshold:
            self._trim(now)
