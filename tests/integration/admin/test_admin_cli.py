"""``sio-chat server``'s Admin UI options: refused combinations, and what each one starts.

- ``--admin-ui`` needs ``USER:PASSWORD``; ``--admin-ui`` and ``--admin-ui-no-auth`` exclude
  each other; ``--admin-ui-dir`` / ``--admin-ui-read-only`` need a login option; a folder that
  is not the UI's is refused;
- ``--admin-ui-no-auth`` starts with a warning, and a client logs in with no auth;
- ``--admin-ui-mode production --admin-ui-read-only`` announces just AGGREGATED_EVENTS.
And CORS: the hosted UI's origin is admitted next to the application's ``--cors-origin``
(``CorsPolicy.admit``, sans-IO).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from eio.protocol.cors import CorsPolicy

from ..cluster_support import SIO_CHAT, ClientLoop, Proc


@pytest.fixture
def clients() -> Iterator[ClientLoop]:
    loop = ClientLoop()
    yield loop
    loop.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--admin-ui", "nopassword"], "USER:PASSWORD"),
        (["--admin-ui", ":pw"], "USER:PASSWORD"),
        (["--admin-ui", "a:b", "--admin-ui-no-auth"], "exclude each other"),
        (["--admin-ui-read-only"], "need --admin-ui"),
        (["--admin-ui-dir", "."], "need --admin-ui"),
        (["--admin-ui", "a:b", "--admin-ui-dir", "."], "has no index.html"),
    ],
)
def test_refused_options(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["server", "--port", "0", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output


def start(*args: str) -> tuple[Proc, str]:
    server = Proc(
        [SIO_CHAT, "server", "--workers", "1", "--host", "127.0.0.1", "--port", "0", *args]
    )
    _, match = server.expect(r"^listening on (.+):(\d+)$", stream="stdout", timeout=10.0)
    return server, f"http://{match.group(1)}:{match.group(2)}"


def test_no_auth_warns_and_admits_anyone(clients: ClientLoop) -> None:
    server, url = start(
        "--admin-ui-no-auth", "--admin-ui-mode", "production", "--admin-ui-read-only"
    )
    try:
        server.expect(r"WARNING .*admin UI without a login")
        ui = clients.connect(url + "/admin", "127.0.0.1", events=("config",))
        ui.wait_connected()
        assert ui.inbox.wait_count("config", 1)[0][0] == {
            "supportedFeatures": ["AGGREGATED_EVENTS"]
        }
    finally:
        server.kill()


def test_cors_admits_extra_origins_with_credentials() -> None:
    for app_origins in (None, ["https://app.example"], lambda origin: origin.endswith(".app")):
        policy = CorsPolicy(app_origins, credentials=False)
        policy.admit(["https://admin.socket.io/"])
        assert policy.allows("https://admin.socket.io", "localhost:3000")
        assert policy.headers("https://admin.socket.io") == [
            ("access-control-allow-origin", "https://admin.socket.io"),
            ("vary", "Origin"),
            ("access-control-allow-credentials", "true"),
        ]
        assert not policy.allows("https://evil.example", "localhost:3000")
    policy = CorsPolicy(["https://app.example"])
    policy.admit(["https://admin.socket.io"])
    assert policy.allows("https://app.example", None)  # the application's own still are
