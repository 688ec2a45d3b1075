"""One timer that follows a sans-IO object's ``next_deadline()``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .loop import Reactor
    from .timers import TimerHandle

__all__ = ["Alarmed"]


class Alarmed:
    """A mixin for the shell of a sans-IO object: ``set_alarm(reactor, deadline)`` after anything
    that may move its deadline, and ``on_alarm()`` runs at (or after) the earliest deadline set.

    Re-arming is lazy: a later deadline costs nothing (the timer fires first and the owner sets
    the alarm again then), so a session that moves its deadline on every packet keeps one timer.
    A mixin rather than an object of its own: every connection has one or two, and two slots
    cost less than an object holding a bound method.
    """

    __slots__ = ("_alarm_handle", "_alarm_when")

    _alarm_handle: TimerHandle | None
    _alarm_when: float

    def init_alarm(self) -> None:
        """Call once, from ``__init__``."""
        self._alarm_handle = None
        self._alarm_when = 0.0

    def set_alarm(self, reactor: Reactor, deadline: float | None) -> None:
        """Fire at ``deadline`` (or earlier, if set earlier before); None: never."""
        handle = self._alarm_handle
        if deadline is None:
            if handle is not None:
                handle.cancel()
                self._alarm_handle = None
            return
        if handle is not None:
            if self._alarm_when <= deadline:
                return  # fires first; set again then
            handle.cancel()
        self._alarm_handle = reactor.call_at(deadline, self._alarm_fired)
        self._alarm_when = deadline

    def cancel_alarm(self) -> None:
        if self._alarm_handle is not None:
            self._alarm_handle.cancel()
            self._alarm_handle = None

    def _alarm_fired(self) -> None:
        self._alarm_handle = None
        self.on_alarm()

    def on_alarm(self) -> None:
        """The deadline passed: handle the timeouts, then ``set_alarm`` again."""
        raise NotImplementedError
