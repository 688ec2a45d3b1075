"""Non-blocking outgoing TCP connections on the reactor."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable

from .listener import tune_accepted
from .loop import Reactor
from .timers import TimerHandle

__all__ = ["Connector"]


class Connector:
    """Connect to ``(host, port)``; then ``on_connected(sock)`` or ``on_error(exc)``, once."""

    __slots__ = ("_on_connected", "_on_error", "_timer", "done", "reactor", "sock")

    def __init__(
        self,
        reactor: Reactor,
        address: tuple[str, int],
        on_connected: Callable[[socket.socket], None],
        on_error: Callable[[BaseException], None],
        *,
        local_address: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.reactor = reactor
        self._on_connected = on_connected
        self._on_error = on_error
        self.done = False
        self._timer: TimerHandle | None = None
        host, port = address
        try:
            family, kind, proto, _, sockaddr = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )[0]
            self.sock = socket.socket(family, kind, proto)
        except OSError as exc:
            self.sock = None  # type: ignore[assignment]
            reactor.call_soon(self._fail, exc)
            return
        try:
            self.sock.setblocking(False)
            if local_address:
                self.sock.bind((local_address, 0))
            code = self.sock.connect_ex(sockaddr)
        except OSError as exc:
            reactor.call_soon(self._fail, exc)
            return
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            reactor.call_soon(self._fail, OSError(code, errno.errorcode.get(code, "connect")))
            return
        reactor.register_writer_only(self.sock, self)
        self._timer = reactor.call_later(timeout, self._fail, TimeoutError("connect timed out"))

    def on_readable(self) -> None:  # pragma: no cover - registered for writing only
        pass

    def on_writable(self) -> None:
        if self.done:
            return
        code = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._fail(OSError(code, errno.errorcode.get(code, "connect")))
            return
        self.done = True
        self._cancel_timer()
        self.reactor.unregister(self.sock)
        tune_accepted(self.sock)
        self._on_connected(self.sock)

    def cancel(self) -> None:
        if not self.done:
            self.done = True
            self._cancel_timer()
            if self.sock is not None:
                self.reactor.unregister(self.sock)
                self.sock.close()

    def _fail(self, exc: BaseException) -> None:
        if self.done:
            return
        self.cancel()
        self._on_error(exc)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
