"""One decoder per Engine.IO connection: text packets, and binary packets with their attachments.

A BINARY_EVENT/BINARY_ACK announces N attachments; the next N binary Engine.IO messages are
those attachments. Text in between, or binary with nothing announced, breaks the protocol.
"""

from __future__ import annotations

from ..errors import PacketError
from .binary import reconstruct
from .packet import MAX_ACK_ID_DIGITS, MAX_ATTACHMENTS, MAX_DEPTH, Packet, PacketType, decode_text

__all__ = ["PacketDecoder", "decode_messages"]


class PacketDecoder:
    """Feed it Engine.IO messages; it returns complete packets (None while attachments pend)."""

    __slots__ = ("_attachments", "_max_ack_id_digits", "_max_attachments", "_max_depth", "partial")

    def __init__(
        self,
        max_attachments: int = MAX_ATTACHMENTS,
        max_depth: int = MAX_DEPTH,
        max_ack_id_digits: int = MAX_ACK_ID_DIGITS,
    ) -> None:
        self._max_attachments = max_attachments
        self._max_depth = max_depth
        self._max_ack_id_digits = max_ack_id_digits
        #: The binary packet waiting for its attachments, if any.
        self.partial: Packet | None = None
        self._attachments: list[bytes] = []

    @property
    def pending(self) -> bool:
        """Is a binary packet waiting for attachments?"""
        return self.partial is not None

    def receive_text(self, text: str) -> Packet | None:
        """Raises PacketError for an invalid packet or for text while attachments are due."""
        if self.partial is not None:
            raise PacketError("text message while waiting for binary attachments")
        packet = decode_text(text, self._max_attachments, self._max_depth, self._max_ack_id_digits)
        return self.receive_packet(packet)

    def receive_packet(self, packet: Packet) -> Packet | None:
        """Like ``receive_text``, for text the caller decoded itself (nothing pending)."""
        if packet.type is PacketType.BINARY_EVENT or packet.type is PacketType.BINARY_ACK:
            if packet.attachments == 0:
                return self._complete(packet, [])
            self.partial = packet
            return None
        return packet

    def receive_binary(self, data: bytes) -> Packet | None:
        """Raises PacketError for binary that no packet announced, or for bad placeholders."""
        partial = self.partial
        if partial is None:
            raise PacketError("binary message without a binary packet")
        self._attachments.append(data)
        if len(self._attachments) < partial.attachments:
            return None
        attachments, self._attachments = self._attachments, []
        self.partial = None
        return self._complete(partial, attachments)

    def reset(self) -> None:
        """Drop a half-received packet (the connection closed)."""
        self.partial = None
        self._attachments = []

    @staticmethod
    def _complete(packet: Packet, attachments: list[bytes]) -> Packet:
        kind = PacketType.EVENT if packet.type is PacketType.BINARY_EVENT else PacketType.ACK
        data = reconstruct(packet.data, attachments)
        return Packet(kind, packet.namespace, data, packet.id, len(attachments))


def decode_messages(messages: list[str | bytes], max_attachments: int = MAX_ATTACHMENTS) -> Packet:
    """The packet whose Engine.IO messages (``encode_messages``) these are.

    Raises:
        PacketError: the messages are not exactly one packet.
    """
    decoder = PacketDecoder(max_attachments)
    packet: Packet | None = None
    for message in messages:
        if packet is not None:
            raise PacketError("messages after a complete packet")
        if isinstance(message, str):
            packet = decoder.receive_text(message)
        else:
            packet = decoder.receive_binary(message)
    if packet is None:
        raise PacketError("no complete packet")
    return packet
