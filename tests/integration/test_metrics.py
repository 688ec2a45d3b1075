"""``GET /metrics`` (``sio-chat server --metrics``): scraped after chat traffic, in one process
and in the fork cluster (every worker's figures in one scrape, restarts, a worker that does not
answer), and absent without the flag."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from .cluster_support import (
    SIO_CHAT,
    WAIT,
    ClientLoop,
    Cluster,
    Proc,
    http_request,
    source_addresses,
    start_cli_cluster,
)
from .redis_support import own_redis

#: name -> {frozenset(labels.items()): value}, for the samples of a scrape.
Samples = dict[str, dict[frozenset[tuple[str, str]], float]]


def scrape(host: str, port: int, source: str | None = None) -> Samples:
    status, body = http_request(host, port, path="/metrics", source=source)
    assert status == 200, (status, body[:200])
    samples: Samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get(name, {}).get(frozenset(labels.items()))


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name`` over the samples that have ``labels`` (and any others)."""
    wanted = set(labels.items())
    return sum(v for key, v in samples.get(name, {}).items() if wanted <= key)


class SingleServer(Proc):
    """``sio-chat server --workers 1`` on 127.0.0.1, port 0."""

    def __init__(self, *extra: str) -> None:
        argv = [SIO_CHAT, "server", "--workers", "1", "--host", "127.0.0.1", "--port", "0"]
        super().__init__([*argv, *extra])
        _, match = self.expect(r"^listening on (.+):(\d+)$", stream="stdout", timeout=10.0)
        self.started = time.monotonic()
        self.host = match.group(1)
        self.port = int(match.group(2))
        self.url = f"http://{self.host}:{self.port}"


def test_scrape_after_chat_traffic(loop: ClientLoop) -> None:
    server = SingleServer("--metrics")
    try:
        alice = loop.connect(server.url, "127.0.0.1", auth={"user": "alice"})
        bob = loop.connect(server.url, "127.0.0.1", auth={"user": "bob"})
        alice_id = alice.wait_connected()
        bob.wait_connected()
        alice.emit("chat message", "alice", "hello")
        bob.inbox.wait_count("chat message", 1)
        loop.call(alice.close_now)
        server.expect(rf"disconnected, id: {re.escape(alice_id)}$")
        # The lag timer fires every 0.25 s from the start: let it have fired.
        due = max(0.0, server.started + 0.6 - time.monotonic())
        time.sleep(due)  # allowed: due at a known time, no event says so
        samples = scrape(server.host, server.port)
        assert total(samples, "socketio_connected_sockets", namespace="/") == 1  # bob
        assert value(samples, "socketio_connections_total", namespace="/") == 2
        assert total(samples, "socketio_disconnections_total") == 1
        reason = "transport close"  # the client closed its connection (manager.close)
        assert value(samples, "socketio_disconnections_total", namespace="/", reason=reason) == 1
        assert value(samples, "engineio_handshakes_total") == 2
        assert total(samples, "engineio_open_sessions") == 1
        assert value(samples, "socketio_broadcasts_total") >= 2  # type: ignore[operator]
        # "bob joined" to alice, the chat message to bob: at least 2 deliveries.
        assert value(samples, "socketio_deliveries_total") >= 2  # type: ignore[operator]
        assert value(samples, "socketio_handler_errors_total") == 0
        for name in ("packets_received", "packets_sent", "received_bytes", "sent_bytes"):
            assert value(samples, f"engineio_{name}_total") > 0, name  # type: ignore[operator]
        buckets = samples["engineio_event_loop_lag_seconds_bucket"]
        bounds = {dict(key)["le"] for key in buckets}
        assert "+Inf" in bounds and "0.001" in bounds and len(bounds) >= 10
        assert value(samples, "engineio_event_loop_lag_seconds_bucket", le="+Inf") > 0  # type: ignore[operator]
        assert value(samples, "process_resident_memory_bytes") > 0  # type: ignore[operator]
        # The chat's own route is still there.
        assert http_request(server.host, server.port) == (200, b"sio-chat server\n")
    finally:
        server.kill()


def test_no_metrics_without_the_flag() -> None:
    server = SingleServer()
    try:
        status, _body = http_request(server.host, server.port, path="/metrics")
        assert status == 404
    finally:
        server.kill()


def scrape_cluster(cluster: Cluster, source: str) -> Samples:
    return scrape(cluster.host, cluster.port, source=source)


def test_one_scrape_shows_every_worker_and_restarts(loop: ClientLoop) -> None:
    cluster = start_cli_cluster(2, "--metrics")
    try:
        groups = source_addresses(2, 1)
        clients = {worker: loop.connect(cluster.url, ips[0]) for worker, ips in groups.items()}
        for client in clients.values():
            client.wait_connected()
        clients[1].emit("chat message", "one", "across the bus")
        clients[2].inbox.wait_count("chat message", 1)

        # One scrape of worker 1 has both workers' figures.
        samples = scrape_cluster(cluster, groups[1][0])
        assert value(samples, "socketio_cluster_workers_reporting") == 2
        assert value(samples, "socketio_cluster_workers") == 2
        for worker in ("1", "2"):
            assert total(samples, "socketio_connected_sockets", worker=worker) == 1, worker
            assert value(samples, "socketio_connections_total", worker=worker, namespace="/") == 1
            assert value(samples, "socketio_cluster_worker_reporting", worker=worker) == 1
            assert value(samples, "socketio_cluster_worker_restarts_total", worker=worker) == 0
            assert (
                value(samples, "engineio_event_loop_lag_seconds_bucket", worker=worker, le="+Inf")
                is not None
            )
            assert value(samples, "process_resident_memory_bytes", worker=worker) is not None
        # The message was broadcast on worker 1 and delivered by worker 2 (from the bus).
        assert value(samples, "socketio_deliveries_total", worker="2") >= 1  # type: ignore[operator]

        # Worker 2 killed: the master restarts it, and the scrape says so.
        old_pid = cluster.worker_pids()[2]
        mark = cluster.mark()
        os.kill(old_pid, signal.SIGKILL)
        cluster.expect(r"worker 2 started \(pid (\d+)\)", start=mark)

        cluster.wait_ready()  # the new worker 2 answers
        samples = scrape_cluster(cluster, groups[1][0])
        assert value(samples, "socketio_cluster_worker_restarts_total", worker="2") == 1
        assert value(samples, "socketio_cluster_worker_restarts_total", worker="1") == 0
        assert value(samples, "socketio_cluster_workers_reporting") == 2

        # A worker that does not answer in time is left out, visibly.
        new_pid = cluster.worker_pids()[2]
        os.kill(new_pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            samples = scrape_cluster(cluster, groups[1][0])
            assert time.monotonic() - started >= 0.9  # it waited for worker 2, then gave up
        finally:
            os.kill(new_pid, signal.SIGCONT)
        assert value(samples, "socketio_cluster_workers_reporting") == 1
        assert value(samples, "socketio_cluster_worker_reporting", worker="2") == 0
        assert value(samples, "socketio_cluster_worker_reporting", worker="1") == 1
        assert total(samples, "socketio_connections_total", worker="2") == 0
    finally:
        cluster.kill()
    assert not cluster.errors(), "\n".join(cluster.errors())


@pytest.mark.redis
def test_the_redis_adapters_health_is_scraped() -> None:
    pytest.importorskip("hiredis")
    pytest.importorskip("msgpack")
    with own_redis() as redis:
        server = SingleServer("--metrics", "--adapter", redis.url)
        try:

            def adapter_connected() -> float | None:
                samples = scrape(server.host, server.port)
                return value(samples, "socketio_adapter_connected", namespace="/")

            until(lambda: adapter_connected() == 1, "the adapter connected")
            redis.stop()
            until(lambda: adapter_connected() == 0, "the adapter's loss seen")
        finally:
            server.kill()


def until(check: Callable[[], bool], what: str) -> None:
    """Until ``check()`` holds (each try is a scrape, a round trip: no sleeping), bounded."""
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, f"not within {WAIT}s: {what}"
