"""``sio-chat server --certfile/--keyfile`` and ``sio-chat client --url https://...`` as a user
runs them: the chat end to end over TLS, certificates the client refuses (a clear line, exit
code 1, no retries), ``--insecure``, and wrong usage failing at startup without a traceback."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from cli.main import main as cli_main

from ..tls_support import ServerCert, TlsFiles
from .helpers import SIO_CHAT, WAIT, Process, ServerProcess, chat_server_process, running


def tls_server(cert: ServerCert, *extra: str) -> ServerProcess:
    return chat_server_process(0, "--certfile", cert.certfile, "--keyfile", cert.keyfile, *extra)


def chat_client(url: str, user: str, *extra: str) -> Process:
    return Process([SIO_CHAT, "client", "--user", user, "--url", url, *extra])


@pytest.fixture
def server(tls_files: TlsFiles) -> Iterator[ServerProcess]:
    server = tls_server(tls_files.good, "--recovery-window", "0")
    yield server
    server.proc.stop()


@pytest.mark.parametrize("transports", ["polling,websocket", "websocket", "polling"])
def test_tls_cli_chat_over_https(
    server: ServerProcess, tls_files: TlsFiles, transports: str
) -> None:
    url = f"https://localhost:{server.port}"
    options = ("--cafile", tls_files.cafile, "--transports", transports)
    b = chat_client(url, "UserB", *options)
    with running(b.stop):
        b.expect_err(f"connected to {url} as UserB")
        a = chat_client(url, "UserA", *options)
        with running(a.stop):
            a.expect_err("connected to")
            a.write("hello over TLS")
            assert b.expect_line("from UserA") == "hello over TLS from UserA"
            b.write("hi A")
            assert a.expect_line("from UserB") == "hi A from UserB"
            a.close_stdin()
            b.close_stdin()
            assert a.wait() == 0 and b.wait() == 0
    assert server.stop() == 0
    assert not [line for line in server.proc.err_lines if "Traceback" in line]


REFUSALS = {
    "wrong_host": "certificate verify failed: Hostname mismatch, certificate is not valid for "
    "'localhost'",
    "expired": "certificate verify failed: certificate has expired",
    "unknown_ca": "certificate verify failed: unable to get local issuer certificate",
}


@pytest.mark.parametrize("cert_name", list(REFUSALS))
def test_tls_cli_client_refuses_and_stops(tls_files: TlsFiles, cert_name: str) -> None:
    server = tls_server(getattr(tls_files, cert_name))
    url = f"https://localhost:{server.port}"
    client = chat_client(url, "UserA", "--cafile", tls_files.cafile)
    with running(server.proc.stop, client.stop):
        line = client.expect_err("connection failed")
        assert REFUSALS[cert_name] in line, line
        assert client.wait() == 1  # stops by itself: a refused certificate is final
        insecure = chat_client(url, "UserB", "--insecure")
        with running(insecure.stop):
            insecure.expect_err("warning: --insecure")
            insecure.expect_err("connected to")
            insecure.close_stdin()
            assert insecure.wait() == 0
    assert not [line for line in client.err_lines if "reconnecting" in line.lower()][1:]
    assert not [line for line in client.err_lines if "Traceback" in line]


def test_tls_cli_handshake_timeout(tls_files: TlsFiles) -> None:
    """--tls-handshake-timeout: a peer that connects and says nothing is dropped then."""
    server = tls_server(tls_files.good, "--tls-handshake-timeout", "0.5")
    with running(server.proc.stop):
        with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as silent:
            started = time.monotonic()
            assert silent.recv(100) == b""
            assert time.monotonic() - started < WAIT
        assert server.stop() == 0
    assert not [line for line in server.proc.err_lines if "Traceback" in line]


def test_tls_cli_server_refuses_bad_files(tls_files: TlsFiles, tmp_path: object) -> None:
    runner = CliRunner()
    cases = [
        (["--certfile", "/nonexistent/cert.pem"], "cannot load certificate"),
        (
            ["--certfile", tls_files.good.certfile, "--keyfile", tls_files.expired.keyfile],
            "does not match the certificate",
        ),
        (["--keyfile", tls_files.good.keyfile], "--keyfile needs --certfile"),
        (
            [
                *("--certfile", tls_files.good.certfile, "--keyfile", tls_files.good.keyfile),
                *("--workers", "2", "--trusted-proxy"),
            ],
            "--trusted-proxy cannot be combined with --certfile",
        ),
    ]
    for args, message in cases:
        result = runner.invoke(cli_main, ["server", "--port", "0", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output, result.output
        assert "Traceback" not in result.output


def test_tls_cli_client_refuses_a_bad_cafile() -> None:
    result = CliRunner().invoke(
        cli_main,
        ["client", "--user", "a", "--url", "https://localhost:1", "--cafile", "/nonexistent"],
    )
    assert result.exit_code == 2
    assert "cannot load CA file '/nonexistent'" in result.output
