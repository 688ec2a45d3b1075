"""``sio-chat``: the chat server and client, and the conformance test servers."""

from __future__ import annotations

import inspect
import logging
import math
import os
import secrets
import sys
from collections.abc import Callable
from typing import Any

import click

import admin
import sio
from cluster import (
    ClusterConfig,
    Supervisor,
    check_metrics_available,
    check_redis_adapter_url,
    install_metrics,
    redis_adapter_factory,
)
from eio import FD_RESERVE, EngineIOServer, HttpHandler
from reactor import (
    DEFAULT_TLS_HANDSHAKE_TIMEOUT,
    Reactor,
    TlsConfigError,
    client_tls_context,
    server_tls_context,
)

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


def parser_option(peer: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """``--parser``, for a side whose ``peer`` must use the same one."""
    return click.option(
        "--parser",
        type=click.Choice(sio.PARSER_NAMES),
        default="json",
        show_default=True,
        help="How Socket.IO packets are encoded: json (Socket.IO's own) or msgpack "
        f"(socket.io-msgpack-parser's; {peer} must use it too). msgpack needs "
        "pip install 'sio-chat[msgpack]'.",
    )


def limit_options(command: Callable[..., None]) -> Callable[..., None]:
    """The server's limits against hostile or broken peers (docs/security.md lists each): one
    block of options, each a ``sio.Server`` keyword (its default is the keyword's), passed on in
    the command's ``limits``."""
    defaults = inspect.signature(sio.Server).parameters
    seconds = click.FloatRange(min=0, min_open=True)
    seconds_or_never = click.FloatRange(min=0)
    count = click.IntRange(min=1)
    options: tuple[tuple[str, click.ParamType[Any], str], ...] = (
        ("ping_interval", seconds, "seconds between two server pings."),
        ("ping_timeout", seconds, "seconds a client has to answer a ping before it is dropped."),
        (
            "connect_timeout",
            seconds,
            "seconds a client has to join a namespace after its handshake.",
        ),
        ("upgrade_timeout", seconds, "seconds a polling client's websocket upgrade may take."),
        (
            "http_idle_timeout",
            seconds_or_never,
            "seconds a connection may wait for a request head, or idle between keep-alive "
            "requests (0: never).",
        ),
        (
            "request_timeout",
            seconds_or_never,
            "seconds a request may take to arrive whole, body included; then 408 (0: never).",
        ),
        (
            "max_http_buffer_size",
            count,
            "bytes of the largest HTTP body or websocket message (then 413, or close 1009).",
        ),
        ("max_decode_packets", count, "packets one polling POST may carry (then 400)."),
        (
            "max_poll_packets",
            count,
            "packets in one polling response (the rest waits for the next poll).",
        ),
        (
            "max_poll_queue",
            count,
            "packets waiting for a polling client that does not poll; then it is dropped as a "
            "slow consumer.",
        ),
        ("max_write_buffer", count, "bytes a slow reader may leave unsent; then it is dropped."),
        (
            "max_attachments",
            click.IntRange(min=0, max=9999),
            "binary attachments one packet may announce.",
        ),
        (
            "max_depth",
            click.IntRange(min=1, max=defaults["max_depth"].default),  # the default is the most
            "JSON nesting of a packet's payload (may only be lowered).",
        ),
        (
            "max_ack_id_digits",
            click.IntRange(min=1, max=defaults["max_ack_id_digits"].default),
            "digits of an acknowledgement id (may only be lowered).",
        ),
    )
    command = click.option(
        "--max-connections",
        type=click.IntRange(min=0),
        default=None,
        show_default=f"the fd limit minus {FD_RESERVE}",
        help="Limits: open connections per process (per worker); one more is answered 503 and "
        "closed (0: no limit).",
    )(command)
    command = click.option(
        "--max-sessions",
        type=click.IntRange(min=0),
        default=None,
        show_default="--max-connections",
        help="Limits: Engine.IO sessions per process (per worker; a polling client keeps one "
        "between its requests); one more handshake is answered 503 (0: no limit).",
    )(command)
    for name, kind, text in reversed(options):
        flag = "--" + name.replace("_", "-")
        default = defaults[name].default
        command = click.option(
            flag, name, default=default, type=kind, show_default=True, help="Limits: " + text
        )(command)
    return command


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
    "--certfile",
    default=None,
    metavar="FILE",
    help="Serve https/wss with this PEM certificate chain (the key may be in it too). "
    "Default: plain http/ws.",
)
@click.option(
    "--keyfile",
    default=None,
    metavar="FILE",
    help="The certificate's PEM private key. Default: in --certfile.",
)
@click.option(
    "--tls-handshake-timeout",
    default=DEFAULT_TLS_HANDSHAKE_TIMEOUT,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds a TLS handshake may take before the connection is dropped (Node allows "
    "120, nginx 60; 0: no limit).",
)
@click.option(
    "--metrics",
    is_flag=True,
    help="Serve GET /metrics in the Prometheus text format (in a cluster: every worker's "
    "figures, labelled worker=<id>). Needs pip install 'sio-chat[metrics]'. Default: off.",
)
@click.option(
    "--admin-ui",
    "admin_ui",
    default=None,
    metavar="USER:PASSWORD",
    help="Serve the official Socket.IO Admin UI's server side on /admin, with this login "
    "(the password is kept as a bcrypt hash; needs pip install 'sio-chat[admin]'). CORS "
    "admits the hosted UI, https://admin.socket.io. Default: off.",
)
@click.option(
    "--admin-ui-no-auth",
    is_flag=True,
    help="The Admin UI with no login at all: anyone reaching the server may act on every "
    "client. For local use only. Default: off.",
)
@click.option(
    "--admin-ui-mode",
    type=click.Choice(["development", "production"]),
    default="development",
    show_default=True,
    help="development: every socket, room and event, live; production: statistics only.",
)
@click.option(
    "--admin-ui-read-only", is_flag=True, help="The Admin UI may look but not act. Default: off."
)
@click.option(
    "--admin-ui-dir",
    default=None,
    type=click.Path(exists=True, file_okay=False),
    help="Also serve the UI's own files under /admin/ from this folder (the ui/dist folder "
    "of the npm package @socket.io/admin-ui). Default: none (use the hosted UI).",
)
@parser_option("every client")
@limit_options
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
    certfile: str | None,
    keyfile: str | None,
    tls_handshake_timeout: float,
    metrics: bool,
    admin_ui: str | None,
    admin_ui_no_auth: bool,
    admin_ui_mode: str,
    admin_ui_read_only: bool,
    admin_ui_dir: str | None,
    parser: str,
    log_level: str,
    **limits: Any,
) -> None:
    """The chat server: every "chat message" (user, message) goes to every other client as
    "<message> from <user>". GET / answers a line of plain text (the worker's id in a cluster).

    The "Limits:" options bound what a peer may cost (docs/security.md); in a cluster each
    worker applies them on its own."""
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
    tls = _tls_options(certfile, keyfile, tls_handshake_timeout)
    if tls and trusted_proxy and count > 1:
        # The master reads the first request's X-Forwarded-For to choose a worker; over TLS the
        # request is encrypted until the worker's handshake, so the master cannot read it.
        raise click.UsageError(
            "--trusted-proxy cannot be combined with --certfile in a cluster: the master "
            "dispatches by the first request's headers, which TLS encrypts. Let the proxy "
            "terminate TLS, or run one worker (--workers 1)."
        )
    if metrics:
        try:
            check_metrics_available()
        except ImportError as exc:
            raise click.UsageError(str(exc)) from exc
    # Before any fork: the password is hashed once, and every worker shares the token secret.
    admin_setup = _admin_setup(
        admin_ui, admin_ui_no_auth, admin_ui_mode, admin_ui_read_only, admin_ui_dir
    )
    _check_parser(parser)
    if count == 1:
        reactor = Reactor()
        io = sio.Server(
            reactor=reactor,
            path=path,
            cors_allowed_origins=origins,
            connection_state_recovery=recovery,
            parser=parser,
            http_handler=admin_setup.http_handler(plain_http_handler("sio-chat server")),
            **_adapter_option(adapter_url, reactor),
            **tls,
            **limits,
        )
        install_chat(io)
        if metrics:
            install_metrics(io)
        admin_setup.install(io)
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
            http_handler=admin_setup.http_handler(plain_http_handler(f"worker: {worker_id}")),
            **tls,  # the master hands over TCP connections; each worker does the handshake
            **limits,
        )
        install_chat(io)
        admin_setup.install(io)
        return io

    config = ClusterConfig(
        host=host,
        port=port,
        workers=count,
        dispatch=dispatch,
        trusted_proxy=trusted_proxy,
        # With Redis, recovery is the adapter's (across hosts), not the master's.
        recovery=recovery if adapter_url is None else None,
        metrics=metrics,
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
    "--cafile",
    default=None,
    metavar="FILE",
    help="For https:// URLs: also trust the CA certificates in this PEM file. Default: the "
    "system's CAs only.",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="For https:// URLs: do not verify the server's certificate (development only). "
    "Default: off (verified).",
)
@click.option(
    "--log-level",
    type=click.Choice(LEVELS),
    default="warning",
    show_default=True,
    help="Logging threshold for protocol details (on stderr).",
)
@parser_option("the server")
def client(
    user: str,
    url: str,
    transports: str,
    path: str,
    reconnection_attempts: int,
    reconnection_delay: float,
    cafile: str | None,
    insecure: bool,
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
    if insecure:
        click.echo(
            "warning: --insecure: the server's certificate is not verified; anyone on the "
            "path can read and change the chat",
            err=True,
        )
    if cafile is not None:
        try:
            client_tls_context(cafile=cafile)  # a bad --cafile fails now, with a clear message
        except TlsConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--cafile") from None
    _check_parser(parser)
    chat = ChatClient(
        url,
        user,
        transports=names,
        path=path,
        reconnection_attempts=reconnection_attempts or math.inf,
        reconnection_delay=reconnection_delay,
        ssl_verify=not insecure,
        ca_file=cafile,
        parser=parser,
    )
    exit_now(chat.run())


def _tls_options(
    certfile: str | None, keyfile: str | None, handshake_timeout: float
) -> dict[str, Any]:
    """sio.Server's TLS options, or {} for plain http; the files are checked now, before any
    worker starts."""
    if certfile is None:
        if keyfile is not None:
            raise click.UsageError("--keyfile needs --certfile")
        return {}
    try:
        context = server_tls_context(certfile, keyfile)
    except TlsConfigError as exc:
        raise click.UsageError(str(exc)) from None
    return {"ssl_context": context, "tls_handshake_timeout": handshake_timeout}


def _check_adapter_url(url: str) -> None:
    try:
        check_redis_adapter_url(url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--adapter") from None
    except ImportError:
        raise click.UsageError(
            "--adapter needs the Redis extra: pip install 'sio-chat[redis]'"
        ) from None


class _AdminSetup:
    """The Admin UI options, checked and prepared once in the master process."""

    def __init__(
        self,
        auth: dict[str, str] | bool | None,
        mode: str,
        read_only: bool,
        ui_dir: str | None,
    ) -> None:
        self.auth = auth
        self.mode = mode
        self.read_only = read_only
        self.ui_dir = ui_dir
        self.session_secret = secrets.token_bytes(32)

    def http_handler(self, app_handler: HttpHandler) -> HttpHandler:
        if self.auth is None or self.ui_dir is None:
            return app_handler
        return admin.static_ui_handler(self.ui_dir, fallback=app_handler)

    def install(self, io: sio.Server) -> None:
        if self.auth is None:
            return
        admin.instrument(
            io,
            auth=self.auth,
            mode=self.mode,
            read_only=self.read_only,
            session_secret=self.session_secret,
        )


def _admin_setup(
    login: str | None, no_auth: bool, mode: str, read_only: bool, ui_dir: str | None
) -> _AdminSetup:
    if login is not None and no_auth:
        raise click.UsageError("--admin-ui and --admin-ui-no-auth exclude each other")
    auth: dict[str, str] | bool | None = None
    if no_auth:
        log.warning(
            "admin UI without a login: anyone who reaches this server may watch and "
            "disconnect every client (local use only)"
        )
        auth = False
    elif login is not None:
        username, sep, password = login.partition(":")
        if not sep or not username or not password:
            raise click.BadParameter("use USER:PASSWORD", param_hint="--admin-ui")
        try:
            auth = {"username": username, "password": admin.hash_password(password)}
        except ImportError:
            raise click.UsageError(f"--admin-ui: {admin.BCRYPT_HINT}") from None
    elif ui_dir is not None or read_only:
        raise click.UsageError("--admin-ui-dir and --admin-ui-read-only need --admin-ui")
    if ui_dir is not None:
        try:
            admin.static_ui_handler(ui_dir)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--admin-ui-dir") from None
    return _AdminSetup(auth, mode, read_only, ui_dir)


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
