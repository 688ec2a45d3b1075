"""A heap of timers with lazy cancellation, driven by the reactor with the time passed in."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

__all__ = ["TimerHandle", "TimerHeap"]


def _nothing(*args: Any) -> None:
    """The callback of a cancelled timer."""


#: Cancelled entries are removed all at once when they are more than half of the heap and at
#: least this many (asyncio's rule): a connection's timers cancelled early (the HTTP idle timer
#: at the upgrade, the connect timeout at the CONNECT) are freed within a heap's growth, not
#: when their deadline surfaces a minute later, and the memory serves the next connections.
COMPACT_MIN = 64


class TimerHandle:
    __slots__ = ("args", "callback", "heap", "when")

    def __init__(
        self,
        when: float,
        callback: Callable[..., Any],
        args: tuple[Any, ...],
        heap: TimerHeap | None = None,
    ) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        #: The heap holding it while it is pending (None once fired or cancelled).
        self.heap = heap

    @property
    def cancelled(self) -> bool:
        return self.callback is _nothing

    def cancel(self) -> None:
        """Idempotent. What the callback referenced is let go at once; the entry is skipped
        when it surfaces, or removed earlier with the heap's other cancelled entries."""
        if self.callback is _nothing:
            return
        self.callback = _nothing
        self.args = ()
        heap = self.heap
        if heap is not None:
            self.heap = None
            heap.note_cancelled()


class TimerHeap:
    """Timers ordered by deadline, ties in insertion order."""

    __slots__ = ("_cancelled", "_counter", "_heap")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._counter = itertools.count()
        #: Cancelled entries still in ``_heap``.
        self._cancelled = 0

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, when: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        handle = TimerHandle(when, callback, args, self)
        heapq.heappush(self._heap, (when, next(self._counter), handle))
        return handle

    def note_cancelled(self) -> None:
        """One of its pending handles was cancelled (``TimerHandle.cancel``)."""
        self._cancelled = cancelled = self._cancelled + 1
        heap = self._heap
        if cancelled >= COMPACT_MIN and cancelled * 2 > len(heap):
            heap[:] = [entry for entry in heap if entry[2].callback is not _nothing]
            heapq.heapify(heap)
            self._cancelled = 0

    def next_deadline(self) -> float | None:
        """The earliest deadline of a timer that is not cancelled."""
        heap = self._heap
        while heap and heap[0][2].callback is _nothing:
            heapq.heappop(heap)
            self._cancelled -= 1
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> list[TimerHandle]:
        """Remove and return the timers due at ``now``, earliest first, skipping cancelled ones."""
        heap = self._heap
        due: list[TimerHandle] = []
        while heap and heap[0][0] <= now:
            handle = heapq.heappop(heap)[2]
            if handle.callback is _nothing:
                self._cancelled -= 1
            else:
                handle.heap = None
                due.append(handle)
        return due
