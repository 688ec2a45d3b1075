"""One timer that follows a sans-IO object's ``next_deadline()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .loop import Reactor
    from .timers import TimerHandle

__all__ = ["Alarm"]


class Alarm:
    """Calls ``callback()`` at the earliest deadline it was set to.

    Re-arming is lazy: a later deadline costs nothing (the timer fires first and the owner sets
    the alarm again then), so a session that moves its deadline on every packet keeps one timer.
    """

    __slots__ = ("_callback", "_handle", "_reactor", "_when")

    def __init__(self, reactor: Reactor, callback: Callable[[], None]) -> None:
        self._reactor = reactor
        self._callback = callback
        self._handle: TimerHandle | None = None
        self._when = 0.0

    def set(self, deadline: float | None) -> None:
        """Fire at ``deadline`` (or earlier, if set earlier before); None: never."""
        handle = self._handle
        if deadline is None:
            if handle is not None:
                handle.cancel()
                self._handle = None
            return
        if handle is not None:
            if self._when <= deadline:
                return  # fires first; set again then
            handle.cancel()
        self._handle = self._reactor.call_at(deadline, self._fire)
        self._when = deadline

    def cancel(self) -> None:
        self.set(None)

    def _fire(self) -> None:
        self._handle = None
        self._callback()
