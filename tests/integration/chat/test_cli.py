"""``sio-chat server`` and ``sio-chat client`` as subprocesses, stdin piped, as a user runs them.

The tests with our server run it with connection state recovery on (its default) and off
(``--recovery-window 0``): the client shows the same lines either way (never an offset)."""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
from collections.abc import Iterator

import click
import pytest

from cli.main import main as cli_main

from .helpers import (
    SIO_CHAT,
    WAIT,
    Process,
    ServerProcess,
    chat_server_process,
    node_server,
    recovery_args,
    running,
)


def chat_client(url: str, user: str, *extra: str) -> Process:
    return Process([SIO_CHAT, "client", "--user", user, "--url", url, *extra])


@pytest.fixture
def server(recovery: bool) -> Iterator[ServerProcess]:
    server = chat_server_process(0, *recovery_args(recovery))
    yield server
    server.proc.stop()


@pytest.fixture
def cluster(recovery: bool) -> Iterator[ServerProcess]:
    """The server as started by default: a worker per CPU (at least two here)."""
    server = chat_server_process(0, "--workers", "2", *recovery_args(recovery), workers=None)
    yield server
    server.proc.stop()


@pytest.mark.parametrize(
    "transports", ["polling,websocket", "websocket", "polling"], ids=["upgrade", "ws", "polling"]
)
def test_two_clients_chat_through_the_server(server: ServerProcess, transports: str) -> None:
    _two_clients_chat(server, transports)


def test_two_clients_chat_through_a_cluster(cluster: ServerProcess) -> None:
    _two_clients_chat(cluster, "polling,websocket")


def _two_clients_chat(server: ServerProcess, transports: str) -> None:
    b = chat_client(server.url, "UserB", "--transports", transports)
    with running(b.stop):
        b.expect_err("connected to")
        a = chat_client(server.url, "UserA", "--transports", transports)
        with running(a.stop):
            # A: two lines, then end of input; it sends both, then leaves by itself.
            a.write("hello")
            a.write("second line")
            a.close_stdin()
            assert a.wait() == 0
            assert b.expect_line("hello from UserA") == "hello from UserA"
            assert b.expect_line("from UserA") == "second line from UserA"
            assert not [line for line in a.out_lines if "from UserA" in line]  # never to A
            # B leaves with /quit while its stdin stays open.
            b.write("/quit")
            assert b.wait() == 0
    assert server.stop() == 0  # SIGTERM
    server.proc.wait()
    log = "\n".join(server.proc.err_lines)
    assert len(re.findall(r"connected, id: \S+", log)) >= 2
    assert len(re.findall(r"disconnected, id: \S+", log)) >= 2
    assert "UserA: hello" in log


def test_client_leaves_on_sigint_and_on_eof(recovery: bool) -> None:
    # (another --path, for the client's --path to follow; the server stops on Ctrl-C too)
    server = chat_server_process(0, "--path", "/chat/", *recovery_args(recovery))
    a = chat_client(server.url, "UserA", "--path", "/chat/")
    b = chat_client(server.url, "UserB", "--path", "/chat/")
    with running(server.proc.stop, a.stop, b.stop):
        a.expect_err("connected to")
        b.expect_err("connected to")
        a.signal(signal.SIGINT)  # Ctrl-C
        assert a.wait() == 0
        assert b.expect_line("* UserA left") == "* UserA left"
        b.close_stdin()  # Ctrl-D
        assert b.wait() == 0
        server.proc.signal(signal.SIGINT)
        assert server.proc.wait() == 0
    assert not [line for line in a.err_lines + b.err_lines if "Traceback" in line]
    assert not [line for line in server.proc.err_lines if "Traceback" in line]


def test_client_commands(server: ServerProcess) -> None:
    a = chat_client(server.url, "UserA")
    b = chat_client(server.url, "UserB")
    with running(a.stop, b.stop):
        a.expect_err("connected to")
        b.expect_err("connected to")
        a.write("/who")
        assert a.expect_err("online:") == "[online: UserA, UserB]"
        a.write("/ping")
        assert re.fullmatch(r"\[pong in [\d.]+ ms\]", a.expect_err("pong"))
        a.write("/join blue")
        a.expect_err("you are in room blue")
        b.write("nobody in blue hears this")
        b.write("/join blue")
        b.expect_err("you are in room blue")
        b.write("only blue")
        assert a.expect_line("from UserB") == "only blue from UserB"
        b.write("/leave")
        b.expect_err("you are back in the lobby")
        assert a.expect_line("* UserB left") == "* UserB left"
        a.write("/nonsense")
        a.expect_err("unknown command /nonsense")
        a.close_stdin()
        b.close_stdin()
        assert a.wait() == 0 and b.wait() == 0
    assert "nobody in blue hears this from UserB" not in a.out_lines


@pytest.mark.node
def test_client_talks_to_the_tutorial_node_server() -> None:
    server = node_server("chat_server.js")
    b = chat_client(server.url, "UserB")
    with running(server, b.stop):
        b.expect_err("connected to")
        a = chat_client(server.url, "UserA", "--transports", "websocket")
        with running(a.stop):
            a.write("hello")
            a.close_stdin()
            assert a.wait() == 0
        assert b.expect_line("hello from UserA") == "hello from UserA"
        b.write("/quit")
        assert b.wait() == 0


def test_client_without_a_server_gives_up() -> None:
    # A port nobody listens on: the connection fails, reconnection gives up after 1 attempt.
    gone = chat_server_process()
    url = gone.url
    gone.stop()
    a = chat_client(url, "UserA", "--reconnection-attempts", "1", "--reconnection-delay", "0.1")
    with running(a.stop):
        a.expect_err("connection failed")
        a.expect_err("gave up reconnecting")
        assert a.wait(timeout=WAIT) == 1


def test_get_root_answers_plain_text(server: ServerProcess) -> None:
    conn = http.client.HTTPConnection(server.host, server.port, timeout=WAIT)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        body = response.read().decode()
    finally:
        conn.close()
    assert response.status == 200
    assert response.getheader("content-type", "").startswith("text/plain")
    assert body.endswith("\n") and body.count("\n") == 1 and 0 < len(body) < 200


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))
        else:
            yield (*prefix, name)


@pytest.mark.parametrize("command", list(_commands(cli_main)), ids=" ".join)
def test_help_explains_every_option_with_its_default(command: tuple[str, ...]) -> None:
    result = subprocess.run(
        [SIO_CHAT, *command, "--help"], capture_output=True, text=True, timeout=WAIT
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    options = text.split("Options:", 1)[1]
    # One block per option: its first line starts with "  -", the rest are indented more.
    blocks = re.split(r"\n(?=  -)", options.strip("\n"))
    target: click.Command = cli_main
    for name in command:
        assert isinstance(target, click.Group)
        target = target.commands[name]
    visible = [p for p in target.params if isinstance(p, click.Option) and not p.hidden]
    assert len(blocks) == len(visible) + 1  # and --help
    for param in visible:
        flag = max(param.opts, key=len)
        (block,) = [b for b in blocks if re.match(rf"\s*(-\w, )?{re.escape(flag)}(?![\w-])", b)]
        described = " ".join(block.split()[1:])
        assert len(described) > 10, f"{flag} is not explained"
        assert "default" in described.lower() or "[required]" in described, (
            f"{' '.join(command)} --help: {flag} does not state its default: {described!r}"
        )


def test_client_reconnects_to_a_restarted_server(recovery: bool) -> None:
    # (the restarted server knows nothing of the first one's sessions: a new connection)
    first = chat_server_process(0, *recovery_args(recovery))
    b = chat_client(first.url, "UserB", "--reconnection-delay", "0.2")
    with running(first.proc.stop, b.stop):
        b.expect_err("connected to")
        assert first.stop() == 0
        b.expect_err("disconnected:")
        b.expect_err("reconnecting (attempt 1)")
        second = chat_server_process(first.port, *recovery_args(recovery))
        with running(second):
            b.expect_err("connected to")
            a = chat_client(second.url, "UserA", "--transports", "websocket")
            with running(a.stop):
                a.write("back again")
                a.close_stdin()
                assert a.wait() == 0
            assert b.expect_line("from UserA") == "back again from UserA"
            b.close_stdin()
            assert b.wait() == 0
