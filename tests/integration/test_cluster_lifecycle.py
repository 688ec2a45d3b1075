"""Workers dying and being replaced, and the master stopping (or dying) with its workers."""

from __future__ import annotations

import os
import re
import signal
import socket
from collections.abc import Callable
from typing import Any

import pytest

from .cluster_support import (
    Client,
    ClientLoop,
    Cluster,
    alive,
    children_of,
    source_addresses,
    start_app_cluster,
    start_cli_cluster,
    wait_gone,
    wait_until,
    worker_of,
)

WORKERS = 3


class Chatter:
    """On the client loop: every client that is connected sends "<name>:<n>" every 10 ms."""

    def __init__(self, loop: ClientLoop, clients: dict[str, Client]) -> None:
        self.loop = loop
        self.clients = clients
        self.sent: dict[str, int] = dict.fromkeys(clients, 0)
        self.running = True
        loop.call(self._tick)

    def _tick(self) -> None:
        if not self.running:
            return
        for name, client in self.clients.items():
            if client.socket.connected:
                client.socket.emit("chat message", name, f"{name}:{self.sent[name]}")
                self.sent[name] += 1
        self.loop.reactor.call_later(0.01, self._tick)

    def stop(self) -> dict[str, int]:
        def halt() -> dict[str, int]:
            self.running = False
            return dict(self.sent)

        return self.loop.call(halt)


def received_from(client: Client) -> dict[str, list[int]]:
    """Chat lines "<name>:<n> from <name>" -> {name: [n, ...]} in arrival order."""
    found: dict[str, list[int]] = {}
    for line, *_offset in client.inbox.of("chat message"):
        match = re.fullmatch(r"(\S+):(\d+) from \S+", str(line))
        assert match, line
        found.setdefault(match.group(1), []).append(int(match.group(2)))
    return found


def hears(
    client: Client, senders: set[str], after: dict[str, int] | None = None
) -> Callable[[], bool]:
    """Has ``client`` received something from each of ``senders`` (numbered above ``after``)?"""

    def check() -> bool:
        heard = received_from(client)
        return all(
            max(heard.get(sender, [-1])) > (after or {}).get(sender, -1) for sender in senders
        )

    return check


def test_kill_9_worker_under_load(loop: ClientLoop) -> None:
    cluster = start_cli_cluster(WORKERS)
    try:
        run_kill_9_worker_under_load(cluster, loop)
    finally:
        cluster.kill()
    assert not cluster.errors(), "\n".join(cluster.errors())


def run_kill_9_worker_under_load(cluster: Cluster, loop: ClientLoop) -> None:
    groups = source_addresses(WORKERS, 2)
    home = {ip: worker for worker, ips in groups.items() for ip in ips}
    clients = {ip: loop.connect(cluster.url, ip) for ip in home}
    for ip, client in clients.items():
        sid = client.wait_connected()
        cluster.expect(rf"^\[worker {home[ip]}\] .* connected, id: {re.escape(sid)}$")
    victims = {ip for ip, worker in home.items() if worker == 2}
    survivors = set(home) - victims
    chatter = Chatter(loop, clients)
    # Under load: everyone hears everyone before the kill.
    for ip in clients:
        wait_until(hears(clients[ip], set(home) - {ip}), what=f"{ip} hears everyone")

    before = cluster.worker_pids()
    old_pid = before[2]
    mark = cluster.mark()
    os.kill(old_pid, signal.SIGKILL)
    cluster.expect(r"worker 2 killed by signal 9 .*restarting", start=mark)
    _, started = cluster.expect(r"worker 2 started \(pid (\d+)\)", start=mark)
    new_pid = int(started.group(1))
    assert new_pid != old_pid
    assert not alive(old_pid)
    assert new_pid in children_of(cluster.pid)
    # The same slot: the same addresses reach worker 2 again, and only those.
    for ip, worker in home.items():
        assert worker_of(cluster, ip) == worker

    # The victims' clients notice, reconnect (to the new worker 2) and chat again.
    for ip in victims:
        clients[ip].inbox.wait_count("disconnect", 1)
        sid = clients[ip].wait_connected(times=2)
        cluster.expect(rf"^\[worker 2\] .* connected, id: {re.escape(sid)}$", start=mark)
    at_reconnect = loop.call(lambda: dict(chatter.sent))
    for ip in clients:
        wait_until(
            hears(clients[ip], set(home) - {ip}, after=at_reconnect),
            what=f"{ip} hears everyone after the restart",
        )
    sent = chatter.stop()

    # The others saw nothing: no disconnect, and no message among them lost or reordered.
    for ip in survivors:
        assert clients[ip].inbox.count("disconnect") == 0, ip
        assert clients[ip].inbox.count("connect") == 1, ip
        heard = received_from(clients[ip])
        for other in survivors - {ip}:
            numbers = heard[other]
            assert numbers == list(range(len(numbers))), f"{other} -> {ip}: gap or disorder"
            assert len(numbers) <= sent[other]
    after = cluster.worker_pids()
    assert (after[1], after[3]) == (before[1], before[3])  # the other workers never restarted
    assert cluster.count(r"worker [13] (killed|exited)") == 0


def test_a_worker_dying_in_a_loop_is_restarted_with_back_off() -> None:
    cluster = start_cli_cluster(2)
    try:
        delays = []
        for _round in range(3):
            mark = cluster.mark()
            os.kill(cluster.worker_pids()[1], signal.SIGKILL)
            _, died = cluster.expect(
                r"worker 1 killed by signal 9 after [\d.]+ s; restarting in ([\d.]+) s", start=mark
            )
            delays.append(float(died.group(1)))
            cluster.expect(r"worker 1 started \(pid \d+\)", start=mark)
        assert delays[0] > 0
        assert delays == sorted(delays) and delays[0] < delays[1] < delays[2], delays
        assert worker_of(cluster, source_addresses(2, 1)[1][0]) == 1  # serving again
        assert len(children_of(cluster.pid)) == 2
    finally:
        cluster.kill()


# -- stopping -------------------------------------------------------------------------------------


def connect_everywhere(cluster: Cluster, loop: ClientLoop) -> dict[str, Client]:
    groups = source_addresses(WORKERS, 1)
    clients = {
        ip: loop.connect(cluster.url, ip, auth={"name": f"w{worker}"}, reconnection=False)
        for worker, (ip,) in groups.items()
    }
    for client in clients.values():
        client.wait_connected()
    for ip, client in clients.items():
        assert client.call("whoami")[0] == worker_of(cluster, ip)
    return clients


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stopping_the_master_closes_everything(loop: ClientLoop, signum: int) -> None:
    cluster = start_app_cluster(WORKERS)
    try:
        clients = connect_everywhere(cluster, loop)
        workers = set(cluster.worker_pids().values())
        assert children_of(cluster.pid) == workers
        mark = cluster.mark()
        cluster.signal(signum)
        assert cluster.wait(timeout=8.0) == 0
        # Each worker told its clients the server is shutting down.
        for worker in range(1, WORKERS + 1):
            cluster.expect(rf"disconnect {worker} w{worker} server shutting down", start=mark)
        for client in clients.values():
            (reason,) = client.inbox.wait_count("disconnect", 1)[0]
            assert reason in ("transport close", "io server disconnect", "transport error")
        # No orphans, and nobody listens any more.
        wait_gone(workers, what="workers gone")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((cluster.host, cluster.port), timeout=1.0).close()
    finally:
        cluster.kill()
    assert not cluster.errors(), "\n".join(cluster.errors())


def test_workers_do_not_outlive_a_killed_master(loop: ClientLoop) -> None:
    cluster = start_app_cluster(WORKERS)
    try:
        clients = connect_everywhere(cluster, loop)
        workers = set(cluster.worker_pids().values())
        os.kill(cluster.pid, signal.SIGKILL)  # the master only, not its process group
        cluster.wait()
        wait_gone(workers, timeout=6.0, what="orphans")
        for client in clients.values():
            client.inbox.wait_count("disconnect", 1)
    finally:
        cluster.kill()


def test_a_worker_stopped_from_outside_is_replaced(loop: ClientLoop) -> None:
    """SIGTERM to one worker: it closes its clients and exits 0; the master starts another."""
    cluster = start_app_cluster(2)
    try:
        ip = source_addresses(2, 1)[1][0]
        client = loop.connect(cluster.url, ip, auth={"name": "x"})
        client.wait_connected()
        mark = cluster.mark()
        os.kill(cluster.worker_pids()[1], signal.SIGTERM)
        cluster.expect(r"disconnect 1 x server shutting down", start=mark)
        cluster.expect(r"worker 1 exited with code 0 .*restarting", start=mark)
        cluster.expect(r"worker 1 started", start=mark)
        client.wait_connected(times=2)
        answer: tuple[Any, ...] = client.call("whoami")
        assert answer[0] == 1
    finally:
        cluster.kill()


def test_stopping_waits_a_bounded_time_for_a_stuck_worker() -> None:
    """A worker that cannot stop (SIGSTOPped) is killed after the shutdown timeout; meanwhile
    the master accepts nothing; it still exits 0 with no process left behind."""
    cluster = start_app_cluster(WORKERS, "--shutdown-timeout", "2")
    try:
        workers = cluster.worker_pids()
        os.kill(workers[2], signal.SIGSTOP)
        mark = cluster.mark()
        cluster.signal(signal.SIGTERM)
        cluster.expect(r"worker 1 exited with code 0", start=mark)
        assert cluster.popen.poll() is None, "the master did not wait for worker 2"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((cluster.host, cluster.port), timeout=1.0).close()
        assert cluster.wait(timeout=5.0) == 0
        cluster.expect(r"worker 2 killed by signal 9", start=mark)
        wait_gone(workers.values(), what="workers gone")
    finally:
        cluster.kill()
