"""Broadcasts with acknowledgements across workers: ``io.timeout(t).emit("ask", ...,
callback=cb)`` in the test app of ``cluster_app.py`` (event ``ask-all``), with 2 workers and two
clients on each. Every worker counts its recipients and relays each answer to the asking
worker; the callback gets every client's answer, or a timeout error with those that came."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .cluster_support import (
    Client,
    ClientLoop,
    Cluster,
    source_addresses,
    start_app_cluster,
    worker_of,
)

WORKERS = 2
#: Client name -> rooms it joins on connection. Names end with their worker's id.
ROOMS: dict[str, list[str]] = {"a1": ["red"], "b1": [], "a2": [], "b2": ["red"]}
ALL = set(ROOMS)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    cluster = start_app_cluster(WORKERS)
    yield cluster
    cluster.kill()
    assert not cluster.errors(), "\n".join(cluster.errors())


def connect(cluster: Cluster, loop: ClientLoop, silent: set[str]) -> dict[str, Client]:
    """The four clients; each answers "ask" with its name and a binary blob, but ``silent``."""
    groups = source_addresses(WORKERS, 2)
    made = {}
    for worker, ips in groups.items():
        for prefix, ip in zip("ab", ips, strict=True):
            name = f"{prefix}{worker}"
            auth = {"name": name, "rooms": ROOMS[name]}
            client = loop.connect(
                cluster.url, ip, events=("msg", "ask"), auth=auth, reconnection=False
            )
            loop.call(answer_asks, client, name, name in silent)
            made[name] = client
    for name, client in made.items():
        client.wait_connected()
        worker, _sid = client.call("whoami")
        assert worker == int(name[-1]) == worker_of(cluster, client.source)
    return made


def answer_asks(client: Client, name: str, silent: bool) -> None:
    """On the client loop: the client's "ask" handler (the inbox records every "ask" too)."""
    if silent:

        def ignore(origin: int, ack: Any) -> None:
            pass  # takes the ack and never calls it

        client.socket.on("ask", ignore)
    else:

        def answer(origin: int) -> tuple[dict[str, Any], str]:
            # Only the first argument of an acknowledgement is a broadcast's response.
            return {"name": name, "origin": origin, "blob": name.encode() + b"\x00\xff"}, "extra"

        client.socket.on("ask", answer)


def ask_all(origin: Client, seconds: float, room: str | None = None) -> dict[str, Any]:
    (answer,) = origin.call("ask-all", seconds, room, timeout=seconds + 5.0)
    assert isinstance(answer, dict)
    return answer


def response(name: str, origin: int) -> dict[str, Any]:
    return {"name": name, "origin": origin, "blob": name.encode() + b"\x00\xff"}


def by_name(responses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(responses, key=lambda r: str(r["name"]))


def test_cluster_broadcast_acks_gather_every_client_of_every_worker(
    cluster: Cluster, loop: ClientLoop
) -> None:
    clients = connect(cluster, loop, silent=set())
    for round_, origin in enumerate(("a1", "b2"), 1):
        worker = int(origin[-1])
        answer = ask_all(clients[origin], 3.0)
        assert answer["error"] is None
        # Binary answers of clients of the other worker crossed the bus intact.
        assert by_name(answer["responses"]) == [response(name, worker) for name in sorted(ALL)]
        # Complete as soon as the last client answered, not at the timeout.
        assert answer["seconds"] < 3.0
        for name, client in clients.items():
            assert client.inbox.of("ask") == [(1,)] * (round_ > 1) + [(worker,)], name


def test_cluster_broadcast_acks_to_a_room_across_workers(
    cluster: Cluster, loop: ClientLoop
) -> None:
    clients = connect(cluster, loop, silent=set())
    answer = ask_all(clients["a2"], 3.0, "red")  # a1 on worker 1, b2 on worker 2
    assert answer["error"] is None
    assert by_name(answer["responses"]) == [response("a1", 2), response("b2", 2)]
    for name in ALL - {"a1", "b2"}:
        assert clients[name].inbox.of("ask") == [], name


@pytest.mark.parametrize("silent", ["b1", "b2"], ids=["on-the-asking-worker", "on-the-other"])
def test_cluster_broadcast_acks_time_out_with_the_answers_that_came(
    cluster: Cluster, loop: ClientLoop, silent: str
) -> None:
    clients = connect(cluster, loop, silent={silent})
    answer = ask_all(clients["a1"], 1.0)
    assert answer["error"] == "AckTimeoutError: operation has timed out"
    assert by_name(answer["responses"]) == [response(name, 1) for name in sorted(ALL - {silent})]
    assert answer["seconds"] >= 1.0
    # The silent client did get the question.
    assert clients[silent].inbox.of("ask") == [(1,)]
    # Nothing is left over from the first ask: the next one, from the other worker, gathers
    # the same answers and times out the same way.
    again = ask_all(clients["a2"], 1.0)
    assert again["error"] == "AckTimeoutError: operation has timed out"
    assert by_name(again["responses"]) == [response(name, 2) for name in sorted(ALL - {silent})]
