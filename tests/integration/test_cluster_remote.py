"""Operations across workers, through the test app of ``cluster_app.py`` with 3 workers and two
clients on each: broadcasts, rooms, disconnects, fetch_sockets (RemoteSocket), server-side
emits; each delivered once per recipient; requests that lose a worker end without hanging."""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from .cluster_support import (
    Client,
    ClientLoop,
    Cluster,
    Recorder,
    source_addresses,
    start_app_cluster,
    wait_until,
    worker_of,
)

WORKERS = 3
#: Client name -> rooms it joins on connection. Names end with their worker's id.
ROOMS: dict[str, list[str]] = {
    "a1": ["red"],
    "b1": ["blue"],
    "a2": ["blue"],
    "b2": ["red"],
    "a3": ["red"],
    "b3": ["red", "blue"],
}
RED = {"a1", "b2", "a3", "b3"}
BLUE = {"b1", "a2", "b3"}
ALL = set(ROOMS)

_sentinels = itertools.count()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    cluster = start_app_cluster(WORKERS)
    yield cluster
    cluster.kill()
    assert not cluster.errors(), "\n".join(cluster.errors())


@pytest.fixture
def clients(cluster: Cluster, loop: ClientLoop) -> dict[str, Client]:
    groups = source_addresses(WORKERS, 2)
    made = {}
    for worker, ips in groups.items():
        for prefix, ip in zip("ab", ips, strict=True):
            name = f"{prefix}{worker}"
            auth = {"name": name, "rooms": ROOMS[name]}
            made[name] = loop.connect(cluster.url, ip, auth=auth, reconnection=False)
    for name, client in made.items():
        client.wait_connected()
        worker, _sid = client.call("whoami")
        assert worker == int(name[-1]) == worker_of(cluster, client.source)
    return made


def msgs(client: Client, payload: Any) -> list[int]:
    """The workers that sent ``client`` a "msg" with ``payload``."""
    return [worker for worker, got in client.inbox.of("msg") if got == payload]


def settle(clients: dict[str, Client], via: Client) -> None:
    """Everything ``via``'s worker sent before now has reached every client: a broadcast from
    the same worker (the bus keeps each sender's order) has arrived everywhere."""
    sentinel = f"sentinel-{next(_sentinels)}"
    assert via.call("emit-all", sentinel) == (True,)
    for client in clients.values():
        wait_for_msg(client, sentinel)


def wait_for_msg(client: Client, payload: Any) -> None:
    wait_until(lambda: bool(msgs(client, payload)), what=f"{payload!r} at {client.source}")


def each(names: set[str], value: list[int]) -> dict[str, list[int]]:
    return {name: list(value) for name in names}


def receivers(clients: dict[str, Client], payload: Any) -> dict[str, list[int]]:
    """Who got a "msg" with ``payload``, and from which worker(s) (once each: one entry)."""
    return {name: msgs(c, payload) for name, c in clients.items() if msgs(c, payload)}


# -- broadcasts -----------------------------------------------------------------------------------


def test_io_emit_reaches_every_client_once(clients: dict[str, Client]) -> None:
    for origin in ("a1", "b2", "a3"):
        payload = f"all-from-{origin}"
        assert clients[origin].call("emit-all", payload) == (True,)
        for client in clients.values():
            wait_for_msg(client, payload)
        settle(clients, clients[origin])
        worker = int(origin[-1])
        assert receivers(clients, payload) == each(ALL, [worker])


def test_binary_payload_crosses_workers_intact(clients: dict[str, Client]) -> None:
    blob = bytes(range(256)) * 4
    clients["b3"].call("emit-all", {"blob": blob, "text": "héllo ✓"})
    for client in clients.values():
        ((worker, payload),) = client.inbox.wait_count("msg", 1)
        assert worker == 3
        assert payload == {"blob": blob, "text": "héllo ✓"}


def test_socket_broadcast_reaches_everyone_but_the_sender(clients: dict[str, Client]) -> None:
    clients["a2"].call("broadcast", "not-me")
    settle(clients, clients["a2"])
    assert receivers(clients, "not-me") == each(ALL - {"a2"}, [2])


@pytest.mark.parametrize(
    ("event", "rooms", "expected"),
    [
        ("to-room", "red", RED),
        ("to-room", "blue", BLUE),
        ("to-room", ["red", "blue"], RED | BLUE),  # b3 is in both: once
        ("except-room", "red", ALL - RED),
        ("except-room", ["red", "blue"], ALL - RED - BLUE),
        ("to-room", "nobody", set()),
    ],
)
def test_rooms_across_workers(
    clients: dict[str, Client], event: str, rooms: str | list[str], expected: set[str]
) -> None:
    for origin in ("b1", "a3"):
        payload = f"{event}-{rooms}-{origin}"
        clients[origin].call(event, rooms, payload)
        settle(clients, clients[origin])
        assert receivers(clients, payload) == each(expected, [int(origin[-1])])


def test_sockets_join_and_leave_across_workers(clients: dict[str, Client]) -> None:
    origin = clients["b2"]
    origin.call("join-all", "green")
    origin.call("to-room", "green", "green-1")
    settle(clients, origin)
    assert receivers(clients, "green-1") == each(ALL, [2])
    # From another worker too: every worker applied the join.
    clients["a1"].call("to-room", "green", "green-2")
    settle(clients, clients["a1"])
    assert set(receivers(clients, "green-2")) == ALL

    origin.call("leave-all", "green")
    origin.call("to-room", "green", "green-3")
    settle(clients, origin)
    assert receivers(clients, "green-3") == {}

    origin.call("room-join", "blue", "purple")  # only blue's members join purple
    origin.call("to-room", "purple", "purple-1")
    settle(clients, origin)
    assert set(receivers(clients, "purple-1")) == BLUE


def test_disconnect_sockets_across_workers(cluster: Cluster, clients: dict[str, Client]) -> None:
    mark = cluster.mark()
    clients["a3"].call("disconnect-room", "blue")
    for name in BLUE:
        (reason,) = clients[name].inbox.wait_count("disconnect", 1)[0]
        assert reason == "io server disconnect"
        cluster.expect(rf"disconnect {name[-1]} {name} server namespace disconnect", start=mark)
    settle({n: c for n, c in clients.items() if n not in BLUE}, clients["a3"])
    for name in ALL - BLUE:
        assert clients[name].inbox.count("disconnect") == 0, name
    assert cluster.count(r"disconnect \d", start=mark) == len(BLUE)


# -- server-side emit -----------------------------------------------------------------------------


def test_server_side_emit_with_acks_gathers_every_other_worker(
    clients: dict[str, Client],
) -> None:
    for origin in ("a1", "a2", "a3"):
        (answer,) = clients[origin].call("sse", "ping")
        worker = int(origin[-1])
        assert answer["error"] is None
        assert sorted(r["worker"] for r in answer["responses"]) == sorted({1, 2, 3} - {worker})
        assert {r["origin"] for r in answer["responses"]} == {worker}


def test_server_side_emit_without_ack_reaches_each_other_worker_once(
    clients: dict[str, Client],
) -> None:
    clients["b1"].call("note", "hello workers")
    for name in ALL - {"a1", "b1"}:
        clients[name].inbox.wait_count("note", 1)
    settle(clients, clients["b1"])
    for name, client in clients.items():
        notes = client.inbox.of("note")
        if name.endswith("1"):
            assert notes == []  # not to the sender's own worker
        else:
            assert notes == [(int(name[-1]), 1, "hello workers")]


# -- fetch_sockets and RemoteSocket ---------------------------------------------------------------


def test_fetch_sockets_gathers_every_worker(clients: dict[str, Client]) -> None:
    ids = {name: client.id for name, client in clients.items()}
    for origin in ("b1", "b2", "b3"):
        (answer,) = clients[origin].call("fetch", None)
        assert answer["error"] is None
        got = {s["name"]: s for s in answer["sockets"]}
        assert len(answer["sockets"]) == len(ALL)
        assert {name: s["id"] for name, s in got.items()} == ids
        for name, described in got.items():
            assert described["worker"] == int(name[-1])
            # Sockets of other workers come as RemoteSocket objects.
            assert described["remote"] == (name[-1] != origin[-1]), (origin, name)
            assert set(described["rooms"]) == {ids[name], *ROOMS[name]}
    (red,) = clients["a2"].call("fetch", "red")
    assert {s["name"] for s in red["sockets"]} == RED


def test_remote_socket_emit_join_leave_disconnect(
    cluster: Cluster, clients: dict[str, Client]
) -> None:
    origin = clients["a1"]
    (done,) = origin.call("remote", "emit", "b3", "to-you")
    assert done == {"count": 1, "remote": [True]}
    wait_for_msg(clients["b3"], "to-you")
    settle(clients, origin)
    assert receivers(clients, "to-you") == {"b3": [1]}

    origin.call("remote", "join", "a2", "yellow")
    origin.call("to-room", "yellow", "yellow-1")
    settle(clients, origin)
    assert receivers(clients, "yellow-1") == {"a2": [1]}
    origin.call("remote", "leave", "a2", "yellow")
    origin.call("to-room", "yellow", "yellow-2")
    settle(clients, origin)
    assert receivers(clients, "yellow-2") == {}

    (done,) = origin.call("remote", "disconnect", "b2", None)
    assert done == {"count": 1, "remote": [True]}
    assert clients["b2"].inbox.wait_count("disconnect", 1)[0] == ("io server disconnect",)
    (after,) = origin.call("fetch", None)
    assert {s["name"] for s in after["sockets"]} == ALL - {"b2"}


def test_fetch_sockets_in_a_namespace_other_workers_do_not_have(
    cluster: Cluster, loop: ClientLoop
) -> None:
    """A dynamic namespace exists only on the workers its clients reach: the others have
    nothing to say, and the request must not wait for them (nor report them as failing)."""
    ip = source_addresses(WORKERS, 1)[1][0]
    client = loop.connect(cluster.url, ip, namespace="/dyn-x", auth={"name": "dx"})
    client.wait_connected()
    (answer,) = client.call("fetch", None, timeout=3.0)
    assert answer["error"] is None
    assert [(s["name"], s["remote"]) for s in answer["sockets"]] == [("dx", False)]


# -- a worker dying mid-request -------------------------------------------------------------------


def test_server_side_emit_loses_a_worker_mid_request(
    cluster: Cluster, clients: dict[str, Client]
) -> None:
    mark = cluster.mark()
    answers: Recorder[Any] = Recorder()
    origin = clients["a1"]
    origin.loop.reactor.call_soon_threadsafe(
        lambda: origin.socket.emit("sse", "hang:2", callback=answers.append)
    )
    # Worker 2 got the request and does not answer; worker 3 answered.
    cluster.expect(r"probe hang:2 received by worker 2", start=mark)
    cluster.expect(r"probe hang:2 received by worker 3", start=mark)
    os.kill(cluster.worker_pids()[2], signal.SIGKILL)
    wait_until(lambda: bool(answers), timeout=4.0, what="the sse answer")
    (answer,) = answers
    assert answer["responses"] == [{"worker": 3, "origin": 1}]
    assert "worker 2 died" in answer["error"]
    assert answer["seconds"] < 4.0  # ended by the death, not by the request timeout


def test_fetch_sockets_loses_a_worker_mid_request(
    cluster: Cluster, clients: dict[str, Client]
) -> None:
    victim = cluster.worker_pids()[2]
    os.kill(victim, signal.SIGSTOP)  # it will not answer
    try:
        mark = cluster.mark()
        answers: Recorder[Any] = Recorder()
        origin = clients["b1"]
        origin.loop.reactor.call_soon_threadsafe(
            lambda: origin.socket.emit("fetch", None, callback=answers.append)
        )
        cluster.expect(r"fetch sent by worker 1", start=mark)
    finally:
        os.kill(victim, signal.SIGKILL)
    wait_until(lambda: bool(answers), timeout=4.0, what="the fetch answer")
    (answer,) = answers
    assert {s["name"] for s in answer["sockets"]} == ALL - {"a2", "b2"}  # partial
    assert "worker 2 died" in answer["error"]
    cluster.expect(r"worker 2 killed by signal 9", start=mark)
