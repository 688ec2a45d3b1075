"""The official Node ``socket.io-client`` against the cluster, in its default mode (polling, then
the websocket upgrade), from several source addresses. In Node it opens a new TCP connection for
every polling request, so every request meets the master's dispatch: with IP dispatch they all
reach the session's worker; with round-robin the session breaks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .cluster_support import (
    Cluster,
    NodeClient,
    node_available,
    source_addresses,
    start_app_cluster,
    worker_of,
)

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(not node_available(), reason="node and tests/node/node_modules needed"),
]


@pytest.fixture
def started() -> Iterator[list[Cluster | NodeClient]]:
    processes: list[Cluster | NodeClient] = []
    yield processes
    for process in processes:
        process.kill()


def test_node_clients_connect_and_upgrade_on_their_worker(
    started: list[Cluster | NodeClient],
) -> None:
    cluster = start_app_cluster(3)
    started.append(cluster)
    groups = source_addresses(3, 2)
    clients: dict[str, tuple[int, NodeClient]] = {}
    for worker, ips in groups.items():
        for ip in ips:
            client = NodeClient(cluster.url, ip, reconnection=False, auth={"name": ip})
            started.append(client)
            clients[ip] = (worker, client)
    for ip, (worker, client) in clients.items():
        assert client.report("open")["transport"] == "polling"
        connected = client.report("connect")
        assert client.report("upgrade")["transport"] == "websocket"
        client.send({"emit": "whoami", "seq": 1})
        ack = client.report("ack")
        assert ack["args"] == [worker, connected["id"]], ip
        assert worker_of(cluster, ip) == worker
    # Across workers, over the upgraded connections.
    first_worker, first = next(iter(clients.values()))
    first.send({"emit": "emit-all", "args": ["from node"], "seq": 2})
    first.report("ack")
    for ip, (_worker, client) in clients.items():
        event = client.report("event")
        assert event == {"type": "event", "name": "msg", "args": [first_worker, "from node"]}, ip
        assert client.count('"type":"disconnect"', "stdout") == 0
        assert client.count('"type":"connect_error"', "stdout") == 0
    assert not cluster.errors(), "\n".join(cluster.errors())


def test_node_client_fails_with_round_robin(started: list[Cluster | NodeClient]) -> None:
    cluster = start_app_cluster(2, "--dispatch", "round-robin")
    started.append(cluster)
    client = NodeClient(cluster.url, "127.0.0.2", reconnection=False)
    started.append(client)
    failure = client.report("connect_error")
    assert failure["message"] in ("xhr post error", "xhr poll error")  # a 400 from the wrong worker
    assert client.count('"type":"connect"', "stdout") == 0
