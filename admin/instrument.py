"""The server side of the official Admin UI (``@socket.io/admin-ui`` 0.5.1): ``instrument(io)``.

What the UI gets, on the admin namespace (``/admin``):

- on login: ``session`` (a token to reconnect with), ``config`` (the supported features), and
  in development mode ``all_sockets`` (every socket of every namespace, across the cluster);
- every 2 s while an admin socket is connected anywhere: ``server_stats`` from every server;
- in development mode, live: ``socket_connected``, ``socket_updated``, ``socket_disconnected``,
  ``room_joined``, ``room_left``, ``event_received``, ``event_sent``.

It may act (unless read-only): ``emit``, ``join``, ``leave``, ``_disconnect``, each on a
namespace and optionally a room (the UI sends a socket's id as the room for one socket).

Costs: with the UI off, nothing is watched (sockets are plain ``sio.Socket``). In development
mode the namespaces' sockets are ``_Watched`` sockets, whose hooks cost one attribute test
while no admin socket is connected. In a cluster a worker learns that a UI is connected
elsewhere from an ``ALIVE`` server-side event the UI's worker sends every report; it reports
(stats, live events) while that lease lasts, and the ClusterAdapter carries its ``/admin``
broadcasts to the UI's worker.
"""

from __future__ import annotations

import json
import logging
import os
import socket as socket_module
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from enum import StrEnum
from functools import partial
from typing import Any, ClassVar

import sio
from eio import EngineSocket
from reactor import TimerHandle

from .auth import Credentials, PasswordChecker, SessionTokens
from .stats import EngineCounters, aggregated_events, read_engine_counters

__all__ = ["HOSTED_UI_ORIGIN", "AdminUI", "Feature", "Mode", "instrument"]

log = logging.getLogger(__name__)

#: Where the official UI is hosted; admitted by CORS when the Admin UI is on.
HOSTED_UI_ORIGIN = "https://admin.socket.io"
#: Seconds between two ``server_stats`` (the Node package's interval).
STATS_INTERVAL = 2.0
#: Seconds a worker keeps reporting after the last ``ALIVE`` from a UI's worker.
REMOTE_LEASE = 3 * STATS_INTERVAL
#: The server-side event (between servers, never to clients) saying "a UI is connected here".
ALIVE_EVENT = "sio-admin:alive"
#: The answer to an action refused in read-only mode (when the client asked for an ack).
READ_ONLY_ANSWER = "read-only"


class Feature(StrEnum):
    EMIT = "EMIT"
    JOIN = "JOIN"
    LEAVE = "LEAVE"
    DISCONNECT = "DISCONNECT"
    MJOIN = "MJOIN"
    MLEAVE = "MLEAVE"
    MDISCONNECT = "MDISCONNECT"
    AGGREGATED_EVENTS = "AGGREGATED_EVENTS"
    ALL_EVENTS = "ALL_EVENTS"


class Mode(StrEnum):
    #: Live events of every socket (costs a little per event while a UI is connected).
    DEVELOPMENT = "development"
    #: Statistics only.
    PRODUCTION = "production"


ACTION_FEATURES = (
    Feature.EMIT,
    Feature.JOIN,
    Feature.LEAVE,
    Feature.DISCONNECT,
    Feature.MJOIN,
    Feature.MLEAVE,
    Feature.MDISCONNECT,
)


def iso_time(wall: float) -> str:
    """A JavaScript ``Date`` as JSON writes it: ``2026-12-01T12:00:00.000Z``."""
    stamp = datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def plain_data(data: Any) -> Any:
    """``socket.data`` as JSON can carry it, without the ``_admin`` entry. Values JSON cannot
    hold become their ``str()``, as the cluster's bus does (so a socket looks the same whatever
    worker it is on); a structure JSON cannot walk (a cycle) becomes an error note."""
    if not isinstance(data, dict):
        data = {}
    visible = {key: value for key, value in data.items() if key != "_admin"}
    try:
        return json.loads(json.dumps(visible, default=str))
    except (ValueError, TypeError) as exc:
        return {"_unserializable": str(exc)}


def serialize_socket(socket: Any, nsp: str) -> dict[str, Any]:
    """A local ``sio.Socket`` or a cluster's remote socket, as the UI's ``SerializedSocket``."""
    data = socket.data if isinstance(socket.data, dict) else {}
    admin_info = data.get("_admin")
    admin_info = admin_info if isinstance(admin_info, dict) else {}
    handshake = socket.handshake
    if isinstance(handshake, dict):  # described by another server
        described = handshake
        client_id = admin_info.get("clientId")
        transport = admin_info.get("transport")
    else:
        described = {
            "headers": handshake.headers,
            "query": handshake.query,
            "address": handshake.address,
            "issued": handshake.issued,
            "secure": handshake.secure,
            "time": handshake.time,
            "url": handshake.url,
            "xdomain": handshake.xdomain,
        }
        client_id = socket.conn.sid[:12]
        transport = socket.conn.transport
    headers = described.get("headers")
    headers = headers if isinstance(headers, dict) else {}
    address = (
        headers.get("cf-connecting-ip")
        or headers.get("x-forwarded-for")
        or described.get("address")
    )
    return {
        "id": socket.id,
        "clientId": client_id,
        "transport": transport,
        "nsp": nsp,
        "data": plain_data(data),
        "handshake": {
            "address": address,
            "headers": headers,
            "query": described.get("query") or {},
            "issued": described.get("issued"),
            "secure": described.get("secure", False),
            "time": described.get("time"),
            "url": described.get("url"),
            "xdomain": described.get("xdomain", False),
            # never the auth: it may hold credentials
        },
        "rooms": sorted(socket.rooms),
    }


class _Watched(sio.Socket):
    """A socket whose events, rooms and departure the Admin UI sees (development mode).

    ``monitor`` is set on a subclass made per ``AdminUI``; while no UI is connected each hook
    is one attribute test.
    """

    __slots__ = ()
    monitor: ClassVar[AdminUI]

    def emit(
        self,
        event: str,
        *args: Any,
        callback: Callable[..., Any] | None = None,
        timeout: float | None = None,
    ) -> None:
        monitor = self.monitor
        if monitor.reporting:
            monitor.report("event_sent", self.nsp.name, self.id, [event, *args])
        super().emit(event, *args, callback=callback, timeout=timeout)

    def on_event(self, data: list[Any], ack_id: int | None) -> None:
        monitor = self.monitor
        if monitor.reporting:  # before dispatch: it may reuse the list
            monitor.report("event_received", self.nsp.name, self.id, list(data))
        super().on_event(data, ack_id)

    def join(self, rooms: str | Iterable[str]) -> None:
        monitor = self.monitor
        if not monitor.reporting:
            super().join(rooms)
            return
        before = self.rooms
        super().join(rooms)
        for room in sorted(self.rooms - before):
            monitor.report("room_joined", self.nsp.name, room, self.id)

    def leave(self, room: str) -> None:
        monitor = self.monitor
        was_in = monitor.reporting and room in self.rooms
        super().leave(room)
        if was_in:
            monitor.report("room_left", self.nsp.name, room, self.id)

    def emit_reserved(self, event: str, *args: Any) -> None:
        monitor = self.monitor
        if event == "disconnect" and monitor.reporting:
            monitor.report("socket_disconnected", self.nsp.name, self.id, str(args[0]))
        super().emit_reserved(event, *args)


class AdminUI:
    """The Admin UI's server side on one ``sio.Server`` (see ``instrument``)."""

    def __init__(
        self,
        io: sio.Server,
        *,
        auth: Credentials | None,
        mode: Mode = Mode.DEVELOPMENT,
        read_only: bool = False,
        namespace: str = "/admin",
        server_id: str | None = None,
        ui_origins: Iterable[str] = (HOSTED_UI_ORIGIN,),
        session_secret: bytes | None = None,
    ) -> None:
        self.io = io
        self.reactor = io.reactor
        self.mode = Mode(mode)
        self.read_only = read_only
        self.development = self.mode is Mode.DEVELOPMENT
        features = [] if read_only else list(ACTION_FEATURES)
        features.append(Feature.AGGREGATED_EVENTS)
        if self.development:
            features.append(Feature.ALL_EVENTS)
        self.features: list[str] = [str(feature) for feature in features]
        self._server_id = server_id
        self._started = self.reactor.time()
        #: Is anything to be reported now (a UI connected here, or elsewhere in the cluster)?
        self.reporting = False
        self._lease_until = 0.0
        self._timer: TimerHandle | None = None
        self._last_counters: EngineCounters = self._read_counters()
        self._credentials = auth
        self._tokens = SessionTokens(session_secret)
        self._checker = (
            PasswordChecker(self.reactor, auth.password_hash) if auth is not None else None
        )
        #: Tokens of fresh logins, sent once their socket is connected (after the CONNECT
        #: reply, so that the UI, which listens from its "connect" on, gets it).
        self._new_sessions: dict[str, str] = {}
        io.eio.admit_origins(list(ui_origins))
        io.eio.count_traffic()  # aggregatedEvents: packets and bytes in/out
        self.nsp = io.of(namespace)
        self.nsp.use(self._authenticate)
        self.nsp.on("connection", self._on_admin_connected)
        self.nsp.on_event("disconnect", self._on_admin_disconnected)
        self.nsp.on(ALIVE_EVENT, self._on_alive)
        for action, handler in (
            ("emit", self._on_emit),
            ("join", self._on_join),
            ("leave", self._on_leave),
            ("_disconnect", self._on_disconnect),
        ):
            self.nsp.on_event(action, handler)
        if self.development:
            self._watched = type("WatchedSocket", (_Watched,), {"__slots__": (), "monitor": self})
            for existing in list(io.namespaces.values()):
                self._watch(existing)
            io.namespace_listeners.append(self._watch)
            io.eio.upgrade_listeners.append(self._on_upgraded)

    # -- identity -------------------------------------------------------------------------------

    @property
    def server_id(self) -> str:
        """``hostname#pid`` when this server is one of several (the cluster, Redis), as the
        Node package names a cluster's workers; the host name alone otherwise."""
        if self._server_id is not None:
            return self._server_id
        if type(self.io.sockets.adapter) is sio.InMemoryAdapter:
            return socket_module.gethostname()
        return f"{socket_module.gethostname()}#{os.getpid()}"

    # -- authentication -------------------------------------------------------------------------

    def _authenticate(self, socket: sio.Socket, next_: Callable[..., None]) -> None:
        if self._credentials is None or self._checker is None:
            next_()
            return
        auth = socket.handshake.auth if isinstance(socket.handshake.auth, dict) else {}
        if self._tokens.verify(auth.get("sessionId"), self.reactor.wall_time()):
            next_()
            return
        password = auth.get("password")
        if not self._credentials.username_matches(auth.get("username")) or not isinstance(
            password, str
        ):
            next_(sio.ConnectRefusedError("invalid credentials"))
            return

        def checked(matches: bool) -> None:
            if socket.client.closed:
                return  # gone while its password was checked
            if not matches:
                next_(sio.ConnectRefusedError("invalid credentials"))
                return
            self._new_sessions[socket.id] = self._tokens.issue(self.reactor.wall_time())
            next_()

        self._checker.check(password, checked)

    # -- the admin sockets ----------------------------------------------------------------------

    def _on_admin_connected(self, socket: sio.Socket) -> None:
        token = self._new_sessions.pop(socket.id, None)
        if token is not None:
            socket.emit("session", token)
        socket.emit("config", {"supportedFeatures": self.features})
        if self.development:
            self._send_all_sockets(socket)
        self._wake()

    def _on_admin_disconnected(self, socket: sio.Socket, reason: Any) -> None:
        self._new_sessions.pop(socket.id, None)

    def _on_alive(self, *_: Any) -> None:
        """A UI is connected to another server: report for a while."""
        self._lease_until = self.reactor.time() + REMOTE_LEASE
        self._wake()

    def _send_all_sockets(self, admin: sio.Socket) -> None:
        namespaces = list(self.io.namespaces.values())
        found: list[dict[str, Any]] = []
        waiting = len(namespaces)

        def gathered(nsp: sio.Namespace, sockets: list[Any], error: BaseException | None) -> None:
            nonlocal waiting
            if error is not None:
                log.warning("admin UI: some servers did not list their sockets: %s", error)
            found.extend(serialize_socket(socket, nsp.name) for socket in sockets)
            waiting -= 1
            if waiting == 0 and admin.connected:
                admin.emit("all_sockets", found)

        for nsp in namespaces:
            nsp.fetch_sockets(partial(gathered, nsp))

    # -- reporting ------------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._timer is None:
            self._last_counters = self._read_counters()  # nothing counted while idle
            self._tick()

    def _tick(self) -> None:
        """Every ``STATS_INTERVAL`` while a UI is connected here or elsewhere; stops itself."""
        self._timer = None
        local = bool(self.nsp.sockets)
        if not local and self.reactor.time() >= self._lease_until:
            self.reporting = False
            return
        self.reporting = self.development
        if local:
            self.nsp.server_side_emit(ALIVE_EVENT)
        self.nsp.emit("server_stats", self.server_stats())
        self._timer = self.reactor.call_later(STATS_INTERVAL, self._tick)

    def _read_counters(self) -> EngineCounters:
        return read_engine_counters(self.io.eio.stats)

    def server_stats(self) -> dict[str, Any]:
        """This server's ``server_stats`` (the aggregated events since the last call)."""
        sessions = self.io.eio.sessions
        counters = self._read_counters()
        wall_ms = int(self.reactor.wall_time() * 1000)
        events = aggregated_events(self._last_counters, counters, wall_ms)
        self._last_counters = counters
        return {
            "serverId": self.server_id,
            "hostname": socket_module.gethostname(),
            "pid": os.getpid(),
            "uptime": round(self.reactor.time() - self._started, 3),
            "clientsCount": len(sessions),
            "pollingClientsCount": sum(
                1 for session in sessions.values() if session.transport == "polling"
            ),
            "aggregatedEvents": events,
            "namespaces": [
                {"name": nsp.name, "socketsCount": len(nsp.sockets)}
                for nsp in self.io.namespaces.values()
            ],
        }

    def report(self, event: str, *args: Any) -> None:
        """A live event to every UI (any server's), stamped with the time."""
        self.nsp.emit(event, *args, iso_time(self.reactor.wall_time()))

    # -- development mode: watching the application's namespaces -------------------------------

    def _watch(self, nsp: sio.Namespace) -> None:
        if nsp is self.nsp or nsp.name == self.nsp.name:
            return  # the UI's own sockets are not watched
        nsp.socket_class = self._watched
        if nsp.parent is None:  # children share their parent's connection handlers
            nsp.on("connection", self._on_socket_connected)

    def _on_socket_connected(self, socket: sio.Socket) -> None:
        # As the Node package does, so that another server's UI sees them (fetch_sockets
        # carries data): the engine session's id and transport.
        socket.data["_admin"] = {"clientId": socket.conn.sid[:12], "transport": socket.transport}
        if self.reporting:
            self.report("socket_connected", serialize_socket(socket, socket.nsp.name))

    def _on_upgraded(self, conn: EngineSocket) -> None:
        # conn.data is the session's sio connection: its sockets by namespace.
        sockets = getattr(conn.data, "sockets", None)
        if not isinstance(sockets, dict):
            return
        for socket in sockets.values():
            info = socket.data.get("_admin") if isinstance(socket.data, dict) else None
            if isinstance(info, dict):  # what other servers read through fetch_sockets
                info["transport"] = conn.transport
            if self.reporting and isinstance(socket, _Watched):
                update = {"id": socket.id, "nsp": socket.nsp.name, "transport": conn.transport}
                self.nsp.emit("socket_updated", update)

    # -- actions from the UI --------------------------------------------------------------------

    def _target(self, nsp_name: Any, room: Any) -> Any:
        """The namespace (or its room) an action names, or None if it names none here."""
        if not isinstance(nsp_name, str):
            return None
        nsp = self.io.namespaces.get(nsp_name)
        if nsp is None:
            return None
        if isinstance(room, str) and room:
            return nsp.to(room)
        return nsp

    def _on_emit(
        self, admin: sio.Socket, nsp: Any = None, room: Any = None, event: Any = None, *args: Any
    ) -> str | None:
        if self.read_only:
            return self._refuse(admin, "emit")
        target = self._target(nsp, room)
        if target is None or not isinstance(event, str):
            return "invalid"
        try:
            target.emit(event, *args)
        except ValueError as exc:  # a reserved event name
            return str(exc)
        return None

    def _on_join(
        self, admin: sio.Socket, nsp: Any = None, room: Any = None, filter_: Any = None
    ) -> str | None:
        if self.read_only:
            return self._refuse(admin, "join")
        target = self._target(nsp, filter_)
        if target is None or not isinstance(room, str) or not room:
            return "invalid"
        target.sockets_join(room)
        return None

    def _on_leave(
        self, admin: sio.Socket, nsp: Any = None, room: Any = None, filter_: Any = None
    ) -> str | None:
        if self.read_only:
            return self._refuse(admin, "leave")
        target = self._target(nsp, filter_)
        if target is None or not isinstance(room, str) or not room:
            return "invalid"
        target.sockets_leave(room)
        return None

    def _on_disconnect(
        self, admin: sio.Socket, nsp: Any = None, close: Any = False, filter_: Any = None
    ) -> str | None:
        if self.read_only:
            return self._refuse(admin, "_disconnect")
        target = self._target(nsp, filter_)
        if target is None:
            return "invalid"
        target.disconnect_sockets(bool(close))
        return None

    def _refuse(self, admin: sio.Socket, action: str) -> str:
        log.warning("admin UI: %s refused (read-only), from %s", action, admin.handshake.address)
        return READ_ONLY_ANSWER


def instrument(
    io: sio.Server,
    *,
    auth: dict[str, str] | Credentials | bool | None = None,
    mode: Mode | str = Mode.DEVELOPMENT,
    read_only: bool = False,
    namespace: str = "/admin",
    server_id: str | None = None,
    ui_origins: Iterable[str] = (HOSTED_UI_ORIGIN,),
    session_secret: bytes | None = None,
) -> AdminUI:
    """Serve the official Admin UI (``@socket.io/admin-ui``) on ``io``'s ``namespace``.

    Args:
        auth: ``{"username": ..., "password": ...}`` (the password as is, hashed here with
            bcrypt, or already a bcrypt hash) or ``Credentials``; ``False`` for no login at all,
            which must be chosen explicitly (anyone reaching the server may then act).
        mode: ``"development"`` (live events of every socket, ``all_sockets``) or
            ``"production"`` (statistics only).
        read_only: refuse the UI's actions (emit, join, leave, disconnect).
        server_id: this server's name in the UI (default: the host name, ``hostname#pid`` when
            it is one of several).
        ui_origins: origins admitted by CORS, with credentials, besides the application's
            ``cors_allowed_origins`` (default: the hosted UI, https://admin.socket.io).
        session_secret: signs session tokens; the servers of a cluster must share it (make it
            before forking) so that a token from one works on all. Default: random (one process).

    Raises:
        ValueError: no ``auth`` given, or a malformed one.
        ImportError: ``auth`` needs bcrypt, which is not installed (``sio-chat[admin]``).
    """
    if auth is None or auth is True:
        raise ValueError(
            "the Admin UI needs auth={'username': ..., 'password': ...}, or auth=False"
        )
    credentials: Credentials | None
    if auth is False:
        log.warning("admin UI: authentication is disabled: anyone reaching the server may act")
        credentials = None
    elif isinstance(auth, Credentials):
        credentials = auth
    elif isinstance(auth, dict):
        username, password = auth.get("username"), auth.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise ValueError("auth needs a 'username' and a 'password' (strings)")
        credentials = Credentials(username, password)
    else:
        raise ValueError(f"invalid auth: {auth!r}")
    return AdminUI(
        io,
        auth=credentials,
        mode=Mode(mode),
        read_only=read_only,
        namespace=namespace,
        server_id=server_id,
        ui_origins=ui_origins,
        session_secret=session_secret,
    )
