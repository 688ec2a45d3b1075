"""``sio-chat server --workers 2 --certfile ... --keyfile ...``: the master hands over the raw
TCP connection, the worker does the TLS handshake. Clients from different source addresses
reach both workers over TLS and chat across them."""

from __future__ import annotations

import re
import socket

from .cluster_support import ClientLoop, expected_worker, source_addresses, start_cli_cluster
from .tls_support import TlsFiles, https_get

WORKERS = 2


def test_cluster_tls_chat_across_workers(tls_files: TlsFiles, loop: ClientLoop) -> None:
    cert = tls_files.good
    cluster = start_cli_cluster(
        WORKERS, "--certfile", cert.certfile, "--keyfile", cert.keyfile, "--recovery-window", "0"
    )
    try:
        groups = source_addresses(WORKERS, 2)
        ips = [ip for group in groups.values() for ip in group]
        for ip in ips:  # GET / over https, verified: the worker that answers is the sticky one
            status, body = https_get("localhost", cluster.port, source=ip, cafile=tls_files.cafile)
            assert status == 200
            match = re.fullmatch(rb"worker: (\d+)\n", body)
            assert match and int(match.group(1)) == expected_worker(ip, WORKERS), body
        url = f"https://localhost:{cluster.port}"
        clients = {
            ip: loop.connect(url, ip, auth={"user": f"u{n}"}, ca_file=tls_files.cafile)
            for n, ip in enumerate(ips)
        }
        for client in clients.values():
            client.wait_connected()
        sender = clients[groups[1][0]]
        sender.emit("chat message", "u0", "across workers")
        for ip, client in clients.items():
            if client is not sender:
                (line,) = client.inbox.wait_count("chat message", 1)[0]
                assert line == "across workers from u0", (ip, line)
        # Plain HTTP on the TLS port: that worker's handshake fails and the connection closes;
        # the others keep chatting meanwhile.
        with socket.create_connection(("127.0.0.1", cluster.port), timeout=10) as silent:
            clients[groups[2][0]].emit("chat message", "u2", "still here")
            (line,) = sender.inbox.wait_count("chat message", 1)[0]
            assert line == "still here from u2"
            silent.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # plain HTTP on the TLS port
            silent.settimeout(10)
            while silent.recv(4096):
                pass
    finally:
        cluster.kill()
    assert not cluster.errors(), "\n".join(cluster.errors())
