"""Two hosts, one fleet: two ``sio-chat server --workers 2 --adapter …`` on different loopback
addresses (127.0.0.2 and 127.0.0.3) share one Redis (a ``redis-server`` of the test's own), with
each adapter. Chat clients on every worker of both hosts: a message reaches every other client
once, and ``who`` lists everyone, whichever host answers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from .cluster_support import (
    ClientLoop,
    Cluster,
    expected_worker,
    start_cli_cluster,
)
from .redis_support import OwnRedis, own_redis

pytestmark = pytest.mark.redis

HOSTS = ("127.0.0.2", "127.0.0.3")


@pytest.fixture(scope="module")
def redis() -> Iterator[OwnRedis]:
    with own_redis() as server:
        yield server


@pytest.fixture
def loop() -> Iterator[ClientLoop]:
    clients = ClientLoop()
    yield clients
    clients.close()


def sources_per_worker(workers: int = 2) -> list[str]:
    """One client source address for each worker (127.0.1.x: not a host's own address)."""
    chosen: dict[int, str] = {}
    last = 2
    while len(chosen) < workers:
        ip = f"127.0.1.{last}"
        chosen.setdefault(expected_worker(ip, workers), ip)
        last += 1
    return [chosen[worker] for worker in sorted(chosen)]


@pytest.mark.parametrize("scheme", ["redis", "redis-streams"])
def test_chat_across_two_hosts(redis: OwnRedis, loop: ClientLoop, scheme: str) -> None:
    adapter = f"{scheme}://127.0.0.1:{redis.port}"
    hosts: list[Cluster] = []
    try:
        for host in HOSTS:
            hosts.append(start_cli_cluster(2, "--adapter", adapter, host=host))
        clients = []
        for index, host in enumerate(hosts):
            for source in sources_per_worker():
                name = f"h{index}-{source}"
                client = loop.connect(host.url, source, auth={"user": name})
                client.name = name  # type: ignore[attr-defined]
                clients.append(client)
        for client in clients:
            client.wait_connected()
        everyone = sorted(client.name for client in clients)  # type: ignore[attr-defined]
        # The fleet is formed (every server subscribed and answering) once "who", which asks
        # every server for its sockets, lists everyone, asked of every server.
        # Every server's view: the streams adapter learns of its peers within a second.
        deadline = time.monotonic() + 10
        for client in clients:
            while client.call("who") != (everyone,):  # each try waits for its answer
                assert time.monotonic() < deadline, "the fleet did not form"
        for client in clients:
            client.emit("chat message", client.name, "hello")  # type: ignore[attr-defined]
        for client in clients:
            texts = [args[0] for args in client.inbox.wait_count("chat message", len(clients) - 1)]
            expected = {
                f"hello from {other.name}"  # type: ignore[attr-defined]
                for other in clients
                if other is not client
            }
            assert set(texts) == expected  # every other client's, once
            assert len(texts) == len(expected)
        for client in (clients[0], clients[-1]):
            (names,) = client.call("who")
            assert names == everyone
        for host in hosts:
            assert host.errors() == []
    finally:
        for host in hosts:
            host.kill()
