"""Namespaces: where sockets connect, with their middlewares, rooms and broadcasts."""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .adapter import Adapter, BroadcastFlags
from .broadcast import BroadcastOperator, BroadcastShortcuts
from .errors import ConnectRefusedError
from .events import EventHandlers
from .socket import Socket

if TYPE_CHECKING:
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
        #: The class of this namespace's sockets: a tool watching them (the Admin UI) swaps in
        #: a subclass, so that nothing is watched, and nothing costs, when no tool is on.
        self.socket_class: type[Socket] = Socket
        for listener in server.namespace_listeners:
            listener(self)

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

    def timeout(self, seconds: float) -> BroadcastOperator:
        """``nsp.timeout(5).emit("x", callback=cb)``: every client's acknowledgement, or a
        timeout error (see ``BroadcastOperator.emit``)."""
        return self._operator().timeout(seconds)

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

    # -- connecting (the sequence is ``Connection.connect``'s) ----------------------------------

    def run_middlewares(
        self, socket: Socket, done: Callable[[BaseException | None], None], index: int = 0
    ) -> None:
        """Run the middlewares in order, then ``done(None)``; ``done(error)`` as soon as one
        refuses (or raises). Nothing more runs once the client has gone."""
        if index == len(self._middlewares):
            done(None)
            return
        middleware, takes_next = self._middlewares[index]
        called = False

        def next_(error: BaseException | None = None) -> None:
            nonlocal called
            if called:
                return
            called = True
            if socket.client.closed:
                return  # the client left while the middleware ran
            if error is not None:
                done(error)
            else:
                self.run_middlewares(socket, done, index + 1)

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
            self.server.stats.handler_errors += 1
            next_(exc)

    def run_connection_handlers(self, socket: Socket) -> None:
        """The ``connection`` handlers, for a socket that has just joined."""
        for handler in list(self._connection_handlers):
            try:
                handler(socket)
            except Exception:
                log.exception("error in connection handler of namespace %s", self.name)
                self.server.stats.handler_errors += 1


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
