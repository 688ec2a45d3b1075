"""Micro-benchmark: server CPU per connection on the browser's path, through socketpairs.

Each client does what ``loadgen.js connect --pending-poll`` does: a polling handshake, CONNECT
``40`` in a POST, the CONNECT reply in a GET, then a websocket upgrade (``2probe``/``3probe``,
with a GET pending meanwhile, then ``5``). Run:

    .venv/bin/python benchmarks/connect_path.py        (CONNECTIONS=500 by default)
"""

from __future__ import annotations

import json
import os
import socket
import time

import sio
from benchmarks.echo_path import masked_frame
from cli.chat import install_chat

HEAD = "Host: x\r\n"


def request(method: str, target: str, body: bytes = b"", extra: str = "") -> bytes:
    length = f"Content-Length: {len(body)}\r\n" if method == "POST" else ""
    return f"{method} {target} HTTP/1.1\r\n{HEAD}{extra}{length}\r\n".encode() + body


def read_until(sock: socket.socket, io: sio.Server, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        io.reactor.run_once(0)
        try:
            data += sock.recv(65536)
        except BlockingIOError:
            continue
    return data


def connect_one(io: sio.Server) -> None:
    path = "/socket.io/?EIO=4&transport=polling"
    a, b = socket.socketpair()
    io.eio.adopt(a, ("127.0.0.1", 1))
    b.setblocking(False)
    b.sendall(request("GET", path))
    reply = read_until(b, io, b'"maxPayload"')
    sid = json.loads(reply[reply.index(b"0{") + 1 : reply.rindex(b"}") + 1])["sid"]
    session = f"{path}&sid={sid}"
    b.sendall(request("POST", session, b"40"))
    read_until(b, io, b"ok")
    b.sendall(request("GET", session))
    read_until(b, io, b"40{")
    b.sendall(request("GET", session))  # the pending poll, answered by the upgrade's noop
    c, d = socket.socketpair()
    io.eio.adopt(c, ("127.0.0.1", 1))
    d.setblocking(False)
    d.sendall(
        request(
            "GET",
            f"/socket.io/?EIO=4&transport=websocket&sid={sid}",
            extra="Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
        )
    )
    read_until(d, io, b"\r\n\r\n")
    d.sendall(masked_frame("2probe"))
    read_until(d, io, b"3probe")
    read_until(b, io, b"6")
    d.sendall(masked_frame("5"))
    io.reactor.run_once(0)
    b.close()
    KEEP.append(d)


KEEP: list[socket.socket] = []


def main() -> None:
    # RECOVERY=1: with connection state recovery on (as `sio-chat server` runs by default).
    io = sio.Server(connection_state_recovery=os.environ.get("RECOVERY") == "1")
    install_chat(io)
    count = int(os.environ.get("CONNECTIONS", "500"))
    start = time.process_time()
    for _ in range(count):
        connect_one(io)
    elapsed = time.process_time() - start
    upgraded = sum(1 for s in io.eio.sessions.values() if s.transport == "websocket")
    assert upgraded == count, upgraded
    print(f"{elapsed / count * 1e6:.1f} us CPU per connection (client side included)")


if __name__ == "__main__":
    main()
