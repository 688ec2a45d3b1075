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


def install_chat(io: sio.Server) -> None:
    """Give ``io`` the chat's handlers on the main namespace."""

    @io.on("connection")
    def on_connection(socket: sio.Socket) -> None:
        log.info("connected, id: %s", socket.id)
        socket.data["user"] = _name(socket.handshake.auth.get("user"))
        socket.data["room"] = LOBBY
        socket.join(LOBBY)
        if socket.data["user"]:
            socket.to(LOBBY).emit("notice", f"{socket.data['user']} joined")

        def display_name() -> str:
            return str(socket.data["user"] or f"guest-{socket.id[:6]}")

        @socket.on("chat message")
        def chat_message(user: Any = None, message: Any = "", *_: Any) -> None:
            user_name = _name(user) or display_name()
            if socket.data["user"] is None:
                socket.data["user"] = user_name
            text = message if isinstance(message, str) else str(message)
            log.info("%s: %s", user_name, text)
            socket.to(socket.data["room"]).emit("chat message", f"{text} from {user_name}")

        @socket.on("echo")
        def echo(*args: Any) -> tuple[Any, ...]:
            return args

        @socket.on("who")
        def who() -> list[str]:
            sockets = io.sockets.fetch_sockets() or []
            return sorted(
                str(s.data.get("user") or f"guest-{s.id[:6]}") for s in sockets if s.connected
            )

        @socket.on("join")
        def join(room: Any = None) -> str:
            name = _name(room)
            if name is None:
                return "usage: /join ROOM"
            move_to(ROOM_PREFIX + name)
            return f"you are in room {name}"

        @socket.on("leave")
        def leave() -> str:
            move_to(LOBBY)
            return "you are back in the lobby"

        def move_to(room: str) -> None:
            current = socket.data["room"]
            if current == room:
                return
            socket.to(current).emit("notice", f"{display_name()} left")
            socket.leave(current)
            socket.join(room)
            socket.data["room"] = room
            socket.to(room).emit("notice", f"{display_name()} joined")

        @socket.on("disconnect")
        def on_disconnect(reason: str) -> None:
            log.info("disconnected, id: %s", socket.id)
            log.debug("disconnect reason for %s: %s", socket.id, reason)
            if socket.data.get("user"):
                io.to(socket.data["room"]).emit("notice", f"{socket.data['user']} left")


def plain_http_handler(line: str) -> Any:
    """Answer ``GET /`` with one plain-text line (``curl localhost:3000``); 404 elsewhere."""
    body = (line + "\n").encode()

    def handle(request: HttpRequest) -> HttpResponse | None:
        if request.path == "/" and request.method in ("GET", "HEAD"):
            return HttpResponse(200, [("content-type", "text/plain; charset=utf-8")], body)
        return None

    return handle
