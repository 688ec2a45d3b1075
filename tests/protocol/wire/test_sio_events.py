"""Events and acknowledgements both ways, text and binary (attachments, BINARY_ACK)."""

from __future__ import annotations

import pytest

from .helpers import Server
from .sio_helpers import (
    TRANSPORTS,
    PollingEngine,
    connect,
    dumps,
    echo_check,
    event,
    open_engine,
    parse_packet,
    placeholder,
    sio_client,
)

PH0 = dumps(placeholder(0))
PH1 = dumps(placeholder(1))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_event(sio_server: Server, transport: str) -> None:
    with sio_client(sio_server, transport) as (engine, _):
        engine.send('42["message",1,"2",{"3":[true]}]')
        engine.expect('42["message-back",1,"2",{"3":[true]}]')


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_event_without_arguments_and_unicode(sio_server: Server, transport: str) -> None:
    with sio_client(sio_server, transport) as (engine, _):
        engine.send('42["message"]', '42["message","héllo €𝄞",null,-1.5,""]')
        engine.expect('42["message-back"]', '42["message-back","héllo €𝄞",null,-1.5,""]')


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_event_without_listener_is_ignored(sio_server: Server, transport: str) -> None:
    """An event nobody listens to (numeric names included) is dropped; the socket lives on."""
    with sio_client(sio_server, transport) as (engine, _):
        engine.send('42["nobody-listens",1]', "42[42,1]", '421["nobody-listens"]')
        echo_check(engine)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_event_in_custom_namespace(sio_server: Server, transport: str) -> None:
    with sio_client(sio_server, transport, "/custom") as (engine, _):
        engine.send('42/custom,["message",{"a":[1,2]}]')
        engine.expect('42/custom,["message-back",{"a":[1,2]}]')


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_ack(sio_server: Server, transport: str) -> None:
    """The client asks for an ack: the server answers with ACK and the same id."""
    with sio_client(sio_server, transport) as (engine, _):
        engine.send('42456["message-with-ack",1,"2",{"3":[false]}]')
        engine.expect('43456[1,"2",{"3":[false]}]')
        engine.send('420["message-with-ack"]')
        engine.expect("430[]")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_ack_in_custom_namespace(sio_server: Server, transport: str) -> None:
    with sio_client(sio_server, transport, "/custom") as (engine, _):
        engine.send('42/custom,7["message-with-ack","x"]')
        engine.expect('43/custom,7["x"]')


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_client_ack_large_id(sio_server: Server, transport: str) -> None:
    """Ack ids up to 2**53 are exact in JavaScript; a 15-digit one comes back as sent."""
    with sio_client(sio_server, transport) as (engine, _):
        engine.send('42999999999999999["message-with-ack",1]')
        engine.expect("43999999999999999[1]")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_binary_event(sio_server: Server, transport: str) -> None:
    """BINARY_EVENT with two attachments, echoed as BINARY_EVENT with the same attachments."""
    with sio_client(sio_server, transport) as (engine, _):
        engine.send(f'452-["message",{PH0},{PH1}]', b"\x01\x02\x03", b"\x04\x05\x06")
        engine.expect(f'452-["message-back",{PH0},{PH1}]', b"\x01\x02\x03", b"\x04\x05\x06")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_binary_event_nested_and_mixed(sio_server: Server, transport: str) -> None:
    """Attachments deep inside objects, in the order of their placeholders, with plain data."""
    blob = bytes(range(256))
    with sio_client(sio_server, transport) as (engine, _):
        engine.send(
            f'452-["message",{{"a":[1,{PH1}],"b":{PH0}}},"text"]',
            b"\x00" * 3,
            blob,
        )
        header = engine.recv()
        kind, nsp, ack, data = parse_packet(header)
        assert (kind, nsp, ack) == ("52-", "/", None), header
        assert data[0] == "message-back" and data[2] == "text"
        # the server numbers attachments in its own walk order: map them back
        first = engine.recv()
        second = engine.recv()
        attachments = [first, second]
        assert attachments[data[1]["a"][1]["num"]] == blob
        assert attachments[data[1]["b"]["num"]] == b"\x00" * 3
        assert set(data[1]) == {"a", "b"} and data[1]["a"][0] == 1


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_binary_event_in_custom_namespace(sio_server: Server, transport: str) -> None:
    with sio_client(sio_server, transport, "/custom") as (engine, _):
        engine.send(f'451-/custom,["message",{PH0}]', b"\xff")
        engine.expect(f'451-/custom,["message-back",{PH0}]', b"\xff")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_binary_client_ack(sio_server: Server, transport: str) -> None:
    """BINARY_EVENT asking for an ack: the answer is a BINARY_ACK with the attachments."""
    with sio_client(sio_server, transport) as (engine, _):
        engine.send(f'452-789["message-with-ack",{PH0},{PH1}]', b"\x01\x02\x03", b"\x04\x05\x06")
        engine.expect(f"462-789[{PH0},{PH1}]", b"\x01\x02\x03", b"\x04\x05\x06")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_ack(sio_server: Server, transport: str) -> None:
    """The server asks for an ack (EVENT with an id); the client's ACK reaches its callback."""
    with sio_client(sio_server, transport) as (engine, _):
        engine.send(event("emit-with-ack", "hello", 2))
        request = engine.recv()
        kind, nsp, ack, data = parse_packet(request)
        assert (kind, nsp, data) == ("2", "/", ["server-ack-request", "hello", 2]), request
        assert isinstance(ack, int), request
        engine.send(f'43{ack}["got it",{{"n":1}}]')
        engine.expect(event("server-ack-response", "got it", {"n": 1}))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_acks_are_numbered_apart(sio_server: Server, transport: str) -> None:
    """Two requests in flight get different ids; answering out of order reaches each callback."""
    with sio_client(sio_server, transport) as (engine, _):
        engine.send(event("emit-with-ack", "first"), event("emit-with-ack", "second"))
        _, _, first, data1 = parse_packet(engine.recv())
        _, _, second, data2 = parse_packet(engine.recv())
        assert data1 == ["server-ack-request", "first"]
        assert data2 == ["server-ack-request", "second"]
        assert first != second
        engine.send(f'43{second}["answer 2"]')
        engine.expect(event("server-ack-response", "answer 2"))
        engine.send(f'43{first}["answer 1"]')
        engine.expect(event("server-ack-response", "answer 1"))
        # an ack is taken once: answering again does nothing
        engine.send(f'43{first}["again"]')
        echo_check(engine)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_ack_in_custom_namespace(sio_server: Server, transport: str) -> None:
    with sio_client(sio_server, transport, "/custom") as (engine, _):
        engine.send(event("emit-with-ack", "x", nsp="/custom"))
        _, nsp, ack, data = parse_packet(engine.recv())
        assert nsp == "/custom" and data == ["server-ack-request", "x"]
        engine.send(f"43/custom,{ack}[true]")
        engine.expect(event("server-ack-response", True, nsp="/custom"))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_server_binary_ack(sio_server: Server, transport: str) -> None:
    """Binary both ways with a server ack: a BINARY_EVENT with an id from the server, a
    BINARY_ACK from the client, and its attachment back in a BINARY_EVENT."""
    with sio_client(sio_server, transport) as (engine, _):
        engine.send(f'451-["emit-with-ack",{PH0}]', b"\x10\x20")
        request = engine.recv()
        kind, _, ack, data = parse_packet(request)
        assert kind == "51-" and data == ["server-ack-request", placeholder(0)], request
        assert isinstance(ack, int), request
        engine.expect(b"\x10\x20")
        engine.send(f'461-{ack}["answer",{PH0}]', b"\x30\x40\x50")
        engine.expect(f'451-["server-ack-response","answer",{PH0}]', b"\x30\x40\x50")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_ack_with_unknown_id_is_ignored(sio_server: Server, transport: str) -> None:
    with sio_client(sio_server, transport) as (engine, _):
        engine.send("43999[1]", f"461-998[{PH0}]", b"\x01")
        echo_check(engine)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_empty_binary_attachment(sio_server: Server, transport: str) -> None:
    with sio_client(sio_server, transport) as (engine, _):
        engine.send(f'451-["message",{PH0}]', b"")
        engine.expect(f'451-["message-back",{PH0}]', b"")


def test_polling_several_packets_in_one_post(sio_server: Server) -> None:
    """One POST may carry several Socket.IO packets, attachments and other packets mixed."""
    with sio_client(sio_server, "polling") as (engine, _):
        engine.send(
            event("message", "a"),
            f'451-1["message-with-ack",{PH0}]',
            b"\x07",
            event("message", "b"),
        )
        engine.expect(
            event("message-back", "a"),
            f"461-1[{PH0}]",
            b"\x07",
            event("message-back", "b"),
        )


def test_events_continue_after_upgrade(sio_server: Server) -> None:
    """A socket joined over polling keeps its namespaces, ids and acks after the upgrade."""
    engine = open_engine(sio_server, "polling")
    assert isinstance(engine, PollingEngine)
    with engine:
        connect(engine, "/")
        connect(engine, "/custom")
        engine.send(event("emit-with-ack", "before"))
        _, _, ack, _ = parse_packet(engine.recv())
        ws = engine.upgrade()
    with ws:
        assert ws.sid == engine.sid
        ws.send(f"43{ack}[1]")
        ws.expect(event("server-ack-response", 1))
        ws.send(f'451-/custom,3["message-with-ack",{PH0}]', b"\x01")
        ws.expect(f"461-/custom,3[{PH0}]", b"\x01")
        echo_check(ws)
