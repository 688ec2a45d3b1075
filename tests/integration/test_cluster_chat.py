"""The chat across workers: ``sio-chat server --workers 3`` with clients spread over all of them,
with connection state recovery on (every message ends with an offset) and off."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from .chat.helpers import RECOVERY, recovery_args, strip_offsets
from .cluster_support import (
    Client,
    ClientLoop,
    Cluster,
    expected_worker,
    source_addresses,
    start_cli_cluster,
    worker_of,
)

WORKERS = 3
CLIENTS = 20
MESSAGES = 20


@pytest.fixture(params=RECOVERY)
def recovery(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def cluster(recovery: bool) -> Iterator[Cluster]:
    cluster = start_cli_cluster(WORKERS, *recovery_args(recovery))
    yield cluster
    cluster.kill()
    assert not cluster.errors(), "\n".join(cluster.errors())


def by_sender(received: list[tuple[object, ...]], recovery: bool) -> dict[str, list[int]]:
    """Lines "m<i> from user<j>" -> {user<j>: [i, ...]} in arrival order (each message's offset
    checked and left out)."""
    senders: dict[str, list[int]] = {}
    for (line,) in strip_offsets(received, recovery):
        match = re.fullmatch(r"m(\d+) from (user\d+)", str(line))
        assert match, line
        senders.setdefault(match.group(2), []).append(int(match.group(1)))
    return senders


def test_every_message_reaches_every_other_client_in_order(
    cluster: Cluster, recovery: bool, loop: ClientLoop
) -> None:
    ips = [ip for group in zip(*source_addresses(WORKERS, 7).values(), strict=True) for ip in group]
    ips = ips[:CLIENTS]
    # Each client's worker, as GET / from its address says: all three serve clients.
    homes = {ip: worker_of(cluster, ip) for ip in ips}
    assert homes == {ip: expected_worker(ip, WORKERS) for ip in ips}
    assert set(homes.values()) == {1, 2, 3}

    clients: list[Client] = [loop.connect(cluster.url, ip) for ip in ips]
    for client in clients:
        sid = client.wait_connected()
        # The worker that logged this socket's connection is its address's worker.
        cluster.expect(rf"^\[worker {homes[client.source]}\] .* connected, id: {re.escape(sid)}$")
    for number in range(MESSAGES):
        for index, client in enumerate(clients):
            client.emit("chat message", f"user{index}", f"m{number}")

    expected = (CLIENTS - 1) * MESSAGES
    for index, client in enumerate(clients):
        received = client.inbox.wait_count("chat message", expected, timeout=15.0)
        assert len(received) == expected  # delivered once: no duplicates
        senders = by_sender(received, recovery)
        assert set(senders) == {f"user{n}" for n in range(CLIENTS)} - {f"user{index}"}
        for sender, numbers in senders.items():
            assert numbers == list(range(MESSAGES)), f"{sender} -> user{index}: out of order"
    for client in clients:
        assert client.inbox.count("disconnect") == 0
        assert client.inbox.count("chat message") == expected  # nothing more came
