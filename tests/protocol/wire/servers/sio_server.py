"""Our Socket.IO server running the Socket.IO wire suite's app, configured from JSON.

Usage: ``python sio_server.py '<json config>'``. Prints ``listening on HOST:PORT`` once bound (to
127.0.0.1, on a free port) and runs until SIGTERM/SIGINT. The config keys are the reference
server's option names, so that the same JSON configures ``tests/node/sio_wire_server.js``, whose
header describes the app (the same here, handler for handler).
"""

from __future__ import annotations

import json
import re
import signal
import sys
from typing import Any

import sio


def build_options(config: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {"path": config.get("path", "/socket.io/")}
    seconds = {
        "pingInterval": "ping_interval",
        "pingTimeout": "ping_timeout",
        "upgradeTimeout": "upgrade_timeout",
        "connectTimeout": "connect_timeout",
    }
    for key, name in seconds.items():
        if key in config:
            options[name] = config[key] / 1000
    if "maxHttpBufferSize" in config:
        options["max_http_buffer_size"] = int(config["maxHttpBufferSize"])
    if "maxAttachments" in config:
        options["max_attachments"] = int(config["maxAttachments"])
    if "transports" in config:
        options["transports"] = tuple(config["transports"])
    cors = config.get("cors")
    if cors is not None:
        options["cors_allowed_origins"] = cors["origin"]
        options["cors_credentials"] = bool(cors.get("credentials", False))
    return options


def build_app(io: sio.Server) -> None:
    observer = io.of("/observer")

    def setup(socket: sio.Socket, observed: bool) -> None:
        socket.emit("auth", socket.handshake.auth)

        @socket.on("message")
        def message(*args: Any) -> None:
            socket.emit("message-back", *args)

        @socket.on("message-with-ack")
        def message_with_ack(*args: Any, ack: Any) -> None:
            ack(*args)

        @socket.on("join")
        def join(room: str, ack: Any) -> None:
            socket.join(room)
            ack()

        @socket.on("to-room")
        def to_room(room: str | list[str], *args: Any) -> None:
            socket.to(room).emit("room-message", *args)

        @socket.on("broadcast")
        def broadcast(*args: Any) -> None:
            socket.broadcast.emit("broadcast-message", *args)

        @socket.on("io-emit")
        def io_emit(*args: Any) -> None:
            socket.nsp.emit("io-message", *args)

        @socket.on("emit-with-ack")
        def emit_with_ack(*args: Any) -> None:
            def answered(*answer: Any) -> None:
                socket.emit("server-ack-response", *answer)

            socket.emit("server-ack-request", *args, callback=answered)

        @socket.on("server-disconnect")
        def server_disconnect() -> None:
            socket.disconnect()

        @socket.on("server-close")
        def server_close() -> None:
            socket.disconnect(close=True)

        if observed:

            @socket.on("disconnect")
            def disconnect(reason: str) -> None:
                observer.emit("observed-disconnect", socket.nsp.name, str(reason), socket.id)

    io.of("/").on("connection", lambda socket: setup(socket, True))
    io.of("/custom").on("connection", lambda socket: setup(socket, True))
    io.of(re.compile(r"/dyn-\d+")).on("connection", lambda socket: setup(socket, False))

    def refuse(socket: sio.Socket) -> None:
        raise sio.ConnectRefusedError("not authorized", {"code": 42})

    io.of("/refused").use(refuse)


def main() -> None:
    config = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    io = sio.Server(**build_options(config))
    build_app(io)
    host, port = io.listen("127.0.0.1", 0)

    def stop() -> None:
        io.close()
        io.reactor.stop()

    io.reactor.add_signal_handler(signal.SIGTERM, stop)
    io.reactor.add_signal_handler(signal.SIGINT, stop)
    print(f"listening on {host}:{port}", flush=True)
    io.run()


if __name__ == "__main__":
    main()
