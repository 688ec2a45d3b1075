"""The official socket.io-client 4.x, in a real browser (headless Chromium), against our server.

Each transport mode (the default: polling, then the websocket upgrade; websocket only; polling
only), from the server's own origin and from another origin that ``cors_allowed_origins``
allows: three chat clients connect, chat, get acks, send and receive binary, and survive a
dropped connection. From an origin the server does not allow, the browser cannot connect.

Every test runs with connection state recovery on and off (the ``recovery`` fixture). With it
on, each event the page receives ends with an offset, and the dropped client comes back as the
same socket (``socket.recovered``); with it off, no event has an extra argument, and the dropped
client comes back as a new socket.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..chat.helpers import strip_offsets
from .conftest import Browser, BrowserChatServer, StartChatServer

#: Transport mode -> the client's ``transports`` option (None: the client's default).
MODES: dict[str, list[str] | None] = {
    "default": None,
    "websocket": ["websocket"],
    "polling": ["polling"],
}

#: Each mode's first transport, and the one in use once it has settled.
TRANSPORTS = {
    "default": ("polling", "websocket"),
    "websocket": ("websocket", "websocket"),
    "polling": ("polling", "polling"),
}

CLIENT_LEFT = "client namespace disconnect"


def _bytes(values: list[int]) -> dict[str, Any]:
    """An ``ArrayBuffer`` as the page describes it."""
    return {"$type": "ArrayBuffer", "bytes": values}


#: What the page logs before it closes a transport on purpose (scenario.js's ``CLOSING``).
CLOSING = "info: scenario: closing transports"

#: The browser's line for a 400 answer: after a close, a poll that crossed the close packet's
#: POST on the wire finds its session gone. The protocol's answer, Node's too.
LATE_POLL = "error: Failed to load resource: the server responded with a status of 400"


def _console_errors(result: dict[str, Any]) -> list[str]:
    """The page's errors, except a late poll's 400 once the scenario closes transports."""
    errors = []
    closing = False
    for line in result["console"]:
        if line == CLOSING:
            closing = True
        elif line.startswith(("error", "pageerror")) and not (
            closing and line.startswith(LATE_POLL)
        ):
            errors.append(line)
    return errors


def _texts(events: dict[str, list[list[Any]]], recovery: bool) -> dict[str, list[Any]]:
    """Each client's one-argument events (chat messages, notices), offsets checked and left
    out: {name: [text, ...]}."""
    texts = {}
    for name, received in events.items():
        stripped = strip_offsets(received, recovery)
        assert all(len(args) == 1 for args in stripped), f"{name}: {received}"
        texts[name] = [args[0] for args in stripped]
    return texts


def run_chat(
    browser: Browser,
    page: BrowserChatServer,
    mode: str,
    target: BrowserChatServer,
    recovery: bool,
) -> dict[str, Any]:
    """The chat scenario in a page from ``page`` against ``target`` (the same server or not);
    checks everything the three clients saw and returns it."""
    url = None if target is page else target.origin  # None: io() on the page's own origin
    params = {"scenario": "chat", "url": url, "transports": MODES[mode]}
    r = browser.run(page.origin + "/", params)
    console = "\n".join(r["console"])
    assert "error" not in r, f"{r['error']}\nbrowser console:\n{console}"
    assert _console_errors(r) == [], console
    first, settled = TRANSPORTS[mode]
    upgrade = [] if first == settled else ["websocket"]

    assert r["openTransports"] == [first] * 3
    assert r["upgrades"] == [upgrade] * 3
    assert r["transports"] == [settled] * 3

    # A's message reaches B and C, never A; B's reaches A and C (the early one was sent at
    # once, during the default mode's upgrade).
    assert _texts(r["messages"], recovery) == {
        "A": ["hi from B"],
        "B": ["early from A", "hello from A"],
        "C": ["early from A", "hello from A", "hi from B"],
    }

    for name, info in zip("ABC", r["server"], strict=True):
        assert info["sid"] == r["ids"][name]
        assert info["transport"] == settled
        assert info["auth"] == {"user": name}
        if url is None and first == "polling":
            # A same-origin XHR GET (the handshake) carries no Origin header.
            assert info["origin"] is None
        else:
            assert info["origin"] == page.origin

    assert r["ackObject"] == {
        "text": "ping",
        "numbers": [1, 2.5, -3, 0],
        "nested": {"ok": True, "none": None},
        "unicode": "héllo ✓ 🚀",
    }
    assert r["ackArgs"] == ["a", 1, True, None]

    # Binary in (Uint8Array, ArrayBuffer, nested), the same bytes back as ArrayBuffers.
    assert r["binaryEcho"] == _bytes(list(range(256)))
    assert r["binaryArgs"] == ["label", _bytes([0, 1, 2]), {"nested": [_bytes([4, 5]), "text"]}]
    assert r["bigEcho"] == {"type": "[object ArrayBuffer]", "length": 200_000, "equal": True}
    relayed = [["C", _bytes([9, 8, 7])]]
    assert {name: strip_offsets(got, recovery) for name, got in r["relayed"].items()} == {
        "A": relayed,
        "B": relayed,
        "C": [],
    }

    # B's connection dropped (engine.close()): it reconnected by itself. With recovery on, as
    # the same socket, its rooms and data kept (the chat app says it joined again; its own
    # "B left" is not replayed to it: the app sends it except to B); with it off, as a new
    # socket.
    reconnect = r["reconnect"]
    assert reconnect["disconnects"] == ["forced close"]
    assert reconnect["connects"] == 2
    if recovery:
        assert reconnect["recovered"] is True
        assert reconnect["id"] == r["ids"]["B"]
    else:
        assert reconnect["recovered"] is False
        assert reconnect["id"] != r["ids"]["B"]
    assert reconnect["opens"] == [first]
    assert reconnect["upgrades"] == upgrade
    assert reconnect["transport"] == settled
    assert _texts(reconnect["notices"], recovery) == {
        "A": ["B left", "B joined"],
        "B": [],
        "C": ["B left", "B joined"],
    }
    assert _texts(r["afterReconnect"], recovery) == {
        "A": ["back from B"],
        "B": ["again from A"],
        "C": ["again from A", "back from B"],
    }

    assert sorted(strip_offsets(r["leaveNotices"], recovery)) == [["A left"], ["B left"]]
    assert r["disconnects"] == {
        "A": ["io client disconnect"],
        "B": ["forced close", "io client disconnect"],
        "C": ["io client disconnect"],
    }
    assert r["connectErrors"] == {"A": [], "B": [], "C": []}
    check_server_events(target, r, first)
    return r


def check_server_events(server: BrowserChatServer, r: dict[str, Any], first: str) -> None:
    """What the server saw of the chat scenario: four connections (B twice, under the same id
    if it was recovered), four leaves."""
    a, b, c, b2 = r["ids"]["A"], r["ids"]["B"], r["ids"]["C"], r["reconnect"]["id"]
    events = server.next_events(8)
    assert sorted(events[:3]) == sorted(("connection", sid, first) for sid in (a, b, c))
    assert events[3] == ("disconnect", b, "transport close")
    assert events[4] == ("connection", b2, first)
    assert sorted(events[5:7]) == sorted(
        [("disconnect", a, CLIENT_LEFT), ("disconnect", b2, CLIENT_LEFT)]
    )
    # C left last, as the page closed: its DISCONNECT may or may not have made it out first.
    assert events[7][:2] == ("disconnect", c)
    assert events[7][2] in (CLIENT_LEFT, "transport close", "transport error")


@pytest.mark.parametrize("mode", MODES)
def test_chat_same_origin(
    browser: Browser, start_chat_server: StartChatServer, mode: str, recovery: bool
) -> None:
    server = start_chat_server()
    run_chat(browser, server, mode, server, recovery)


@pytest.mark.parametrize("mode", MODES)
def test_chat_cross_origin_allowed(
    browser: Browser, start_chat_server: StartChatServer, mode: str, recovery: bool
) -> None:
    """The page from one server, Socket.IO on another that lists the page's origin."""
    page = start_chat_server()
    target = start_chat_server(cors_allowed_origins=[page.origin])
    run_chat(browser, page, mode, target, recovery)
    page.assert_no_event()


@pytest.mark.parametrize("mode", MODES)
def test_cross_origin_refused_by_default(
    browser: Browser, start_chat_server: StartChatServer, mode: str
) -> None:
    """By default only the server's own origin may connect: the browser blocks the polling
    handshake (no CORS headers), and the server refuses the websocket handshake itself."""
    page = start_chat_server()
    target = start_chat_server()
    params = {"scenario": "probe", "url": target.origin, "transports": MODES[mode]}
    r = browser.run(page.origin + "/", params)
    console = "\n".join(r["console"])
    assert "error" not in r, f"{r['error']}\n{console}"
    assert r["connected"] is False
    assert r["opens"] == []
    if mode == "websocket":
        assert r["connectErrors"] == ["websocket error"]
        assert "Unexpected response code: 403" in console
    else:
        assert r["connectErrors"] == ["xhr poll error"]
        assert f"from origin '{page.origin}' has been blocked by CORS policy" in console
    target.assert_no_event()


def test_cross_origin_with_credentials(
    browser: Browser, start_chat_server: StartChatServer
) -> None:
    """``withCredentials``: the server answers an allowed origin with that origin (never ``*``)
    and ``Access-Control-Allow-Credentials``, as credentialed CORS requires."""
    page = start_chat_server()
    target = start_chat_server(cors_allowed_origins=[page.origin])
    params = {
        "scenario": "probe",
        "url": target.origin,
        "transports": None,
        "options": {"withCredentials": True},
    }
    r = browser.run(page.origin + "/", params)
    assert "error" not in r, f"{r['error']}\n" + "\n".join(r["console"])
    assert r["connected"] is True
    assert (r["opens"], r["upgrades"], r["transport"]) == (["polling"], ["websocket"], "websocket")
    assert r["echo"] == "across origins"
    assert r["server"]["origin"] == page.origin
    assert _console_errors(r) == []


def test_origin_is_scheme_host_and_port(
    browser: Browser, start_chat_server: StartChatServer
) -> None:
    """The page from ``http://localhost:PORT``: ``io()`` to that origin is same-origin (the Host
    header names it); ``http://127.0.0.1:PORT``, the same server under another name, is not."""
    server = start_chat_server()
    port = server.origin.rsplit(":", 1)[1]
    page_url = f"http://localhost:{port}/"

    # Websocket only: the handshake is the one request that always carries an Origin.
    same = browser.run(page_url, {"scenario": "probe", "url": None, "transports": ["websocket"]})
    assert "error" not in same, f"{same['error']}\n" + "\n".join(same["console"])
    assert same["connected"] is True
    assert same["echo"] == "across origins"
    assert same["server"]["origin"] == f"http://localhost:{port}"

    other = browser.run(
        page_url, {"scenario": "probe", "url": server.origin, "transports": ["polling"]}
    )
    assert other["connected"] is False
    assert other["connectErrors"] == ["xhr poll error"]
    assert "blocked by CORS policy" in "\n".join(other["console"])
