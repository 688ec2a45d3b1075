"""A single-threaded reactor: one selector (epoll on Linux), a timer heap, call_soon, dirty flushes.

One loop tick: wait for readiness (or the next timer), dispatch readable/writable handlers, run
due timers, run the callbacks queued with ``call_soon``, then flush every object that marked itself
dirty. Writes made anywhere during the tick therefore leave as one ``send`` per connection.
"""

from __future__ import annotations

import collections
import logging
import math
import queue
import resource
import select
import selectors
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from .clock import Clock, MonotonicClock
from .timers import TimerHandle, TimerHeap

__all__ = ["Flushable", "IOHandler", "Reactor", "raise_fd_limit"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Bytes read per recv() (into the reactor's one buffer): a 1 MB payload takes few calls.
READ_BUFFER_SIZE = 256 * 1024
#: A tick with at most this many readiness events is quiet (see ``Reactor.quiet_tick``).
QUIET_TICK_EVENTS = 2

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE
_NOT_EPOLLOUT = ~getattr(select, "EPOLLOUT", 0)
_NOT_EPOLLIN = ~getattr(select, "EPOLLIN", 0)


class IOHandler(Protocol):
    def on_readable(self) -> None: ...
    def on_writable(self) -> None: ...


class Flushable(Protocol):
    def flush(self) -> None: ...


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):  # some sandboxes refuse; keep what we have
            pass
    return soft


class _Waker:
    """The read end of the wake-up socketpair: readable means "someone queued work for us"."""

    __slots__ = ("reader", "writer")

    def __init__(self) -> None:
        self.reader, self.writer = socket.socketpair()
        self.reader.setblocking(False)
        self.writer.setblocking(False)

    def wake(self) -> None:
        try:
            self.writer.send(b"\0")
        except (BlockingIOError, InterruptedError):
            pass  # the pipe is full, so the loop is waking up anyway
        except OSError:
            pass  # closed during shutdown

    def on_readable(self) -> None:
        try:
            while self.reader.recv(4096):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    def on_writable(self) -> None:  # pragma: no cover - never registered for writing
        pass

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


class Reactor:
    """The event loop of one process (or of one thread, in tests)."""

    def __init__(self, clock: Clock | None = None) -> None:
        raise_fd_limit()
        self.clock: Clock = clock or MonotonicClock()
        self._selector = selectors.DefaultSelector()
        #: fd -> (handler, registered events): dispatch without the selectors module's
        #: per-event Python work, polling the epoll object behind the DefaultSelector.
        self._handlers: dict[int, tuple[IOHandler, int]] = {}
        poller = getattr(self._selector, "_selector", None)
        self._epoll = poller if isinstance(self._selector, selectors.EpollSelector) else None
        self._timers = TimerHeap()
        self._ready: collections.deque[tuple[Callable[..., Any], tuple[Any, ...]]] = (
            collections.deque()
        )
        self._dirty: list[Flushable] = []
        #: Where every stream of this loop reads into (one read at a time: one thread).
        self.read_buffer = memoryview(bytearray(READ_BUFFER_SIZE))
        self._waker = _Waker()
        self.register(self._waker.reader, self._waker)
        #: Readiness events of the current tick (see ``quiet_tick``).
        self.tick_events = 0
        self._running = False
        self._stopping = False
        self._thread_id: int | None = None
        self._closed = False

    # -- time -----------------------------------------------------------------------------------

    def time(self) -> float:
        """Now, in seconds on the monotonic clock (what deadlines are measured in)."""
        return self.clock.now()

    def wall_time(self) -> float:
        """Now, in seconds since the epoch."""
        return self.clock.wall_time()

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        return self._timers.push(when, callback, *args)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> TimerHandle:
        return self._timers.push(self.clock.now() + delay, callback, *args)

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        self._ready.append((callback, args))

    def call_soon_threadsafe(self, callback: Callable[..., Any], *args: Any) -> None:
        """From any thread (or a signal handler): run ``callback`` on the loop soon."""
        self._ready.append((callback, args))  # deque.append is atomic
        self._waker.wake()

    def call_from_thread(
        self, callback: Callable[..., T], *args: Any, timeout: float | None = None
    ) -> T:
        """From another thread: run ``callback(*args)`` on the loop and wait for its result
        (its exception is raised here).

        Raises:
            TimeoutError: the loop did not run it within ``timeout`` seconds.
        """
        if self.in_loop_thread():
            return callback(*args)
        done: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)

        def run() -> None:
            try:
                done.put((True, callback(*args)))
            except BaseException as exc:
                done.put((False, exc))

        self.call_soon_threadsafe(run)
        try:
            ok, value = done.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"the reactor did not run {callback!r} in time") from None
        if not ok:
            raise value
        return value  # type: ignore[no-any-return]

    def mark_dirty(self, obj: Flushable) -> None:
        """``obj.flush()`` runs at the end of this tick. The caller avoids marking twice."""
        self._dirty.append(obj)

    # -- file descriptors -----------------------------------------------------------------------

    def register(self, fileobj: Any, handler: IOHandler, writable: bool = False) -> None:
        events = READ | WRITE if writable else READ
        key = self._selector.register(fileobj, events, handler)
        self._handlers[key.fd] = (handler, events)

    def register_writer_only(self, fileobj: Any, handler: IOHandler) -> None:
        key = self._selector.register(fileobj, WRITE, handler)
        self._handlers[key.fd] = (handler, WRITE)

    def set_writable(self, fileobj: Any, handler: IOHandler, writable: bool) -> None:
        events = READ | WRITE if writable else READ
        key = self._selector.modify(fileobj, events, handler)
        self._handlers[key.fd] = (handler, events)

    def unregister(self, fileobj: Any) -> None:
        try:
            key = self._selector.unregister(fileobj)
        except (KeyError, ValueError):
            return
        self._handlers.pop(key.fd, None)

    def add_signal_handler(self, signum: int, callback: Callable[[], Any]) -> None:
        """Run ``callback`` on the loop when the signal arrives (main thread only)."""
        signal.set_wakeup_fd(self._waker.writer.fileno(), warn_on_full_buffer=False)
        signal.signal(signum, lambda _s, _f: self.call_soon_threadsafe(callback))

    # -- running --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def in_loop_thread(self) -> bool:
        return self._thread_id == threading.get_ident()

    def check_thread(self, what: str) -> None:
        """Raise RuntimeError if ``what`` is called from another thread while the loop runs.

        Nothing on a loop is thread-safe: such a call races the loop's own work (a client's
        frame written on its new websocket before the upgrade's ``5`` aborts the upgrade).
        An error at once, rather than a packet lost once in a while."""
        if self._running and self._thread_id != threading.get_ident():
            raise RuntimeError(
                f"{what} called from a thread that does not run its reactor: "
                "hand it over with call_soon_threadsafe or call_from_thread"
            )

    def stop(self) -> None:
        """Stop after the current tick. Safe from any thread."""
        self._stopping = True
        self._waker.wake()

    def run(self) -> None:
        """Run ticks until ``stop()``."""
        self._running = True
        self._stopping = False
        self._thread_id = threading.get_ident()
        try:
            while not self._stopping:
                self.run_once()
        finally:
            self._running = False

    def run_once(self, max_wait: float | None = None) -> None:
        if self._ready or self._dirty:
            timeout: float | None = 0.0
        else:
            deadline = self._timers.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - self.clock.now())
            if max_wait is not None:
                timeout = max_wait if timeout is None else min(timeout, max_wait)
        ready_io = self._poll(timeout)
        self.tick_events = len(ready_io)
        for handler, mask in ready_io:
            try:
                if mask & READ:
                    handler.on_readable()
                if mask & WRITE:
                    handler.on_writable()
            except Exception:
                log.exception("unhandled error in I/O handler %r", handler)
        if self._timers:
            for timer in self._timers.pop_due(self.clock.now()):
                try:
                    timer.callback(*timer.args)
                except Exception:
                    log.exception("unhandled error in timer %r", timer.callback)
        ready = self._ready
        for _ in range(len(ready)):
            callback, args = ready.popleft()
            try:
                callback(*args)
            except Exception:
                log.exception("unhandled error in callback %r", callback)
        self._flush_dirty()

    def _poll(self, timeout: float | None) -> list[tuple[IOHandler, int]]:
        """Ready handlers with their events (as ``selector.select`` gives them, for less)."""
        epoll = self._epoll
        if epoll is None:
            return [(key.data, mask) for key, mask in self._selector.select(timeout)]
        if timeout is None:
            wait = -1.0
        elif timeout <= 0:
            wait = 0.0
        else:  # whole milliseconds, rounded up, or epoll would return before the deadline
            wait = math.ceil(timeout * 1e3) * 1e-3
        try:
            fd_events = epoll.poll(wait, max(len(self._handlers), 1))
        except InterruptedError:
            return []
        handlers = self._handlers
        ready = []
        # Handlers are looked up now, before any runs: a descriptor closed and reused while
        # this batch is dispatched must not receive the old descriptor's events.
        for fd, event in fd_events:
            entry = handlers.get(fd)
            if entry is not None:
                mask = (READ if event & _NOT_EPOLLOUT else 0) | (
                    WRITE if event & _NOT_EPOLLIN else 0
                )
                ready.append((entry[0], mask & entry[1]))
        return ready

    @property
    def quiet_tick(self) -> bool:
        """Did this tick bring few readiness events? Then its writes have little to coalesce
        with, and a large fan-out may flush as it goes (``flush_now``) instead of at the end."""
        return self.tick_events <= QUIET_TICK_EVENTS

    def flush_now(self) -> None:
        """Flush what is dirty now rather than at the end of the tick."""
        self._flush_dirty()

    def _flush_dirty(self) -> None:
        # Flushing one object may dirty another (a session writes to its socket's stream).
        while self._dirty:
            batch, self._dirty = self._dirty, []
            for obj in batch:
                try:
                    obj.flush()
                except Exception:
                    log.exception("unhandled error flushing %r", obj)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._selector.close()
        self._waker.close()
