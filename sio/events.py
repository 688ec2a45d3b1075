"""Event listeners shared by server and client sockets: registration, dispatch, acks.

A handler gets the event's arguments. When the peer asked for an acknowledgement, a handler with
a parameter named ``ack`` receives the ack function as ``ack=`` and calls it when it likes; any
other handler's return value is the acknowledgement (a tuple for several arguments). The first
value returned answers; if every handler returns None and none takes ``ack``, the ack carries no
arguments. Exceptions in handlers are logged and cost only that event.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, overload

__all__ = ["Ack", "EventHandlers", "Listening", "TimedEmitter", "call_safely", "make_ack"]

log = logging.getLogger(__name__)

Ack = Callable[..., None]
F = TypeVar("F", bound=Callable[..., Any])


#: code object -> "has a parameter named ack": handlers defined in a connection handler are new
#: closures for every socket, but share their code, and inspect.signature is slow.
_ACK_PARAM: dict[object, bool] = {}


def _accepts_ack(handler: Callable[..., Any]) -> bool:
    code = getattr(handler, "__code__", None)
    if hasattr(handler, "__wrapped__"):
        code = None  # the signature is the wrapped function's
    if code is not None:
        cached = _ACK_PARAM.get(code)
        if cached is not None:
            return cached
    try:
        accepts = "ack" in inspect.signature(handler).parameters
    except (TypeError, ValueError):
        accepts = False
    if code is not None:
        _ACK_PARAM[code] = accepts
    return accepts


def call_safely(fn: Callable[..., Any], *args: Any) -> int:
    """Call application code; an exception is logged. Returns the errors (0 or 1), which a
    server counts (``ServerStats.handler_errors``)."""
    try:
        fn(*args)
    except Exception:
        log.exception("error in callback %r", fn)
        return 1
    return 0


def _no_ack(*args: Any) -> None:
    """The ``ack`` given to handlers when the peer asked for no acknowledgement."""


class EventHandlers:
    """Listeners by event name, plus catch-all listeners."""

    __slots__ = ("_any", "_handlers", "empty")

    def __init__(self) -> None:
        #: event -> ((handler, takes ack), ...): tuples, replaced on change, so dispatch can
        #: iterate without copying while a handler adds or removes handlers.
        self._handlers: dict[str, tuple[tuple[Callable[..., Any], bool], ...]] = {}
        self._any: list[Callable[..., Any]] = []
        #: No handler and no catch-all listener at all (kept up to date: read per event).
        self.empty = True

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, handler: F) -> F: ...

    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        def register(fn: F) -> F:
            self._handlers[event] = (*self._handlers.get(event, ()), (fn, _accepts_ack(fn)))
            self.empty = False
            return fn

        return register if handler is None else register(handler)

    def off(self, event: str, handler: Callable[..., Any] | None = None) -> None:
        kept = tuple(
            entry
            for entry in self._handlers.get(event, ())
            if handler is not None and entry[0] is not handler
        )
        if kept:
            self._handlers[event] = kept
        else:
            self._handlers.pop(event, None)
        self.empty = not self._handlers and not self._any

    def on_any(self, listener: F) -> F:
        self._any.append(listener)
        self.empty = False
        return listener

    def has(self, event: str) -> bool:
        return bool(self._handlers.get(event))

    def handlers_for(self, event: Any) -> tuple[tuple[Callable[..., Any], bool], ...] | None:
        """The handlers of ``event`` when nothing else listens (no catch-all), else None."""
        return None if self._any else self._handlers.get(event)

    def emit_local(self, event: str, *args: Any) -> int:
        """Call the handlers of a local event (connect, disconnect, errors...); returns how
        many raised."""
        errors = 0
        for handler, _ in self._handlers.get(event, ()):
            errors += call_safely(handler, *args)
        return errors

    def dispatch(
        self,
        event: Any,
        args: list[Any],
        ack: Ack | None,
        owner: object,
        leading: tuple[Any, ...] = (),
    ) -> int:
        """Deliver an event from the peer; ``leading`` arguments go first (the socket, for
        namespace-level handlers). Returns how many handlers raised."""
        errors = 0
        for listener in self._any:
            errors += call_safely(listener, *leading, event, *args)
        handlers = self._handlers.get(event)
        if not handlers:
            return errors
        if leading:
            args = [*leading, *args]
        return errors + call_handlers(handlers, args, ack, event, owner)


def call_handlers(
    handlers: tuple[tuple[Callable[..., Any], bool], ...],
    args: list[Any],
    ack: Ack | None,
    event: Any,
    owner: object,
) -> int:
    """Call each handler with ``args``; the first result (or ack call) is the acknowledgement,
    and if every handler returned None without taking the ack, it is sent with no arguments.
    Returns how many handlers raised (each is logged)."""
    answered = taken = False
    errors = 0
    for handler, wants_ack in handlers:
        taken = taken or wants_ack
        try:
            result = handler(*args, ack=ack or _no_ack) if wants_ack else handler(*args)
        except Exception:
            log.exception("error in handler for %r (%r)", event, owner)
            errors += 1
            continue
        if ack is not None and not wants_ack and result is not None and not answered:
            answered = True
            if isinstance(result, tuple):
                ack(*result)
            else:
                ack(result)
    if ack is not None and not answered and not taken:
        ack()  # every handler returned None: acknowledge with no arguments
    return errors


class Listening:
    """``on`` / ``off`` / ``on_any`` for an object keeping its ``EventHandlers`` in ``_events``
    (server sockets, client sockets, client managers)."""

    __slots__ = ()
    _events: EventHandlers

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, handler: F) -> F: ...

    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """Register a handler for ``event`` (usable as a decorator).

        The handler gets the event's arguments. If the peer asked for an acknowledgement, a
        handler with a parameter named ``ack`` gets the ack function as ``ack=``; any other
        handler's return value is the acknowledgement (a tuple for several arguments).
        Local events (``connect``, ``disconnect`` with the reason, ...) use the same registry.
        """
        if handler is None:
            return self._events.on(event)
        return self._events.on(event, handler)

    def off(self, event: str, handler: Callable[..., Any] | None = None) -> None:
        """Remove one handler of ``event``, or all of them."""
        self._events.off(event, handler)

    def on_any(self, listener: F) -> F:
        """A listener for every incoming event: ``listener(event, *args)``."""
        return self._events.on_any(listener)


class _Emitter(Protocol):
    def emit(
        self,
        event: str,
        *args: Any,
        callback: Callable[..., Any] | None = None,
        timeout: float | None = None,
    ) -> None: ...


class TimedEmitter:
    """``socket.timeout(seconds).emit(...)``: the callback gets an error (or None) first."""

    __slots__ = ("_seconds", "_socket")

    def __init__(self, socket: _Emitter, seconds: float) -> None:
        self._socket = socket
        self._seconds = seconds

    def emit(self, event: str, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        self._socket.emit(event, *args, callback=callback, timeout=self._seconds)


def make_ack(send: Callable[[list[Any]], None]) -> Ack:
    """An acknowledgement function that sends at most once."""
    sent = False

    def ack(*args: Any) -> None:
        nonlocal sent
        if not sent:
            sent = True
            send(list(args))

    return ack
