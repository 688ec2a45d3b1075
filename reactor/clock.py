"""The clock seam. This is the only module of the project that reads the time."""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "MonotonicClock"]


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic clock (for deadlines)."""
        ...

    def wall_time(self) -> float:
        """Seconds since the epoch (for time stamps shown to people and peers)."""
        ...


class MonotonicClock:
    def now(self) -> float:
        return time.monotonic()

    def wall_time(self) -> float:
        return time.time()
