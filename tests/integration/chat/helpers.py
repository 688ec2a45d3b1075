"""Tools for the client and chat tests: a reactor in a thread, event recorders, subprocesses.

Every wait is bounded: a recorder's ``expect`` and a process's ``expect_line`` raise
``AssertionError`` (with what did arrive) when nothing matching comes in time.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest

import sio
from cli.chat import install_chat, plain_http_handler
from reactor import Reactor
from sio import ConnectRefusedError

REPO = Path(__file__).resolve().parents[3]
NODE_DIR = REPO / "tests" / "node"
SIO_CHAT = str(Path(sys.executable).with_name("sio-chat"))

#: Seconds any single expected thing (a connection, a message, a process line) may take.
WAIT = 15.0
#: Seconds we watch for something that must *not* arrive.
QUIET = 0.3

T = TypeVar("T")


class Loop:
    """A reactor running in a daemon thread; ``call`` runs a function on it and returns."""

    def __init__(self) -> None:
        self.reactor = Reactor()
        self.thread = threading.Thread(target=self.reactor.run, name="reactor", daemon=True)
        self.thread.start()

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on the loop thread; its result, or its exception re-raised
        here."""
        try:
            return self.reactor.call_from_thread(lambda: fn(*args, **kwargs), timeout=WAIT)
        except TimeoutError:
            raise AssertionError(f"the reactor did not run {fn!r} within {WAIT}s") from None

    def soon(self, fn: Callable[..., Any], *args: Any) -> None:
        self.reactor.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        self.reactor.call_soon_threadsafe(self.reactor.stop)
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the reactor thread did not stop"
        self.reactor.close()


class Recorder:
    """Collects ``(name, args)`` events from handlers (any thread) for the test to expect."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue()
        self.seen: list[tuple[str, tuple[Any, ...]]] = []  # arrived, not yet expected

    def handler(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.queue.put((name, args))

        return record

    def listen(self, target: Any, *names: str) -> Recorder:
        """Record ``names`` from anything with ``.on(name, handler)`` (socket or manager)."""
        for name in names:
            target.on(name, self.handler(name))
        return self

    def put(self, name: str, *args: Any) -> None:
        self.queue.put((name, args))

    def _match(
        self, name: str, where: Callable[..., bool] | None
    ) -> tuple[str, tuple[Any, ...]] | None:
        for index, (got, args) in enumerate(self.seen):
            if got == name and (where is None or where(*args)):
                return self.seen.pop(index)
        return None

    def expect(
        self, name: str, where: Callable[..., bool] | None = None, timeout: float = WAIT
    ) -> tuple[Any, ...]:
        """The arguments of the next ``name`` event (matching ``where``), waiting at most
        ``timeout``; other events are kept for later ``expect`` calls."""
        found = self._match(name, where)
        deadline = time.monotonic() + timeout
        while found is None:
            left = deadline - time.monotonic()
            try:
                self.seen.append(self.queue.get(timeout=max(0.0, left)))
            except queue.Empty:
                raise AssertionError(
                    f"no {name!r} event within {timeout}s; got {self.seen!r}"
                ) from None
            found = self._match(name, where)
        return found[1]

    def assert_none(self, name: str, within: float = QUIET) -> None:
        """No ``name`` event has come, nor comes within ``within`` seconds."""
        deadline = time.monotonic() + within
        while True:
            found = self._match(name, None)
            assert found is None, f"unexpected {name!r} event: {found!r}"
            left = deadline - time.monotonic()
            if left <= 0:
                return
            try:
                self.seen.append(self.queue.get(timeout=left))
            except queue.Empty:
                return

    def drain(self) -> list[tuple[str, tuple[Any, ...]]]:
        """Everything that has arrived so far (and forget it)."""
        while True:
            try:
                self.seen.append(self.queue.get_nowait())
            except queue.Empty:
                break
        seen, self.seen = self.seen, []
        return seen


# -- connection state recovery --------------------------------------------------------------------

#: The two ways every interop test runs its server: connection state recovery on (``sio-chat
#: server``'s default) and off (``sio.Server``'s default). With it on, every event sent without an
#: ack id and not volatile carries the server's offset as an extra last argument.
RECOVERY = [pytest.param(True, id="recovery-on"), pytest.param(False, id="recovery-off")]

#: Seconds a recovering server keeps a dropped session (``--recovery-window``).
RECOVERY_WINDOW = 120


def recovery_option(recovery: bool) -> bool | None:
    """``sio.Server(connection_state_recovery=...)``: on, or the library's default (off)."""
    return True if recovery else None


def recovery_args(recovery: bool) -> list[str]:
    """``sio-chat server``'s option for it: the window, or 0 (off: the tutorial's wire)."""
    return ["--recovery-window", str(RECOVERY_WINDOW if recovery else 0)]


def strip_offset(args: Sequence[Any], recovery: bool) -> list[Any]:
    """An event's arguments as the application emitted them.

    With recovery on, the last argument must be the server's offset (a non-empty string); it is
    left out. With it off, the arguments come back as they arrived: the caller compares them
    whole, so that any extra argument fails the test (the tutorial's wire, exactly).
    """
    args = list(args)
    if recovery:
        assert args, "an event without the recovery offset: no argument at all"
        offset = args.pop()
        assert isinstance(offset, str) and offset, f"not a recovery offset: {offset!r} in {args}"
    return args


def strip_offsets(events: Iterable[Sequence[Any]], recovery: bool) -> list[list[Any]]:
    """``strip_offset`` of each event's arguments."""
    return [strip_offset(args, recovery) for args in events]


# -- in-process servers ---------------------------------------------------------------------------


class ServerHandle:
    """An in-process ``sio.Server`` on its own reactor thread."""

    def __init__(self, io: sio.Server, loop: Loop, host: str, port: int) -> None:
        self.io = io
        self.loop = loop
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        """Close the server, wait until every session said goodbye (the server bounds that:
        a polling client caught mid-upgrade gets a grace period), then stop its loop;
        idempotent. Stopping the loop any earlier would leave sockets open and clients
        waiting for a close that never comes."""
        if not self.loop.thread.is_alive():
            return
        closed = threading.Event()
        self.loop.call(self.io.close, closed.set)
        assert closed.wait(WAIT), "the server did not close within WAIT"
        self.loop.stop()


def start_server(
    chat: bool = True,
    port: int = 0,
    setup: Callable[[sio.Server], Any] | None = None,
    **options: Any,
) -> ServerHandle:
    """A Socket.IO server (with the chat app unless ``chat=False``) on 127.0.0.1; ``setup(io)``
    runs on the server's loop before it listens."""
    loop = Loop()

    def build() -> tuple[sio.Server, str, int]:
        io = sio.Server(
            reactor=loop.reactor, http_handler=plain_http_handler("sio-chat server"), **options
        )
        if setup is not None:
            setup(io)
        if chat:
            install_chat(io)
        host, bound = io.listen("127.0.0.1", port)
        return io, host, bound

    io, host, bound = loop.call(build)
    return ServerHandle(io, loop, host, bound)


def install_features(io: sio.Server) -> None:
    """What ``tests/node/sio_server.js`` does, on our server."""

    def install(nsp: sio.Namespace) -> None:
        @nsp.on("connection")
        def on_connection(socket: sio.Socket) -> None:
            @socket.on("chat message")
            def chat(user: Any, msg: Any) -> None:
                socket.broadcast.emit("chat message", f"{msg} from {user}")

            @socket.on("echo")
            def echo(*args: Any) -> tuple[Any, ...]:
                return args

            @socket.on("whoami")
            def whoami() -> dict[str, Any]:
                return {
                    "id": socket.id,
                    "engine": socket.conn.sid,
                    "nsp": nsp.name,
                    "auth": socket.handshake.auth,
                    "query": socket.handshake.query,
                    "transport": socket.transport,
                }

            @socket.on("ask")
            def ask(*args: Any) -> None:
                socket.emit(
                    "question", *args, callback=lambda *answer: socket.emit("answer", *answer)
                )

            @socket.on("ask-timeout")
            def ask_timeout(ms: int, *args: Any) -> None:
                def answered(error: Exception | None, *answer: Any) -> None:
                    socket.emit("answer", str(error) if error else None, *answer)

                socket.emit("question", *args, callback=answered, timeout=ms / 1000)

            @socket.on("join")
            def join(room: str) -> str:
                socket.join(room)
                return room

            @socket.on("ask-room")
            def ask_room(room: str, ms: int, *args: Any) -> None:
                def answered(error: BaseException | None, responses: list[Any]) -> None:
                    socket.emit("answers", str(error) if error else None, responses)

                nsp.to(room).timeout(ms / 1000).emit("question", *args, callback=answered)

            @socket.on("bye")
            def bye() -> None:
                socket.disconnect()

    install(io.of("/"))
    admin = io.of("/admin")

    @admin.use
    def authorize(socket: sio.Socket) -> None:
        if socket.handshake.auth.get("token") != "secret":
            raise ConnectRefusedError("not authorized", {"reason": "bad token"})

    install(admin)


# -- subprocesses ---------------------------------------------------------------------------------


#: Processes not stopped yet: a failing test's are stopped when the test run ends.
_LIVE: set[Process] = set()


@atexit.register
def _stop_leftovers() -> None:
    for process in list(_LIVE):
        process.stop()


class Process:
    """A subprocess whose stdout and stderr lines are read into queues by threads."""

    def __init__(
        self, args: list[str], *, stdin: bool = True, env: dict[str, str] | None = None
    ) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            args,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        _LIVE.add(self)
        self.stdout: queue.Queue[str | None] = queue.Queue()
        self.stderr: queue.Queue[str | None] = queue.Queue()
        self.out_lines: list[str] = []
        self.err_lines: list[str] = []
        self._readers = [
            self._reader(self.proc.stdout, self.stdout),
            self._reader(self.proc.stderr, self.stderr),
        ]

    @staticmethod
    def _reader(stream: IO[str] | None, lines: queue.Queue[str | None]) -> threading.Thread:
        def read() -> None:
            assert stream is not None
            for line in stream:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        return thread

    def _expect(
        self, source: queue.Queue[str | None], kept: list[str], what: Callable[[str], bool]
    ) -> str:
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            try:
                line = source.get(timeout=max(0.0, left))
            except queue.Empty:
                raise AssertionError(
                    f"{self.args[:3]}: no expected line within {WAIT}s; {self.describe()}"
                ) from None
            if line is None:
                source.put(None)  # stay at EOF for later calls
                raise AssertionError(f"{self.args[:3]}: output ended; {self.describe()}")
            kept.append(line)
            if what(line):
                return line

    def expect_line(self, what: str | Callable[[str], bool]) -> str:
        """The next stdout line containing ``what`` (or for which ``what(line)`` holds)."""
        test = what if callable(what) else (lambda line: what in line)
        return self._expect(self.stdout, self.out_lines, test)

    def expect_err(self, what: str | Callable[[str], bool]) -> str:
        test = what if callable(what) else (lambda line: what in line)
        return self._expect(self.stderr, self.err_lines, test)

    def write(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close_stdin(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = WAIT) -> int:
        """The exit code; fails the test if the process does not exit in time."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.args[:3]} did not exit; {self.describe()}") from None
        for reader in self._readers:
            reader.join(WAIT)
        self._collect()
        return code

    def _collect(self) -> None:
        for source, kept in ((self.stdout, self.out_lines), (self.stderr, self.err_lines)):
            while True:
                try:
                    line = source.get_nowait()
                except queue.Empty:
                    break
                if line is None:
                    source.put(None)
                    break
                kept.append(line)

    def describe(self) -> str:
        self._collect()
        return f"stdout={self.out_lines[-20:]!r} stderr={self.err_lines[-20:]!r}"

    def stop(self) -> None:
        """Terminate (then kill) if still running."""
        _LIVE.discard(self)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with suppress(OSError):
                    stream.close()


def listening_address(proc: Process) -> tuple[str, int]:
    """Read a server's ``listening on HOST:PORT`` line."""
    line = proc.expect_line("listening on ")
    match = re.search(r"listening on (\S+):(\d+)", line)
    assert match is not None, line
    return match.group(1), int(match.group(2))


class ServerProcess:
    """A server subprocess (ours or Node's) and its address."""

    def __init__(self, proc: Process) -> None:
        self.proc = proc
        try:
            self.host, self.port = listening_address(proc)
        except BaseException:
            proc.stop()
            raise
        self.url = f"http://{self.host}:{self.port}"

    def stop(self) -> int:
        self.proc.signal(signal.SIGTERM)
        code = self.proc.wait()
        self.proc.stop()
        return code


def chat_server_process(port: int = 0, *extra: str, workers: int | None = 1) -> ServerProcess:
    """``sio-chat server`` on 127.0.0.1 (a free port unless ``port``), in one process unless
    ``workers`` says otherwise (None: the command's default)."""
    args = [SIO_CHAT, "server", "--host", "127.0.0.1", "--port", str(port), *extra]
    if workers is not None:
        args += ["--workers", str(workers)]
    return ServerProcess(Process(args, stdin=False))


def node() -> str:
    """The node binary, or skip the test when the npm test packages are missing."""
    binary = shutil.which("node")
    if binary is None:
        pytest.skip("node is not installed")
    for package in ("socket.io", "socket.io-client", "engine.io"):
        if not (NODE_DIR / "node_modules" / package).is_dir():
            pytest.skip("the npm test packages are missing: run `make npm`")
    return binary


def node_server(script: str, options: dict[str, Any] | None = None) -> ServerProcess:
    args = [node(), str(NODE_DIR / script)]
    if options is not None:
        args.append(json.dumps(options))
    return ServerProcess(Process(args, stdin=False))


class NodeClient:
    """``tests/node/sio_client.js``: the official client, driven by JSON lines."""

    def __init__(self, url: str, **options: Any) -> None:
        self.proc = Process([node(), str(NODE_DIR / "sio_client.js"), url, json.dumps(options)])
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self._seq = 0

    def expect(self, kind: str, timeout: float = WAIT, **fields: Any) -> dict[str, Any]:
        """The next report of ``kind`` whose fields equal ``fields``; others are kept."""

        def matches(report: dict[str, Any]) -> bool:
            return report.get("type") == kind and all(
                report.get(key) == value for key, value in fields.items()
            )

        for index, report in enumerate(self.seen):
            if matches(report):
                return self.seen.pop(index)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.proc.stdout.get(timeout=max(0.0, left))
            except queue.Empty:
                line = ""
            if line is None or line == "":
                if line is None:
                    self.proc.stdout.put(None)
                raise AssertionError(
                    f"node client: no {kind} {fields} within {timeout}s; seen={self.seen!r} "
                    f"{self.proc.describe()}"
                )
            self.proc.out_lines.append(line)
            report = json.loads(line)
            if matches(report):
                return report  # type: ignore[no-any-return]
            self.seen.append(report)

    def assert_no_event(self, name: str, within: float = QUIET) -> None:
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.proc.stdout.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                self.proc.stdout.put(None)
                break
            self.seen.append(json.loads(line))
        events = [r for r in self.seen if r.get("type") == "event" and r.get("name") == name]
        assert not events, f"unexpected {name!r} events: {events!r}"

    def emit(self, name: str, *args: Any) -> None:
        self.proc.write(json.dumps({"emit": name, "args": list(args)}))

    def call(self, name: str, *args: Any) -> list[Any]:
        """Emit with an ack; the ack's arguments."""
        self._seq += 1
        seq = self._seq
        self.proc.write(json.dumps({"emit": name, "args": list(args), "seq": seq}))
        return self.expect("ack", seq=seq)["args"]  # type: ignore[no-any-return]

    def close(self) -> None:
        if self.proc.proc.poll() is None:
            with suppress(BrokenPipeError, OSError):
                self.proc.write(json.dumps({"close": True}))
            with suppress(subprocess.TimeoutExpired):
                self.proc.proc.wait(WAIT)
        self.proc.stop()


def b64(data: bytes) -> dict[str, str]:
    """A binary value as ``sio_client.js`` carries it in JSON."""
    import base64

    return {"$bin": base64.b64encode(data).decode()}


@contextmanager
def running(*things: Any) -> Iterator[None]:
    """Stop ``things`` at the end, even on failure: each is a function to call, or anything
    with ``stop()`` or ``close()``."""
    try:
        yield
    finally:
        for thing in reversed(things):
            stop = getattr(thing, "stop", None) or getattr(thing, "close", None) or thing
            stop()
