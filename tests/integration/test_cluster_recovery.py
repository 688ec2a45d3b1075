"""Connection state recovery in the fork cluster, with the official ``socket.io-client`` (Node):
a client whose transport drops, or whose worker is killed with SIGKILL, comes back to its slot's
worker recovered (same id, same rooms) and gets every chat message sent to its room meanwhile,
once, from senders on its own worker and on the other one (``tests/node/cluster_recovery.js``).

Node's own cluster adapter cannot do this: it keeps a session only when its socket closes, so a
killed process leaves nothing to restore.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .cluster_support import (
    WAIT,
    Cluster,
    node_available,
    source_addresses,
    start_app_cluster,
    start_cli_cluster,
    wait_gone,
)

pytestmark = [
    pytest.mark.node,
    pytest.mark.skipif(not node_available(), reason="node and tests/node/node_modules needed"),
]

NODE_DIR = Path(__file__).parents[1] / "node"

MODES = {
    "upgrade": None,
    "websocket": ["websocket"],
    "polling": ["polling"],
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    started = start_cli_cluster(2, "--recovery-window", "30")
    yield started
    started.kill()


def run_scenario(cluster: Cluster, **params: Any) -> dict[str, Any]:
    """The client R on worker 1, senders on workers 1 and 2 (by source address)."""
    groups = source_addresses(2, 2)
    params = {
        "url": cluster.url,
        "recovering": groups[1][0],
        "others": [groups[1][1], groups[2][0]],
        **params,
    }
    done = subprocess.run(
        ["node", "cluster_recovery.js", json.dumps(params)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=4 * WAIT,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"no result; stderr:\n{done.stderr}"
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def assert_recovered(result: dict[str, Any]) -> None:
    assert result["ok"], result
    assert result["recovered"] is True
    assert result["sameId"] is True
    assert result["got"] == result["expected"]  # every message, none twice
    assert result["extra"] == []
    assert result["inOrder"] is True


@pytest.mark.parametrize("mode", MODES)
def test_cluster_client_recovers_after_its_transport_drops(cluster: Cluster, mode: str) -> None:
    assert_recovered(run_scenario(cluster, transports=MODES[mode], mode="drop"))
    assert cluster.errors() == []


@pytest.mark.parametrize("mode", MODES)
def test_cluster_client_recovers_after_its_worker_is_killed(cluster: Cluster, mode: str) -> None:
    pid = cluster.worker_pids()[1]
    mark = cluster.mark()
    result = run_scenario(cluster, transports=MODES[mode], mode="kill", killPid=pid)
    assert_recovered(result)
    wait_gone([pid], what="the killed worker")
    assert cluster.count(r"kept the \d+ sessions of worker 1 for recovery", start=mark) == 1
    assert cluster.errors() == []


@pytest.fixture(scope="module")
def app_cluster() -> Iterator[Cluster]:
    started = start_app_cluster(2, "--recovery-window", "30")
    yield started
    started.kill()


@pytest.mark.parametrize("drop", ["drop", "kill"])
@pytest.mark.parametrize("mode", MODES)
def test_cluster_emits_to_the_socket_and_its_rooms_are_recovered(
    app_cluster: Cluster, mode: str, drop: str
) -> None:
    """Sent by the other worker while the socket is away: to the socket alone (its own room)
    and to a room it joined by ``io.to(id).sockets_join(room)``; then live, to that room."""
    groups = source_addresses(2, 1)
    params = {
        "url": app_cluster.url,
        "transports": MODES[mode],
        "mode": drop,
        "recovering": groups[1][0],
        "sender": groups[2][0],
        "killPid": app_cluster.worker_pids()[1],
    }
    done = subprocess.run(
        ["node", "cluster_recovery_direct.js", json.dumps(params)],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=4 * WAIT,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["ok"], (result, done.stderr)
    assert result["recovered"] is True
    assert result["sameId"] is True
    assert result["got"] == ["hello", "direct 1", "room 1", "direct 2", "after"]
    assert app_cluster.errors() == []


def test_cluster_without_recovery_starts_afresh() -> None:
    """The negative control: with ``--recovery-window 0`` the client comes back as a new
    socket and the messages sent meanwhile are lost to it."""
    cluster = start_cli_cluster(2, "--recovery-window", "0")
    try:
        result = run_scenario(cluster, transports=["websocket"], mode="drop", patience=1000)
    finally:
        cluster.kill()
    assert result["ok"] is False
    assert not result.get("recovered")
    assert "m1 from S1" in result["missing"]
