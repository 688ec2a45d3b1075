"""Micro-benchmark: server CPU per broadcast delivery, sockets excluded.

1000 websocket sessions are opened through socketpairs and joined to the chat's lobby; their
sockets are then replaced by fakes that take every send() whole, and a chat message from one of
them is fed in: the time covers decoding, the fan-out and the end-of-tick flush. Run:

    .venv/bin/python benchmarks/broadcast_path.py
"""

from __future__ import annotations

import os
import socket
import time

import sio
from benchmarks.echo_path import masked_frame
from cli.chat import install_chat

RECIPIENTS = 1000


def main() -> None:
    # RECOVERY=1: with connection state recovery on (as `sio-chat server` runs by default).
    io = sio.Server(connection_state_recovery=os.environ.get("RECOVERY") == "1")
    install_chat(io)
    clients = []
    for _ in range(RECIPIENTS + 1):
        server_end, client_end = socket.socketpair()
        io.eio.adopt(server_end, ("127.0.0.1", 1))
        client_end.sendall(
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
            b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        clients.append(client_end)
    for _ in range(20):
        io.reactor.run_once(0.01)
    for client in clients:
        client.sendall(masked_frame("40"))
    for _ in range(50):
        io.reactor.run_once(0.01)
    streams = [s for s in io.eio._streams if not s.closed]
    assert len(streams) == RECIPIENTS + 1, len(streams)
    sent = [0]

    class FakeSocket:
        def send(self, data: bytes) -> int:
            sent[0] += 1
            return len(data)

    for stream in streams:
        stream.sock = FakeSocket()  # type: ignore[assignment]
    sender = streams[0].protocol
    frame = masked_frame('42["chat message","UserA","hello there"]')
    rounds = int(os.environ.get("ROUNDS", "200"))
    start = time.perf_counter()
    for _ in range(rounds):
        sender.data_received(frame)
        io.reactor._flush_dirty()
    elapsed = time.perf_counter() - start
    assert sent[0] == rounds * RECIPIENTS, sent[0]
    print(
        f"{elapsed / rounds * 1e3:.3f} ms per broadcast, "
        f"{elapsed / rounds / RECIPIENTS * 1e6:.3f} us per delivery (Python only)"
    )


if __name__ == "__main__":
    main()
