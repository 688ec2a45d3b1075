"""Micro-benchmark: server CPU per echo round trip, sockets excluded.

A websocket session is opened through a socketpair; then masked frames of
``42<id>["echo","xxxxxxxxxxxxxxxx"]`` are fed straight into the server's websocket protocol,
as the reactor would after a recv(), and the ack frames written are counted. Run:

    .venv/bin/python benchmarks/echo_path.py [--profile]
"""

from __future__ import annotations

import os
import socket
import sys
import time

import sio
from cli.chat import install_chat
from reactor import Stream


def masked_frame(text: str) -> bytes:
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes((0x81, 0x80 | len(payload))) + mask + masked


def open_session(io: sio.Server) -> tuple[Stream, socket.socket]:
    server_end, client_end = socket.socketpair()
    io.eio.adopt(server_end, ("127.0.0.1", 1))
    client_end.sendall(
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    for _ in range(20):
        io.reactor.run_once(0.05)
    client_end.sendall(masked_frame("40"))
    for _ in range(20):
        io.reactor.run_once(0.05)
    (stream,) = [s for s in io.eio._streams if not s.closed]
    return stream, client_end


def main() -> None:
    # RECOVERY=1: with connection state recovery on (as `sio-chat server` runs by default).
    io = sio.Server(connection_state_recovery=os.environ.get("RECOVERY") == "1")
    install_chat(io)
    stream, client_end = open_session(io)
    written: list[bytes] = []

    class FakeSocket:
        """Takes every send() whole, like a kernel with room (no syscall cost here)."""

        def send(self, data: bytes) -> int:
            written.append(data)
            return len(data)

    stream.sock = FakeSocket()  # type: ignore[assignment]
    protocol = stream.protocol
    flush = io.reactor._flush_dirty
    frames = [masked_frame(f'42{i}["echo","xxxxxxxxxxxxxxxx"]') for i in range(1000)]
    count = int(os.environ.get("ECHO_COUNT", "0")) or (
        30_000 if "--profile" in sys.argv else 100_000
    )

    def run() -> None:
        for i in range(count):
            protocol.data_received(frames[i % 1000])
            flush()

    if "--profile" in sys.argv:
        import cProfile
        import pstats

        cProfile.runctx("run()", globals(), {"run": run}, "/tmp/echo_path.prof")
        pstats.Stats("/tmp/echo_path.prof").sort_stats("tottime").print_stats(25)
        return
    start = time.perf_counter()
    run()
    elapsed = time.perf_counter() - start
    assert len(written) == count, len(written)
    print(f"{elapsed / count * 1e6:.2f} us per echo (Python only), last reply {written[-1][:40]!r}")
    client_end.close()


if __name__ == "__main__":
    main()
