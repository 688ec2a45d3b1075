"""Tools of the cluster tests: the cluster as a subprocess, raw HTTP from chosen source addresses,
Socket.IO clients on a reactor thread, process-tree checks.

Every wait is bounded (``WAIT``) and wakes on the event it waits for, never by polling: what tests
wait on (a subprocess's output lines and its exit, a client's events, a ``Recorder``'s items)
changes under one condition, ``_changed``, which is notified on every change; ``wait_until``
re-checks its condition on each notification. What cannot notify (a process that is not our
child, a socket) is waited on with a blocking call that has a timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any, TypeVar

import sio
from cluster.sticky import slot_for
from reactor import Reactor
from sio.client import ClientSocket

REPO = Path(__file__).resolve().parents[2]
NODE_DIR = REPO / "tests" / "node"
SIO_CHAT = str(Path(sys.executable).with_name("sio-chat"))
CLUSTER_APP = str(Path(__file__).with_name("cluster_app.py"))

#: Seconds any single expected thing may take.
WAIT = 15.0
#: Seconds we watch for something that must not happen.
QUIET = 0.5

T = TypeVar("T")

#: Held while the state tests wait on changes, and notified after each change. Re-entrant: a
#: condition given to ``wait_until`` runs holding it and may call the helpers that take it.
_changed = threading.Condition(threading.RLock())


def wait_until(condition: Callable[[], bool], timeout: float = WAIT, what: str = "") -> None:
    """Wait until ``condition`` holds; fail after ``timeout`` seconds.

    ``condition`` is checked now and again at each change of the state the helpers here record
    (``Proc`` lines and exits, ``Inbox`` events, ``Recorder`` items): it must depend on that state
    only, and only read it (it runs holding ``_changed``: no I/O, no waiting on other threads).
    """
    with _changed:
        if not _changed.wait_for(condition, timeout):
            raise AssertionError(f"not true within {timeout}s: {what or condition}")


class Recorder(list[T]):
    """A list that a callback on another thread appends to (``callback=answers.append``); each
    append wakes ``wait_until``."""

    def append(self, item: T) -> None:
        with _changed:
            super().append(item)
            _changed.notify_all()


# -- processes ------------------------------------------------------------------------------------


class Proc:
    """A subprocess in its own process group; its stdout and stderr lines kept as they come."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.argv = argv
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )
        self.pid = self.popen.pid
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        #: Set (under ``_changed``, notified) once the process has exited; ``Popen`` reaps it.
        self.exited = False
        self._pipes_open = 2
        self._threads = [
            threading.Thread(target=self._read, args=(name, pipe), daemon=True)
            for name, pipe in (("stdout", self.popen.stdout), ("stderr", self.popen.stderr))
        ]
        self._threads.append(threading.Thread(target=self._watch, daemon=True))
        for thread in self._threads:
            thread.start()

    def _read(self, name: str, pipe: IO[bytes] | None) -> None:
        assert pipe is not None
        try:
            for raw in iter(pipe.readline, b""):
                with _changed:
                    self.lines[name].append(raw.decode("utf-8", "replace").rstrip("\n"))
                    _changed.notify_all()
        finally:
            with _changed:
                self._pipes_open -= 1
                _changed.notify_all()

    def _watch(self) -> None:
        """Block until the process exits (WNOWAIT: it stays for ``Popen`` to reap), then say so."""
        with contextlib.suppress(ChildProcessError):  # already reaped by Popen
            os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)
        with _changed:
            self.exited = True
            _changed.notify_all()

    def _finished(self) -> bool:
        """Exited, and all its output read: no line can come any more."""
        return self.exited and self._pipes_open == 0

    def expect(
        self, pattern: str, stream: str = "stderr", timeout: float = WAIT, start: int = 0
    ) -> tuple[int, re.Match[str]]:
        """The first line (from index ``start``) of ``stream`` matching ``pattern``."""
        regex = re.compile(pattern)
        found: list[tuple[int, re.Match[str]]] = []
        unread = start

        def found_or_finished() -> bool:
            nonlocal unread
            lines = self.lines[stream]
            for index in range(unread, len(lines)):
                match = regex.search(lines[index])
                if match:
                    found.append((index, match))
                    return True
            unread = max(unread, len(lines))
            return self._finished()

        with _changed:
            _changed.wait_for(found_or_finished, timeout)
            if found:
                return found[0]
            tail = "\n".join(self.lines[stream][-30:])
            raise AssertionError(f"no line matching {pattern!r} in {stream}:\n{tail}")

    def count(self, pattern: str, stream: str = "stderr", start: int = 0) -> int:
        regex = re.compile(pattern)
        with _changed:
            return sum(1 for line in self.lines[stream][start:] if regex.search(line))

    def mark(self, stream: str = "stderr") -> int:
        """The index of the next line of ``stream`` (for ``expect(start=...)``)."""
        with _changed:
            return len(self.lines[stream])

    def text(self, stream: str = "stderr") -> str:
        with _changed:
            return "\n".join(self.lines[stream])

    def signal(self, signum: int) -> None:
        if self.popen.poll() is None:
            os.kill(self.pid, signum)

    def wait(self, timeout: float = WAIT) -> int:
        """The exit code, once the process has exited (woken by its exit, not polling)."""
        with _changed:
            if not _changed.wait_for(lambda: self.exited, timeout):
                raise AssertionError(f"{self.argv[:3]} did not exit within {timeout}s")
        return self.popen.wait()  # exited: this only reaps it

    def kill(self) -> None:
        """Kill the whole process group (whatever is left of it) and reap."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with _changed:
            _changed.wait_for(lambda: self.exited, WAIT)
        if self.exited:
            self.popen.wait()
        for thread in self._threads:
            thread.join(1.0)
        for pipe in (self.popen.stdin, self.popen.stdout, self.popen.stderr):
            if pipe is not None:
                pipe.close()


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None if it no longer exists."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            data = file.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = data[data.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as dead)."""
    stat = proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def wait_gone(pids: Iterable[int], timeout: float = WAIT, what: str = "") -> None:
    """Wait until none of ``pids`` runs (a zombie counts as gone); they need not be our children:
    each wait blocks on a pidfd, which becomes readable when its process exits."""
    deadline = time.monotonic() + timeout
    for pid in pids:
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            continue  # gone and reaped
        try:
            readable, _, _ = select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))
        finally:
            os.close(pidfd)
        if not readable:
            raise AssertionError(f"not true within {timeout}s: {what or 'gone'} (pid {pid} runs)")


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat is not None and stat[1] == pid and stat[0] not in ("Z", "X"):
                found.add(int(entry))
    return found


class Cluster(Proc):
    """``sio-chat server --workers N`` (or the test app) on 127.0.0.1, port 0."""

    def __init__(self, argv: list[str], workers: int) -> None:
        super().__init__(argv)
        self.workers = workers
        _, match = self.expect(
            r"^listening on (.+):(\d+) \((\d+) workers\)$", stream="stdout", timeout=10.0
        )
        self.host = match.group(1)
        self.port = int(match.group(2))
        assert int(match.group(3)) == workers
        #: Serving https (``--certfile``): readiness is checked over TLS.
        self.tls = "--certfile" in argv
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://{self.host}:{self.port}"
        if ":" in self.host:
            self.url = f"{scheme}://[{self.host}]:{self.port}"
        for worker in range(1, workers + 1):
            self.expect(rf"worker {worker} started \(pid \d+\)")
        # The master logs "started" after the fork: each worker is its child by then.
        assert children_of(self.pid) == set(self.worker_pids().values()), "workers forked"
        if "round-robin" not in argv:
            self.wait_ready()

    def wait_ready(self) -> None:
        """Every worker answers (so it runs its loop, with its signal handlers in place): the
        master logs "started" right after the fork, before the worker has set itself up."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        if ":" in host:
            return  # only ::1 to connect from: it reaches one worker
        for worker, (ip,) in source_addresses(self.workers, 1).items():
            if self.tls:
                from .tls_support import https_get

                status, body = https_get(host, self.port, source=ip)
            else:
                status, body = http_request(host, self.port, source=ip)
            assert (status, body) == (200, f"worker: {worker}\n".encode())

    def worker_pids(self) -> dict[int, int]:
        """Worker id -> pid of its latest process, from the master's log."""
        pids: dict[int, int] = {}
        for line in self.lines_of("stderr"):
            match = re.search(r"worker (\d+) started \(pid (\d+)\)", line)
            if match:
                pids[int(match.group(1))] = int(match.group(2))
        return pids

    def lines_of(self, stream: str) -> list[str]:
        with _changed:
            return list(self.lines[stream])

    def errors(self) -> list[str]:
        """Lines that show something went wrong in our code."""
        return [
            line
            for line in self.lines_of("stderr")
            if "Traceback" in line or " ERROR " in line or "CRITICAL" in line
        ]


def start_cli_cluster(workers: int, *extra: str, host: str = "127.0.0.1") -> Cluster:
    argv = [SIO_CHAT, "server", "--workers", str(workers), "--host", host, "--port", "0"]
    return Cluster([*argv, *extra], workers)


def start_app_cluster(workers: int, *extra: str) -> Cluster:
    """The test app of ``cluster_app.py`` (handlers for the cross-worker operations)."""
    return Cluster([sys.executable, CLUSTER_APP, "--workers", str(workers), *extra], workers)


# -- addresses ------------------------------------------------------------------------------------


def source_addresses(workers: int, per_worker: int, first: int = 2) -> dict[int, list[str]]:
    """Loopback source addresses 127.0.0.<first>.. grouped by the worker (1..N) they map to,
    ``per_worker`` each."""
    chosen: dict[int, list[str]] = {worker: [] for worker in range(1, workers + 1)}
    last = first
    while any(len(ips) < per_worker for ips in chosen.values()):
        assert last < 255, "not enough loopback addresses"
        ip = f"127.0.0.{last}"
        worker = slot_for(ip, workers) + 1
        if len(chosen[worker]) < per_worker:
            chosen[worker].append(ip)
        last += 1
    return chosen


def expected_worker(ip: str, workers: int) -> int:
    return slot_for(ip, workers) + 1


# -- raw HTTP -------------------------------------------------------------------------------------


def http_request(
    host: str,
    port: int,
    method: str = "GET",
    path: str = "/",
    *,
    source: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    parts: Iterable[int] = (),
) -> tuple[int, bytes]:
    """One request on a new connection (``Connection: close``): (status, body). ``parts`` cuts the
    request into pieces sent separately (each after the server had a moment to read the last)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(WAIT)
    try:
        if source is not None:
            sock.bind((source, 0))
        sock.connect((host, port))
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in headers]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        offset = 0
        for cut in parts:
            sock.sendall(request[offset:cut])
            offset = cut
            time.sleep(0.05)  # allowed: pacing, so each piece arrives as a separate read
        sock.sendall(request[offset:])
        return read_response(sock)
    finally:
        sock.close()


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        if sep:
            match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if match and len(rest) >= int(match.group(1)):
                break
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 "), data[:200]
    return int(head.split()[1]), rest


def worker_of(cluster: Cluster, source: str | None = None) -> int:
    """Which worker answers ``GET /`` from ``source``."""
    status, body = http_request(cluster.host, cluster.port, source=source)
    assert status == 200, (status, body)
    match = re.fullmatch(rb"worker: (\d+)\n", body)
    assert match, body
    return int(match.group(1))


# -- Socket.IO clients on a reactor thread --------------------------------------------------------


class Inbox:
    """Events a client received, as (name, args), with waiting."""

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[Any, ...]]] = []

    def put(self, name: str, *args: Any) -> None:
        with _changed:
            self.events.append((name, args))
            _changed.notify_all()

    def of(self, name: str) -> list[tuple[Any, ...]]:
        with _changed:
            return [args for got, args in self.events if got == name]

    def count(self, name: str) -> int:
        return len(self.of(name))

    def wait_count(self, name: str, count: int, timeout: float = WAIT) -> list[tuple[Any, ...]]:
        with _changed:
            if not _changed.wait_for(lambda: self.count(name) >= count, timeout):
                raise AssertionError(
                    f"{self.count(name)} {name!r} events, not {count}, within {timeout}s; "
                    f"last events: {self.events[-5:]}"
                )
            return self.of(name)


class ClientLoop:
    """A reactor on a daemon thread for Socket.IO clients; ``call`` runs code on it."""

    def __init__(self) -> None:
        self.reactor = Reactor()
        self.clients: list[Client] = []
        self.thread = threading.Thread(target=self.reactor.run, name="clients", daemon=True)
        self.thread.start()

    def call(self, fn: Callable[..., T], *args: Any, timeout: float = WAIT) -> T:
        try:
            return self.reactor.call_from_thread(fn, *args, timeout=timeout)
        except TimeoutError:
            raise AssertionError(f"the client reactor did not run {fn!r} in time") from None

    def connect(
        self,
        url: str,
        source: str,
        *,
        events: Iterable[str] = ("chat message", "msg", "note"),
        auth: dict[str, Any] | None = None,
        **options: Any,
    ) -> Client:
        client = Client(self, url, source, tuple(events), auth, options)
        self.clients.append(client)
        return client

    def close(self) -> None:
        if self.thread.is_alive():
            for client in self.clients:
                self.reactor.call_soon_threadsafe(client.close_now)
            self.reactor.call_soon_threadsafe(self.reactor.stop)
            self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the client reactor did not stop"
        self.reactor.close()


class Client:
    """One ``sio.client`` socket bound to ``source``; records connect/disconnect and ``events``."""

    def __init__(
        self,
        loop: ClientLoop,
        url: str,
        source: str,
        events: tuple[str, ...],
        auth: dict[str, Any] | None,
        options: dict[str, Any],
    ) -> None:
        self.loop = loop
        self.source = source
        self.inbox = Inbox()
        options.setdefault("reconnection_delay", 0.05)
        options.setdefault("reconnection_delay_max", 0.3)
        options.setdefault("randomization_factor", 0.0)

        def build() -> ClientSocket:
            socket = sio.client.connect(
                url, reactor=loop.reactor, local_address=source, auth=auth, **options
            )
            socket.on("connect", lambda: self.inbox.put("connect", socket.id))
            socket.on("disconnect", lambda reason: self.inbox.put("disconnect", reason))
            socket.on("connect_error", lambda error: self.inbox.put("connect_error", error))
            for name in events:
                socket.on(name, lambda *args, _name=name: self.inbox.put(_name, *args))
            return socket

        self.socket: ClientSocket = loop.call(build)

    @property
    def id(self) -> str | None:
        return self.socket.id

    def wait_connected(self, times: int = 1, timeout: float = WAIT) -> str:
        """The socket id once connected (``times`` connections in all, counting reconnects)."""
        return str(self.inbox.wait_count("connect", times, timeout)[times - 1][0])

    def emit(self, event: str, *args: Any) -> None:
        self.loop.reactor.call_soon_threadsafe(lambda: self.socket.emit(event, *args))

    def call(self, event: str, *args: Any, timeout: float = WAIT) -> tuple[Any, ...]:
        """Emit with an ack; the ack's arguments."""
        answers: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self.loop.reactor.call_soon_threadsafe(
            lambda: self.socket.emit(event, *args, callback=lambda *a: answers.put(a))
        )
        try:
            return answers.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no ack for {event!r} within {timeout}s") from None

    def close_now(self) -> None:
        """On the loop: disconnect for good."""
        self.socket.manager.close()


# -- the official Node client ---------------------------------------------------------------------


def node_available() -> bool:
    return (NODE_DIR / "node_modules" / "socket.io-client").is_dir() and _which("node")


def _which(name: str) -> bool:
    return any(
        os.access(os.path.join(folder, name), os.X_OK)
        for folder in os.environ.get("PATH", "").split(os.pathsep)
    )


class NodeClient(Proc):
    """``tests/node/cluster_client.js``: the official socket.io-client, JSON lines out."""

    def __init__(self, url: str, source: str | None, **options: Any) -> None:
        script = str(NODE_DIR / "cluster_client.js")
        config = {"localAddress": source, **options}
        super().__init__(["node", script, url, json.dumps(config)])

    def report(self, kind: str, timeout: float = WAIT, start: int = 0) -> dict[str, Any]:
        _, match = self.expect(rf'^\{{"type":"{kind}"', "stdout", timeout, start)
        found: dict[str, Any] = json.loads(match.string)
        return found

    def send(self, command: dict[str, Any]) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write((json.dumps(command) + "\n").encode())
        self.popen.stdin.flush()
