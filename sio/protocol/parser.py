"""The parser seam: how Socket.IO packets become Engine.IO messages and back.

A ``Parser`` is three pure functions and a flag; a server or a client uses one for all its
connections (``sio.Server(parser=...)``, ``sio.Client(parser=...)``):

- ``encode(packet)``: the packet's Engine.IO messages (``str`` text, ``bytes`` binary);
- ``decoder(max_attachments, max_depth, max_ack_id_digits)``: a new per-connection decoder,
  fed ``receive_text`` / ``receive_binary`` (``PacketError`` for anything invalid), ``reset``
  when the connection ends;
- ``decode_messages(messages)``: the one packet of a list of messages (``encode``'s inverse);
- ``text``: a packet without binary is one text message that ``packet.encode_text`` /
  ``encode_ack`` write and ``packet.decode_text`` reads (the JSON parser): the hot paths use
  those directly, skipping the seam.

``JSON_PARSER`` is the default (Socket.IO's own); ``parser_named("msgpack")`` gives
``socket.io-msgpack-parser``'s, which needs the ``msgpack`` package (``[msgpack]`` extra), loaded
only then.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

from .decoder import PacketDecoder, decode_messages
from .encoder import encode_messages
from .msgpack_parser import MsgpackDecoder, decode_msgpack_messages, encode_msgpack
from .notepack import require_msgpack
from .packet import Packet

__all__ = ["JSON_PARSER", "PARSER_NAMES", "Decoder", "Parser", "parser_named"]


class Decoder(Protocol):
    """One connection's decoder (``PacketDecoder`` is the JSON parser's)."""

    @property
    def partial(self) -> Packet | None:
        """A packet waiting for more messages (binary attachments), if any."""
        ...

    def receive_text(self, text: str) -> Packet | None: ...

    def receive_binary(self, data: bytes) -> Packet | None: ...

    def receive_packet(self, packet: Packet) -> Packet | None:
        """A packet decoded by the caller (the JSON fast path's ``decode_text``)."""
        ...

    def reset(self) -> None: ...


class Parser(NamedTuple):
    name: str
    encode: Callable[[Packet], list[str | bytes]]
    #: ``decoder(max_attachments, max_depth, max_ack_id_digits)``
    decoder: Callable[[int, int, int], Decoder]
    decode_messages: Callable[[list[str | bytes]], Packet]
    text: bool

    def __repr__(self) -> str:
        return f"<Parser {self.name}>"


JSON_PARSER = Parser("json", encode_messages, PacketDecoder, decode_messages, True)
_MSGPACK_PARSER = Parser("msgpack", encode_msgpack, MsgpackDecoder, decode_msgpack_messages, False)

#: The names ``parser_named`` knows (``--parser``).
PARSER_NAMES = ("json", "msgpack")


def parser_named(name: str | Parser) -> Parser:
    """The parser called ``name`` (a ``Parser`` is returned as it is).

    Raises:
        ValueError: no parser has that name.
        MsgpackMissingError: "msgpack" without the msgpack package (an ImportError that says
            how to install it).
    """
    if isinstance(name, Parser):
        return name
    if name == "json":
        return JSON_PARSER
    if name == "msgpack":
        require_msgpack()
        return _MSGPACK_PARSER
    raise ValueError(f"unknown parser {name!r} (known: {', '.join(PARSER_NAMES)})")
