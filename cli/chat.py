"""The console chat: the server app of the classic Socket.IO tutorial, and its client.

Protocol (the tutorial's, unchanged): a client emits ``chat message`` with ``(user, message)``;
every *other* client of the same room receives ``chat message`` with ``"<message> from <user>"``.

Extras, in events the tutorial's client simply ignores:

- ``notice`` (server -> clients): a line of text, e.g. "UserA joined", "UserB left".
- ``who`` (client -> server, acknowledged): the names of the users online, as a list.
- ``join`` / ``leave`` (client -> server, acknowledged): move to room ``ROOM`` / back to the lobby.
- ``echo`` (client -> server, acknowledged): acknowledged with its own arguments (``/ping``).

A client may name itself in the handshake auth (``{"user": "UserA"}``); else its name is the
one it last sent a message with.
"""

from __future__ import annotations

import logging
from typing import Any

import sio
from eio import HttpRequest, HttpResponse

__all__ = ["LOBBY", "install_chat", "plain_http_handler"]

log = logging.getLogger("sio_chat.server")

#: The room every socket starts in (and returns to with ``/leave``).
LOBBY = "lobby"
ROOM_PREFIX = "room:"
#: Longest user name and room name accepted (longer ones are cut).
MAX_NAME = 64


def _name(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()[:MAX_NAME]
    return None


def _display_name(socket: sio.Socket) -> str:
    return str(socket.data.get("user") or f"guest-{socket.id[:6]}")


def _move_to(socket: sio.Socket, room: str) -> None:
    current = socket.data["room"]
    if current == room:
        return
    socket.to(current).emit("notice", f"{_display_name(socket)} left")
    socket.leave(current)
    socket.join(room)
    socket.data["room"] = room
    socket.to(room).emit("notice", f"{_display_name(socket)} joined")


def install_chat(io: sio.Server) -> None:
    """Give ``io`` the chat's handlers on the main namespace.

    The handlers are registered once for the namespace (``on_event``) rather than once per
    socket: a chat holds many idle connections, and each per-socket closure costs memory.
    """

    @io.on("connection")
    def on_connection(socket: sio.Socket) -> None:
        log.info("connected, id: %s", socket.id)
        if socket.recovered:  # its name, room and rooms came back with its session
            user = socket.data.get("user")
            if user:
                socket.to(socket.data["room"]).emit("notice", f"{user} joined")
            return
        user = _name(socket.handshake.auth.get("user"))
        socket.data["user"] = user
        socket.data["room"] = LOBBY
        socket.join(LOBBY)
        if user:
            socket.to(LOBBY).emit("notice", f"{user} joined")

    @io.on_event("chat message")
    def chat_message(socket: sio.Socket, user: Any = None, message: Any = "", *_: Any) -> None:
        user_name = _name(user) or _display_name(socket)
        if socket.data.get("user") is None:
            socket.data["user"] = user_name
        text = message if isinstance(message, str) else str(message)
        log.info("%s: %s", user_name, text)
        socket.to(socket.data["room"]).emit("chat message", f"{text} from {user_name}")

    @io.on_event("echo")
    def echo(socket: sio.Socket, *args: Any) -> tuple[Any, ...]:
        return args

    @io.on_event("who")
    def who(socket: sio.Socket, *_: Any, ack: Any) -> None:
        # Every worker's sockets (in a cluster the others answer over the bus).
        def answer(sockets: list[Any], error: BaseException | None) -> None:
            names = {str(s.data.get("user") or f"guest-{s.id[:6]}") for s in sockets}
            ack(sorted(names))

        io.sockets.fetch_sockets(callback=answer)

    @io.on_event("join")
    def join(socket: sio.Socket, room: Any = None, *_: Any) -> str:
        name = _name(room)
        if name is None:
            return "usage: /join ROOM"
        _move_to(socket, ROOM_PREFIX + name)
        return f"you are in room {name}"

    @io.on_event("leave")
    def leave(socket: sio.Socket, *_: Any) -> str:
        _move_to(socket, LOBBY)
        return "you are back in the lobby"

    @io.on_event("disconnect")
    def on_disconnect(socket: sio.Socket, reason: str) -> None:
        log.info("disconnected, id: %s", socket.id)
        log.debug("disconnect reason for %s: %s", socket.id, reason)
        if socket.data.get("user"):
            # Not to itself: if it comes back, its session must not replay its own departure.
            notice = f"{socket.data['user']} left"
            io.to(socket.data["room"]).except_(socket.id).emit("notice", notice)


def plain_http_handler(line: str) -> Any:
    """Answer ``GET /`` with one plain-text line (``curl localhost:3000``); 404 elsewhere."""
    body = (line + "\n").encode()

    def handle(request: HttpRequest) -> HttpResponse | None:
        if request.path == "/" and request.method in ("GET", "HEAD"):
            return HttpResponse(200, [("content-type", "text/plain; charset=utf-8")], body)
        return None

    return handle
