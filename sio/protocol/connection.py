"""The Socket.IO state of one Engine.IO connection, sans-IO: its connect timeout and the
acknowledgements it waits for.

Time is an argument, as in the Engine.IO session: the shell asks ``next_deadline()`` and calls
``handle_timeout(now)`` once it has passed, with one timer per connection however many
acknowledgements wait.

- **Connect timeout.** A client that joins no namespace within ``connect_timeout`` of its
  Engine.IO handshake is closed (``ConnectTimedOut``), as by the reference server.
- **Acknowledgements.** An emit that asks for one waits under its namespace and ack id. One with
  a deadline (``socket.timeout(s).emit(...)``) expires with ``AckTimedOut``; one without waits
  until it is answered or the connection is gone. A late answer finds nothing and is ignored.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["AckTimedOut", "ConnectTimedOut", "ConnectionState", "PendingAck"]


@dataclass(frozen=True, slots=True)
class ConnectTimedOut:
    """No namespace was joined in time: close the connection."""


@dataclass(frozen=True, slots=True)
class PendingAck:
    """An acknowledgement we wait for. ``timed``: its callback was given a deadline, so it gets
    an error (or None) before the answer's arguments."""

    callback: Callable[..., Any]
    timed: bool = False

    def arguments(self, answer: list[Any]) -> list[Any]:
        """What the callback is called with when the answer comes."""
        return [None, *answer] if self.timed else answer


@dataclass(frozen=True, slots=True)
class AckTimedOut:
    """No answer before the deadline: call ``pending.callback`` with a timeout error."""

    namespace: str
    ack_id: int
    pending: PendingAck


Event = ConnectTimedOut | AckTimedOut

_sequence = itertools.count()


class ConnectionState:
    """The connect deadline and the pending acknowledgements of one connection."""

    __slots__ = ("_ack_deadlines", "_acks", "_connect_deadline")

    def __init__(self, now: float, connect_timeout: float) -> None:
        self._connect_deadline: float | None = now + connect_timeout
        #: (namespace, ack id) -> what waits for it; made on first use (most connections
        #: never wait for an acknowledgement).
        self._acks: dict[tuple[str, int], PendingAck] | None = None
        #: Heap of (deadline, tie-breaker, key, pending); an entry whose key no longer maps to
        #: its ``pending`` was answered and is skipped. Made on first use, as ``_acks``.
        self._ack_deadlines: list[tuple[float, int, tuple[str, int], PendingAck]] | None = None

    # -- namespaces -----------------------------------------------------------------------------

    def joined(self) -> None:
        """A namespace was joined: the connect timeout no longer applies."""
        self._connect_deadline = None

    @property
    def waiting_for_connect(self) -> bool:
        return self._connect_deadline is not None

    # -- acknowledgements -----------------------------------------------------------------------

    def expect_ack(
        self,
        namespace: str,
        ack_id: int,
        callback: Callable[..., Any],
        deadline: float | None = None,
    ) -> None:
        """Wait for the answer to ack id ``ack_id`` of ``namespace`` (until ``deadline``)."""
        acks = self._acks
        if acks is None:
            acks = self._acks = {}
        pending = PendingAck(callback, deadline is not None)
        key = (namespace, ack_id)
        acks[key] = pending
        if deadline is not None:
            if self._ack_deadlines is None:
                self._ack_deadlines = []
            heapq.heappush(self._ack_deadlines, (deadline, next(_sequence), key, pending))

    def take_ack(self, namespace: str, ack_id: int) -> PendingAck | None:
        """The answer came: what waited for it (None if nothing did, or it timed out)."""
        acks = self._acks
        if not acks:
            return None
        return acks.pop((namespace, ack_id), None)

    def drop_ack(self, namespace: str, ack_id: int) -> None:
        """Stop waiting (a broadcast's acknowledgements timed out as a whole)."""
        self.take_ack(namespace, ack_id)

    @property
    def pending_acks(self) -> int:
        return len(self._acks) if self._acks else 0

    # -- time -----------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """The earliest time at which ``handle_timeout`` has something to do."""
        heap = self._ack_deadlines or []
        acks = self._acks
        while heap and (acks is None or acks.get(heap[0][2]) is not heap[0][3]):
            heapq.heappop(heap)  # answered: stale
        best = self._connect_deadline
        if heap and (best is None or heap[0][0] < best):
            best = heap[0][0]
        return best

    def handle_timeout(self, now: float) -> list[Event]:
        """Everything whose deadline has passed, in deadline order (the connect timeout first)."""
        events: list[Event] = []
        if self._connect_deadline is not None and now >= self._connect_deadline:
            self._connect_deadline = None
            events.append(ConnectTimedOut())
        heap = self._ack_deadlines or []
        acks = self._acks
        while heap and heap[0][0] <= now:
            _, _, key, pending = heapq.heappop(heap)
            if acks is not None and acks.get(key) is pending:
                del acks[key]
                events.append(AckTimedOut(key[0], key[1], pending))
        return events
