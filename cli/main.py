"""``sio-chat``: the chat server and client, and the conformance test servers."""

from __future__ import annotations

import logging
import math
import os
import sys
from collections.abc import Callable
from typing import Any

import click

import sio
from cluster import ClusterConfig, Supervisor, check_redis_adapter_url, redis_adapter_factory
from eio import EngineIOServer
from reactor import Reactor

from .apps import EngineIOEcho, engine_io_conformance_config, socket_io_conformance_server
from .chat import install_chat, plain_http_handler
from .log_setup import LEVELS, set_log_prefix, setup_logging
from .runner import run_until_signalled

log = logging.getLogger("sio_chat")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """A Socket.IO console chat, with its own Engine.IO/Socket.IO implementation."""


LOG_LEVEL = click.option(
    "--log-level",
    type=click.Choice(LEVELS),
    default="info",
    show_default=True,
    help="Logging threshold (debug shows every packet).",
)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=3000, show_default=True, type=int, help="Port to listen on (0: any free)."
)
@click.option(
    "--path", default="/socket.io/", show_default=True, help="URL path of the Socket.IO endpoint."
)
@click.option(
    "--cors-origin",
    "cors_origins",
    multiple=True,
    help="An origin browsers may connect from ('*' for any); repeatable. "
    "Default: same origin only.",
)
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="Worker processes sharing the port, with sticky dispatch by client IP "
    "(default: one per CPU; 1 serves in this process).",
)
@click.option(
    "--trusted-proxy",
    is_flag=True,
    help="Behind a reverse proxy: dispatch by the X-Forwarded-For/Forwarded client address "
    "of the first request (the proxy must not share upstream connections between clients). "
    "Default: off (dispatch by the peer address).",
)
@click.option(
    "--dispatch",
    type=click.Choice(["ip", "round-robin"]),
    default="ip",
    show_default=True,
    hidden=True,
    help="round-robin ignores stickiness: only to show why it is needed.",
)
@click.option(
    "--recovery-window",
    default=120.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Connection state recovery: seconds a dropped client has to come back and get its "
    "session and the messages it missed. Every event then carries an offset as an extra last "
    "argument (JavaScript listeners ignore it; a python-socketio handler with a fixed number "
    "of arguments fails on it). 0 turns recovery off: the tutorial's wire, exactly.",
)
@click.option(
    "--adapter",
    "adapter_url",
    default=None,
    metavar="URL",
    help="Join a fleet of servers through Redis, in the wire format of Node's adapters: "
    "redis://HOST:PORT[/DB] (pub/sub, @socket.io/redis-adapter) or "
    "redis-streams://HOST:PORT[/DB] (@socket.io/redis-streams-adapter; connection state "
    "recovery across hosts). Each worker is one server of the fleet. Needs "
    "pip install 'sio-chat[redis]'. Default: none (one host).",
)
@click.option(
    "--parser",
    type=click.Choice(sio.PARSER_NAMES),
    default="json",
    show_default=True,
    help="How Socket.IO packets are encoded: json (Socket.IO's own) or msgpack "
    "(socket.io-msgpack-parser's; every client must use it too). msgpack needs "
    "pip install 'sio-chat[msgpack]'.",
)
@LOG_LEVEL
def server(
    host: str,
    port: int,
    path: str,
    cors_origins: tuple[str, ...],
    workers: int | None,
    trusted_proxy: bool,
    dispatch: str,
    recovery_window: float,
    adapter_url: str | None,
    parser: str,
    log_level: str,
) -> None:
    """The chat server: every "chat message" (user, message) goes to every other client as
    "<message> from <user>". GET / answers a line of plain text (the worker's id in a cluster)."""
    setup_logging(log_level)
    origins: str | list[str] | None = None
    if "*" in cors_origins:
        origins = "*"
    elif cors_origins:
        origins = list(cors_origins)
    count = workers or os.cpu_count() or 1
    recovery = (
        sio.RecoveryOptions(max_disconnection_duration=recovery_window)
        if recovery_window > 0
        else None
    )
    if adapter_url is not None:
        _check_adapter_url(adapter_url)
    _check_parser(parser)
    if count == 1:
        reactor = Reactor()
        io = sio.Server(
            reactor=reactor,
            path=path,
            cors_allowed_origins=origins,
            connection_state_recovery=recovery,
            parser=parser,
            http_handler=plain_http_handler("sio-chat server"),
            **_adapter_option(adapter_url, reactor),
        )
        install_chat(io)
        bound_host, bound_port = io.listen(host, port)
        click.echo(f"listening on {bound_host}:{bound_port}")
        run_until_signalled(io.reactor, io.close)
        return

    def make_app(
        reactor: Reactor, adapter: Callable[[sio.Namespace], sio.Adapter], worker_id: int
    ) -> sio.Server:
        set_log_prefix(f"worker {worker_id}")
        if adapter_url is not None:  # each worker is a server of the Redis fleet
            adapter = redis_adapter_factory(adapter_url, reactor)
        io = sio.Server(
            reactor=reactor,
            path=path,
            cors_allowed_origins=origins,
            adapter=adapter,
            connection_state_recovery=recovery,
            parser=parser,
            http_handler=plain_http_handler(f"worker: {worker_id}"),
        )
        install_chat(io)
        return io

    config = ClusterConfig(
        host=host,
        port=port,
        workers=count,
        dispatch=dispatch,
        trusted_proxy=trusted_proxy,
        # With Redis, recovery is the adapter's (across hosts), not the master's.
        recovery=recovery if adapter_url is None else None,
    )
    supervisor = Supervisor(
        config,
        make_app,
        on_listening=lambda address: click.echo(
            f"listening on {address[0]}:{address[1]} ({count} workers)"
        ),
    )
    sys.exit(supervisor.run())


@main.command()
@click.option("--user", required=True, help="Your name in the chat.")
@click.option("--url", default="http://localhost:3000", show_default=True, help="The chat server.")
@click.option(
    "--transports",
    default="polling,websocket",
    show_default=True,
    help="Transports to use, in order: polling,websocket (upgrade), websocket, or polling.",
)
@click.option(
    "--path",
    default="/socket.io/",
    show_default=True,
    help="URL path of the server's Socket.IO endpoint (as the server's --path).",
)
@click.option(
    "--reconnection-attempts",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Reconnection attempts before giving up (0: never give up).",
)
@click.option(
    "--reconnection-delay",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds before the first reconnection attempt; doubled at each attempt up to 5 s, "
    "each delay randomised by +-50%.",
)
@click.option(
    "--log-level",
    type=click.Choice(LEVELS),
    default="warning",
    show_default=True,
    help="Logging threshold for protocol details (on stderr).",
)
@click.option(
    "--parser",
    type=click.Choice(sio.PARSER_NAMES),
    default="json",
    show_default=True,
    help="How Socket.IO packets are encoded: json (Socket.IO's own) or msgpack "
    "(socket.io-msgpack-parser's; the server must use it too). msgpack needs "
    "pip install 'sio-chat[msgpack]'.",
)
def client(
    user: str,
    url: str,
    transports: str,
    path: str,
    reconnection_attempts: int,
    reconnection_delay: float,
    log_level: str,
    parser: str,
) -> None:
    """Chat from the terminal: each line you type is sent as a "chat message"; messages from
    others are printed as they arrive. Commands: /who /join ROOM /leave /ping /quit /help.
    Ctrl-D or Ctrl-C leaves. Works with a pipe as stdin too."""
    from .chat_client import ChatClient, exit_now

    setup_logging(log_level)
    names = tuple(t.strip() for t in transports.split(",") if t.strip())
    if not names or any(name not in ("polling", "websocket") for name in names):
        raise click.BadParameter("use polling and/or websocket", param_hint="--transports")
    _check_parser(parser)
    chat = ChatClient(
        url,
        user,
        transports=names,
        path=path,
        reconnection_attempts=reconnection_attempts or math.inf,
        reconnection_delay=reconnection_delay,
        parser=parser,
    )
    exit_now(chat.run())


def _check_adapter_url(url: str) -> None:
    try:
        check_redis_adapter_url(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--adapter") from None
    except ImportError:
        raise click.UsageError(
            "--adapter needs the Redis extra: pip install 'sio-chat[redis]'"
        ) from None


def _check_parser(name: str) -> None:
    try:
        sio.parser_named(name)
    except ImportError as exc:  # MsgpackMissingError: says what to install
        raise click.UsageError(f"--parser {name}: {exc}") from None


def _adapter_option(url: str | None, reactor: Reactor) -> dict[str, Any]:
    return {} if url is None else {"adapter": redis_adapter_factory(url, reactor)}


def conformance_options(command: Callable[..., None]) -> Callable[..., None]:
    """--host, --port and --log-level of the conformance servers."""
    for option in reversed(
        (
            click.option(
                "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
            ),
            click.option(
                "--port", default=3000, show_default=True, type=int, help="Port (0: any free)."
            ),
            click.option(
                "--log-level",
                type=click.Choice(LEVELS),
                default="warning",
                show_default=True,
                help="Logging threshold.",
            ),
        )
    ):
        command = option(command)
    return command


@main.group()
def conformance() -> None:
    """Servers configured as the official protocol test suites expect them."""


@conformance.command("engine.io")
@conformance_options
def conformance_engine_io(host: str, port: int, log_level: str) -> None:
    """Engine.IO echo server for socketio/engine.io-protocol's test-suite.

    Path /engine.io/, pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000, CORS from any
    origin; every message is sent back.
    """
    setup_logging(log_level)
    reactor = Reactor()
    server = EngineIOServer(reactor, EngineIOEcho(), engine_io_conformance_config())
    bound_host, bound_port = server.listen(host, port)
    click.echo(f"listening on {bound_host}:{bound_port}")
    run_until_signalled(reactor, lambda done: server.close(on_closed=done))


@conformance.command("socket.io")
@conformance_options
def conformance_socket_io(host: str, port: int, log_level: str) -> None:
    """Socket.IO server for socketio/socket.io-protocol's test-suite.

    Path /socket.io/, pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1000000,
    connectTimeout 1000 ms, CORS from any origin. On connection to / and /custom it emits
    "auth" with the handshake auth; "message" is echoed as "message-back"; "message-with-ack"
    is acknowledged with the same arguments.
    """
    setup_logging(log_level)
    io = socket_io_conformance_server()
    bound_host, bound_port = io.listen(host, port)
    click.echo(f"listening on {bound_host}:{bound_port}")
    run_until_signalled(io.reactor, io.close)
