"""The limits of ``sio.Server``: every keyword reaches the Engine.IO config or the decoder."""

from __future__ import annotations

import pytest

import sio
from sio.errors import PacketError
from sio.protocol.packet import MAX_ACK_ID_DIGITS, MAX_DEPTH, decode_text, decode_text_with


def nested(depth: int) -> str:
    return '2["e",' + "[" * (depth - 1) + "]" * (depth - 1) + "]"


def test_lowered_depth_and_ack_id_digits() -> None:
    decode = decode_text_with(max_depth=4, max_ack_id_digits=3)
    assert decode(nested(4)).data[0] == "e"
    with pytest.raises(PacketError):
        decode(nested(5))
    assert decode('2123["e"]').id == 123
    with pytest.raises(PacketError):
        decode('21234["e"]')
    # The module's function keeps the constants.
    assert decode_text(nested(5)).data[0] == "e"
    assert decode_text("2" + "9" * MAX_ACK_ID_DIGITS + '["e"]').id == int("9" * 15)


def test_limits_cannot_be_raised_past_the_constants() -> None:
    with pytest.raises(ValueError):
        decode_text_with(max_depth=MAX_DEPTH + 1)
    with pytest.raises(ValueError):
        decode_text_with(max_ack_id_digits=MAX_ACK_ID_DIGITS + 1)
    with pytest.raises(ValueError):
        sio.Server(max_depth=MAX_DEPTH + 1)


def test_server_keywords_reach_the_engine_config() -> None:
    io = sio.Server(
        http_idle_timeout=7.0,
        request_timeout=8.0,
        max_decode_packets=9,
        max_poll_packets=10,
        max_poll_queue=11,
        max_connections=12,
        max_sessions=6,
        max_depth=13,
        max_ack_id_digits=5,
    )
    try:
        config = io.eio.config
        assert (
            config.http_idle_timeout,
            config.request_timeout,
            config.max_decode_packets,
            config.max_poll_packets,
            config.max_poll_queue,
            config.max_connections,
        ) == (7.0, 8.0, 9, 10, 11, 12)
        assert io.eio.max_connections == 12
        assert (config.max_sessions, io.eio.max_sessions) == (6, 6)
        with pytest.raises(PacketError):
            io.decode_packet_text(nested(14))
        with pytest.raises(PacketError):
            io.decode_packet_text('2123456["e"]')
    finally:
        io.reactor.close()


def test_server_defaults_are_the_engine_defaults() -> None:
    io = sio.Server()
    try:
        default = type(io.eio.config)()
        assert io.eio.config.max_poll_queue == default.max_poll_queue
        assert io.eio.config.http_idle_timeout == default.http_idle_timeout
        assert io.eio.config.max_connections is None
        assert io.eio.config.max_sessions is None
        assert io.eio.max_sessions == io.eio.max_connections
    finally:
        io.reactor.close()
