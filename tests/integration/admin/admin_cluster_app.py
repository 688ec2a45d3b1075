"""The chat with the Admin UI (no login, development mode) on a fork cluster, for the tests:

    python tests/integration/admin/admin_cluster_app.py --workers N

plus one client event, ``odd-data``, that puts values JSON cannot carry into ``socket.data``
(a set and an object), to show what the UI gets for them from any worker.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

import admin
import sio
from cli.chat import install_chat, plain_http_handler
from cluster import ClusterConfig, Supervisor
from reactor import Reactor


class Opaque:
    def __str__(self) -> str:
        return "<opaque>"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    secret = b"shared by the workers: made before the fork"

    def make(
        reactor: Reactor, adapter: Callable[[sio.Namespace], sio.Adapter], worker: int
    ) -> sio.Server:
        io = sio.Server(
            reactor=reactor, adapter=adapter, http_handler=plain_http_handler(f"worker: {worker}")
        )
        install_chat(io)

        @io.on_event("odd-data")
        def odd_data(socket: sio.Socket, *_: Any) -> bool:
            socket.data["odd"] = {1, 2}
            socket.data["opaque"] = Opaque()
            return True

        admin.instrument(io, auth=False, session_secret=secret)
        return io

    config = ClusterConfig(host="127.0.0.1", port=0, workers=args.workers)

    def listening(address: tuple[str, int]) -> None:
        print(f"listening on {address[0]}:{address[1]} ({args.workers} workers)", flush=True)

    sys.exit(Supervisor(config, make, on_listening=listening).run())


if __name__ == "__main__":
    main()
