"""Headless Chromium running the official socket.io-client bundle against our server.

The server (``sio.Server`` with the chat app) runs in-process on a reactor thread and serves, next
to Socket.IO, a test page, its script (``static/``) and socket.io-client's browser bundle from
``tests/node/node_modules``. ``driver.mjs`` (playwright-core, one Chromium for the whole module)
opens the page in a fresh browser context per request, runs a scenario in it and answers with
what the clients saw, as one JSON line.

Needs node, the npm test packages (``make npm``) and Debian's Chromium (``make test`` installs it
with apt-get when it can). Without them the tests skip, with the reason; under CI (``CI`` set)
they fail instead, so that CI cannot pass without running them.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import pytest

import sio
from cli.chat import install_chat
from eio import HttpRequest, HttpResponse

from ..chat.helpers import RECOVERY, recovery_option

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
DRIVER = HERE / "driver.mjs"
NODE_DIR = HERE.parent.parent / "node"
BUNDLE = NODE_DIR / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"
PLAYWRIGHT = NODE_DIR / "node_modules" / "playwright-core"
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))

#: Seconds a server-side wait may take.
WAIT = 5.0
#: Seconds Chromium may take to start.
LAUNCH_TIMEOUT = 30.0
#: Seconds one scenario may take, page load included (the page's own waits are 5 s each).
SCENARIO_TIMEOUT = 30.0


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail under CI, which must run these tests."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run under CI: {reason}")
    pytest.skip(reason)


def _requirements() -> str:
    """The node binary, after checking that everything the browser tests need is there."""
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed")
    for path in (BUNDLE, PLAYWRIGHT):
        if not path.exists():
            _unavailable(f"{path} is missing: run `make npm`")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(
            f"no Chromium at {CHROMIUM}: `make test` installs Debian's (apt-get install chromium) "
            "when run as root on Debian; or set CHROMIUM to a Chromium binary"
        )
    assert node is not None
    return node


# -- the server ---------------------------------------------------------------------------------


def _static_files() -> dict[str, tuple[str, bytes]]:
    return {
        "/": ("text/html; charset=utf-8", (STATIC / "index.html").read_bytes()),
        "/scenario.js": ("text/javascript; charset=utf-8", (STATIC / "scenario.js").read_bytes()),
        "/socket.io.min.js": ("text/javascript; charset=utf-8", BUNDLE.read_bytes()),
    }


class BrowserChatServer:
    """The chat app on ``sio.Server`` (127.0.0.1, a free port), its reactor on a thread, serving
    the test page. Connections and disconnections are recorded in ``events``."""

    def __init__(self, files: dict[str, tuple[str, bytes]], **options: Any) -> None:
        self.files = files
        #: ("connection", sid, transport) and ("disconnect", sid, reason), as the server saw them.
        self.events: queue.Queue[tuple[str, str, str]] = queue.Queue()
        self.io = sio.Server(http_handler=self._serve, **options)
        install_chat(self.io)
        self._install_extras()
        host, port = self.io.listen("127.0.0.1", 0)
        tls = "certfile" in options or "ssl_context" in options
        self.origin = f"{'https' if tls else 'http'}://{host}:{port}"
        self.thread = threading.Thread(target=self.io.run, name="browser-chat", daemon=True)
        self.thread.start()

    def _serve(self, request: HttpRequest) -> HttpResponse | None:
        entry = self.files.get(request.path)
        if entry is None or request.method not in ("GET", "HEAD"):
            return None
        content_type, body = entry
        headers = [("content-type", content_type), ("cache-control", "no-store")]
        return HttpResponse(200, headers, body)

    def _install_extras(self) -> None:
        io = self.io

        @io.on("connection")
        def on_connection(socket: sio.Socket) -> None:
            self.events.put(("connection", socket.id, socket.transport))

        @io.on_event("disconnect")
        def on_disconnect(socket: sio.Socket, reason: str) -> None:
            self.events.put(("disconnect", socket.id, str(reason)))

        @io.on_event("server-info")
        def server_info(socket: sio.Socket, *_: Any) -> dict[str, Any]:
            return {
                "sid": socket.id,
                "transport": socket.transport,
                "origin": socket.handshake.headers.get("origin"),
                "auth": socket.handshake.auth,
            }

        @io.on_event("binary-echo")
        def binary_echo(socket: sio.Socket, *args: Any) -> tuple[Any, ...]:
            return args

        @io.on_event("binary-relay")
        def binary_relay(socket: sio.Socket, *args: Any) -> None:
            socket.broadcast.emit("binary", *args)

    def next_events(self, count: int, timeout: float = WAIT) -> list[tuple[str, str, str]]:
        """The next ``count`` recorded events (fails if they do not come within ``timeout``)."""
        got: list[tuple[str, str, str]] = []
        for _ in range(count):
            try:
                got.append(self.events.get(timeout=timeout))
            except queue.Empty:
                raise AssertionError(
                    f"the server recorded {got} but not {count} events within {timeout}s"
                ) from None
        return got

    def assert_no_event(self) -> None:
        """Nothing was recorded (so far)."""
        assert self.events.empty(), f"unexpected server event {self.events.get_nowait()}"

    def stop(self) -> None:
        reactor = self.io.reactor
        if self.thread.is_alive():
            reactor.call_soon_threadsafe(self.io.close)
            reactor.call_soon_threadsafe(reactor.stop)
            self.thread.join(timeout=WAIT)
        assert not self.thread.is_alive(), "the reactor thread did not stop"
        reactor.close()


StartChatServer = Callable[..., BrowserChatServer]


@pytest.fixture(params=RECOVERY)
def recovery(request: pytest.FixtureRequest) -> bool:
    """Whether the servers of the test have connection state recovery on: every browser test
    runs both ways."""
    return bool(request.param)


@pytest.fixture
def start_chat_server(browser: Browser, recovery: bool) -> Iterator[StartChatServer]:
    """``start_chat_server(**sio_server_options)``: a chat server serving the page (connection
    state recovery on or off, as ``recovery`` says), stopped after the test. It asks for
    ``browser`` first, so that a test skips before it starts anything."""
    files = _static_files()
    started: list[BrowserChatServer] = []

    def start(**options: Any) -> BrowserChatServer:
        options.setdefault("connection_state_recovery", recovery_option(recovery))
        server = BrowserChatServer(files, **options)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


# -- the browser --------------------------------------------------------------------------------


class ScenarioFailed(AssertionError):
    pass


class Browser:
    """``driver.mjs`` and its Chromium: ``run(page_url, params)`` returns the scenario's result."""

    def __init__(self, node: str, log: IO[str], chromium_args: Sequence[str] = ()) -> None:
        self.log = log
        self.proc = subprocess.Popen(
            [node, str(DRIVER), str(CHROMIUM), *chromium_args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            encoding="utf-8",
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="browser-driver", daemon=True)
        self._reader.start()
        self._next_id = 0
        try:
            ready = self._next_message(LAUNCH_TIMEOUT, "the browser to start")
            assert ready.get("type") == "ready", ready
        except BaseException:
            self.close()
            raise
        self.version = str(ready.get("version"))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _next_message(self, timeout: float, what: str) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"the driver did not answer within {timeout}s: {what}") from None
        if line is None:
            self.log.flush()
            raise AssertionError(
                f"the driver exited (code {self.proc.poll()}) waiting for {what}; "
                f"its stderr:\n{Path(self.log.name).read_text()[-4000:]}"
            )
        message: dict[str, Any] = json.loads(line)
        return message

    def run(
        self, page_url: str, params: dict[str, Any], timeout: float = SCENARIO_TIMEOUT
    ) -> dict[str, Any]:
        """Open ``page_url`` in a fresh context and run ``runScenario(params)``; its result.

        Fails if the page could not be driven; a failure inside the scenario comes back as the
        result's ``error``, with the browser console in ``result["console"]``."""
        self._next_id += 1
        request = {
            "id": self._next_id,
            "url": page_url,
            "params": params,
            "timeout": timeout * 1000,
        }
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = self._next_message(timeout + 5.0, f"scenario {params} on {page_url}")
        assert answer.get("id") == self._next_id, answer
        if not answer.get("ok"):
            raise ScenarioFailed(
                f"the driver could not run {params} on {page_url}: {answer.get('error')}\n"
                + "\n".join(answer.get("console", []))
            )
        result: dict[str, Any] = answer["result"]
        result["console"] = answer.get("console", [])
        return result

    def close(self) -> None:
        """End the driver: stdin closed, it closes Chromium and exits; killed if it does not."""
        proc = self.proc
        if proc.stdin is not None and not proc.stdin.closed:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()  # Chromium exits too when its debugging pipe to the driver closes
            proc.wait(timeout=WAIT)
        self._reader.join(timeout=WAIT)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    node = _requirements()
    log_path = tmp_path_factory.mktemp("browser") / "driver.log"
    with log_path.open("w", encoding="utf-8") as log:
        driver = Browser(node, log)
        try:
            yield driver
        finally:
            driver.close()
