"""Redis connections on the reactor: non-blocking, pipelined, reconnecting.

``RedisClient`` sends commands as they come (written at the end of the tick, so a tick's
commands leave in one ``send``) and answers each callback in order as replies arrive: no tick
waits for a round trip. ``RedisSubscriber`` is a connection in subscribe mode; it remembers its
channels and patterns and subscribes again after a reconnect.

When the connection drops, both reconnect with back-off (0.1 s doubling to 5 s) and log once per
state change (down, then up), never per command. A command issued while down is refused at
once (its callback gets ``RedisUnavailable``) and counted in ``dropped``: Redis is the transport
of a broadcast, not a queue, and the local delivery never waits for it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from reactor import Connector, Reactor, Stream, TimerHandle

from .resp import ProtocolError, RedisError, ReplyReader, encode_command

__all__ = [
    "RedisClient",
    "RedisError",
    "RedisSubscriber",
    "RedisUnavailable",
    "parse_redis_url",
]

log = logging.getLogger(__name__)

#: First and longest pause before reconnecting.
RECONNECT_MIN = 0.1
RECONNECT_MAX = 5.0
#: Bytes a Redis connection may leave unsent before it is considered broken.
MAX_BUFFER = 64 * 1024 * 1024

Reply = Callable[[Any], None]


class RedisUnavailable(ConnectionError):
    """The command was not sent: the connection to Redis is down."""


def parse_redis_url(url: str) -> tuple[str, int, int]:
    """``redis://HOST:PORT[/DB]`` (any scheme; the caller picks the adapter by it) ->
    ``(host, port, db)``.

    Raises:
        ValueError: not such a URL.
    """
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 6379
    path = parts.path.strip("/")
    db = int(path) if path else 0
    return host, port, db


class _Connection:
    """The common part: connect, reconnect with back-off, log state changes, feed replies."""

    def __init__(self, reactor: Reactor, url: str, name: str) -> None:
        self.reactor = reactor
        self.url = url
        self.name = name
        self.host, self.port, self.db = parse_redis_url(url)
        self.connected = False
        self.closed = False
        self.stream: Stream | None = None
        self._reader = ReplyReader()
        self._connector: Connector | None = None
        self._retry: TimerHandle | None = None
        self._delay = RECONNECT_MIN
        self._was_up = False
        self._reported_down = False
        self._connect()

    # -- connecting -----------------------------------------------------------------------------

    def _connect(self) -> None:
        self._retry = None
        if self.closed:
            return
        self._connector = Connector(
            self.reactor, (self.host, self.port), self._on_connected, self._on_connect_failed
        )

    def _on_connected(self, sock: Any) -> None:
        self._connector = None
        self._reader = ReplyReader()
        self.stream = Stream(self.reactor, sock, self, max_buffer=MAX_BUFFER)
        self.stream.start()
        self.connected = True
        self._delay = RECONNECT_MIN
        if self._reported_down or self._was_up:
            log.warning("%s: connected to Redis at %s:%d again", self.name, self.host, self.port)
        self._was_up = True
        self._reported_down = False
        if self.db:
            self.stream.write(encode_command("SELECT", self.db))
            self._expect_internal()
        self._on_up()

    def _on_connect_failed(self, exc: BaseException) -> None:
        self._connector = None
        self._down(exc)

    def _down(self, exc: BaseException | None) -> None:
        was_connected = self.connected
        self.connected = False
        self.stream = None
        if self.closed:
            return
        if not self._reported_down:
            self._reported_down = True
            log.error(
                "%s: Redis at %s:%d is unreachable (%s); retrying with back-off",
                self.name,
                self.host,
                self.port,
                exc or "connection closed",
            )
        if was_connected:
            self._on_down()
        self._retry = self.reactor.call_later(self._delay, self._connect)
        self._delay = min(self._delay * 2, RECONNECT_MAX)

    def close(self) -> None:
        self.closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._connector is not None:
            self._connector.cancel()
            self._connector = None
        if self.stream is not None:
            self.stream.close()
        self.connected = False

    # -- StreamProtocol -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        try:
            for reply in self._reader.feed(data):
                self._on_reply(reply)
        except ProtocolError as exc:
            log.error("%s: not RESP from Redis: %s", self.name, exc)
            if self.stream is not None:
                self.stream.abort(exc)

    def eof_received(self) -> None:
        pass

    def connection_lost(self, exc: BaseException | None) -> None:
        self._down(exc)

    # -- for the subclasses ---------------------------------------------------------------------

    def _expect_internal(self) -> None:
        """A command of the connection itself (SELECT): its reply is not a caller's."""

    def _on_up(self) -> None: ...

    def _on_down(self) -> None: ...

    def _on_reply(self, reply: Any) -> None: ...


def _ignore(reply: Any) -> None:
    if isinstance(reply, RedisError):
        log.warning("Redis error: %s", reply)


class RedisClient(_Connection):
    """One connection for commands; replies come back to their callbacks in order."""

    def __init__(self, reactor: Reactor, url: str, *, name: str = "redis") -> None:
        self._pending: deque[Reply] = deque()
        #: Commands refused because the connection was down.
        self.dropped = 0
        super().__init__(reactor, url, name)

    def command(self, *args: str | bytes | int | float, callback: Reply | None = None) -> None:
        """Send a command; ``callback(reply)`` once it is answered (see ``resp``)."""
        stream = self.stream
        if not self.connected or stream is None:
            self.dropped += 1
            if callback is not None:
                self.reactor.call_soon(callback, RedisUnavailable(f"{self.name}: Redis is down"))
            return
        stream.write(encode_command(*args))
        self._pending.append(callback or _ignore)

    def _expect_internal(self) -> None:
        self._pending.append(_ignore)

    def _on_reply(self, reply: Any) -> None:
        if not self._pending:
            log.error("%s: a reply nobody asked for: %r", self.name, reply)
            return
        callback = self._pending.popleft()
        try:
            callback(reply)
        except Exception:
            log.exception("%s: error in a Redis reply callback", self.name)

    def _on_down(self) -> None:
        pending, self._pending = self._pending, deque()
        error = RedisUnavailable(f"{self.name}: the connection to Redis was lost")
        for callback in pending:
            try:
                callback(error)
            except Exception:
                log.exception("%s: error in a Redis reply callback", self.name)


#: ``on_message(channel, data, pattern)``; pattern is None for a plain subscription.
MessageCallback = Callable[[bytes, bytes, bytes | None], None]


class RedisSubscriber(_Connection):
    """A connection in subscribe mode."""

    def __init__(
        self,
        reactor: Reactor,
        url: str,
        on_message: MessageCallback,
        *,
        name: str = "redis-sub",
        on_subscribed: Callable[[], None] | None = None,
    ) -> None:
        self.on_message = on_message
        #: Called each time the subscriptions are (re)established.
        self.on_subscribed = on_subscribed
        self.channels: set[str] = set()
        self.patterns: set[str] = set()
        self._internal = 0
        super().__init__(reactor, url, name)

    def subscribe(self, *channels: str) -> None:
        new = [channel for channel in channels if channel not in self.channels]
        self.channels.update(new)
        if new and self.connected and self.stream is not None:
            self.stream.write(encode_command("SUBSCRIBE", *new))

    def psubscribe(self, *patterns: str) -> None:
        new = [pattern for pattern in patterns if pattern not in self.patterns]
        self.patterns.update(new)
        if new and self.connected and self.stream is not None:
            self.stream.write(encode_command("PSUBSCRIBE", *new))

    def _expect_internal(self) -> None:
        self._internal += 1

    def _on_up(self) -> None:
        assert self.stream is not None
        if self.channels:
            self.stream.write(encode_command("SUBSCRIBE", *sorted(self.channels)))
        if self.patterns:
            self.stream.write(encode_command("PSUBSCRIBE", *sorted(self.patterns)))
        if self.on_subscribed is not None:
            self.reactor.call_soon(self.on_subscribed)

    def _on_reply(self, reply: Any) -> None:
        if self._internal and not isinstance(reply, list):
            self._internal -= 1  # SELECT's OK
            return
        if isinstance(reply, RedisError):
            log.warning("%s: Redis error: %s", self.name, reply)
            return
        if not isinstance(reply, list) or not reply:
            return
        kind = reply[0]
        try:
            if kind == b"message" and len(reply) == 3:
                self.on_message(reply[1], reply[2], None)
            elif kind == b"pmessage" and len(reply) == 4:
                self.on_message(reply[2], reply[3], reply[1])
        except Exception:
            log.exception("%s: error handling a Redis message", self.name)
