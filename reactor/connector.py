"""Non-blocking outgoing TCP connections on the reactor, names resolved off the loop.

``socket.getaddrinfo`` blocks (for seconds, when DNS is slow): a name is resolved on a resolver
thread (``Resolver``), which hands the result back with ``call_soon_threadsafe``; an IP literal
skips it. The connect timeout counts from the start, resolution included.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import queue
import socket
import threading
from collections.abc import Callable, Sequence
from typing import Any

from .listener import tune_accepted
from .loop import Reactor
from .timers import TimerHandle

__all__ = ["Connector", "ResolveFunction", "Resolver"]

#: ``resolve(host, port)``: ``socket.getaddrinfo``'s answer for a TCP connection to it.
AddrInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, Any]
ResolveFunction = Callable[[str, int], Sequence[AddrInfo]]

#: Resolver threads per process at most: lookups beyond them wait their turn.
MAX_RESOLVER_THREADS = 4


def getaddrinfo_tcp(host: str, port: int) -> Sequence[AddrInfo]:
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


class Resolver:
    """Runs ``resolve`` calls on daemon threads (started on demand, at most
    ``MAX_RESOLVER_THREADS``) and delivers each result on the caller's reactor. Daemon threads:
    a lookup that hangs never holds the process at exit. A forked child starts its own."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Reactor, Callable[..., Any]]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._pid = os.getpid()

    def submit(
        self,
        reactor: Reactor,
        resolve: ResolveFunction,
        host: str,
        port: int,
        on_done: Callable[[Sequence[AddrInfo] | None, BaseException | None], None],
    ) -> None:
        """Resolve ``host:port``; ``on_done(addresses, None)`` or ``on_done(None, error)`` runs
        on ``reactor``."""
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's threads are not here
                self._pid, self._threads, self._idle = os.getpid(), 0, 0
                self._jobs = queue.SimpleQueue()
            self._jobs.put((lambda: resolve(host, port), reactor, on_done))
            if self._idle == 0 and self._threads < MAX_RESOLVER_THREADS:
                self._threads += 1
                threading.Thread(target=self._work, name="resolver", daemon=True).start()

    def _work(self) -> None:
        jobs = self._jobs
        while True:
            with self._lock:
                self._idle += 1
            job, reactor, on_done = jobs.get()
            with self._lock:
                self._idle -= 1
            try:
                result: Any = job()
                error: BaseException | None = None
            except BaseException as exc:  # delivered to the caller, never raised here
                result, error = None, exc
            with contextlib.suppress(Exception):  # (a reactor closed meanwhile)
                reactor.call_soon_threadsafe(on_done, result, error)


#: The process's resolver.
RESOLVER = Resolver()


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Connector:
    """Connect to ``(host, port)``; then ``on_connected(sock)`` or ``on_error(exc)``, once.

    ``resolve``: how a name is resolved (``socket.getaddrinfo`` by default, on the resolver
    thread); tests inject a slow or failing one. ``timeout`` covers resolution and connecting.
    """

    __slots__ = ("_on_connected", "_on_error", "_timer", "done", "local_address", "reactor", "sock")

    def __init__(
        self,
        reactor: Reactor,
        address: tuple[str, int],
        on_connected: Callable[[socket.socket], None],
        on_error: Callable[[BaseException], None],
        *,
        local_address: str | None = None,
        timeout: float = 10.0,
        resolve: ResolveFunction = getaddrinfo_tcp,
    ) -> None:
        self.reactor = reactor
        self._on_connected = on_connected
        self._on_error = on_error
        self.local_address = local_address
        self.done = False
        self.sock: socket.socket | None = None
        self._timer: TimerHandle | None = reactor.call_later(
            timeout, self._fail, TimeoutError("connect timed out")
        )
        host, port = address
        if _is_ip_literal(host):  # no lookup: getaddrinfo answers at once
            try:
                addresses = socket.getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
                )
            except OSError as exc:
                reactor.call_soon(self._fail, exc)
                return
            self._connect(addresses)
        else:
            RESOLVER.submit(reactor, resolve, host, port, self._resolved)

    def _resolved(self, addresses: Sequence[AddrInfo] | None, error: BaseException | None) -> None:
        if self.done:
            return  # cancelled, or timed out, while resolving
        if error is not None or not addresses:
            self._fail(error if isinstance(error, OSError) else OSError(f"cannot resolve: {error}"))
            return
        self._connect(addresses)

    def _connect(self, addresses: Sequence[AddrInfo]) -> None:
        family, kind, proto, _, sockaddr = addresses[0]
        try:
            self.sock = socket.socket(family, kind, proto)
        except OSError as exc:
            self.reactor.call_soon(self._fail, exc)
            return
        try:
            self.sock.setblocking(False)
            if self.local_address:
                self.sock.bind((self.local_address, 0))
            code = self.sock.connect_ex(sockaddr)
        except OSError as exc:
            self.reactor.call_soon(self._fail, exc)
            return
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            self.reactor.call_soon(self._fail, OSError(code, errno.errorcode.get(code, "connect")))
            return
        self.reactor.register_writer_only(self.sock, self)

    def on_readable(self) -> None:  # pragma: no cover - registered for writing only
        pass

    def on_writable(self) -> None:
        sock = self.sock
        if self.done or sock is None:
            return
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._fail(OSError(code, errno.errorcode.get(code, "connect")))
            return
        self.done = True
        self._cancel_timer()
        self.reactor.unregister(sock)
        tune_accepted(sock)
        self._on_connected(sock)

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
