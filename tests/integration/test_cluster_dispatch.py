"""``sio-chat server --workers N``: which worker serves which client.

Clients come from different loopback addresses (127.0.0.2, 127.0.0.3, ...); the worker each one
must land on is ``slot_for(ip, N) + 1``, and ``GET /`` answers ``worker: <id>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest

from cluster.sticky import slot_for

from .cluster_support import (
    Cluster,
    http_request,
    source_addresses,
    start_cli_cluster,
    worker_of,
)

StartCluster = Callable[..., Cluster]


@pytest.fixture
def start() -> Iterator[StartCluster]:
    started: list[Cluster] = []

    def run(workers: int, *extra: str, host: str = "127.0.0.1") -> Cluster:
        cluster = start_cli_cluster(workers, *extra, host=host)
        started.append(cluster)
        return cluster

    yield run
    for cluster in started:
        cluster.kill()
    for cluster in started:
        assert not cluster.errors(), "\n".join(cluster.errors())


def test_get_root_names_the_worker_of_each_source_address(start: StartCluster) -> None:
    cluster = start(3)
    assert cluster.port > 0  # --port 0 printed the port it bound
    chosen = source_addresses(3, 3)
    seen: dict[int, set[int]] = {}
    for expected, ips in chosen.items():
        for ip in ips:
            answers = {worker_of(cluster, ip) for _ in range(4)}
            assert answers == {expected}, ip  # the same id every time for the same client
            seen.setdefault(expected, set()).update(answers)
    assert set(seen) == {1, 2, 3}  # every worker served someone


def test_workers_are_separate_processes_of_the_master(start: StartCluster) -> None:
    cluster = start(2)
    pids = cluster.worker_pids()
    assert sorted(pids) == [1, 2]
    assert len(set(pids.values())) == 2
    assert cluster.pid not in pids.values()


def test_ipv6_listener(start: StartCluster) -> None:
    cluster = start(3, host="::1")
    expected = slot_for("::1", 3) + 1
    assert {worker_of(cluster, "::1") for _ in range(4)} == {expected}


def test_dual_stack_listener_treats_ipv4_mapped_as_ipv4(start: StartCluster) -> None:
    """On "::", IPv4 clients arrive as ::ffff:a.b.c.d: they get their IPv4 address's slot."""
    cluster = start(3, host="::")
    chosen = source_addresses(3, 1)
    for expected, (ip,) in chosen.items():
        status, body = http_request("127.0.0.1", cluster.port, source=ip)
        assert (status, body) == (200, f"worker: {expected}\n".encode())


# -- why stickiness: the tutorial's failure -------------------------------------------------------


def polling_handshake_then_connect(cluster: Cluster, source: str) -> list[tuple[int, bytes]]:
    """A polling client that opens a new TCP connection for every request (as a browser may):
    the handshake, the Socket.IO CONNECT (POST), then a poll (GET)."""
    path = "/socket.io/?EIO=4&transport=polling"
    status, body = http_request(cluster.host, cluster.port, path=path, source=source)
    assert status == 200, body
    sid = json.loads(body[1:])["sid"]
    session = f"{path}&sid={sid}"
    post = http_request(
        cluster.host, cluster.port, "POST", session, source=source, body=b"40",
        headers=[("Content-Type", "text/plain;charset=UTF-8")],
    )  # fmt: skip
    if post[0] != 200:
        return [post]  # (a poll would go to the session's worker and wait there)
    poll = http_request(cluster.host, cluster.port, path=session, source=source)
    return [post, poll]


def test_round_robin_breaks_a_polling_session(start: StartCluster) -> None:
    cluster = start(2, "--dispatch", "round-robin")
    (post,) = polling_handshake_then_connect(cluster, "127.0.0.2")
    assert post[0] == 400
    assert json.loads(post[1]) == {"code": 1, "message": "Session ID unknown"}


def test_ip_dispatch_keeps_a_polling_session(start: StartCluster) -> None:
    cluster = start(2)
    for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        post, poll = polling_handshake_then_connect(cluster, ip)
        assert post == (200, b"ok")
        assert poll[0] == 200
        # (the chat server has connection state recovery on: a private session id too)
        assert re.fullmatch(rb'40\{"sid":"[^"]+","pid":"[^"]+"\}', poll[1]), poll[1]


# -- trusted proxy --------------------------------------------------------------------------------

PROXIED = [
    ("X-Forwarded-For", "203.0.113.7", "203.0.113.7"),
    ("X-Forwarded-For", "198.51.100.23, 10.0.0.1", "198.51.100.23"),
    ("X-Forwarded-For", "[2001:db8::17]:4711", "2001:db8::17"),
    ("X-Forwarded-For", "2001:db8::42", "2001:db8::42"),
    ("Forwarded", 'for="[2001:db8:cafe::17]:4711";proto=http', "2001:db8:cafe::17"),
    ("Forwarded", "for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
]


def test_trusted_proxy_dispatches_by_the_forwarded_address(start: StartCluster) -> None:
    """Every request comes from the proxy (127.0.0.1); the header names the client."""
    cluster = start(4, "--trusted-proxy")
    served = set()
    for header, value, client in PROXIED * 2:
        status, body = http_request(cluster.host, cluster.port, headers=[(header, value)])
        expected = slot_for(client, 4) + 1
        assert (status, body) == (200, f"worker: {expected}\n".encode()), (header, value)
        served.add(expected)
    assert len(served) > 1


def test_trusted_proxy_without_header_uses_the_peer(start: StartCluster) -> None:
    cluster = start(3, "--trusted-proxy")
    for ip in ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"):
        assert worker_of(cluster, ip) == slot_for(ip, 3) + 1


def test_trusted_proxy_head_in_pieces(start: StartCluster) -> None:
    """The master peeks until the head is complete; the worker still reads every byte (the
    body too): nothing was consumed."""
    cluster = start(3, "--trusted-proxy")
    client = "198.51.100.99"
    expected = slot_for(client, 3) + 1
    path = "/socket.io/?EIO=4&transport=polling"
    status, body = http_request(
        cluster.host, cluster.port, path=path, headers=[("X-Forwarded-For", client)],
        parts=(10, 60, 75),
    )  # fmt: skip
    assert status == 200, body
    sid = json.loads(body[1:])["sid"]
    # The session lives on the worker of the forwarded address: later requests of it, each on
    # a new connection and in pieces, reach it there.
    session = f"{path}&sid={sid}"
    headers = [("X-Forwarded-For", client), ("Content-Type", "text/plain;charset=UTF-8")]
    post = http_request(
        cluster.host, cluster.port, "POST", session, headers=headers, body=b"40", parts=(30,)
    )
    assert post == (200, b"ok")
    status, poll = http_request(cluster.host, cluster.port, path=session, headers=headers)
    assert status == 200 and poll.startswith(b'40{"sid":')
    status, root = http_request(
        cluster.host, cluster.port, headers=[("X-Forwarded-For", client)], parts=(5,)
    )
    assert root == f"worker: {expected}\n".encode()
