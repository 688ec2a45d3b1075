"""Socket.IO over TLS, our client and our server: https and wss in every transport mode, and
the certificates our client refuses (with a message naming the cause, and no retries)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import sio
from cli.chat import install_chat
from reactor import Reactor, TlsConfigError

from .cluster_support import ClientLoop, wait_until
from .tls_support import ServerCert, TlsFiles

WAIT = 10.0

MODES = {
    "polling": {"transports": ("polling",)},
    "websocket": {"transports": ("websocket",)},
    "upgrade": {"transports": ("polling", "websocket")},
}


class ChatServer:
    """The chat on an in-process TLS server (a reactor thread)."""

    def __init__(self, **tls: Any) -> None:
        self.reactor = Reactor()
        self.io = sio.Server(reactor=self.reactor, **tls)
        install_chat(self.io)
        _, self.port = self.io.listen("127.0.0.1", 0)
        self.thread = threading.Thread(target=self.reactor.run, daemon=True)
        self.thread.start()

    def url(self, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}"

    def stop(self) -> None:
        self.reactor.call_soon_threadsafe(self.io.close, self.reactor.stop)
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the server did not stop"
        self.reactor.close()


@pytest.fixture
def start_server() -> Iterator[Any]:
    servers: list[ChatServer] = []

    def start(cert: ServerCert) -> ChatServer:
        server = ChatServer(certfile=cert.certfile, keyfile=cert.keyfile)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("mode", list(MODES))
def test_tls_chat_over_https_and_wss(
    mode: str, start_server: Any, tls_files: TlsFiles, loop: ClientLoop
) -> None:
    server = start_server(tls_files.good)
    options = {**MODES[mode], "ca_file": tls_files.cafile}
    alice = loop.connect(server.url(), "127.0.0.1", auth={"user": "alice"}, **options)
    bob = loop.connect(server.url(), "127.0.0.1", auth={"user": "bob"}, **options)
    alice.wait_connected()
    bob.wait_connected()
    assert alice.call("echo", "é" * 100_000) == ("é" * 100_000,)  # big frames both ways
    alice.emit("chat message", "alice", "hello over TLS")
    assert bob.inbox.wait_count("chat message", 1)[0][0] == "hello over TLS from alice"
    bob.emit("chat message", "bob", "hi alice")
    assert alice.inbox.wait_count("chat message", 1)[0][0] == "hi alice from bob"
    expected = {"polling": "polling", "websocket": "websocket", "upgrade": "websocket"}[mode]
    if mode == "upgrade":

        def upgraded() -> bool:
            return loop.call(lambda: alice.socket.manager.transport) == "websocket"

        wait_until(upgraded, WAIT, "the upgrade to wss")
    assert loop.call(lambda: alice.socket.manager.transport) == expected


REFUSALS = {
    "wrong_host": "certificate verify failed: Hostname mismatch, certificate is not valid for "
    "'localhost'.",
    "expired": "certificate verify failed: certificate has expired",
    "unknown_ca": "certificate verify failed: unable to get local issuer certificate",
}


@pytest.mark.parametrize("cert_name", list(REFUSALS))
@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_tls_client_refuses_a_bad_certificate(
    cert_name: str, transport: str, start_server: Any, tls_files: TlsFiles, loop: ClientLoop
) -> None:
    server = start_server(getattr(tls_files, cert_name))
    errors: queue.Queue[BaseException] = queue.Queue()
    client = loop.connect(
        server.url(),
        "127.0.0.1",
        transports=(transport,),
        ca_file=tls_files.cafile,
        reconnection_delay=0.01,
    )
    loop.call(lambda: client.socket.manager.on("error", errors.put))
    error = client.inbox.wait_count("connect_error", 1)[0][0]
    assert str(error).startswith(REFUSALS[cert_name]), error
    fatal = loop.call(lambda: client.socket.manager.fatal_error)
    assert fatal is not None and fatal.certificate_refused
    # No retry storm: no reconnection is scheduled (the delay is 10 ms; give it 50 times that).
    with pytest.raises(AssertionError):
        client.inbox.wait_count("connect_error", 2, timeout=0.5)
    assert loop.call(lambda: client.socket.manager._reconnect_timer) is None


@pytest.mark.parametrize("cert_name", list(REFUSALS))
def test_tls_client_insecure_connects_anyway(
    cert_name: str, start_server: Any, tls_files: TlsFiles, loop: ClientLoop
) -> None:
    server = start_server(getattr(tls_files, cert_name))
    client = loop.connect(server.url(), "127.0.0.1", ssl_verify=False)
    client.wait_connected()
    assert client.call("echo", "unverified") == ("unverified",)


def test_tls_client_wss_url_and_ip_address(
    start_server: Any, tls_files: TlsFiles, loop: ClientLoop
) -> None:
    """A wss:// URL works as https:// does; the certificate names 127.0.0.1 too."""
    server = start_server(tls_files.good)
    client = loop.connect(
        f"wss://127.0.0.1:{server.port}",
        "127.0.0.1",
        transports=("websocket",),
        ca_file=tls_files.cafile,
    )
    client.wait_connected()
    assert client.call("echo", 1) == (1,)


def test_tls_server_bad_files_fail_clearly(tls_files: TlsFiles, tmp_path: Any) -> None:
    with pytest.raises(TlsConfigError, match=r"cannot load certificate .*missing\.pem"):
        sio.Server(reactor=Reactor(), certfile=str(tmp_path / "missing.pem"))
    with pytest.raises(TlsConfigError, match="does not match"):
        sio.Server(
            reactor=Reactor(),
            certfile=tls_files.good.certfile,
            keyfile=tls_files.expired.keyfile,
        )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(TlsConfigError, match="cannot load certificate"):
        sio.Server(reactor=Reactor(), certfile=str(garbage))
