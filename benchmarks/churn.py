"""Churn and zombie-polling memory: does a server give back what its clients cost?

The chat server (``install_chat``, as ``sio-chat server`` runs it) runs in a subprocess with
short heartbeats, so abandoned sessions expire fast; it answers ``stats`` lines on its stdin with
one JSON line of counters (``server_stats``: sessions, sockets, connections, live timers, fds,
RSS). A raw client (blocking sockets, no library) drives it:

- ``churn``: connect/disconnect cycles, polling and websocket mixed: a polling client that
  closes cleanly, a websocket client that closes cleanly, one that drops its TCP connection, and
  an abandoned polling client (handshake, POST ``40``, then nothing, ever).
- ``zombies``: the issue's repro: open with a polling GET, POST ``40{"user":"z<i>"}`` (the chat
  announces each join to everyone, so every zombie's queue fills with notices), never poll again;
  RSS is read after each step of zombies.

Both then wait until the heartbeat has dropped every session and print baseline / peak / after.
Run (the full run the closing note quotes):

    PYTHONPATH=. .venv/bin/python benchmarks/churn.py churn --cycles 10000
    PYTHONPATH=. .venv/bin/python benchmarks/churn.py zombies --count 3000 --step 500
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

#: Seconds any single read from the server may take (the box may be loaded).
IO_TIMEOUT = 30.0
PATH = "/socket.io/"


# -- the server side ------------------------------------------------------------------------------


def server_stats(io: Any) -> dict[str, int]:
    """The counters a leak would show, read on the reactor thread. Live timers: those not
    cancelled (cancelled ones wait in the heap until their deadline, holding nothing)."""
    heap = io.reactor._timers._heap
    with open("/proc/self/statm", "rb") as statm:
        rss_kb = int(statm.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    return {
        "sessions": len(io.eio.sessions),
        "sockets": sum(len(nsp.sockets) for nsp in io.namespaces.values()),
        "connections": io.eio.connection_count,
        "timers": sum(1 for entry in heap if not entry[2].cancelled),
        "timer_heap": len(heap),
        "fds": len(os.listdir("/proc/self/fd")) - 1,  # minus the one listdir opened
        "rss_kb": rss_kb,
        "gc_objects": len(gc.get_objects()),
    }


class _StatsPipe:
    """Answers each line on stdin with one JSON line on stdout: ``stats`` (``server_stats``);
    the tools used to find where memory was held: ``garbage`` (what only the cycle collector
    frees, by type), ``mallocstats`` (pymalloc's arenas and pools, on stderr), ``trim`` (a full
    collection and ``malloc_trim(0)``, then the stats), and with ``CHURN_TRACEMALLOC=<frames>``,
    ``snapshot`` and ``diff`` (what grew since, by allocation site)."""

    def __init__(self, io: Any) -> None:
        self.io = io
        self.buffer = b""
        self.snapshot: Any = None

    def answer(self, command: str) -> Any:
        import tracemalloc

        if command == "snapshot":
            gc.collect()
            self.snapshot = tracemalloc.take_snapshot()
            return "ok"
        if command == "diff":
            gc.collect()
            current = tracemalloc.take_snapshot()
            top = current.compare_to(self.snapshot, "traceback")[:12]
            return ["\n".join([str(stat), *stat.traceback.format()[-6:]]) for stat in top]
        if command == "mallocstats":  # pymalloc's arenas and pools, on stderr
            gc.collect()
            sys._debugmallocstats()
            return server_stats(self.io)
        if command == "trim":  # an experiment: what glibc would give back
            import ctypes

            gc.collect()
            ctypes.CDLL("libc.so.6").malloc_trim(0)
            return server_stats(self.io)
        if command == "garbage":  # what only the cycle collector frees, by type
            gc.set_debug(gc.DEBUG_SAVEALL)
            gc.collect()
            kinds: dict[str, int] = {}
            for obj in gc.garbage:
                kinds[type(obj).__qualname__] = kinds.get(type(obj).__qualname__, 0) + 1
            gc.garbage.clear()
            gc.set_debug(0)
            return sorted(kinds.items(), key=lambda item: -item[1])[:25]
        return server_stats(self.io)

    def on_readable(self) -> None:
        data = os.read(0, 4096)
        if not data:  # the driver is gone: stop
            self.io.reactor.unregister(sys.stdin)
            self.io.reactor.stop()
            return
        self.buffer += data
        while b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            sys.stdout.write(json.dumps(self.answer(line.decode().strip())) + "\n")
            sys.stdout.flush()

    def on_writable(self) -> None:
        pass


def serve(args: argparse.Namespace) -> None:
    import sio
    from cli.chat import install_chat

    if os.environ.get("CHURN_TRACEMALLOC"):
        import tracemalloc

        tracemalloc.start(int(os.environ["CHURN_TRACEMALLOC"]))

    recovery = (
        sio.RecoveryOptions(max_disconnection_duration=args.recovery_window)
        if args.recovery_window > 0
        else None
    )
    io = sio.Server(
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        connect_timeout=args.connect_timeout,
        http_idle_timeout=args.http_idle_timeout,
        connection_state_recovery=recovery,
    )
    install_chat(io)
    _host, port = io.listen("127.0.0.1", 0)
    io.reactor.register(sys.stdin, _StatsPipe(io))
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    io.run()


@dataclass
class ServerProcess:
    """The server subprocess: its port, and its counters on request."""

    process: subprocess.Popen[str]
    port: int
    lock: threading.Lock = field(default_factory=threading.Lock)

    def stats(self) -> dict[str, int]:
        result: dict[str, int] = self.ask("stats")
        return result

    def ask(self, command: str) -> Any:
        assert self.process.stdin is not None and self.process.stdout is not None
        with self.lock:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
            line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the server process is gone")
        return json.loads(line)


@contextmanager
def server_process(
    ping_interval: float = 0.5,
    ping_timeout: float = 0.5,
    connect_timeout: float = 2.0,
    http_idle_timeout: float = 2.0,
    recovery_window: float = 0.0,
) -> Iterator[ServerProcess]:
    """Start the server subprocess (stopped, by its PID, on exit)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    command = [
        sys.executable,
        "-m",
        "benchmarks.churn",
        "serve",
        f"--ping-interval={ping_interval}",
        f"--ping-timeout={ping_timeout}",
        f"--connect-timeout={connect_timeout}",
        f"--http-idle-timeout={http_idle_timeout}",
        f"--recovery-window={recovery_window}",
    ]
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(
        command, cwd=root, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        port_line = process.stdout.readline()
        if not port_line:
            raise RuntimeError("the server process did not start")
        yield ServerProcess(process, int(port_line))
    finally:
        process.kill()
        process.wait(timeout=IO_TIMEOUT)


# -- a raw client ---------------------------------------------------------------------------------


class Conn:
    """One blocking TCP connection speaking just enough HTTP/1.1 and websocket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed by the server")
        self.buffer += data

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _head(self) -> tuple[int, dict[str, str]]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return int(lines[0].split()[1]), headers

    def request(self, method: str, query: str, body: bytes = b"") -> tuple[int, bytes]:
        length = f"Content-Length: {len(body)}\r\n" if method == "POST" else ""
        self.sock.sendall(
            f"{method} {PATH}?EIO=4&{query} HTTP/1.1\r\nHost: x\r\n{length}\r\n".encode() + body
        )
        status, headers = self._head()
        return status, self._take(int(headers.get("content-length", "0")))

    def upgrade(self) -> None:
        self.sock.sendall(
            f"GET {PATH}?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        status, _headers = self._head()
        if status != 101:
            raise ConnectionError(f"websocket handshake answered {status}")

    def send_frame(self, payload: bytes, opcode: int = 0x1) -> None:
        """A masked frame with a zero mask (valid, and the payload goes as it is)."""
        assert len(payload) < 126
        self.sock.sendall(bytes((0x80 | opcode, 0x80 | len(payload))) + b"\0\0\0\0" + payload)

    def recv_frame(self) -> tuple[int, bytes]:
        first, second = self._take(2)
        size = second & 0x7F
        if size == 126:
            size = int.from_bytes(self._take(2), "big")
        elif size == 127:
            size = int.from_bytes(self._take(8), "big")
        return first & 0x0F, self._take(size)


def polling_open(port: int, user: str | None) -> tuple[Conn, str]:
    """A polling handshake and CONNECT to ``/`` (with the chat's ``user``), keep-alive."""
    conn = Conn(port)
    status, body = conn.request("GET", "transport=polling")
    assert status == 200 and body.startswith(b"0{"), (status, body)
    sid = json.loads(body[1:])["sid"]
    connect = b"40" if user is None else b'40{"user":"' + user.encode() + b'"}'
    status, body = conn.request("POST", f"transport=polling&sid={sid}", connect)
    assert status == 200 and body == b"ok", (status, body)
    return conn, sid


def polling_clean(port: int, user: str) -> None:
    conn, sid = polling_open(port, user)
    status, body = conn.request("GET", f"transport=polling&sid={sid}")
    assert status == 200 and body.startswith(b"40{"), (status, body)
    status, body = conn.request("POST", f"transport=polling&sid={sid}", b"1")  # CLOSE
    assert status == 200, (status, body)
    conn.close()


def polling_abandoned(port: int, user: str | None) -> None:
    """Joins, then never polls nor closes: only the heartbeat can end it."""
    conn, _sid = polling_open(port, user)
    conn.close()


def websocket_session(port: int, user: str) -> Conn:
    conn = Conn(port)
    conn.upgrade()
    opcode, payload = conn.recv_frame()
    assert opcode == 1 and payload.startswith(b"0{"), payload
    conn.send_frame(b'40{"user":"' + user.encode() + b'"}')
    while True:  # notices of others' joins may come first
        opcode, payload = conn.recv_frame()
        if payload.startswith(b"40{"):
            return conn
        if opcode == 1 and payload == b"2":
            conn.send_frame(b"3")


def websocket_clean(port: int, user: str) -> None:
    conn = websocket_session(port, user)
    conn.send_frame((1000).to_bytes(2, "big"), opcode=0x8)
    while conn.recv_frame()[0] != 0x8:
        pass
    conn.close()


def websocket_dropped(port: int, user: str) -> None:
    websocket_session(port, user).close()


#: One churn cycle of each kind, in turn.
CYCLES: tuple[Callable[[int, str], None], ...] = (
    polling_clean,
    websocket_clean,
    websocket_dropped,
    polling_abandoned,
)


def run_cycles(port: int, count: int, threads: int, on_progress: Callable[[int], None]) -> None:
    """``count`` cycles on ``threads`` client threads; raises the first client failure."""
    errors: list[BaseException] = []
    done = [0]
    lock = threading.Lock()

    def work(first: int) -> None:
        try:
            for i in range(first, count, threads):
                CYCLES[i % len(CYCLES)](port, f"c{i}")
                with lock:
                    done[0] += 1
                    if done[0] % 500 == 0:
                        on_progress(done[0])
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    workers = [threading.Thread(target=work, args=(t,), daemon=True) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]


def wait_until(
    server: ServerProcess,
    done: Callable[[dict[str, int]], bool],
    timeout: float,
) -> dict[str, int]:
    """Ask for the counters (every 0.25 s) until ``done`` says yes or ``timeout`` passes;
    returns the last counters either way (the caller asserts)."""
    deadline = time.monotonic() + timeout
    while True:
        stats = server.stats()
        if done(stats) or time.monotonic() > deadline:
            return stats
        time.sleep(0.25)  # polling a counter in another process: nothing to wait on


def settled(baseline: dict[str, int]) -> Callable[[dict[str, int]], bool]:
    """Sessions, sockets and connections gone; timers and fds back to the baseline."""

    def check(stats: dict[str, int]) -> bool:
        return (
            stats["sessions"] == 0
            and stats["sockets"] == 0
            and stats["connections"] == 0
            and stats["timers"] <= baseline["timers"]
            and stats["fds"] <= baseline["fds"]
        )

    return check


def churn(server: ServerProcess, cycles: int, threads: int, warmup: int) -> dict[str, Any]:
    """Cycles after a warm-up (one-time allocations: imports, caches, buffers); returns the
    counters at baseline, peak (sampled) and after."""
    run_cycles(server.port, warmup, 1, lambda _done: None)
    baseline = wait_until(server, settled(server.stats()), IO_TIMEOUT)
    peak: dict[str, int] = dict(baseline)

    def sample(_done: int) -> None:
        for key, value in server.stats().items():
            peak[key] = max(peak[key], value)

    started = time.monotonic()
    run_cycles(server.port, cycles, threads, sample)
    elapsed = time.monotonic() - started
    sample(cycles)
    after = wait_until(server, settled(baseline), IO_TIMEOUT)
    return {"baseline": baseline, "peak": peak, "after": after, "seconds": elapsed}


def zombies(
    server: ServerProcess, count: int, step: int, named: bool, warmup: int
) -> dict[str, Any]:
    """``count`` abandoned polling sessions, counters after each ``step``."""
    for i in range(warmup):  # warm-up, with cycles that end at once
        CYCLES[i % 3](server.port, f"w{i}")
    baseline = wait_until(server, settled(server.stats()), IO_TIMEOUT)
    if os.environ.get("CHURN_TRACEMALLOC"):
        server.ask("snapshot")
    steps = []
    for first in range(0, count, step):
        for i in range(first, min(first + step, count)):
            polling_abandoned(server.port, f"z{i}" if named else None)
        stats = server.stats()
        stats["zombies"] = min(first + step, count)
        steps.append(stats)
    after = wait_until(server, settled(baseline), IO_TIMEOUT * 4)
    if os.environ.get("CHURN_TRACEMALLOC"):
        for line in server.ask("diff"):
            print(line)
    return {"baseline": baseline, "steps": steps, "after": after}


def _row(name: str, stats: dict[str, int]) -> str:
    return (
        f"{name:>9} {stats['rss_kb'] / 1024:8.1f} {stats['sessions']:8} {stats['sockets']:7} "
        f"{stats['connections']:5} {stats['timers']:6} {stats['timer_heap']:6} {stats['fds']:5} "
        f"{stats['gc_objects']:8}"
    )


HEADER = f"{'':>9} {'RSS MiB':>8} {'sessions':>8} {'sockets':>7} {'conns':>5} {'timers':>6} " + (
    f"{'heap':>6} {'fds':>5} {'objects':>8}"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("churn", "zombies", "serve"))
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--count", type=int, default=3000, help="zombies")
    parser.add_argument("--step", type=int, default=500, help="zombies per measurement")
    parser.add_argument("--anonymous", action="store_true", help="zombies join with no name")
    parser.add_argument("--ping-interval", type=float, default=0.5)
    parser.add_argument("--ping-timeout", type=float, default=0.5)
    parser.add_argument("--connect-timeout", type=float, default=2.0)
    parser.add_argument("--http-idle-timeout", type=float, default=2.0)
    parser.add_argument("--recovery-window", type=float, default=0.0)
    args = parser.parse_args()
    if args.mode == "serve":
        serve(args)
        return
    with server_process(
        args.ping_interval,
        args.ping_timeout,
        args.connect_timeout,
        args.http_idle_timeout,
        args.recovery_window,
    ) as server:
        print(
            f"{args.mode}: ping {args.ping_interval}/{args.ping_timeout} s, http idle "
            f"{args.http_idle_timeout} s, recovery window {args.recovery_window} s"
        )
        print(HEADER)
        if args.mode == "churn":
            result = churn(server, args.cycles, args.threads, args.warmup)
            for name in ("baseline", "peak", "after"):
                print(_row(name, result[name]))
            print(f"{args.cycles} cycles in {result['seconds']:.1f} s")
            base, after = result["baseline"]["rss_kb"], result["after"]["rss_kb"]
        else:
            result = zombies(server, args.count, args.step, not args.anonymous, args.warmup)
            print(_row("baseline", result["baseline"]))
            previous = result["baseline"]
            for stats in result["steps"]:
                print(_row(f"{stats['zombies']} z", stats))
                previous = stats
            print(_row("after", result["after"]))
            base, after = result["baseline"]["rss_kb"], result["after"]["rss_kb"]
            del previous
        print(f"RSS after / baseline: {after / base:.3f}")


if __name__ == "__main__":
    main()
