"""Engine.IO steps the wire tests share, written out as the exact strings the protocol uses."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .clients import HttpClient, HttpResponse, WsClient, http_request


@dataclass(frozen=True)
class Server:
    """A running conformance server and shortcuts to talk to it."""

    target: str
    host: str
    port: int
    config: dict[str, Any]

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    @property
    def path(self) -> str:
        path: str = self.config.get("path", "/engine.io/")
        return path

    @property
    def origin(self) -> str:
        """The server's own origin (``http://host:port``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def is_node(self) -> bool:
        return self.target == "node"

    def http(self) -> HttpClient:
        """A new keep-alive connection."""
        return HttpClient(self.address)

    def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]] | tuple[()] = (),
        body: bytes | None = None,
    ) -> HttpResponse:
        """One request on a fresh connection."""
        return http_request(self.address, method, target, headers, body)

    def websocket(
        self, target: str, headers: list[tuple[str, str]] | tuple[()] = (), *, deflate: bool = False
    ) -> WsClient:
        return WsClient.connect(self.address, target, headers, deflate=deflate)


SEP = "\x1e"

TEXT_PLAIN = "text/plain; charset=UTF-8"


def url(server: Server, **query: str) -> str:
    """The Engine.IO path with ``query`` (``EIO=4`` unless given; ``EIO=None`` drops it)."""
    params = {"EIO": "4", **query}
    return server.path + "?" + urlencode({k: v for k, v in params.items() if v is not None})


def polling_url(server: Server, sid: str | None = None, **query: str) -> str:
    if sid is not None:
        query["sid"] = sid
    return url(server, transport="polling", **query)


def websocket_url(server: Server, sid: str | None = None, **query: str) -> str:
    if sid is not None:
        query["sid"] = sid
    return url(server, transport="websocket", **query)


def parse_open(packet: str) -> dict[str, Any]:
    assert packet.startswith("0"), f"not an OPEN packet: {packet!r}"
    value = json.loads(packet[1:])
    assert isinstance(value, dict)
    return value


def expected_open(server: Server, sid: str, upgrades: list[str]) -> str:
    """The OPEN packet, byte for byte: compact JSON, keys in the reference server's order."""
    config = server.config
    return "0" + json.dumps(
        {
            "sid": sid,
            "upgrades": upgrades,
            "pingInterval": config["pingInterval"],
            "pingTimeout": config["pingTimeout"],
            "maxPayload": config["maxHttpBufferSize"],
        },
        separators=(",", ":"),
    )


def polling_handshake(server: Server, headers: list[tuple[str, str]] | None = None) -> str:
    """Open a polling session; returns its sid."""
    response = server.request("GET", polling_url(server), headers or [])
    assert response.status == 200, response
    sid = parse_open(response.text)["sid"]
    assert isinstance(sid, str)
    return sid


def poll(server: Server, sid: str, headers: list[tuple[str, str]] | None = None) -> HttpResponse:
    """One polling GET on a fresh connection."""
    return server.request("GET", polling_url(server, sid), headers or [])


def post(server: Server, sid: str, body: str | bytes) -> HttpResponse:
    """One polling POST on a fresh connection."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    return server.request(
        "POST", polling_url(server, sid), [("Content-Type", "text/plain;charset=UTF-8")], data
    )


def start_poll(
    server: Server, sid: str, headers: list[tuple[str, str]] | None = None
) -> HttpClient:
    """Send a polling GET and leave it outstanding; the caller reads its answer."""
    client = server.http()
    client.send_request("GET", polling_url(server, sid), headers or [])
    return client


def park_poll(server: Server, sid: str) -> HttpClient:
    """A polling GET the server holds open: nothing comes back for a moment."""
    client = start_poll(server, sid)
    client.expect_no_response(0.1)
    return client


def assert_error(response: HttpResponse, status: int, code: int, message: str) -> None:
    """A refused Engine.IO request: status and the exact JSON body."""
    assert response.status == status, response
    assert response.header("content-type") == "application/json", response
    assert (
        response.body
        == json.dumps({"code": code, "message": message}, separators=(",", ":")).encode()
    ), response


def assert_unknown_sid(server: Server, sid: str) -> None:
    """The session is gone: a GET naming it gets 400 code 1."""
    assert_error(poll(server, sid), 400, 1, "Session ID unknown")


def websocket_session(server: Server) -> tuple[WsClient, str]:
    """Open a websocket-only session; returns the socket (OPEN read) and the sid."""
    ws = server.websocket(websocket_url(server))
    sid = parse_open(ws.recv_text())["sid"]
    assert isinstance(sid, str)
    return ws, sid


def upgrade(server: Server, sid: str) -> WsClient:
    """Upgrade polling session ``sid`` to websocket: probe, then ``5``."""
    ws = server.websocket(websocket_url(server, sid))
    ws.send_text("2probe")
    assert ws.recv_text() == "3probe"
    ws.send_text("5")
    return ws


def wait_websocket_session_gone(server: Server, sid: str, timeout: float = 2.0) -> None:
    """Wait until websocket session ``sid`` is gone.

    A polling GET naming a websocket session is answered at once: 400 code 3 while the session
    lives, 400 code 1 once it is gone. A server may drop the session a moment after the socket
    closes, so ask until it is gone (each answer is immediate, so this is no busy sleep).
    """
    deadline = time.monotonic() + timeout
    while True:
        response = poll(server, sid)
        assert response.status == 400, response
        code = response.json()["code"]
        if code == 1:
            return
        assert code == 3, response
        if time.monotonic() > deadline:
            raise AssertionError(f"session {sid} still open after {timeout}s")
