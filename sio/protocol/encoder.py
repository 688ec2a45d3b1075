"""Encoding a packet into the Engine.IO messages that carry it."""

from __future__ import annotations

from .binary import deconstruct, has_binary
from .packet import Packet, PacketType, encode_text

__all__ = ["encode_messages"]


def encode_messages(packet: Packet) -> list[str | bytes]:
    """The Engine.IO messages of a packet: its text, then one ``bytes`` per attachment.

    An EVENT or ACK whose data holds binary becomes a BINARY_EVENT or BINARY_ACK.
    """
    kind = packet.type
    if (kind is PacketType.EVENT or kind is PacketType.ACK) and has_binary(packet.data):
        data, attachments = deconstruct(packet.data)
        binary_kind = PacketType.BINARY_EVENT if kind is PacketType.EVENT else PacketType.BINARY_ACK
        text = encode_text(Packet(binary_kind, packet.namespace, data, packet.id, len(attachments)))
        return [text, *attachments]
    return [encode_text(packet)]
