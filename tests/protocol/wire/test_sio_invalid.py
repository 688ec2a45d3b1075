"""Every invalid Socket.IO packet closes its connection, and only that one.

Each case: a bystander joins first, the victim joins ``/`` and sends the bad packet(s), the
victim's session ends, and the bystander still gets its answers. The reason the victim's sockets
are given is checked in ``test_sio_disconnect``.
"""

from __future__ import annotations

import pytest

from .conftest import ServerFactory
from .helpers import Server
from .sio_helpers import (
    TRANSPORTS,
    Engine,
    Message,
    WsEngine,
    connect,
    dumps,
    echo_check,
    event,
    open_engine,
    placeholder,
    sio_client,
)

PH0 = dumps(placeholder(0))

#: Deeper than any parser's recursion limit: a recursive JSON parser fails on it (and a
#: server must not fall over); an iterative one builds it, and then it is no valid EVENT.
DEEP = 100_000

#: name -> the Engine.IO messages the victim sends, once joined to ``/``.
CASES: dict[str, tuple[Message, ...]] = {
    # unknown Socket.IO packet types
    "unknown-type-letter": ("4abc",),
    "unknown-type-digit": ("47[]",),
    "empty-socketio-packet": ("4",),
    # payloads the packet type does not allow
    "event-object-payload": ("42{}",),
    "event-string-payload": ('42"message"',),
    "event-empty-array": ("42[]",),
    "event-name-not-string": ("42[true]",),
    "event-null": ("42null",),
    "event-invalid-json": ('42["message"',),
    "ack-not-array": ('43{"a":1}',),
    "disconnect-with-payload": ("41{}",),
    "connect-string-payload": ('40"auth"',),
    "connect-error-from-client": ('44{"message":"nope"}',),
    # the ack id is digits, then the payload
    "invalid-ack-id": ('42abc["message-with-ack",1,"2",{"3":[false]}]',),
    # reserved event names
    "reserved-connect": ('42["connect"]',),
    "reserved-connect-error": ('42["connect_error"]',),
    "reserved-disconnect": ('42["disconnect"]',),
    "reserved-disconnecting": ('42["disconnecting"]',),
    "reserved-new-listener": ('42["newListener"]',),
    "reserved-remove-listener": ('42["removeListener"]',),
    # valid packets out of place
    "event-to-namespace-not-joined": ('42/custom,["message","x"]',),
    "ack-to-namespace-not-joined": ("43/custom,1[]",),
    "disconnect-namespace-not-joined": ("41/custom,",),
    "connect-twice": ("40",),
    # binary attachments
    "binary-without-binary-packet": (b"\x01\x02\x03",),
    "text-while-attachments-pending": (f'452-["message",{PH0}]', b"\x01", '42["message","x"]'),
    "too-many-attachments": ('4511-["message"]',),
    "attachment-count-not-a-number": ('45x-["message"]',),
    "attachment-count-without-dash": ('451["message"]',),
    "placeholder-out-of-range": ('451-["message",{"_placeholder":true,"num":1}]', b"\x01"),
    "placeholder-negative": ('451-["message",{"_placeholder":true,"num":-1}]', b"\x01"),
    "placeholder-not-a-number": ('451-["message",{"_placeholder":true,"num":"0"}]', b"\x01"),
    "binary-ack-bad-placeholder": ('461-5[{"_placeholder":true,"num":3}]', b"\x01"),
    # nesting
    "deeply-nested": ("42" + "[" * DEEP + "]" * DEEP,),
    "deeply-nested-unclosed": ("42" + "[" * DEEP,),
}


def assert_closed(engine: Engine) -> None:
    """The session ends cleanly (over websocket, with a close frame: ours sends 1000, Node one
    without a code, 1005), and nothing answers the bad packet first."""
    assert engine.wait_closed() == []
    if isinstance(engine, WsEngine):
        assert engine.close_code in (1000, 1005), engine.close_code


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_invalid_packet_closes_connection(sio_server: Server, transport: str, case: str) -> None:
    other = "websocket" if transport == "polling" else "polling"
    with (
        sio_client(sio_server, other) as (bystander, _),
        sio_client(sio_server, transport) as (
            victim,
            _,
        ),
    ):
        victim.send_unchecked(*CASES[case])
        assert_closed(victim)
        echo_check(bystander)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_invalid_packet_before_any_namespace(sio_server: Server, transport: str) -> None:
    """A session that never joined a namespace is closed as well."""
    with open_engine(sio_server, transport) as engine:
        engine.send_unchecked('42["message"]')
        assert engine.wait_closed(timeout=0.9) == []  # before connectTimeout (1 s) would


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_invalid_packet_in_custom_namespace(sio_server: Server, transport: str) -> None:
    """The whole connection closes, not only the namespace the bad packet named."""
    with sio_client(sio_server, transport) as (engine, _):
        connect(engine, "/custom")
        engine.send_unchecked('42/custom,{"not":"an array"}')
        assert_closed(engine)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_serves_new_clients_after_deep_nesting(sio_server: Server, transport: str) -> None:
    with sio_client(sio_server, transport) as (victim, _):
        victim.send_unchecked("42" + "[" * DEEP + "]" * DEEP)
        assert_closed(victim)
    with sio_client(sio_server, transport) as (engine, _):
        echo_check(engine)
        engine.send(event("message-with-ack", [[[[1]]]], ack=3))
        engine.expect("433[[[[[1]]]]]")


@pytest.mark.ours_only(reason="Node has no nesting limit: a deep payload in a valid event passes")
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_nesting_limit_in_valid_event(sio_server: Server, transport: str) -> None:
    """Ours refuses JSON nested deeper than 128 (walking it could exhaust the stack)."""
    with sio_client(sio_server, transport) as (engine, _):
        engine.send(event("message", [[[[1]]]]))
        engine.expect(event("message-back", [[[[1]]]]))
        engine.send_unchecked('42["message",' + "[" * 200 + "]" * 200 + "]")
        assert_closed(engine)


@pytest.mark.ours_only(reason="Node reads any number of ack id digits (losing precision)")
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ack_id_too_long(sio_server: Server, transport: str) -> None:
    """Ours refuses an ack id of more than 15 digits (past 2**53 a JavaScript peer could not
    answer it exactly)."""
    with sio_client(sio_server, transport) as (engine, _):
        engine.send_unchecked('421234567890123456["message-with-ack"]')
        assert_closed(engine)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_max_attachments_is_configurable(server_factory: ServerFactory, transport: str) -> None:
    """With maxAttachments 2: two pass, three close the connection."""
    server = server_factory(kind="sio", maxAttachments=2)
    with sio_client(server, transport) as (engine, _):
        engine.send(f'452-["message",{PH0},{dumps(placeholder(1))}]', b"a", b"b")
        engine.expect(f'452-["message-back",{PH0},{dumps(placeholder(1))}]', b"a", b"b")
        engine.send_unchecked('453-["message"]')
        assert_closed(engine)
