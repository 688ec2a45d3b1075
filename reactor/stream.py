"""A non-blocking socket with an outbound buffer: coalesced writes and bounded backpressure.

``write`` only appends; the reactor calls ``flush`` once at the end of the tick, so everything a
tick wrote to one connection leaves in one ``send``. What the kernel does not take waits for
writability; if a slow reader lets more than ``max_buffer`` bytes pile up, the connection is
aborted with ``SlowConsumerError`` rather than growing memory without bound.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable
from typing import Protocol

from .loop import Reactor
from .timers import TimerHandle

__all__ = ["DEFAULT_MAX_BUFFER", "SlowConsumerError", "Stream", "StreamProtocol"]

log = logging.getLogger(__name__)

#: Bytes a connection may have waiting for the kernel before it is dropped as too slow. Large
#: enough for a few maximum-size (1 MB) payloads, small enough that 1000 stuck clients cost <5 GB.
DEFAULT_MAX_BUFFER = 4 * 1024 * 1024
#: Seconds a lingering close keeps reading (and discarding) before it gives up on the peer.
LINGER_TIMEOUT = 2.0


class SlowConsumerError(ConnectionError):
    """The peer did not read fast enough: its outbound buffer went over the cap."""


class StreamProtocol(Protocol):
    def data_received(self, data: bytes) -> None: ...

    def eof_received(self) -> None: ...

    def connection_lost(self, exc: BaseException | None) -> None: ...


class Stream:
    """One accepted (or connected) socket on the reactor, driving a ``StreamProtocol``."""

    __slots__ = (
        "_dirty",
        "_linger_timer",
        "_lingering",
        "_out",
        "_out_len",
        "_want_write",
        "closed",
        "closing",
        "max_buffer",
        "on_closed",
        "peer",
        "protocol",
        "reactor",
        "sock",
    )

    def __init__(
        self,
        reactor: Reactor,
        sock: socket.socket,
        protocol: StreamProtocol,
        *,
        max_buffer: int = DEFAULT_MAX_BUFFER,
        peer: tuple[str, int] | None = None,
    ) -> None:
        self.reactor = reactor
        self.sock = sock
        self.protocol = protocol
        self.max_buffer = max_buffer
        self.peer = peer
        self._out: list[bytes] = []
        self._out_len = 0
        self._dirty = False
        self._want_write = False
        self._lingering = False
        self._linger_timer: TimerHandle | None = None
        self.closed = False
        self.closing = False
        #: Called with the stream once it is closed (the server keeps a set of live streams).
        self.on_closed: Callable[[Stream], None] | None = None

    def start(self, initial_data: bytes = b"") -> None:
        """Register with the reactor; ``initial_data`` was read before (by another process)."""
        self.sock.setblocking(False)
        self.reactor.register(self.sock, self)
        if initial_data:
            self.protocol.data_received(initial_data)

    @property
    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel."""
        return self._out_len

    # -- reading --------------------------------------------------------------------------------

    def on_readable(self) -> None:
        if self.closed:
            return
        # One buffer per reactor: ``recv(RECV_SIZE)`` would allocate (above glibc's mmap
        # threshold: map) a fresh RECV_SIZE object per call, only to shrink it.
        buffer = self.reactor.read_buffer
        try:
            size = self.sock.recv_into(buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.abort(exc)
            return
        data = buffer[:size].tobytes()
        if self.closing:
            # Closing: what the peer still sends is read only to see its EOF, and dropped.
            if not data:
                self._finish(None)
            return
        if data:
            self.protocol.data_received(data)
        else:
            self.protocol.eof_received()
            if not self.closed:
                self.close()

    # -- writing --------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.closing:  # (closed implies closing)
            return
        self._out.append(data)
        self._out_len += len(data)
        if self._want_write:
            if self._out_len > self.max_buffer:
                self.abort(SlowConsumerError(f"more than {self.max_buffer} bytes unsent"))
        elif not self._dirty:
            self._dirty = True
            self.reactor.mark_dirty(self)

    def flush(self) -> None:
        """Send what this tick wrote; called by the reactor at the end of the tick."""
        self._dirty = False
        if self.closed or self._want_write:
            return
        if self._out:
            self._send()
        if self.closing and not self._out and not self.closed:
            self._shutdown()

    def on_writable(self) -> None:
        if self.closed:
            return
        self._send()
        if not self._out:
            self._want_write = False
            if not self.closed:
                self.reactor.set_writable(self.sock, self, False)
                if self.closing:
                    self._shutdown()

    def _send(self) -> None:
        out = self._out
        data = out[0] if len(out) == 1 else b"".join(out)
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self.abort(exc)
            return
        if sent == len(data):
            out.clear()
            self._out_len = 0
            return
        rest = data[sent:]
        self._out = [rest]
        self._out_len = len(rest)
        if not self._want_write:
            self._want_write = True
            self.reactor.set_writable(self.sock, self, True)

    # -- closing --------------------------------------------------------------------------------

    def close(self, linger: bool = False) -> None:
        """Close once everything written has been sent.

        ``linger``: after sending, half-close and read until the peer closes too (at most
        ``LINGER_TIMEOUT``), so that unread request bytes do not turn our reply into a reset.
        """
        if self.closed or self.closing:
            return
        self.closing = True
        self._lingering = linger
        if not self._dirty and not self._want_write:
            self._shutdown()  # nothing unsent: otherwise flush() or on_writable() finishes

    def _shutdown(self) -> None:
        if not self._lingering:
            self._finish(None)
            return
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._finish(None)
            return
        self._linger_timer = self.reactor.call_later(LINGER_TIMEOUT, self._finish, None)

    def abort(self, exc: BaseException | None = None) -> None:
        """Close at once, dropping anything unsent."""
        if not self.closed:
            self._out.clear()
            self._out_len = 0
            self._finish(exc)

    def _finish(self, exc: BaseException | None) -> None:
        if self.closed:
            return
        self.closed = True
        self.closing = True
        if self._linger_timer is not None:
            self._linger_timer.cancel()
            self._linger_timer = None
        self.reactor.unregister(self.sock)
        with contextlib.suppress(OSError):
            self.sock.close()
        try:
            self.protocol.connection_lost(exc)
        except Exception:
            log.exception("error in connection_lost of %r", self.protocol)
        if self.on_closed is not None:
            self.on_closed(self)
