"""Listening sockets on the reactor."""

from __future__ import annotations

import contextlib
import errno
import logging
import socket
from collections.abc import Callable

from .loop import Reactor

__all__ = ["Listener", "open_listening_socket"]

log = logging.getLogger(__name__)

#: Connections accepted per readiness event before the loop serves others.
ACCEPT_BATCH = 64


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
    """Accepts connections and hands each (non-blocking) to ``on_accept(sock, peer)``."""

    __slots__ = ("_on_accept", "reactor", "sock")

    def __init__(
        self,
        reactor: Reactor,
        sock: socket.socket,
        on_accept: Callable[[socket.socket, tuple[str, int] | None], None],
    ) -> None:
        self.reactor = reactor
        self.sock = sock
        self._on_accept = on_accept
        reactor.register(sock, self)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return host, port

    def on_readable(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.error("accept failed: %s", exc)
                    return
                if exc.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue
                log.exception("accept failed")
                return
            tune_accepted(conn)
            try:
                self._on_accept(conn, (addr[0], addr[1]) if addr else None)
            except Exception:
                log.exception("error setting up an accepted connection")
                conn.close()

    def on_writable(self) -> None:  # pragma: no cover - never registered for writing
        pass

    def close(self) -> None:
        self.reactor.unregister(self.sock)
        self.sock.close()
