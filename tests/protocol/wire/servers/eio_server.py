"""Our Engine.IO conformance server for the wire suite, configured from JSON, echoing messages.

Usage: ``python eio_server.py '<json config>'``. Prints ``listening on HOST:PORT`` once bound
(to 127.0.0.1, on a free port) and runs until SIGTERM/SIGINT. The config keys are the reference
server's option names (see ``tests/protocol/wire/conftest.py``), so that the same JSON configures
``tests/node/eio_server.js``.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Any

from cli.apps import EngineIOEcho
from eio import (
    EngineIOConfig,
    EngineIOServer,
    HttpRequest,
)
from reactor import Reactor

Echo = EngineIOEcho  # the conformance echo app: every message sent back


def build_config(options: dict[str, Any]) -> EngineIOConfig:
    kwargs: dict[str, Any] = {}
    if "path" in options:
        kwargs["path"] = options["path"]
    if "pingInterval" in options:
        kwargs["ping_interval"] = options["pingInterval"] / 1000
    if "pingTimeout" in options:
        kwargs["ping_timeout"] = options["pingTimeout"] / 1000
    if "upgradeTimeout" in options:
        kwargs["upgrade_timeout"] = options["upgradeTimeout"] / 1000
    if "maxHttpBufferSize" in options:
        kwargs["max_payload"] = int(options["maxHttpBufferSize"])
    if "transports" in options:
        kwargs["transports"] = tuple(options["transports"])
    if "allowUpgrades" in options:
        kwargs["allow_upgrades"] = bool(options["allowUpgrades"])
    compression = options.get("httpCompression", True)
    if compression is False:
        kwargs["http_compression"] = False
    elif isinstance(compression, dict) and "threshold" in compression:
        kwargs["compression_threshold"] = int(compression["threshold"])
    kwargs["per_message_deflate"] = bool(options.get("perMessageDeflate", False))
    cors = options.get("cors")
    if cors is not None:
        kwargs["cors_allowed_origins"] = cors["origin"]
        kwargs["cors_credentials"] = bool(cors.get("credentials", False))
    allow = options.get("allowRequest")
    if allow is not None:
        header = allow["denyHeader"].lower()
        message = allow.get("message", "Forbidden")

        def allow_request(request: HttpRequest) -> str | None:
            return message if request.header(header) is not None else None

        kwargs["allow_request"] = allow_request
    return EngineIOConfig(**kwargs)


def main() -> None:
    options = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    reactor = Reactor()
    server = EngineIOServer(reactor, Echo(), build_config(options))
    host, port = server.listen("127.0.0.1", 0)

    def stop() -> None:
        server.close()
        reactor.stop()

    reactor.add_signal_handler(signal.SIGTERM, stop)
    reactor.add_signal_handler(signal.SIGINT, stop)
    print(f"listening on {host}:{port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main()
