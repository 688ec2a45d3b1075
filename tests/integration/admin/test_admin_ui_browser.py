"""The official Admin UI (``@socket.io/admin-ui`` 0.5.1's ``ui/dist``) in headless Chromium,
against ``sio-chat server --admin-ui admin:pw --admin-ui-dir ui/dist``:

``admin_ui_driver.mjs`` opens ``/admin/`` on our server, logs in through the UI's connection
form (Server URL, Username, Password, Connect), then waits until the rendered pages show the
servers (Servers page), the chat clients' sockets (Sockets page) and their rooms (Rooms page:
the lobby and the rooms some of them moved to with the chat's ``join``, what ``/join ROOM``
sends), takes screenshots, and clicks a socket's disconnect button on the Sockets page; the
chat client sees the server's disconnect, the others do not.

Once with one process (the UI shows one server, the host name), once with ``--workers 2`` and
clients on both workers (127.0.0.x source addresses): the UI shows both workers
(``hostname#pid``) and the sockets of both, and disconnects a socket of either.

Screenshots go to the test's ``tmp_path`` (printed) and to ``/tmp/admin-ui-screenshots/``.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..browser.conftest import CHROMIUM, _requirements
from ..cluster_support import (
    SIO_CHAT,
    ClientLoop,
    Cluster,
    Proc,
    source_addresses,
    start_cli_cluster,
)

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "admin_ui_driver.mjs"
UI_DIST = HERE.parents[1] / "node" / "node_modules" / "@socket.io" / "admin-ui" / "ui" / "dist"
SHOTS = Path("/tmp/admin-ui-screenshots")
#: Seconds the whole browser scenario may take (Chromium's start included).
SCENARIO_TIMEOUT = 120.0

pytestmark = pytest.mark.node


@pytest.fixture
def node() -> str:
    found = _requirements()
    if not UI_DIST.is_dir():
        pytest.skip(f"{UI_DIST} is missing: run `make npm`")
    return found


@pytest.fixture
def clients() -> Iterator[ClientLoop]:
    loop = ClientLoop()
    yield loop
    loop.close()


def drive_ui(node: str, shots: Path, **params: Any) -> dict[str, Any]:
    shots.mkdir(parents=True, exist_ok=True)
    params["screenshots"] = str(shots)
    done = subprocess.run(
        [node, str(DRIVER), str(CHROMIUM), json.dumps(params)],
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, f"the driver printed nothing (code {done.returncode}): {done.stderr[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1])
    assert result["ok"], f"{result['error']}\nsteps: {result['steps']}\n{result['console']}"
    SHOTS.mkdir(exist_ok=True)
    for shot in sorted(shots.glob("*.png")):
        kept = SHOTS / f"{shots.name}-{shot.name}"
        shutil.copyfile(shot, kept)
        print(f"screenshot: {shot} (and {kept})")
    return result


def login(url: str) -> dict[str, Any]:
    return {
        "page": f"{url}/admin/",
        "serverUrl": url,
        "username": "admin",
        "password": "pw",
    }


def test_the_ui_with_one_server(node: str, clients: ClientLoop, tmp_path: Path) -> None:
    server = Proc(
        [
            SIO_CHAT,
            "server",
            "--workers",
            "1",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--admin-ui",
            "admin:pw",
            "--admin-ui-dir",
            str(UI_DIST),
        ]
    )
    try:
        _, match = server.expect(r"^listening on (.+):(\d+)$", stream="stdout", timeout=10.0)
        url = f"http://{match.group(1)}:{match.group(2)}"
        ann = clients.connect(url, "127.0.0.1", auth={"user": "ann"})
        bob = clients.connect(url, "127.0.0.1", auth={"user": "bob"})
        cid = clients.connect(url, "127.0.0.1", auth={"user": "cid"})
        ids = [client.wait_connected() for client in (ann, bob, cid)]
        assert bob.call("join", "blue")[0] == "you are in room blue"
        assert cid.call("join", "green")[0] == "you are in room green"
        drive_ui(
            node,
            tmp_path / "one-server",
            **login(url),
            servers=[socket.gethostname()],
            sockets=ids,
            rooms=["lobby", "room:blue", "room:green"],
            disconnect=ids[1],
        )
        assert bob.inbox.wait_count("disconnect", 1)[0] == ("io server disconnect",)
        assert ann.inbox.count("disconnect") == cid.inbox.count("disconnect") == 0
    finally:
        server.kill()
    stderr = server.text("stderr").splitlines()
    errors = [line for line in stderr if "Traceback" in line or " ERROR " in line]
    assert not errors, errors


def test_the_ui_with_two_workers(node: str, clients: ClientLoop, tmp_path: Path) -> None:
    cluster: Cluster = start_cli_cluster(
        2, "--admin-ui", "admin:pw", "--admin-ui-dir", str(UI_DIST)
    )
    try:
        ips = source_addresses(2, 2)
        ann = clients.connect(cluster.url, ips[1][0], auth={"user": "ann"})
        bob = clients.connect(cluster.url, ips[2][0], auth={"user": "bob"})
        cid = clients.connect(cluster.url, ips[2][1], auth={"user": "cid"})
        ids = [client.wait_connected() for client in (ann, bob, cid)]
        assert bob.call("join", "blue")[0] == "you are in room blue"
        host = socket.gethostname()
        drive_ui(
            node,
            tmp_path / "two-workers",
            **login(cluster.url),
            servers=[f"{host}#{pid}" for pid in cluster.worker_pids().values()],
            sockets=ids,
            rooms=["lobby", "room:blue"],
            disconnect=ids[1],  # on worker 2, whichever worker the UI reached
        )
        assert bob.inbox.wait_count("disconnect", 1)[0] == ("io server disconnect",)
        assert ann.inbox.count("disconnect") == cid.inbox.count("disconnect") == 0
    finally:
        cluster.kill()
    assert not cluster.errors(), "\n".join(cluster.errors())
