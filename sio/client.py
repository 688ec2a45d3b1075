"""The Socket.IO v5 client, on the reactor: a ``Manager`` per server connection (reconnection
with exponential backoff) and a ``ClientSocket`` per namespace, as in the official client.

    reactor = Reactor()
    socket = sio.connect("http://localhost:3000", reactor=reactor, auth={"token": "abc"})

    @socket.on("chat message")
    def on_message(text):
        print(text)

    socket.emit("chat message", "UserA", "hello")
    reactor.run()

Emits made while disconnected are buffered (at most ``max_buffered`` of them) and sent once the
socket is connected again, unless they are volatile.

Socket options, as the official client's (``ackTimeout``, ``retries``):

- ``ack_timeout``: every emit with a callback gets this timeout, and the callback is called
  ``callback(None, *args)`` or ``callback(AckTimeoutError())``, as with ``socket.timeout()``;
- ``retries``: every emit (volatile ones aside) goes to a queue and is sent with an
  acknowledgement, one at a time: the server must acknowledge each (ours does when the handler
  returns; an official server's handler must call its ``ack``). A failed try (its ack timed out,
  or, with a timeout, the connection dropped under it) is tried again, up to ``retries`` times;
  then the emit is dropped, the callback getting the error (``callback(error)``; on success
  ``callback(None, *args)``). The emit in flight is sent again when the socket reconnects.

Connection state recovery: with a server that has it on, the CONNECT reply carries a ``pid`` and
every event an offset as its last argument (listeners get it too, as with the official client).
On reconnection the socket sends them back (``{pid, offset, **auth}``); the server replays what
was missed before its CONNECT reply, and those events reach the listeners before ``connect``.
``socket.recovered`` tells whether the session came back (same ``id``, rooms and data).
"""

from __future__ import annotations

import logging
import math
import random
import ssl
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from eio import ClientListener, ClientState, EngineClient, EngineClientError
from reactor import Reactor, TimerHandle

from .errors import AckTimeoutError, PacketError, SocketIOError
from .events import EventHandlers, Listening, TimedEmitter, call_safely, make_ack
from .protocol.packet import (
    MAX_ACK_ID_DIGITS,
    MAX_ATTACHMENTS,
    MAX_DEPTH,
    RESERVED_EVENTS,
    Packet,
    PacketType,
)
from .protocol.parser import Parser, parser_named

__all__ = ["ClientSocket", "ConnectError", "Manager", "connect"]

log = logging.getLogger(__name__)


#: Emits kept while disconnected; beyond that the oldest are dropped (and logged).
DEFAULT_MAX_BUFFERED = 1000


class ConnectError(SocketIOError):
    """``connect_error``: the server refused the namespace (message and data as it sent them),
    or the connection could not be made."""

    def __init__(self, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class Backoff:
    """The official client's backoff: base * 2**attempt, randomised by ±factor, capped."""

    def __init__(self, base: float, cap: float, jitter: float) -> None:
        self.base, self.cap, self.jitter = base, cap, jitter
        self.attempts = 0

    def duration(self) -> float:
        delay = self.base * (2**self.attempts)
        self.attempts += 1
        if self.jitter:
            rand = random.random()
            deviation = rand * self.jitter * delay
            delay = delay - deviation if int(rand * 10) & 1 == 0 else delay + deviation
        return float(max(0.0, min(delay, self.cap)))

    def reset(self) -> None:
        self.attempts = 0


class Manager(Listening, ClientListener):
    """One connection to a Socket.IO server, shared by the namespace sockets it creates.

    Events (``manager.on(...)``): ``open``, ``upgrade`` (transport), ``ping``, ``close``
    (reason; only for a connection that had opened), ``error`` (why an attempt failed),
    ``reconnect_attempt`` (attempt), ``reconnect`` (attempt), ``reconnect_error`` (error),
    ``reconnect_failed``.

    Options, with the official client's defaults: ``reconnection`` (True),
    ``reconnection_attempts`` (infinite), ``reconnection_delay`` (1 s) doubling up to
    ``reconnection_delay_max`` (5 s), each delay randomised by ``randomization_factor`` (0.5),
    and ``timeout`` (20 s): how long one connection attempt may take before it fails with
    "timeout" (None: no limit).

    TLS (https:// and wss:// URLs): the server's certificate is verified against the system's
    CAs, plus ``ca_file``'s, and must name the URL's host. ``ssl_verify=False`` (as
    python-socketio's switch) checks nothing: for development only. ``ssl_context``: a ready
    client context instead. A certificate refused is fatal: the error is reported (``error``,
    and ``connect_error`` on the sockets, its message naming the cause), ``fatal_error`` holds
    it, and there is no reconnection (it would be refused again) until ``open()``.

    ``parser``: ``"json"`` (the default) or ``"msgpack"`` (the server's must be the same; see
    ``sio.Server``).
    """

    def __init__(
        self,
        url: str,
        *,
        reactor: Reactor | None = None,
        path: str = "/socket.io/",
        transports: Iterable[str] = ("polling", "websocket"),
        upgrade: bool = True,
        query: dict[str, str] | None = None,
        headers: list[tuple[str, str]] | None = None,
        local_address: str | None = None,
        ssl_verify: bool = True,
        ca_file: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        reconnection: bool = True,
        reconnection_attempts: float = math.inf,
        reconnection_delay: float = 1.0,
        reconnection_delay_max: float = 5.0,
        randomization_factor: float = 0.5,
        timeout: float | None = 20.0,
        max_buffered: int = DEFAULT_MAX_BUFFERED,
        parser: str | Parser = "json",
    ) -> None:
        self.parser = parser_named(parser)
        self.reactor = reactor or Reactor()
        self.url = url
        self.engine = EngineClient(
            self.reactor,
            url,
            self,
            path=path,
            transports=transports,
            upgrade=upgrade,
            query=query,
            headers=headers,
            local_address=local_address,
            ssl_verify=ssl_verify,
            ca_file=ca_file,
            ssl_context=ssl_context,
        )
        #: Why connecting stopped for good (a TLS certificate refused); None otherwise.
        self.fatal_error: BaseException | None = None
        self.reconnection = reconnection
        self.reconnection_attempts = reconnection_attempts
        self.max_buffered = max_buffered
        self.timeout = timeout
        self.backoff = Backoff(reconnection_delay, reconnection_delay_max, randomization_factor)
        self.sockets: dict[str, ClientSocket] = {}
        self._events = EventHandlers()
        self._decoder = self.parser.decoder(MAX_ATTACHMENTS, MAX_DEPTH, MAX_ACK_ID_DIGITS)
        self._reconnect_timer: TimerHandle | None = None
        self._open_timer: TimerHandle | None = None
        self._reconnecting = False
        self._skip_reconnect = False
        self._on_closed: list[Callable[[], None]] = []

    # -- public API -----------------------------------------------------------------------------

    def socket(
        self,
        namespace: str = "/",
        auth: dict[str, Any] | None = None,
        *,
        ack_timeout: float | None = None,
        retries: int = 0,
    ) -> ClientSocket:
        """The socket of ``namespace`` on this connection (created once: later calls return it
        as it is). ``ack_timeout`` and ``retries``: see ``ClientSocket``."""
        if not namespace.startswith("/"):
            namespace = "/" + namespace
        socket = self.sockets.get(namespace)
        if socket is None:
            socket = ClientSocket(self, namespace, auth, ack_timeout=ack_timeout, retries=retries)
            self.sockets[namespace] = socket
        return socket

    @property
    def connected(self) -> bool:
        return self.engine.connected

    @property
    def transport(self) -> str | None:
        return self.engine.transport

    def open(self) -> None:
        """Connect (again) now; a no-op while open or opening."""
        self._skip_reconnect = False
        self.fatal_error = None
        self._cancel_reconnect()
        self._open_engine()

    def close(self, on_closed: Callable[[], None] | None = None) -> None:
        """Disconnect for good: no reconnection until ``open()``. ``on_closed`` runs once the
        connection is closed (what was queued has been handed to the transport)."""
        self._skip_reconnect = True
        self._reconnecting = False
        self._cancel_reconnect()
        if on_closed is not None:
            if self.engine.state is ClientState.CLOSED:
                self.reactor.call_soon(on_closed)
            else:
                self._on_closed.append(on_closed)
        self.engine.close()

    # -- called by sockets ----------------------------------------------------------------------

    def _send_packet(self, packet: Packet) -> None:
        for message in self.parser.encode(packet):
            if isinstance(message, str):
                self.engine.send(message)
            else:
                self.engine.send_binary(message)

    def _socket_done(self, socket: ClientSocket) -> None:
        """A socket disconnected for good; with none left active, close the connection."""
        if not any(s.active for s in self.sockets.values()):
            self.close()

    # -- Engine.IO listener ---------------------------------------------------------------------

    def _open_engine(self) -> None:
        """Start a connection attempt, limited to ``timeout`` seconds."""
        self.engine.open()
        opening = self.engine.state is ClientState.OPENING
        if opening and self.timeout is not None and self._open_timer is None:
            self._open_timer = self.reactor.call_later(self.timeout, self._open_timed_out)

    def _open_timed_out(self) -> None:
        self._open_timer = None
        if not self.engine.connected:
            self.engine.abort("transport error", ConnectError("timeout"))

    def _cancel_open_timer(self) -> None:
        if self._open_timer is not None:
            self._open_timer.cancel()
            self._open_timer = None

    def on_open(self, client: EngineClient) -> None:
        self._cancel_open_timer()
        self._decoder.reset()
        attempts = self.backoff.attempts
        reconnected = self._reconnecting
        self._reconnecting = False
        self.backoff.reset()
        self._events.emit_local("open")
        if reconnected:
            self._events.emit_local("reconnect", attempts)
        for socket in list(self.sockets.values()):
            if socket.active:
                socket._send_connect()

    def on_message(self, client: EngineClient, data: str) -> None:
        try:
            packet = self._decoder.receive_text(data)
        except PacketError as exc:
            self._parse_error(exc)
            return
        if packet is not None:
            self._route(packet)

    def on_binary(self, client: EngineClient, data: bytes) -> None:
        try:
            packet = self._decoder.receive_binary(data)
        except PacketError as exc:
            self._parse_error(exc)
            return
        if packet is not None:
            self._route(packet)

    def on_upgrade(self, client: EngineClient, transport: str) -> None:
        self._events.emit_local("upgrade", transport)

    def on_ping(self, client: EngineClient) -> None:
        self._events.emit_local("ping")

    def on_close(self, client: EngineClient, reason: str, error: BaseException | None) -> None:
        self._cancel_open_timer()
        self._decoder.reset()
        was_reconnecting = self._reconnecting
        opened = bool(client.sid)
        if isinstance(error, EngineClientError) and error.certificate_refused:
            log.info("not reconnecting: %s", error)
            self.fatal_error = error
            self._skip_reconnect = True
        if error is not None and not opened:
            # Never opened: the attempt failed ("error", as the official client, no "close").
            self._events.emit_local("error", error)
            if was_reconnecting:
                self._events.emit_local("reconnect_error", error)
        for socket in list(self.sockets.values()):
            socket._on_close(reason, error)
        if opened:
            self._events.emit_local("close", reason)
        callbacks, self._on_closed = self._on_closed, []
        for callback in callbacks:
            call_safely(callback)
        if reason != "forced close" and not self._skip_reconnect and self.reconnection:
            self._schedule_reconnect()

    def _parse_error(self, exc: PacketError) -> None:
        log.warning("invalid packet from the server: %s", exc)
        # As the official client: drop the connection ("parse error"), then reconnect.
        self.engine.abort("parse error", exc)

    def _route(self, packet: Packet) -> None:
        socket = self.sockets.get(packet.namespace)
        if socket is not None:
            socket._on_packet(packet)

    # -- reconnection ---------------------------------------------------------------------------

    def _schedule_reconnect(self) -> None:
        if self._reconnect_timer is not None or self._skip_reconnect:
            return
        if self.backoff.attempts >= self.reconnection_attempts:
            self.backoff.reset()
            self._reconnecting = False
            self._events.emit_local("reconnect_failed")
            for socket in list(self.sockets.values()):
                socket._events.emit_local("reconnect_failed")
            return
        delay = self.backoff.duration()
        self._reconnecting = True
        self._reconnect_timer = self.reactor.call_later(delay, self._reconnect)

    def _reconnect(self) -> None:
        self._reconnect_timer = None
        if self._skip_reconnect:
            return
        self._events.emit_local("reconnect_attempt", self.backoff.attempts)
        self._open_engine()

    def _cancel_reconnect(self) -> None:
        if self._reconnect_timer is not None:
            self._reconnect_timer.cancel()
            self._reconnect_timer = None


class _Queued:
    """An emit in the ``retries`` queue (the official client's ``QueuedPacket``)."""

    __slots__ = ("args", "callback", "event", "pending", "timeout", "tries")

    def __init__(
        self,
        event: str,
        args: tuple[Any, ...],
        callback: Callable[..., Any] | None,
        timeout: float | None,
    ) -> None:
        self.event = event
        self.args = args
        self.callback = callback
        self.timeout = timeout
        self.tries = 0
        #: Sent, its acknowledgement awaited.
        self.pending = False


class ClientSocket(Listening):
    """A namespace on a ``Manager``'s connection.

    Local events: ``connect``, ``disconnect`` (reason), ``connect_error`` (ConnectError).
    Reasons: "io server disconnect", "io client disconnect", "ping timeout", "transport close",
    "transport error", "parse error".

    Options (the official client's ``ackTimeout`` and ``retries``): ``ack_timeout``, the
    timeout of every emit with a callback (which then gets an error or None first); ``retries``,
    how often a queued emit is tried again before it is dropped (0: no queue). Both are read at
    each emit and may be changed.

    ``pid`` is the private session id of the last connection (connection state recovery on
    the server, else None); ``recovered`` tells whether the last connection restored the
    previous session.
    """

    def __init__(
        self,
        manager: Manager,
        namespace: str,
        auth: dict[str, Any] | None,
        *,
        ack_timeout: float | None = None,
        retries: int = 0,
    ) -> None:
        self.manager = manager
        self.namespace = namespace
        self.auth = auth
        self.ack_timeout = ack_timeout
        self.retries = retries
        self.id: str | None = None
        self.connected = False
        #: Wants to be connected (``connect()`` called, not ``disconnect()``).
        self.active = False
        #: The private session id the server gave (connection state recovery), else None.
        self.pid: str | None = None
        #: Whether the last CONNECT restored the session of the connection before.
        self.recovered = False
        #: The offset of the last event received (sent back with the pid on reconnection).
        self._last_offset: str | None = None
        self._events = EventHandlers()
        self._acks: dict[int, Callable[..., None]] = {}
        #: ack id -> fails the ack of an emit with a timeout (it then gets the error first).
        self._ack_failures: dict[int, Callable[[BaseException], None]] = {}
        self._next_ack = 0
        self._send_buffer: deque[Packet] = deque()
        self._receive_buffer: list[Packet] = []
        #: The ``retries`` queue: its head is the one emit in flight.
        self._queue: deque[_Queued] = deque()

    def __repr__(self) -> str:
        return f"<ClientSocket {self.namespace} id={self.id} connected={self.connected}>"

    # -- connecting -----------------------------------------------------------------------------

    def connect(self) -> ClientSocket:
        """Connect this namespace (opening the manager's connection if needed)."""
        if self.connected:
            return self
        self.active = True
        if self.manager.connected:
            self._send_connect()
        else:
            self.manager.open()
        return self

    def disconnect(self) -> None:
        """Leave the namespace ("io client disconnect"); the connection closes with the last.
        What was buffered or queued is forgotten."""
        if self.connected:
            self.manager._send_packet(Packet(PacketType.DISCONNECT, self.namespace))
        self.active = False
        self._send_buffer.clear()
        self._queue.clear()
        if self.connected:
            self._closed("io client disconnect")
        self.manager._socket_done(self)

    def _send_connect(self) -> None:
        auth: Any = self.auth
        if self.pid:
            # Ask for the session back (the auth's own keys win, as Object.assign does).
            recovery: dict[str, Any] = {"pid": self.pid}
            if self._last_offset is not None:
                recovery["offset"] = self._last_offset
            auth = {**recovery, **(self.auth or {})}
        self.manager._send_packet(Packet(PacketType.CONNECT, self.namespace, auth))

    # -- emitting -------------------------------------------------------------------------------

    def emit(
        self,
        event: str,
        *args: Any,
        callback: Callable[..., Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        """Send an event (buffered while disconnected). ``callback`` gets the server's ack
        arguments; with ``timeout`` (or ``ack_timeout``) it is ``callback(None, *args)`` or
        ``callback(AckTimeoutError())``. With ``retries``, the emit is queued (see the module
        docstring) and the callback is ``callback(None, *args)`` or ``callback(error)``."""
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        # Before the ack is registered: a call from another thread changes nothing.
        self.manager.reactor.check_thread("ClientSocket.emit")
        if self.retries:
            self._queue.append(_Queued(event, args, callback, timeout))
            self._drain_queue()
            return
        self._emit(event, args, callback, timeout, error_first=False)

    def _emit(
        self,
        event: str,
        args: tuple[Any, ...],
        callback: Callable[..., Any] | None,
        timeout: float | None,
        error_first: bool,
    ) -> None:
        ack_id = None
        if callback is not None:
            ack_id = self._next_ack
            self._next_ack += 1
            if timeout is None:
                timeout = self.ack_timeout
            self._register_ack(ack_id, callback, timeout, error_first)
        packet = Packet(PacketType.EVENT, self.namespace, [event, *args], ack_id)
        if self.connected:
            self.manager._send_packet(packet)
            return
        buffer = self._send_buffer
        if len(buffer) >= self.manager.max_buffered:
            dropped = buffer.popleft()
            log.warning("offline buffer full: dropped %r", dropped.data[0])
        buffer.append(packet)

    def send(self, *args: Any, callback: Callable[..., Any] | None = None) -> None:
        self.emit("message", *args, callback=callback)

    @property
    def volatile(self) -> _VolatileEmitter:
        """``socket.volatile.emit(...)``: dropped unless connected right now (never queued)."""
        return _VolatileEmitter(self)

    def timeout(self, seconds: float) -> TimedEmitter:
        return TimedEmitter(self, seconds)

    def _register_ack(
        self,
        ack_id: int,
        callback: Callable[..., Any],
        timeout: float | None,
        error_first: bool = False,
    ) -> None:
        if timeout is None:
            if error_first:
                self._acks[ack_id] = partial(callback, None)
            else:
                self._acks[ack_id] = callback
            return

        def fail(error: BaseException) -> None:
            timer.cancel()
            self._ack_failures.pop(ack_id, None)
            if self._acks.pop(ack_id, None) is not None:
                self._drop_buffered(ack_id)
                call_safely(callback, error)

        timer = self.manager.reactor.call_later(timeout, lambda: fail(AckTimeoutError()))

        def acknowledged(*args: Any) -> None:
            timer.cancel()
            self._ack_failures.pop(ack_id, None)
            callback(None, *args)

        self._acks[ack_id] = acknowledged
        self._ack_failures[ack_id] = fail

    def _drop_buffered(self, ack_id: int) -> None:
        kept = [packet for packet in self._send_buffer if packet.id != ack_id]
        self._send_buffer = deque(kept)

    # -- the retries queue (the official client's _addToQueue / _drainQueue) ----------------------

    def _drain_queue(self, force: bool = False) -> None:
        """Send the queue's head, unless it is in flight already (``force``: send it again)."""
        if not self.connected or not self._queue:
            return
        entry = self._queue[0]
        if entry.pending and not force:
            return
        entry.pending = True
        entry.tries += 1
        self._emit(entry.event, entry.args, partial(self._queued_ack, entry), entry.timeout, True)

    def _queued_ack(self, entry: _Queued, error: BaseException | None, *args: Any) -> None:
        """The answer to one try of the queue's head: done, retried, or dropped."""
        queue = self._queue
        if not queue or queue[0] is not entry:
            return  # acknowledged already (an earlier try answered late)
        if error is None:
            queue.popleft()
            if entry.callback is not None:
                call_safely(entry.callback, None, *args)
        elif entry.tries > self.retries:
            log.debug("queued %r dropped after %d tries: %s", entry.event, entry.tries, error)
            queue.popleft()
            if entry.callback is not None:
                call_safely(entry.callback, error)
        entry.pending = False
        self._drain_queue()

    # -- from the manager -----------------------------------------------------------------------

    def _on_packet(self, packet: Packet) -> None:
        kind = packet.type
        if kind is PacketType.CONNECT:
            data = packet.data if isinstance(packet.data, dict) else {}
            sid = data.get("sid")
            if not isinstance(sid, str) or not sid:
                # As the official client: most likely a Socket.IO v2 server.
                error = ConnectError(
                    "the server's CONNECT reply has no sid (a Socket.IO v2 server?)"
                )
                self._events.emit_local("connect_error", error)
                return
            self._connected(sid, data.get("pid"))
        elif kind is PacketType.CONNECT_ERROR:
            data = packet.data
            if isinstance(data, dict):
                error = ConnectError(str(data.get("message", "")), data.get("data"))
            else:
                error = ConnectError(str(data))
            self.active = False
            self._events.emit_local("connect_error", error)
            self.manager._socket_done(self)
        elif not self.connected:
            if kind is PacketType.EVENT:
                # Before the CONNECT reply: what a restored session missed. Kept for then.
                self._receive_buffer.append(packet)
        elif kind is PacketType.EVENT:
            self._on_event(packet)
        elif kind is PacketType.ACK:
            callback = self._acks.pop(packet.id, None) if packet.id is not None else None
            if callback is not None:
                call_safely(callback, *packet.data)
        elif kind is PacketType.DISCONNECT:
            self.active = False
            self._closed("io server disconnect")
            self.manager._socket_done(self)

    def _connected(self, sid: str, pid: Any) -> None:
        """The CONNECT reply (the official client's ``onconnect``): the events received before
        it, then what was buffered goes out, then ``connect``, then the queue's head (again)."""
        pid = pid if isinstance(pid, str) and pid else None
        self.id = sid
        self.recovered = pid is not None and pid == self.pid
        self.pid = pid
        self.connected = True
        received, self._receive_buffer = self._receive_buffer, []
        for packet in received:
            if self.connected:
                self._on_event(packet)
        pending, self._send_buffer = self._send_buffer, deque()
        for buffered in pending:
            self.manager._send_packet(buffered)
        self._events.emit_local("connect")
        self._drain_queue(force=True)

    def _on_event(self, packet: Packet) -> None:
        args = packet.data
        ack = None
        if packet.id is not None:
            ack_id, namespace = packet.id, self.namespace
            ack = make_ack(
                lambda data: self.manager._send_packet(
                    Packet(PacketType.ACK, namespace, data, ack_id)
                )
            )
        self._events.dispatch(args[0], args[1:], ack, self)
        if self.pid and ack is None and len(args) > 1 and isinstance(args[-1], str):
            # Connection state recovery: the offset of this event (its last argument).
            self._last_offset = args[-1]

    def _on_close(self, reason: str, error: BaseException | None) -> None:
        if self.connected:
            self._closed(reason)
        elif self.active and error is not None and not self.manager.engine.sid:
            self._events.emit_local("connect_error", ConnectError(str(error)))

    def _closed(self, reason: str) -> None:
        self.connected = False
        self.id = None
        self._events.emit_local("disconnect", reason)
        self._clear_acks()

    def _clear_acks(self) -> None:
        """As the official client: acks of emits that went out will never come; those with a
        timeout fail now, the others are forgotten. Emits still buffered keep theirs. (A queued
        emit in flight is sent again on reconnection.)"""
        buffered = {packet.id for packet in self._send_buffer}
        for ack_id in [ack_id for ack_id in self._acks if ack_id not in buffered]:
            fail = self._ack_failures.get(ack_id)
            if fail is not None:
                fail(SocketIOError("socket has been disconnected"))
            else:
                self._acks.pop(ack_id, None)


class _VolatileEmitter:
    __slots__ = ("_socket",)

    def __init__(self, socket: ClientSocket) -> None:
        self._socket = socket

    def emit(self, event: str, *args: Any) -> None:
        socket = self._socket
        if event in RESERVED_EVENTS:
            raise ValueError(f'"{event}" is a reserved event name')
        if socket.connected:
            socket._emit(event, args, None, None, error_first=False)


def connect(
    url: str,
    *,
    namespace: str | None = None,
    auth: dict[str, Any] | None = None,
    reactor: Reactor | None = None,
    ack_timeout: float | None = None,
    retries: int = 0,
    **manager_options: Any,
) -> ClientSocket:
    """Like ``io(url)``: a new manager and its ``namespace`` socket, connecting.
    ``ack_timeout`` and ``retries`` are the socket's options, the others the manager's.

    As with the official client, the URL's path names the namespace unless ``namespace`` is
    given (``http://host:3000/admin`` is ``/admin``), and its query string is sent with every
    Engine.IO request (merged under the ``query`` option).
    """
    parts = urlsplit(url)
    if namespace is None:
        namespace = parts.path if parts.path not in ("", "/") else "/"
    if parts.query:
        query = dict(parse_qsl(parts.query))
        manager_options["query"] = {**query, **(manager_options.get("query") or {})}
    manager = Manager(url, reactor=reactor, **manager_options)
    socket = manager.socket(namespace, auth, ack_timeout=ack_timeout, retries=retries)
    return socket.connect()
