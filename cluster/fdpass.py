"""Handing accepted sockets from the master to a worker: SCM_RIGHTS over a SOCK_SEQPACKET pair.

Each hand-over is one message: a small JSON header (the client's address, as the master saw it
or as a trusted proxy named it) with the socket's descriptor attached.
"""

from __future__ import annotations

import collections
import errno
import json
import logging
import socket
from collections.abc import Callable

from reactor import Reactor

__all__ = ["MAX_QUEUED", "FdReceiver", "FdSender"]

log = logging.getLogger(__name__)

#: What sending on the channel fails with once the worker's end is closed.
_CHANNEL_GONE = frozenset((errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN, errno.ECONNREFUSED))

#: Connections the master keeps for a worker that is busy or being restarted; beyond that a new
#: connection is closed (it costs that one connection, never the master).
MAX_QUEUED = 1024


class FdSender:
    """Master side, one per worker slot. The worker's channel can be replaced (respawn)."""

    def __init__(self, reactor: Reactor, max_queued: int = MAX_QUEUED) -> None:
        self.reactor = reactor
        self.max_queued = max_queued
        self.channel: socket.socket | None = None
        self._queue: collections.deque[tuple[socket.socket, bytes]] = collections.deque()
        self._want_write = False

    def attach(self, channel: socket.socket) -> None:
        """A (new) worker's end: send what waited for it."""
        self.detach()
        channel.setblocking(False)
        self.channel = channel
        if self._queue:
            self._ensure_writable()

    def detach(self) -> None:
        if self.channel is not None:
            self.reactor.unregister(self.channel)
            self.channel.close()
            self.channel = None
            self._want_write = False

    def send(self, conn: socket.socket, peer: tuple[str, int] | None) -> None:
        payload = json.dumps({"peer": list(peer) if peer else None}).encode()
        if self._queue or self.channel is None or not self._try_send(conn, payload):
            if len(self._queue) >= self.max_queued:
                log.warning("worker queue full: dropping a connection from %s", peer)
                conn.close()
                return
            self._queue.append((conn, payload))
            self._ensure_writable()

    def _try_send(self, conn: socket.socket, payload: bytes) -> bool:
        """Send ``conn`` to the worker: True once it is no longer ours (sent, or dropped because
        it cannot be sent at all), False to keep it for later (channel full, or broken)."""
        channel = self.channel
        assert channel is not None
        try:
            socket.send_fds(channel, [payload], [conn.fileno()])
        except (BlockingIOError, InterruptedError):
            return False
        except OSError as exc:
            if exc.errno in _CHANNEL_GONE:
                # The worker died and the master has not reaped it yet: keep the connection for
                # its successor, and stop watching a channel that will never take anything
                # (it would be reported writable at once, forever: a busy loop).
                log.info("hand-over failed (%s); the worker is going away", exc)
                self.detach()
                return False
            log.warning("hand-over of a connection failed (%s); dropping it", exc)
        conn.close()  # the worker has its own descriptor now (or the connection is lost)
        return True

    def _ensure_writable(self) -> None:
        if self.channel is not None and not self._want_write:
            self._want_write = True
            self.reactor.register_writer_only(self.channel, self)

    def on_writable(self) -> None:
        while self._queue and self.channel is not None:
            conn, payload = self._queue[0]
            if not self._try_send(conn, payload):
                return
            self._queue.popleft()
        if self.channel is not None and self._want_write:
            self._want_write = False
            self.reactor.unregister(self.channel)

    def on_readable(self) -> None:  # pragma: no cover - registered for writing only
        pass

    def drop_queued(self) -> None:
        """Close the connections still waiting for a worker (the cluster is stopping)."""
        while self._queue:
            self._queue.popleft()[0].close()

    def close(self) -> None:
        self.drop_queued()
        self.detach()


class FdReceiver:
    """Worker side: adopt each socket the master sends; ``on_eof`` when the master is gone."""

    def __init__(
        self,
        reactor: Reactor,
        channel: socket.socket,
        on_socket: Callable[[socket.socket, tuple[str, int] | None], None],
        on_eof: Callable[[], None],
    ) -> None:
        self.reactor = reactor
        self.channel = channel
        self._on_socket = on_socket
        self._on_eof = on_eof
        channel.setblocking(False)
        reactor.register(channel, self)

    def on_readable(self) -> None:
        for _ in range(256):
            try:
                payload, fds, _flags, _addr = socket.recv_fds(self.channel, 4096, 16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._eof()
                return
            if not payload and not fds:
                self._eof()
                return
            peer = _peer_of(payload)
            for fd in fds:
                try:
                    sock = socket.socket(fileno=fd)
                except OSError:
                    continue
                try:
                    self._on_socket(sock, peer)
                except Exception:
                    log.exception("error adopting a connection")
                    sock.close()

    def on_writable(self) -> None:  # pragma: no cover - registered for reading only
        pass

    def _eof(self) -> None:
        self.reactor.unregister(self.channel)
        self.channel.close()
        self._on_eof()


def _peer_of(payload: bytes) -> tuple[str, int] | None:
    try:
        peer = json.loads(payload).get("peer")
        if isinstance(peer, list) and len(peer) == 2:
            return str(peer[0]), int(peer[1])
    except (ValueError, TypeError, AttributeError, RecursionError):
        pass  # from our own master; never expected
    return None
