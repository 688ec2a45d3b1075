"""The Admin UI's server side over our own Socket.IO client, one in-process server:

- login: no auth refused unless ``auth=False``; wrong user or password gets CONNECT_ERROR
  "invalid credentials"; the right ones get ``session`` (a token), then ``config``, then
  ``all_sockets``; the token alone logs in again; a forged or expired token does not;
- ``config``: the features of each mode, fewer when read-only;
- ``server_stats``: its fields, counts that match the connected clients, namespaces;
- development mode's live events: a chat client's connection, its room change (``/join``), the
  events it sends and receives, its departure;
- actions: emit to a room, join, leave, disconnect one socket (its client sees the
  disconnect); read-only refuses each, and nothing happens;
- CORS: the hosted UI's origin is admitted with credentials, next to the application's.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

import pytest
from protocol.wire.clients import http_request

import admin
import sio
from admin.auth import SessionTokens

from ..chat.conftest import ClientFactory, ServerFactory
from ..chat.helpers import WAIT, Loop, ServerHandle

ADMIN_EVENTS = (
    "session",
    "config",
    "server_stats",
    "all_sockets",
    "socket_connected",
    "socket_updated",
    "socket_disconnected",
    "room_joined",
    "room_left",
    "event_received",
    "event_sent",
)
#: A cheap bcrypt hash for the tests (cost 4); the CLI uses cost 10.
CREDENTIALS = admin.Credentials("admin", admin.hash_password("s3cret", rounds=4))
GOOD = {"username": "admin", "password": "s3cret"}


def admin_server(
    server_factory: ServerFactory, **options: Any
) -> tuple[ServerHandle, admin.AdminUI]:
    made: list[admin.AdminUI] = []

    def setup(io: sio.Server) -> None:
        made.append(admin.instrument(io, **{"auth": CREDENTIALS, **options}))

    server = server_factory(setup=setup)
    return server, made[0]


def connect_admin(client_factory: ClientFactory, server: ServerHandle, auth: Any) -> Any:
    return client_factory(server.url, namespace="/admin", auth=auth, events=ADMIN_EVENTS)


def test_auth_must_be_chosen() -> None:
    io = sio.Server()
    with pytest.raises(ValueError, match="auth=False"):
        admin.instrument(io)
    with pytest.raises(ValueError):
        admin.instrument(io, auth={"username": "x"})


@pytest.mark.parametrize(
    "auth",
    [
        None,
        {},
        {"username": "admin", "password": "wrong"},
        {"username": "root", "password": "s3cret"},
        {"username": "admin", "password": 12},
        {"sessionId": "forged.token.0000"},
    ],
)
def test_bad_logins_are_refused(
    server_factory: ServerFactory, client_factory: ClientFactory, auth: Any
) -> None:
    server, _ = admin_server(server_factory)
    _, events = connect_admin(client_factory, server, auth)
    (error,) = events.expect("connect_error")
    assert getattr(error, "message", str(error)) == "invalid credentials"
    events.assert_none("config")


def test_login_session_config_and_all_sockets(
    server_factory: ServerFactory, client_factory: ClientFactory
) -> None:
    server, _ = admin_server(server_factory)
    chat, chat_events = client_factory(server.url, auth={"user": "ann"})
    chat_events.expect("connect")
    _, events = connect_admin(client_factory, server, GOOD)
    events.expect("connect")
    (token,) = events.expect("session")
    assert isinstance(token, str) and token
    (config,) = events.expect("config")
    assert config == {"supportedFeatures": [str(f) for f in admin.Feature]}
    (sockets,) = events.expect("all_sockets")
    mine = [s for s in sockets if s["nsp"] == "/"]
    assert [s["id"] for s in mine] == [chat.id]
    assert mine[0]["rooms"] == sorted([chat.id, "lobby"])
    assert mine[0]["data"] == {"user": "ann", "room": "lobby"}
    assert mine[0]["clientId"] and mine[0]["transport"] in ("polling", "websocket")
    assert "auth" not in mine[0]["handshake"]
    assert mine[0]["handshake"]["address"] == "127.0.0.1"

    # The token alone logs in again (no second token is issued), a tampered one does not.
    _, again = connect_admin(client_factory, server, {"sessionId": token})
    again.expect("connect")
    again.expect("config")
    again.assert_none("session")
    # (Another last digit: "0" itself was the token's own last digit once in 16 runs.)
    tampered_token = token[:-1] + ("1" if token[-1] == "0" else "0")
    _, tampered = connect_admin(client_factory, server, {"sessionId": tampered_token})
    tampered.expect("connect_error")


def test_session_tokens_expire_and_are_bound_to_their_secret() -> None:
    tokens = SessionTokens(b"k" * 32, lifetime=60)
    token = tokens.issue(1000.0)
    assert tokens.verify(token, 1059.0)
    assert not tokens.verify(token, 1061.0)
    assert not SessionTokens(b"x" * 32).verify(token, 1000.0)
    assert SessionTokens(b"k" * 32).verify(token, 1000.0)  # another worker, same secret
    for bad in (None, 3, "", "a.b", "zz." + token, token + "0", "é" * 10, "." * 500):
        assert not tokens.verify(bad, 1000.0)


def test_no_auth_when_chosen(server_factory: ServerFactory, client_factory: ClientFactory) -> None:
    server, _ = admin_server(server_factory, auth=False)
    _, events = connect_admin(client_factory, server, None)
    events.expect("connect")
    events.expect("config")
    events.assert_none("session")


@pytest.mark.parametrize(
    ("options", "features"),
    [
        ({"mode": "production"}, [f.value for f in admin.Feature][:-1]),
        ({"read_only": True}, ["AGGREGATED_EVENTS", "ALL_EVENTS"]),
        ({"read_only": True, "mode": "production"}, ["AGGREGATED_EVENTS"]),
    ],
)
def test_config_announces_the_features_of_the_mode(
    server_factory: ServerFactory, client_factory: ClientFactory, options: Any, features: Any
) -> None:
    server, _ = admin_server(server_factory, **options)
    _, events = connect_admin(client_factory, server, GOOD)
    (config,) = events.expect("config")
    assert config == {"supportedFeatures": features}
    if options.get("mode") == "production":
        events.expect("server_stats")
        events.assert_none("all_sockets")


def test_server_stats(
    server_factory: ServerFactory, client_factory: ClientFactory, loop: Loop
) -> None:
    server, _ = admin_server(server_factory)
    _, chat_events = client_factory(server.url, auth={"user": "ann"}, transports=["polling"])
    chat_events.expect("connect")
    _, events = connect_admin(
        client_factory,
        server,
        GOOD,
    )
    (stats,) = events.expect("server_stats")
    assert set(stats) == {
        "serverId",
        "hostname",
        "pid",
        "uptime",
        "clientsCount",
        "pollingClientsCount",
        "aggregatedEvents",
        "namespaces",
    }
    assert stats["serverId"] == socket.gethostname() == stats["hostname"]
    assert stats["pid"] == os.getpid()
    assert stats["clientsCount"] == 2  # the chat client and the admin client
    assert stats["pollingClientsCount"] >= 1
    namespaces = {n["name"]: n["socketsCount"] for n in stats["namespaces"]}
    assert namespaces == {"/": 1, "/admin": 1}
    assert isinstance(stats["aggregatedEvents"], list)
    # Every 2 s while connected, with what happened meanwhile (the Engine.IO counters).
    (later,) = events.expect("server_stats", timeout=WAIT)
    assert later["uptime"] >= stats["uptime"]
    cid, cid_events = client_factory(server.url, auth={"user": "cid"}, transports=["polling"])
    cid_events.expect("connect")
    loop.call(cid.emit, "chat message", "cid", "hello")
    loop.call(cid.disconnect)
    cid_events.expect("disconnect")
    seen: dict[tuple[str, str | None], int] = {}
    deadline = time.monotonic() + 3 * WAIT
    while not {("rawConnection", None), ("rawDisconnection", "transport close")} <= set(seen):
        assert time.monotonic() < deadline, seen
        (report,) = events.expect("server_stats", timeout=WAIT)
        for event in report["aggregatedEvents"]:
            key = (event["type"], event.get("subType"))
            seen[key] = seen.get(key, 0) + event["count"]
            assert event["timestamp"] % 1000 == 0
    assert seen[("rawConnection", None)] == 1
    for kind in ("packetsIn", "packetsOut", "bytesIn", "bytesOut"):
        assert seen[(kind, None)] > 0, kind


def test_live_events_of_a_chat_client(
    server_factory: ServerFactory, client_factory: ClientFactory, loop: Loop
) -> None:
    server, _ = admin_server(server_factory)
    _, events = connect_admin(client_factory, server, GOOD)
    events.expect("all_sockets")
    chat, chat_events = client_factory(server.url, auth={"user": "bob"}, events=("pong",))
    chat_events.expect("connect")
    (described, stamp) = events.expect("socket_connected")
    assert described["id"] == chat.id and described["nsp"] == "/"
    assert chat.id in described["rooms"] and stamp.endswith("Z")
    if "lobby" not in described["rooms"]:  # instrumented before the chat's handler ran
        events.expect("room_joined", lambda nsp, room, sid, t: (room, sid) == ("lobby", chat.id))
    (update, *_) = events.expect("socket_updated")  # the upgrade to a websocket
    assert update == {"id": chat.id, "nsp": "/", "transport": "websocket"}
    assert server.loop.call(lambda: server.io.sockets.sockets[chat.id].data["_admin"]) == {
        "clientId": described["clientId"],
        "transport": "websocket",
    }
    answers: list[Any] = []
    loop.call(chat.emit, "join", "blue", callback=lambda *a: answers.append(a))
    args = events.expect("event_received")
    assert args[:3] == ("/", chat.id, ["join", "blue"])
    events.expect("room_left", lambda nsp, room, sid, t: (room, sid) == ("lobby", chat.id))
    events.expect("room_joined", lambda nsp, room, sid, t: (room, sid) == ("room:blue", chat.id))
    chat_id = chat.id
    loop.call(chat.disconnect)
    events.expect(
        "socket_disconnected",
        lambda nsp, sid, reason, t: (sid, reason) == (chat_id, "client namespace disconnect"),
    )


def test_actions(server_factory: ServerFactory, client_factory: ClientFactory, loop: Loop) -> None:
    server, _ = admin_server(server_factory)
    ann, ann_events = client_factory(server.url, auth={"user": "ann"}, events=("hello",))
    bob, bob_events = client_factory(server.url, auth={"user": "bob"}, events=("hello",))
    ann_events.expect("connect")
    bob_events.expect("connect")
    ui, events = connect_admin(client_factory, server, GOOD)
    events.expect("config")

    def act(*args: Any) -> None:
        loop.call(ui.emit, *args, callback=events.handler("answer"))

    act("emit", "/", ann.id, "hello", "from the UI")
    assert ann_events.expect("hello") == ("from the UI",)
    bob_events.assert_none("hello")
    act("join", "/", "vip", bob.id)
    act("emit", "/", "vip", "hello", "vip only")
    assert bob_events.expect("hello") == ("vip only",)
    act("leave", "/", "vip", None)
    act("emit", "/", "vip", "hello", "nobody")
    act("emit", "/", None, "hello", "everyone")
    assert bob_events.expect("hello") == ("everyone",)
    assert ann_events.expect("hello") == ("everyone",)
    act("emit", "/nowhere", None, "hello")
    act("emit", "/", None, "disconnect")  # reserved: refused, nothing sent
    act("_disconnect", "/", False, bob.id)
    bob_events.expect("disconnect")
    ann_events.assert_none("disconnect")
    ann_events.assert_none("hello")
    answers = [events.expect("answer") for _ in range(9)]
    assert answers[6:] == [("invalid",), ('"disconnect" is a reserved event name',), ()]


def test_read_only_refuses_actions(
    server_factory: ServerFactory, client_factory: ClientFactory, loop: Loop
) -> None:
    server, _ = admin_server(server_factory, read_only=True)
    ann, ann_events = client_factory(server.url, auth={"user": "ann"}, events=("hello",))
    ann_events.expect("connect")
    ui, events = connect_admin(client_factory, server, GOOD)
    events.expect("config")
    for action in (
        ("emit", "/", None, "hello", "x"),
        ("join", "/", "vip", ann.id),
        ("leave", "/", "lobby", ann.id),
        ("_disconnect", "/", True, None),
    ):
        loop.call(ui.emit, *action, callback=events.handler("answer"))
    for _ in range(4):
        assert events.expect("answer") == ("read-only",)
    ann_events.assert_none("hello")
    ann_events.assert_none("disconnect")
    assert server.loop.call(lambda: sorted(server.io.sockets.sockets[ann.id].rooms)) == sorted(
        [ann.id, "lobby"]
    )


def test_cors_admits_the_hosted_ui(server_factory: ServerFactory) -> None:
    server, _ = admin_server(server_factory)
    target = "/socket.io/?EIO=4&transport=polling"
    for origin, admitted in (
        ("https://admin.socket.io", True),
        ("https://evil.example", False),
    ):
        # A preflight: no session is made.
        response = http_request(
            (server.host, server.port), "OPTIONS", target, [("origin", origin)], None
        )
        headers = dict(response.headers)
        if admitted:
            assert response.status == 204
            assert headers["access-control-allow-origin"] == origin
            assert headers["access-control-allow-credentials"] == "true"
        else:
            assert response.status == 403
