"""``reactor.Connector``: names are resolved off the loop (an injected slow resolver must not
stall it), the connect timeout covers resolution, and IP literals skip the resolver."""

from __future__ import annotations

import queue
import socket
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from reactor import Connector, Reactor, open_listening_socket

WAIT = 5.0


class LoopThread:
    def __init__(self) -> None:
        self.reactor = Reactor()
        self.thread = threading.Thread(target=self.reactor.run, daemon=True)
        self.thread.start()

    def call(self, fn: Any, *args: Any) -> Any:
        return self.reactor.call_from_thread(fn, *args, timeout=WAIT)

    def stop(self) -> None:
        self.reactor.stop()
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        self.reactor.close()


@pytest.fixture
def loop() -> Iterator[LoopThread]:
    loop = LoopThread()
    yield loop
    loop.stop()


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    sock = open_listening_socket("127.0.0.1", 0)
    yield sock
    sock.close()


class SlowResolver:
    """Blocks until released, then answers with ``address``; records the names asked for."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.release = threading.Event()
        self.asked: list[str] = []

    def __call__(self, host: str, port: int) -> Sequence[Any]:
        self.asked.append(host)
        assert self.release.wait(WAIT), "never released"
        return socket.getaddrinfo(*self.address, type=socket.SOCK_STREAM)


def get(results: queue.Queue[tuple[str, Any]]) -> tuple[str, Any]:
    try:
        return results.get(timeout=WAIT)
    except queue.Empty:
        raise AssertionError(f"nothing within {WAIT}s") from None


def start(
    loop: LoopThread, host: str, port: int, resolver: Any, timeout: float = WAIT
) -> queue.Queue[tuple[str, Any]]:
    results: queue.Queue[tuple[str, Any]] = queue.Queue()

    def connect() -> None:
        Connector(
            loop.reactor,
            (host, port),
            lambda sock: (results.put(("connected", sock.getpeername())), sock.close()),
            lambda exc: results.put(("error", exc)),
            timeout=timeout,
            resolve=resolver,
        )

    loop.call(connect)
    return results


def test_connector_slow_resolution_does_not_stall_the_loop(
    loop: LoopThread, listening: socket.socket
) -> None:
    address = listening.getsockname()
    resolver = SlowResolver(address)
    results = start(loop, "slow.example", address[1], resolver)
    # While the resolver blocks, the loop runs timers and callbacks as usual.
    ticks: queue.Queue[str] = queue.Queue()
    loop.call(lambda: loop.reactor.call_later(0.05, ticks.put, "timer"))
    assert ticks.get(timeout=WAIT) == "timer"
    assert loop.call(lambda: "callback") == "callback"
    assert results.empty()
    resolver.release.set()
    assert get(results) == ("connected", address)
    assert resolver.asked == ["slow.example"]


def test_connector_timeout_covers_resolution(loop: LoopThread, listening: socket.socket) -> None:
    address = listening.getsockname()
    resolver = SlowResolver(address)
    results = start(loop, "slow.example", address[1], resolver, timeout=0.3)
    kind, exc = get(results)
    assert kind == "error" and isinstance(exc, TimeoutError)
    resolver.release.set()  # the late answer is dropped: no connection after the timeout
    assert loop.call(lambda: "one more tick") == "one more tick"
    with pytest.raises(queue.Empty):
        results.get(timeout=0.3)


def test_connector_reports_a_failed_resolution(loop: LoopThread) -> None:
    def unknown(host: str, port: int) -> Sequence[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    kind, exc = get(start(loop, "nowhere.example", 80, unknown))
    assert kind == "error" and isinstance(exc, socket.gaierror)


def test_connector_ip_literal_skips_the_resolver(
    loop: LoopThread, listening: socket.socket
) -> None:
    def never(host: str, port: int) -> Sequence[Any]:
        raise AssertionError("an IP literal went to the resolver")

    address = listening.getsockname()
    assert get(start(loop, "127.0.0.1", address[1], never)) == ("connected", address)
