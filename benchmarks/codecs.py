"""Micro-benchmarks of the codecs (run outside ``make test``): time per call, best of 5.

.venv/bin/python benchmarks/codecs.py
"""

from __future__ import annotations

import os
import timeit
from collections.abc import Callable

from cluster.frames import FrameDecoder, decode_message, encode_message
from cluster.messages import ClusterMessage, EncodedPacket, MessageType
from eio import Outbound
from eio.protocol.packet import decode_packet
from eio.protocol.payload import decode_payload, encode_payload
from sio import outbound_of
from sio.protocol.decoder import PacketDecoder
from sio.protocol.encoder import encode_messages
from sio.protocol.packet import Packet, PacketType, decode_text, encode_text

CHAT = '2["chat message","UserA","hello there, how are you doing today?"]'
ECHO = '2123["echo","xxxxxxxxxxxxxxxx"]'
CHAT_PACKET = Packet(PacketType.EVENT, "/", ["chat message", "hello there from UserA"])
BINARY_PACKET = Packet(PacketType.EVENT, "/", ["file", {"name": "a.bin", "data": os.urandom(1024)}])


def bench(name: str, fn: Callable[[], object], number: int = 100_000) -> None:
    best = min(timeit.repeat(fn, number=number, repeat=5)) / number
    print(f"{name:<48} {best * 1e6:8.3f} us")


def main() -> None:
    payload = encode_payload(["4" + CHAT] * 10)
    broadcast = ClusterMessage(
        "1",
        "/",
        MessageType.BROADCAST,
        {"packet": EncodedPacket([CHAT, b"\x00" * 64]), "opts": {"rooms": [], "except": []}},
    )
    frame = encode_message(broadcast, 1, 0xFFFF)
    bench("eio decode_packet (text message)", lambda: decode_packet("4" + CHAT))
    bench("eio decode_payload (10 messages)", lambda: decode_payload(payload), 20_000)
    bench("eio encode_payload (10 messages)", lambda: encode_payload(["4" + CHAT] * 10), 20_000)
    bench("sio decode_text (chat message)", lambda: decode_text(CHAT))
    bench("sio decode_text (event with ack id)", lambda: decode_text(ECHO))
    bench("sio encode_text (chat message)", lambda: encode_text(CHAT_PACKET))
    bench("sio encode_messages (1 KiB binary attachment)", lambda: encode_messages(BINARY_PACKET))

    def binary_round_trip() -> object:
        decoder = PacketDecoder()
        text, attachment = encode_messages(BINARY_PACKET)
        assert isinstance(text, str) and isinstance(attachment, bytes)
        decoder.receive_text(text)
        return decoder.receive_binary(attachment)

    bench("sio binary packet encode + decode", binary_round_trip, 20_000)
    bench("broadcast: encode once (Outbound)", lambda: outbound_of(CHAT_PACKET))
    bench("broadcast: websocket frames once", lambda: Outbound([CHAT]).frames)
    bench("cluster frame decode (broadcast)", lambda: FrameDecoder().feed(frame), 50_000)
    ((decoded, _raw),) = FrameDecoder().feed(frame)
    bench("cluster broadcast message decode", lambda: decode_message(decoded), 50_000)


if __name__ == "__main__":
    main()
