"""Bad input at the master: clients that leave during the hand-over, many connections at once,
a flood that fills a worker's queue, garbage. Each costs at most its own connection; the master
keeps serving."""

from __future__ import annotations

import os
import signal
import socket
import struct
from collections.abc import Callable, Iterator

import pytest

from reactor import raise_fd_limit

from .cluster_support import (
    WAIT,
    Cluster,
    alive,
    expected_worker,
    http_request,
    read_response,
    source_addresses,
    start_app_cluster,
    start_cli_cluster,
    wait_until,
    worker_of,
)

StartCluster = Callable[..., Cluster]


@pytest.fixture
def start() -> Iterator[StartCluster]:
    started: list[Cluster] = []

    def run(cluster: Cluster) -> Cluster:
        started.append(cluster)
        return cluster

    yield run
    for cluster in started:
        cluster.kill()
    for cluster in started:
        assert not cluster.errors(), "\n".join(cluster.errors())


def all_workers_answer(cluster: Cluster) -> None:
    for worker, (ip,) in source_addresses(cluster.workers, 1).items():
        assert worker_of(cluster, ip) == worker


def connect_from(cluster: Cluster, ip: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(WAIT)
    sock.bind((ip, 0))
    sock.connect((cluster.host, cluster.port))
    return sock


def reset(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


GET_ROOT = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.mark.parametrize("trusted_proxy", [False, True])
def test_clients_leaving_during_the_hand_over(start: StartCluster, trusted_proxy: bool) -> None:
    extra = ("--trusted-proxy",) if trusted_proxy else ()
    cluster = start(start_cli_cluster(3, *extra))
    pids = cluster.worker_pids()
    ips = [ip for group in source_addresses(3, 4).values() for ip in group]
    for round_ in range(5):
        for index, ip in enumerate(ips):
            sock = connect_from(cluster, ip)
            how = (index + round_) % 4
            if how == 0:
                sock.close()  # nothing sent
            elif how == 1:
                reset(sock)
            elif how == 2:
                sock.sendall(GET_ROOT[:12])  # part of a head, then gone
                reset(sock)
            else:
                sock.sendall(GET_ROOT[:12])
                sock.close()
    assert alive(cluster.pid)
    all_workers_answer(cluster)
    assert cluster.worker_pids() == pids  # no worker died either


def test_many_connections_at_once(start: StartCluster) -> None:
    cluster = start(start_cli_cluster(3))
    ips = [ip for group in source_addresses(3, 5).values() for ip in group]
    socks = []
    try:
        for index in range(300):
            ip = ips[index % len(ips)]
            socks.append((ip, connect_from(cluster, ip)))
        for _ip, sock in socks:
            sock.sendall(GET_ROOT)
        for ip, sock in socks:
            status, body = read_response(sock)
            assert (status, body) == (200, f"worker: {expected_worker(ip, 3)}\n".encode())
    finally:
        for _ip, sock in socks:
            sock.close()
    all_workers_answer(cluster)


def test_a_flood_that_fills_a_worker_queue(start: StartCluster) -> None:
    """Worker 1 stops reading (SIGSTOP): its connections fill the channel to it, then the
    master's queue (5 here); the next ones are closed. Worker 2's clients are served meanwhile,
    and worker 1 serves what was kept once it runs again."""
    cluster = start(start_app_cluster(2, "--max-queued", "5"))
    groups = source_addresses(2, 1)
    (ip1,), (ip2,) = groups[1], groups[2]
    victim = cluster.worker_pids()[1]
    mark = cluster.mark()
    os.kill(victim, signal.SIGSTOP)
    flood: list[socket.socket] = []
    raise_fd_limit()
    try:
        # Until the channel's kernel buffer (a few hundred hand-overs) and the queue are full.
        while not cluster.count(r"worker queue full: dropping a connection", start=mark):
            assert len(flood) < 3000, "the worker's queue never filled"
            for _ in range(50):
                sock = connect_from(cluster, ip1)
                sock.sendall(GET_ROOT)
                flood.append(sock)
            # The master serves the next client (and, accepting in order, has routed the
            # flood so far by the time it answers).
            assert worker_of(cluster, ip2) == 2
        assert alive(cluster.pid)
    finally:
        os.kill(victim, signal.SIGCONT)
    served = dropped = 0
    for sock in flood:
        try:
            status, body = read_response(sock)
        except (ConnectionResetError, AssertionError):
            dropped += 1
            continue
        assert (status, body) == (200, b"worker: 1\n")
        served += 1
    for sock in flood:
        sock.close()
    assert served >= 5 and dropped >= 1, (served, dropped)
    wait_until(
        lambda: cluster.count(r"worker queue full", start=mark) == dropped,
        what=f"{dropped} 'worker queue full' lines",
    )
    assert worker_of(cluster, ip1) == 1  # a blocking request (socket timeout WAIT)
    assert cluster.worker_pids()[1] == victim  # nobody died


def test_garbage_and_oversized_heads(start: StartCluster) -> None:
    cluster = start(start_cli_cluster(2, "--trusted-proxy"))
    ip = source_addresses(2, 1)[1][0]
    sock = connect_from(cluster, ip)
    sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n")
    status, _ = read_response(sock)
    assert status == 400
    sock.close()
    # Over the peek limit: the master stops looking and hands it over; the worker refuses it.
    sock = connect_from(cluster, ip)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
    status, _ = read_response(sock)
    assert status == 431
    sock.close()
    status, body = http_request(cluster.host, cluster.port, source=ip)
    assert (status, body) == (200, b"worker: 1\n")
