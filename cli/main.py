"""``sio-chat``: the chat server and client, and the conformance test servers."""

from __future__ import annotations

import logging

import click

from eio import EngineIOServer, Reactor

from .apps import EngineIOEcho, engine_io_conformance_config, socket_io_conformance_server
from .log_setup import LEVELS, setup_logging
from .runner import run_until_signalled

log = logging.getLogger("sio_chat")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """A Socket.IO console chat, with its own Engine.IO/Socket.IO implementation."""


@main.group()
def conformance() -> None:
    """Servers configured as the official protocol test suites expect them."""


@conformance.command("engine.io")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=3000, show_default=True, type=int, help="Port (0: any free port).")
@click.option(
    "--log-level",
    type=click.Choice(LEVELS),
    default="warning",
    show_default=True,
    help="Logging threshold.",
)
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
    run_until_signalled(reactor, server.close, lambda: server.closed)


@conformance.command("socket.io")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=3000, show_default=True, type=int, help="Port (0: any free port).")
@click.option(
    "--log-level",
    type=click.Choice(LEVELS),
    default="warning",
    show_default=True,
    help="Logging threshold.",
)
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
    run_until_signalled(io.reactor, io.close, lambda: io.closed)
