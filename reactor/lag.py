"""How late the loop runs: a timer that observes its own lateness, a few times a second.

A busy tick (a huge fan-out, a slow handler) delays every timer and every readiness event
behind it; when such delays reach pingTimeout, clients are dropped. ``LoopLagMonitor`` re-arms
one timer every ``interval`` seconds and records, in a ``LagHistogram``, how long after its
deadline it ran. The histogram is plain data (bounds and counts), fed with numbers: no clock.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .loop import Reactor
    from .timers import TimerHandle

__all__ = ["LAG_BUCKETS", "LagHistogram", "LoopLagMonitor"]

#: Upper bounds (seconds) of the lag buckets: from the epoll granularity to a ping timeout.
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: Seconds between two observations.
LAG_INTERVAL = 0.25


class LagHistogram:
    """Observations counted in buckets (``counts[i]``: values ``<= bounds[i]``, not cumulative;
    the last count is above every bound), with their sum."""

    __slots__ = ("bounds", "count", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...] = LAG_BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def cumulative(self) -> list[tuple[float, int]]:
        """``(upper bound, observations <= it)`` for every bound, then ``(inf, count)``."""
        buckets: list[tuple[float, int]] = []
        running = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += count
            buckets.append((bound, running))
        return buckets


class LoopLagMonitor:
    """Observes the loop's lateness every ``interval`` seconds on ``reactor``."""

    def __init__(
        self,
        reactor: Reactor,
        histogram: LagHistogram | None = None,
        interval: float = LAG_INTERVAL,
    ) -> None:
        self.reactor = reactor
        self.histogram = histogram or LagHistogram()
        self.interval = interval
        self._due = 0.0
        self._timer: TimerHandle | None = None

    def start(self) -> None:
        if self._timer is None:
            self._due = self.reactor.time() + self.interval
            self._timer = self.reactor.call_at(self._due, self._fire)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        now = self.reactor.time()
        self.histogram.observe(max(0.0, now - self._due))
        self._due = now + self.interval
        self._timer = self.reactor.call_at(self._due, self._fire)
