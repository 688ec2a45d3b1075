"""Namespaces: where sockets connect, with their middlewares, rooms and broadcasts."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from eio.protocol.sid import generate_sid

from .adapter import Adapter, BroadcastFlags
from .broadcast import BroadcastOperator, BroadcastShortcuts
from .errors import ConnectRefusedError
from .events import EventHandlers
from .protocol.packet import Packet, PacketType
from .socket import Handshake, Socket

if TYPE_CHECKING:
    from .connection import Connection
    from .server import Server

__all__ = ["Middleware", "Namespace", "ParentNamespace"]

log = logging.getLogger(__name__)

#: ``mw(socket)`` raising ``ConnectRefusedError`` to refuse, or ``mw(socket, next)`` calling
#: ``next()`` / ``next(ConnectRefusedError(...))`` later.
Middleware = Callable[..., Any]

CONNECTION_EVENTS = ("connection", "connect")
F = TypeVar("F", bound=Callable[..., Any])


class Namespace(BroadcastShortcuts):
    """A namespace (``io.of("/admin")``); ``/`` is the main one."""

    def __init__(
        self,
        server: Server,
        name: str,
        parent: ParentNamespace | None = None,
    ) -> None:
        self.server = server
        self.name = name
        self.parent = parent
        #: sid -> socket, for every socket connected to this namespace in this process.
        self.sockets: dict[str, Socket] = {}
        self._middlewares: list[tuple[Middleware, bool]] = (
            parent._middlewares if parent is not None else []
        )
        self._connection_handlers: list[Callable[[Socket], Any]] = (
            parent._connection_handlers if parent is not None else []
        )
        self._ack_ids = 0
        #: Handlers of client events for every socket (``on_event``).
        self.event_handlers: EventHandlers = (
            parent.event_handlers if parent is not None else EventHandlers()
        )
        #: Handlers of events other servers send with ``server_side_emit``.
        self.server_side_handlers: EventHandlers = (
            parent.server_side_handlers if parent is not None else EventHandlers()
        )
        self.adapter: Adapter = server.adapter_factory(self)

    def __repr__(self) -> str:
        return f"<Namespace {self.name} sockets={len(self.sockets)}>"

    # -- registration ---------------------------------------------------------------------------

    @overload
    def on(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on(self, event: str, handler: F) -> F: ...

    def on(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """``connection`` (alias ``connect``) handlers get each new socket; any other event is
        a server-side event sent by another server with ``server_side_emit`` (usable as a
        decorator)."""
        if event not in CONNECTION_EVENTS:
            if handler is None:
                return self.server_side_handlers.on(event)
            return self.server_side_handlers.on(event, handler)

        def register(fn: F) -> F:
            self._connection_handlers.append(fn)
            return fn

        return register if handler is None else register(handler)

    @overload
    def on_event(self, event: str) -> Callable[[F], F]: ...

    @overload
    def on_event(self, event: str, handler: F) -> F: ...

    def on_event(self, event: str, handler: F | None = None) -> F | Callable[[F], F]:
        """A handler of ``event`` for every socket of the namespace, called with the socket
        first: ``handler(socket, *args)`` (acks as for ``Socket.on``; the local ``disconnect``
        and ``disconnecting`` events too, with the reason). Unlike handlers that a connection
        handler registers on each socket, it costs nothing per connection."""
        if handler is None:
            return self.event_handlers.on(event)
        return self.event_handlers.on(event, handler)

    def use(self, middleware: Middleware) -> Middleware:
        """A connection middleware, run in order before ``connection`` (see ``Middleware``)."""
        takes_next = len(inspect.signature(middleware).parameters) >= 2
        self._middlewares.append((middleware, takes_next))
        return middleware

    # -- broadcasting ---------------------------------------------------------------------------

    def _operator(self) -> BroadcastOperator:
        return BroadcastOperator(self.adapter)

    def emit(self, event: str, *args: Any) -> None:
        """Send to every socket of the namespace."""
        self._operator().emit(event, *args)

    send = emit

    @property
    def volatile(self) -> BroadcastOperator:
        return BroadcastOperator(self.adapter, flags=BroadcastFlags(volatile=True))

    def fetch_sockets(
        self, callback: Callable[[list[Any], BaseException | None], None] | None = None
    ) -> list[Socket] | None:
        return self._operator().fetch_sockets(callback)

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        self._operator().sockets_join(rooms)

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        self._operator().sockets_leave(rooms)

    def disconnect_sockets(self, close: bool = False) -> None:
        self._operator().disconnect_sockets(close)

    def server_side_emit(
        self,
        event: str,
        *args: Any,
        callback: Callable[[BaseException | None, list[Any]], None] | None = None,
    ) -> None:
        """Send ``event`` to the handlers of the other servers of the cluster (not to clients).

        ``callback(error, responses)`` gets one response per server that acknowledged.
        """
        self.adapter.server_side_emit([event, *args], callback)

    def next_ack_id(self) -> int:
        ack_id = self._ack_ids
        self._ack_ids += 1
        return ack_id

    # -- connecting -----------------------------------------------------------------------------

    def _add(self, client: Connection, auth: dict[str, Any]) -> None:
        socket = Socket(self, client, generate_sid(), _handshake(client, auth))
        self._run_middlewares(socket, 0)

    def _run_middlewares(self, socket: Socket, index: int) -> None:
        if index == len(self._middlewares):
            self._do_connect(socket)
            return
        middleware, takes_next = self._middlewares[index]
        done = False

        def next_(error: BaseException | None = None) -> None:
            nonlocal done
            if done:
                return
            done = True
            if socket.client.closed:
                return  # the client left while the middleware ran
            if error is not None:
                self._refuse(socket, error)
            else:
                self._run_middlewares(socket, index + 1)

        try:
            if takes_next:
                middleware(socket, next_)
            else:
                middleware(socket)
                next_()
        except ConnectRefusedError as exc:
            next_(exc)
        except Exception as exc:
            log.exception("error in middleware of namespace %s", self.name)
            next_(exc)

    def _refuse(self, socket: Socket, error: BaseException) -> None:
        if isinstance(error, ConnectRefusedError):
            payload = error.payload()
        else:
            payload = {"message": str(error) or type(error).__name__}
        socket.client.send_packet(Packet(PacketType.CONNECT_ERROR, self.name, payload))

    def _do_connect(self, socket: Socket) -> None:
        client = socket.client
        if client.closed or self.name in client.sockets:
            return
        self.sockets[socket.id] = socket
        client._add(socket)
        socket._on_connect()  # the CONNECT reply goes before anything a handler sends
        for handler in list(self._connection_handlers):
            try:
                handler(socket)
            except Exception:
                log.exception("error in connection handler of namespace %s", self.name)

    def _remove(self, socket: Socket) -> None:
        if self.sockets.get(socket.id) is socket:
            del self.sockets[socket.id]


def _handshake(client: Connection, auth: dict[str, Any]) -> Handshake:
    return Handshake(client.conn.request, auth, client.conn.remote_address)


class ParentNamespace(Namespace):
    """Dynamic namespaces: every name matching a regex or a predicate gets a child namespace
    sharing this one's middlewares and connection handlers; ``emit`` reaches all children."""

    def __init__(
        self,
        server: Server,
        matcher: re.Pattern[str] | Callable[[str, dict[str, Any]], bool],
    ) -> None:
        self.matcher = matcher
        self.children: dict[str, Namespace] = {}
        label = matcher.pattern if isinstance(matcher, re.Pattern) else repr(matcher)
        super().__init__(server, f"<dynamic {label}>")

    def matches(self, name: str, auth: dict[str, Any]) -> bool:
        if isinstance(self.matcher, re.Pattern):
            return self.matcher.fullmatch(name) is not None
        try:
            return bool(self.matcher(name, auth))
        except Exception:
            log.exception("error in dynamic namespace predicate")
            return False

    def create_child(self, name: str) -> Namespace:
        child = Namespace(self.server, name, parent=self)
        self.children[name] = child
        return child

    def emit(self, event: str, *args: Any) -> None:
        for child in list(self.children.values()):
            child.emit(event, *args)
