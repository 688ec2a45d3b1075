"""A cluster app for the tests: ``cluster.Supervisor`` with handlers that expose the cross-worker
operations to clients.

    python tests/integration/cluster_app.py --workers N [--dispatch round-robin]
                                            [--max-queued K] [--trusted-proxy]
                                            [--recovery-window SECONDS]

Prints ``listening on HOST:PORT (N workers)`` on stdout (port 0: any free port) and logs on
stderr, among others ``probe <mode> received by worker W``, ``fetch sent by worker W`` and
``disconnect W <name> <reason>`` (a socket left, with its server-side reason).

Clients connect to ``/`` or to any ``/dyn-<name>`` (dynamic namespaces: created on a worker
only when a client of it connects there).

Client events (each acknowledged; ``W`` is the worker serving the client):

- ``whoami`` -> ``[W, socket id]``
- ``emit-all`` (payload) -> ``io.emit("msg", W, payload)``
- ``broadcast`` (payload) -> ``socket.broadcast.emit("msg", W, payload)``
- ``to-room`` (room, payload) / ``except-room`` (room, payload) -> ``io.to/except_(room)``
- ``join-all`` (room) / ``leave-all`` (room) -> ``io.sockets_join/sockets_leave``;
  ``room-join`` (room, new) -> ``io.to(room).sockets_join(new)``
- ``disconnect-room`` (room) -> ``io.to(room).disconnect_sockets()``
- ``fetch`` (room | null) -> ``{"sockets": [{id, name, worker, rooms, remote}], "error"}``
- ``remote`` (action, name, arg) -> on every socket named ``name`` as ``fetch_sockets`` gives it
  (a RemoteSocket on another worker): ``emit`` ("msg", W, arg), ``join`` arg, ``leave`` arg,
  ``disconnect``
- ``sse`` (mode) -> ``io.server_side_emit("probe", W, mode, callback)``: ``{"responses",
  "error", "seconds"}``; every worker answers ``{"worker", "origin"}`` unless mode is
  ``hang:W`` for it
- ``note`` (text) -> ``io.server_side_emit("note", W, text)`` (no ack): every other worker
  sends its own clients ``note`` (W, origin, text)
- ``ask-all`` (seconds, room | null) -> ``io.timeout(seconds).emit("ask", W, callback)`` (or
  ``io.to(room).timeout(seconds)``): every client's acknowledgement, on every worker, as
  ``{"responses", "error", "seconds"}``
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import sio
from cli.chat import plain_http_handler
from cluster import ClusterConfig, RemoteSocket, Supervisor
from reactor import Reactor

log = logging.getLogger("cluster_app")


def make_app(
    reactor: Reactor,
    adapter: Callable[[sio.Namespace], sio.Adapter],
    worker: int,
    recovery: sio.RecoveryOptions | None = None,
) -> sio.Server:
    io = sio.Server(
        reactor=reactor,
        adapter=adapter,
        connection_state_recovery=recovery,
        http_handler=plain_http_handler(f"worker: {worker}"),
        ping_interval=5.0,
        ping_timeout=5.0,
    )

    def each_named(name: str, action: Callable[[Any], None], ack: Callable[..., None]) -> None:
        def gathered(sockets: list[Any], error: BaseException | None) -> None:
            done = [s for s in sockets if s.data.get("name") == name]
            for target in done:
                action(target)
            ack({"count": len(done), "remote": [isinstance(s, RemoteSocket) for s in done]})

        io.fetch_sockets(callback=gathered)

    def on_connection(socket: sio.Socket) -> None:
        nsp = socket.nsp
        auth = socket.handshake.auth
        socket.data["name"] = auth.get("name")
        socket.data["worker"] = worker
        rooms = auth.get("rooms") or []
        if rooms:
            socket.join(rooms)

        @socket.on("disconnect")
        def on_disconnect(reason: str) -> None:
            log.info("disconnect %d %s %s", worker, socket.data["name"], reason)

        @socket.on("whoami")
        def whoami() -> tuple[int, str]:
            return worker, socket.id

        @socket.on("emit-all")
        def emit_all(payload: Any) -> bool:
            io.emit("msg", worker, payload)
            return True

        @socket.on("broadcast")
        def broadcast(payload: Any) -> bool:
            socket.broadcast.emit("msg", worker, payload)
            return True

        @socket.on("to-room")
        def to_room(room: str, payload: Any) -> bool:
            io.to(room).emit("msg", worker, payload)
            return True

        @socket.on("except-room")
        def except_room(room: str, payload: Any) -> bool:
            io.except_(room).emit("msg", worker, payload)
            return True

        @socket.on("join-all")
        def join_all(room: str) -> bool:
            io.sockets_join(room)
            return True

        @socket.on("leave-all")
        def leave_all(room: str) -> bool:
            io.sockets_leave(room)
            return True

        @socket.on("room-join")
        def room_join(room: str, new: str) -> bool:
            io.to(room).sockets_join(new)
            return True

        @socket.on("disconnect-room")
        def disconnect_room(room: str) -> bool:
            io.to(room).disconnect_sockets()
            return True

        @socket.on("fetch")
        def fetch(room: str | None, ack: Callable[..., None]) -> None:
            def gathered(sockets: list[Any], error: BaseException | None) -> None:
                ack(
                    {
                        "sockets": [
                            {
                                "id": s.id,
                                "name": s.data.get("name"),
                                "worker": s.data.get("worker"),
                                "rooms": sorted(s.rooms),
                                "remote": isinstance(s, RemoteSocket),
                            }
                            for s in sockets
                        ],
                        "error": str(error) if error else None,
                    }
                )

            target = nsp.to(room) if room else nsp
            target.fetch_sockets(callback=gathered)
            log.info("fetch sent by worker %d", worker)

        @socket.on("remote")
        def remote(action: str, name: str, arg: Any, ack: Callable[..., None]) -> None:
            actions: dict[str, Callable[[Any], None]] = {
                "emit": lambda s: s.emit("msg", worker, arg),
                "join": lambda s: s.join(arg),
                "leave": lambda s: s.leave(arg),
                "disconnect": lambda s: s.disconnect(),
            }
            each_named(name, actions[action], ack)

        @socket.on("sse")
        def sse(mode: str, ack: Callable[..., None]) -> None:
            started = time.monotonic()

            def answered(error: BaseException | None, responses: list[Any]) -> None:
                ack(
                    {
                        "responses": responses,
                        "error": str(error) if error else None,
                        "seconds": time.monotonic() - started,
                    }
                )

            io.server_side_emit("probe", worker, mode, callback=answered)
            log.info("probe sent by worker %d", worker)

        @socket.on("note")
        def note(text: str) -> bool:
            io.server_side_emit("note", worker, text)
            return True

        @socket.on("ask-all")
        def ask_all(seconds: float, room: str | None, ack: Callable[..., None]) -> None:
            started = time.monotonic()

            def answered(error: BaseException | None, responses: list[Any]) -> None:
                ack(
                    {
                        "responses": responses,
                        "error": f"{type(error).__name__}: {error}" if error else None,
                        "seconds": time.monotonic() - started,
                    }
                )

            target = io.to(room) if room else io
            target.timeout(seconds).emit("ask", worker, callback=answered)
            log.info("ask sent by worker %d", worker)

    io.on("connection", on_connection)
    io.of(re.compile(r"/dyn-\w+")).on("connection", on_connection)

    # (Server.on is typed for connection handlers only; other events are server-side ones.)
    @io.on("probe")
    def probe(origin: int, mode: str, ack: Callable[..., None]) -> None:
        log.info("probe %s received by worker %d", mode, worker)
        if mode != f"hang:{worker}":
            ack({"worker": worker, "origin": origin})

    @io.on("note")
    def on_note(origin: int, text: str) -> None:
        io.local.emit("note", worker, origin, text)

    return io


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dispatch", default="ip")
    parser.add_argument("--max-queued", type=int, default=None)
    parser.add_argument("--trusted-proxy", action="store_true")
    parser.add_argument("--shutdown-timeout", type=float, default=5.0)
    parser.add_argument("--recovery-window", type=float, default=0.0)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    extra: dict[str, Any] = {}
    if args.max_queued is not None:
        extra["max_queued"] = args.max_queued
    recovery = None
    if args.recovery_window > 0:
        recovery = sio.RecoveryOptions(max_disconnection_duration=args.recovery_window)
        extra["recovery"] = recovery
    config = ClusterConfig(
        host="127.0.0.1",
        port=0,
        workers=args.workers,
        dispatch=args.dispatch,
        trusted_proxy=args.trusted_proxy,
        shutdown_timeout=args.shutdown_timeout,
        **extra,
    )

    def listening(address: tuple[str, int]) -> None:
        print(f"listening on {address[0]}:{address[1]} ({args.workers} workers)", flush=True)

    def make(
        reactor: Reactor, adapter: Callable[[sio.Namespace], sio.Adapter], worker: int
    ) -> sio.Server:
        return make_app(reactor, adapter, worker, recovery)

    sys.exit(Supervisor(config, make, on_listening=listening).run())


if __name__ == "__main__":
    main()
