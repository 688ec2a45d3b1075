"""Fixtures of the client and chat tests: a client reactor thread, clients that record their
events, in-process servers, and a check that nothing of ours logged an unhandled error."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sio.client import ClientSocket, Manager

from .helpers import RECOVERY, Loop, Recorder, ServerHandle, recovery_option, start_server

#: Socket events every test client records.
SOCKET_EVENTS = ("connect", "disconnect", "connect_error", "chat message", "notice")
#: Manager events every test client records.
MANAGER_EVENTS = (
    "open",
    "upgrade",
    "ping",
    "close",
    "error",
    "reconnect_attempt",
    "reconnect",
    "reconnect_error",
    "reconnect_failed",
)
#: Loggers whose errors fail a test: ours.
OUR_LOGGERS = ("eio", "sio", "cli", "sio_chat")

ClientFactory = Callable[..., tuple[ClientSocket, Recorder]]
ServerFactory = Callable[..., ServerHandle]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "allow_errors: the test expects our code to log errors")


@pytest.fixture(autouse=True)
def no_unhandled_errors(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Fail the test if our code logged an error or an exception (a traceback) meanwhile."""
    caplog.set_level(logging.WARNING)
    yield
    if request.node.get_closest_marker("allow_errors"):
        return
    bad = [
        record
        for record in caplog.get_records("call") + caplog.get_records("teardown")
        if record.name.split(".")[0] in OUR_LOGGERS
        and (record.levelno >= logging.ERROR or record.exc_info)
    ]
    assert not bad, "our code logged errors:\n" + "\n".join(
        caplog.handler.format(record) for record in bad
    )


@pytest.fixture
def loop() -> Iterator[Loop]:
    """The clients' reactor, in a thread."""
    loop = Loop()
    yield loop
    loop.stop()


@pytest.fixture
def client_factory(loop: Loop) -> Iterator[ClientFactory]:
    """``client_factory(url, namespace="/", auth=None, events=(), **manager_options)``:
    a connecting socket and a recorder of its (and its manager's) events."""
    managers: list[Manager] = []

    def make(
        url: str,
        *,
        namespace: str = "/",
        auth: dict[str, Any] | None = None,
        events: tuple[str, ...] = (),
        connect: bool = True,
        **options: Any,
    ) -> tuple[ClientSocket, Recorder]:
        recorder = Recorder()

        def build() -> ClientSocket:
            manager = Manager(url, reactor=loop.reactor, **options)
            managers.append(manager)
            socket = manager.socket(namespace, auth)
            recorder.listen(socket, *SOCKET_EVENTS, *events)
            recorder.listen(manager, *MANAGER_EVENTS)
            if connect:
                socket.connect()
            return socket

        return loop.call(build), recorder

    yield make
    for manager in managers:
        loop.call(manager.close)


@pytest.fixture
def server_factory() -> Iterator[ServerFactory]:
    """``server_factory(chat=True, **sio.Server options)``: an in-process server."""
    servers: list[ServerHandle] = []

    def make(**options: Any) -> ServerHandle:
        server = start_server(**options)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def chat_server(server_factory: ServerFactory) -> ServerHandle:
    """The chat app on an in-process server (the library's defaults: recovery off)."""
    return server_factory()


@pytest.fixture(params=RECOVERY)
def recovery(request: pytest.FixtureRequest) -> bool:
    """Whether the interop test's server has connection state recovery on: each test that asks
    runs both ways (its events then end with an offset, or exactly as the tutorial's)."""
    return bool(request.param)


@pytest.fixture
def interop_chat_server(server_factory: ServerFactory, recovery: bool) -> ServerHandle:
    """The chat app on an in-process server, with connection state recovery on and off."""
    return server_factory(connection_state_recovery=recovery_option(recovery))
