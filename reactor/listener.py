"""Listening sockets on the reactor."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
from collections.abc import Callable

from .loop import Reactor
from .timers import TimerHandle

__all__ = ["Listener", "open_listening_socket"]

log = logging.getLogger(__name__)

#: Connections accepted per readiness event before the loop serves others.
ACCEPT_BATCH = 64

#: Out of fds (or kernel memory), the listening socket stays readable while ``accept()`` fails:
#: the listener stops watching it for this long, doubling while it persists, up to the maximum.
ACCEPT_PAUSE = 0.1
ACCEPT_PAUSE_MAX = 1.6
#: At most one log line per this many seconds about accepts failing for want of resources.
ACCEPT_LOG_INTERVAL = 10.0

#: accept() failed for want of fds: a reserve fd lets us accept and close (shed) a connection.
_OUT_OF_FDS = frozenset((errno.EMFILE, errno.ENFILE))
#: accept() failed for want of some resource: wait for it rather than retry at once.
_OUT_OF_RESOURCES = _OUT_OF_FDS | {errno.ENOBUFS, errno.ENOMEM}


def open_listening_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A bound, listening, non-blocking TCP socket (port 0 picks a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def tune_accepted(sock: socket.socket) -> None:
    """We coalesce writes ourselves, so Nagle would only add latency."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Listener:
    """Accepts connections and hands each (non-blocking) to ``on_accept(sock, peer)``.

    When ``accept()`` fails for want of fds or memory, the connection stays in the backlog and
    the socket stays readable: rather than spin, the listener unregisters the socket for
    ``ACCEPT_PAUSE`` (doubling while it persists), and with the reserve fd it holds (``/dev/null``)
    it accepts and closes the waiting connections, so their clients hear at once rather than time
    out. It logs the first failure, then at most once per ``ACCEPT_LOG_INTERVAL`` with counts.
    """

    __slots__ = (
        "_last_report",
        "_on_accept",
        "_pause",
        "_paused",
        "_pauses",
        "_reserve",
        "_resume_timer",
        "_shed",
        "reactor",
        "sock",
    )

    def __init__(
        self,
        reactor: Reactor,
        sock: socket.socket,
        on_accept: Callable[[socket.socket, tuple[str, int] | None], None],
    ) -> None:
        self.reactor = reactor
        self.sock = sock
        self._on_accept = on_accept
        self._reserve = _open_reserve()
        self._paused = False
        self._pause = ACCEPT_PAUSE
        self._resume_timer: TimerHandle | None = None
        #: Since the last report: connections shed, and pauses.
        self._shed = 0
        self._pauses = 0
        self._last_report: float | None = None
        reactor.register(sock, self)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return host, port

    @property
    def paused(self) -> bool:
        """Is the listener waiting for fds (not watching its socket)?"""
        return self._paused

    def on_readable(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    self._out_of_resources(exc)
                    return
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue
                log.exception("accept failed")
                return
            self._pause = ACCEPT_PAUSE  # fds again: the next shortage starts with a short pause
            tune_accepted(conn)
            try:
                self._on_accept(conn, (addr[0], addr[1]) if addr else None)
            except Exception:
                log.exception("error setting up an accepted connection")
                conn.close()

    def on_writable(self) -> None:  # pragma: no cover - never registered for writing
        pass

    def close_fds(self) -> None:
        """Close the socket and the spare fd only (a forked child letting go of its parent's
        listener: the reactor it would unregister from is shared with the parent)."""
        self.sock.close()
        self._close_reserve()

    def close(self) -> None:
        if self._resume_timer is not None:
            self._resume_timer.cancel()
            self._resume_timer = None
        self.reactor.unregister(self.sock)
        self.sock.close()
        self._close_reserve()

    # -- out of fds -----------------------------------------------------------------------------

    def _out_of_resources(self, exc: OSError) -> None:
        if exc.errno in _OUT_OF_FDS:
            self._shed_waiting()
        self._pauses += 1
        self._report(exc)
        self._pause_accepting()

    def _shed_waiting(self) -> None:
        """Accept and close the connections waiting in the backlog (a batch at most), with the
        reserve fd: their clients see the connection closed now, not a connect timeout."""
        for _ in range(ACCEPT_BATCH):
            if self._reserve is None:
                self._reserve = _open_reserve()  # fds may have come back since
                return
            os.close(self._reserve)
            self._reserve = None
            try:
                conn, _addr = self.sock.accept()
            except OSError:  # drained (BlockingIOError), or still no fd: stop shedding
                self._reserve = _open_reserve()
                return
            conn.close()
            self._shed += 1
            self._reserve = _open_reserve()

    def _pause_accepting(self) -> None:
        if self._paused:
            return
        self._paused = True
        self.reactor.unregister(self.sock)
        self._resume_timer = self.reactor.call_later(self._pause, self._resume)
        self._pause = min(self._pause * 2, ACCEPT_PAUSE_MAX)

    def _resume(self) -> None:
        self._resume_timer = None
        self._paused = False
        if self.sock.fileno() < 0:  # closed meanwhile (a forked worker closes the master's)
            return
        self.reactor.register(self.sock, self)

    def _report(self, exc: OSError) -> None:
        """The first failure at once, then at most one line per ``ACCEPT_LOG_INTERVAL``."""
        now = self.reactor.time()
        if self._last_report is not None and now - self._last_report < ACCEPT_LOG_INTERVAL:
            return
        since = "" if self._last_report is None else f" in the last {now - self._last_report:.0f}s"
        log.error(
            "accept failed: %s; accepts paused %d times, %d waiting connections shed%s "
            "(logged at most every %.0fs)",
            exc,
            self._pauses,
            self._shed,
            since,
            ACCEPT_LOG_INTERVAL,
        )
        self._last_report = now
        self._pauses = 0
        self._shed = 0

    def _close_reserve(self) -> None:
        if self._reserve is not None:
            with contextlib.suppress(OSError):
                os.close(self._reserve)
            self._reserve = None


def _open_reserve() -> int | None:
    """An fd kept in reserve, given up to accept (and close) a connection when out of fds."""
    try:
        return os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
