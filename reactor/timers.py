"""A heap of timers with lazy cancellation, driven by the reactor with the time passed in."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from typing import Any

__all__ = ["TimerHandle", "TimerHeap"]


def _nothing(*args: Any) -> None:
    """The callback of a cancelled timer."""


class TimerHandle:
    __slots__ = ("args", "callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when = when
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        """Idempotent; the entry stays in the heap and is skipped when it surfaces. What the
        callback referenced is let go at once rather than when the entry surfaces."""
        self.cancelled = True
        self.callback = _nothing
        self.args = ()


class TimerHeap:
    """Timers ordered by deadline, ties in insertion order."""

    __slots__ = ("_counter", "_heap")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, TimerHandle]] = []
        self._counter = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, when: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        handle = TimerHandle(when, callback, args)
        heapq.heappush(self._heap, (when, next(self._counter), handle))
        return handle

    def next_deadline(self) -> float | None:
        """The earliest deadline of a timer that is not cancelled."""
        heap = self._heap
        while heap and heap[0][2].cancelled:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> list[TimerHandle]:
        """Remove and return the timers due at ``now``, earliest first, skipping cancelled ones."""
        heap = self._heap
        due: list[TimerHandle] = []
        while heap and heap[0][0] <= now:
            handle = heapq.heappop(heap)[2]
            if not handle.cancelled:
                due.append(handle)
        return due
