"""The Admin UI on a 2-worker fork cluster (``sio-chat server --workers 2 --admin-ui ...``),
clients on both workers (127.0.0.x source addresses pick the worker):

- the UI, connected to one worker, gets ``server_stats`` from both (serverId ``hostname#pid``
  of each worker), and ``all_sockets`` lists the chat clients of both with their rooms;
- a live event on the other worker (a client connecting there) reaches it;
- an action from it (disconnect a socket of the other worker) happens: the client sees it;
- the session token one worker issued logs in on the other;
- ``socket.data`` that JSON cannot carry shows as its ``str()``, the same from either worker
  (``admin_cluster_app.py``).
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..cluster_support import (
    Client,
    ClientLoop,
    Cluster,
    source_addresses,
    start_cli_cluster,
    wait_until,
)

ADMIN_EVENTS = ("session", "config", "server_stats", "all_sockets", "socket_connected")
APP = Path(__file__).resolve().with_name("admin_cluster_app.py")
LOGIN = {"username": "admin", "password": "pw"}


@pytest.fixture
def clients() -> Iterator[ClientLoop]:
    loop = ClientLoop()
    yield loop
    loop.close()


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    cluster = start_cli_cluster(2, "--admin-ui", "admin:pw")
    yield cluster
    cluster.kill()
    assert not cluster.errors(), "\n".join(cluster.errors())


def admin_client(clients: ClientLoop, cluster: Cluster, source: str, auth: object) -> Client:
    return clients.connect(cluster.url + "/admin", source, events=ADMIN_EVENTS, auth=auth)


def test_the_ui_sees_and_acts_on_both_workers(cluster: Cluster, clients: ClientLoop) -> None:
    ips = source_addresses(2, 2)
    ann = clients.connect(cluster.url, ips[1][0], auth={"user": "ann"})
    bob = clients.connect(cluster.url, ips[2][0], auth={"user": "bob"})
    ann_id, bob_id = ann.wait_connected(), bob.wait_connected()
    assert bob.call("join", "blue")[0] == "you are in room blue"

    ui = admin_client(clients, cluster, ips[1][1], LOGIN)
    ui.wait_connected()
    token = ui.inbox.wait_count("session", 1)[0][0]
    (sockets, *_) = ui.inbox.wait_count("all_sockets", 1)[0]
    chat = {s["id"]: s for s in sockets if s["nsp"] == "/"}
    assert set(chat) == {ann_id, bob_id}
    assert chat[ann_id]["rooms"] == sorted([ann_id, "lobby"])
    assert chat[bob_id]["rooms"] == sorted([bob_id, "room:blue"])
    assert chat[bob_id]["data"] == {"user": "bob", "room": "room:blue"}
    assert chat[bob_id]["clientId"] and chat[bob_id]["transport"]

    # Both workers report, each as hostname#pid.
    host = socket.gethostname()
    expected = {f"{host}#{pid}" for pid in cluster.worker_pids().values()}

    def both_reported() -> bool:
        return {args[0]["serverId"] for args in ui.inbox.of("server_stats")} == expected

    wait_until(both_reported, timeout=10.0, what="server_stats from both workers")
    for args in ui.inbox.of("server_stats"):
        counts = {n["name"]: n["socketsCount"] for n in args[0]["namespaces"]}
        assert counts["/"] == 1  # ann on one worker, bob on the other

    # A live event from the other worker.
    cid = clients.connect(cluster.url, ips[2][1], auth={"user": "cid"})
    cid_id = cid.wait_connected()
    wait_until(
        lambda: any(a[0]["id"] == cid_id for a in ui.inbox.of("socket_connected")),
        what="cid's socket_connected from worker 2",
    )

    # An action on the other worker's socket.
    ui.emit("_disconnect", "/", False, bob_id)
    assert bob.inbox.wait_count("disconnect", 1)[0] == ("io server disconnect",)
    assert ann.inbox.count("disconnect") == 0

    # The token from worker 1 logs in on worker 2.
    again = admin_client(clients, cluster, ips[2][1], {"sessionId": token})
    again.wait_connected()
    again.inbox.wait_count("config", 1)
    assert again.inbox.count("session") == 0
    forged_token = token[:-2] + ("11" if token.endswith("00") else "00")  # never the token
    forged = admin_client(clients, cluster, ips[2][1], {"sessionId": forged_token})
    assert "invalid credentials" in str(forged.inbox.wait_count("connect_error", 1)[0][0])


def test_unserializable_data_shows_as_text_from_any_worker(clients: ClientLoop) -> None:
    cluster = Cluster([sys.executable, str(APP), "--workers", "2"], 2)
    try:
        ips = source_addresses(2, 2)
        ids = []
        for worker in (1, 2):
            client = clients.connect(cluster.url, ips[worker][0])
            ids.append(client.wait_connected())
            assert client.call("odd-data") == (True,)
        ui = admin_client(clients, cluster, ips[1][1], None)
        (sockets, *_) = ui.inbox.wait_count("all_sockets", 1)[0]
        data = {s["id"]: s["data"] for s in sockets if s["nsp"] == "/"}
        for sid in ids:  # the local one and the remote one alike
            assert data[sid]["odd"] == "{1, 2}"
            assert data[sid]["opaque"] == "<opaque>"
    finally:
        cluster.kill()
    assert not cluster.errors(), "\n".join(cluster.errors())
