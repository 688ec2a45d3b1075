"""Server and client websocket connections: wsproto parses what arrives; we frame what leaves.

Server frames are never masked, so a frame depends only on its payload: a broadcast frames its
message once and every recipient gets the same bytes (``frame_text`` / ``frame_binary``). Only a
connection that negotiated permessage-deflate goes through wsproto to send, since compression
keeps state per connection.
"""

from __future__ import annotations

import logging
import struct
from typing import Any, Protocol

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping, TextMessage
from wsproto.extensions import Extension

from reactor import Stream

from ..errors import EngineIOError
from ..stats import EngineStats

__all__ = [
    "MessageTooBigError",
    "WebSocketClosedError",
    "WebSocketConnection",
    "WebSocketListener",
    "frame_binary",
    "frame_text",
]

log = logging.getLogger(__name__)

_PACK_16 = struct.Struct("!BBH").pack
_PACK_64 = struct.Struct("!BBQ").pack
_PACK_CODE = struct.Struct("!H").pack


class MessageTooBigError(EngineIOError):
    """A websocket message over the size limit (closed with 1009)."""


class WebSocketClosedError(EngineIOError):
    """The peer closed the websocket with an error code, or broke the framing."""


def _frame(opcode: int, payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        return bytes((0x80 | opcode, size)) + payload
    if size < 65536:
        return _PACK_16(0x80 | opcode, 126, size) + payload
    return _PACK_64(0x80 | opcode, 127, size) + payload


def frame_text(text: str) -> bytes:
    """An unmasked, final text frame (what a server sends)."""
    payload = text.encode("utf-8")
    size = len(payload)
    if size < 126:  # most messages: no call to _frame
        return bytes((0x81, size)) + payload
    return _frame(0x1, payload)


def frame_binary(data: bytes) -> bytes:
    """An unmasked, final binary frame (what a server sends)."""
    return _frame(0x2, data)


def _wsproto_idle(ws: Connection) -> bool:
    """Does wsproto hold no partial frame and no unfinished message? (Its private state; a
    wsproto without these attributes simply never takes the fast path.)"""
    try:
        proto = ws._proto
        decoder = proto._frame_decoder
        return (
            decoder.header is None
            and not decoder.buffer.buffer
            and proto._message_decoder.opcode is None
        )
    except AttributeError:
        return False


class WebSocketListener(Protocol):
    def ws_text(self, ws: WebSocketConnection, text: str) -> None: ...

    def ws_binary(self, ws: WebSocketConnection, data: bytes) -> None: ...

    def ws_closed(self, ws: WebSocketConnection, exc: BaseException | None) -> None:
        """Called once. ``exc`` is None for an orderly close (close frame 1000/1001 or EOF)."""
        ...


class WebSocketConnection:
    """A websocket after the handshake, on a ``Stream``."""

    __slots__ = (
        "_closed_reported",
        "_fast",
        "_parts",
        "_parts_len",
        "_trailing",
        "_ws",
        "client",
        "deflate",
        "listener",
        "max_message",
        "plain",
        "stats",
        "stream",
    )

    def __init__(
        self,
        max_message: int,
        *,
        extensions: list[Extension] | None = None,
        trailing_data: bytes = b"",
        client: bool = False,
        stats: EngineStats | None = None,
    ) -> None:
        #: Where the packets read and written are counted (a server's ``traffic``; None: nowhere).
        self.stats = stats
        #: Parse simple frames ourselves (servers only: clients' frames are masked; no deflate).
        self._fast = not client and not extensions
        #: wsproto, made on first need when the fast path serves (most connections never need
        #: it: it saves ~1.4 KB per idle connection).
        self._ws: Connection | None = None
        if not self._fast:
            self._ws = Connection(
                ConnectionType.CLIENT if client else ConnectionType.SERVER, extensions
            )
        self.client = client
        self.deflate = bool(extensions)
        #: Frames can be written straight to the stream (a server without deflate).
        self.plain = not client and not extensions
        self.max_message = max_message
        self._trailing = trailing_data
        self._parts: list[str] | list[bytes] | None = None
        self._parts_len = 0
        self._closed_reported = False
        self.stream: Stream | None = None
        self.listener: WebSocketListener | None = None

    def attach(self, stream: Stream) -> None:
        self.stream = stream

    def start(self, listener: WebSocketListener) -> None:
        """Start delivering to ``listener``, beginning with bytes that came with the handshake."""
        self.listener = listener
        trailing, self._trailing = self._trailing, b""
        if trailing:
            self.data_received(trailing)

    def _wsproto(self) -> Connection:
        ws = self._ws
        if ws is None:
            ws = self._ws = Connection(ConnectionType.SERVER)
        return ws

    @property
    def open(self) -> bool:
        return (
            self.stream is not None
            and not self.stream.closing
            and (self._ws is None or self._ws.state is ConnectionState.OPEN)
        )

    # -- sending --------------------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        if self.deflate or self.client:
            self._send_event(Message(data=text))
        elif self.stream is not None:
            self._write_message(frame_text(text))

    def send_binary(self, data: bytes) -> None:
        if self.deflate or self.client:
            self._send_event(Message(data=data))
        elif self.stream is not None:
            self._write_message(frame_binary(data))

    def _send_event(self, event: Message[Any]) -> None:
        ws = self._wsproto()
        if self.stream is None or ws.state is not ConnectionState.OPEN:
            return
        self._write_message(ws.send(event))

    def _write_message(self, frame: bytes) -> None:
        """One message's frame (one Engine.IO packet) to the stream, counted."""
        assert self.stream is not None
        self.stream.write(frame)
        stats = self.stats
        if stats is not None:
            stats.packets_out += 1
            stats.bytes_out += len(frame)

    def close(self, code: int = 1000, reason: str = "", linger: bool = False) -> None:
        """Send a close frame (if still possible) and close the TCP connection after it
        (``linger``: reading and dropping what the peer still sends, bounded, so that it does
        not reset our close frame away)."""
        stream = self.stream
        if stream is None or stream.closed:
            return
        ws = self._ws
        if ws is None:
            stream.write(_frame(0x8, _PACK_CODE(code) + reason.encode("utf-8")[:123]))
        elif ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
            stream.write(ws.send(CloseConnection(code=code, reason=reason)))
        stream.close(linger=linger)

    # -- StreamProtocol -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.listener is None:
            self._trailing += data
            return
        ws = self._ws
        if ws is None:
            data = self._fast_frames(data)
            if not data or self.stream is None or self.stream.closing:
                return
            ws = self._wsproto()  # something the fast path leaves to wsproto
        elif ws.state is ConnectionState.CLOSED:
            return
        elif self._fast and _wsproto_idle(ws) and self._parts is None:
            data = self._fast_frames(data)
            if not data or self.stream is None or self.stream.closing:
                return
        ws.receive_data(data)
        self._process()

    def _fast_frames(self, data: bytes) -> bytes:
        """Deliver the complete, final, masked text/binary frames at the head of ``data``;
        return the rest (anything else: control frames, fragments, partial frames, invalid
        UTF-8) for wsproto, which then sees exactly the bytes it would have seen."""
        pos = 0
        size = len(data)
        while size - pos >= 6:
            first, second = data[pos], data[pos + 1]
            opcode = first & 0x0F
            if first & 0xF0 != 0x80 or not second & 0x80 or (opcode != 1 and opcode != 2):
                break
            length = second & 0x7F
            head = 2
            if length == 126:
                if size - pos < 8:
                    break
                length = (data[pos + 2] << 8) | data[pos + 3]
                head = 4
            elif length == 127:
                if size - pos < 14:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                head = 10
            start = pos + head + 4
            end = start + length
            if length > self.max_message:
                self._too_big()
                return b""
            if end > size:
                break
            if length:  # unmask: XOR with the 4-byte key, as one big integer
                key = (data[start - 4 : start] * ((length + 3) >> 2))[:length]
                payload = (
                    int.from_bytes(data[start:end], "little") ^ int.from_bytes(key, "little")
                ).to_bytes(length, "little")
            else:
                payload = b""
            listener = self.listener
            assert listener is not None
            if opcode == 1:
                try:
                    text = payload.decode("utf-8")
                except UnicodeDecodeError:
                    break  # left to wsproto, which refuses it (1007): not a packet
                stats = self.stats
                if stats is not None:
                    stats.packets_in += 1
                    stats.bytes_in += end - pos
                pos = end
                listener.ws_text(self, text)
            else:
                stats = self.stats
                if stats is not None:
                    stats.packets_in += 1
                    stats.bytes_in += end - pos
                pos = end
                listener.ws_binary(self, payload)
            stream = self.stream
            if stream is None or stream.closing:
                return b""
        return data[pos:] if pos else data

    def eof_received(self) -> None:
        ws = self._ws
        if ws is None:
            if self.stream is not None:
                self.stream.close()
            self._report_closed(None)  # the peer went away without a close frame (1006)
        elif ws.state is not ConnectionState.CLOSED:
            ws.receive_data(None)
            self._process()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._report_closed(exc)
        # Both point back at us: no cycle, so all is freed at once, not by the cycle collector.
        self.stream = None
        self.listener = None

    def _process(self) -> None:
        ws = self._wsproto()
        for event in ws.events():
            # Looked up per event: an upgrade hands the websocket to a new listener mid-batch.
            listener = self.listener
            assert listener is not None
            kind = type(event)
            if kind is TextMessage or kind is BytesMessage:
                assert isinstance(event, (TextMessage, BytesMessage))
                data = event.data
                if not isinstance(data, str):
                    data = bytes(data)
                if event.message_finished and self._parts is None:
                    if len(data) > self.max_message:
                        self._too_big()
                        return
                    self._count_in(data)
                    if isinstance(data, str):
                        listener.ws_text(self, data)
                    else:
                        listener.ws_binary(self, data)
                elif not self._collect(data, event.message_finished, listener):
                    return
            elif kind is Ping:
                assert isinstance(event, Ping)
                if self.stream is not None and ws.state is ConnectionState.OPEN:
                    self.stream.write(ws.send(event.response()))
            elif kind is CloseConnection:
                assert isinstance(event, CloseConnection)
                self._remote_closed(event)
                return
            if self.stream is None or self.stream.closed:
                return

    def _collect(self, data: str | bytes, finished: bool, listener: WebSocketListener) -> bool:
        parts = self._parts
        if parts is None:
            parts = self._parts = []
        parts.append(data)  # type: ignore[arg-type]
        self._parts_len += len(data)
        if self._parts_len > self.max_message:
            self._too_big()
            return False
        if finished:
            self._parts, self._parts_len = None, 0
            if isinstance(data, str):
                text = "".join(parts)  # type: ignore[arg-type]
                self._count_in(text)
                listener.ws_text(self, text)
            else:
                binary = b"".join(parts)  # type: ignore[arg-type]
                self._count_in(binary)
                listener.ws_binary(self, binary)
        return True

    def _count_in(self, message: str | bytes) -> None:
        """A message wsproto assembled (fragmented or compressed): one packet; its bytes are
        the message's, uncompressed (the frames' own sizes are wsproto's)."""
        stats = self.stats
        if stats is not None:
            stats.packets_in += 1
            stats.bytes_in += len(message.encode("utf-8") if isinstance(message, str) else message)

    def _too_big(self) -> None:
        self._parts, self._parts_len = None, 0
        self.close(1009, "message too big", linger=True)
        self._report_closed(MessageTooBigError(f"message over {self.max_message} bytes"))

    def _remote_closed(self, event: CloseConnection) -> None:
        stream = self.stream
        ws = self._wsproto()
        if ws.state is ConnectionState.OPEN:
            # No close frame came (that would have left OPEN): wsproto reports a frame it could
            # not parse as this event, with the code to answer (1002, or 1007 for bad UTF-8).
            self._protocol_error(event.code, event.reason or "")
            return
        if stream is not None and ws.state is ConnectionState.REMOTE_CLOSING:
            stream.write(ws.send(event.response()))
        if stream is not None:
            stream.close()
        error: BaseException | None = None
        if event.code not in (1000, 1001, 1005, 1006):
            error = WebSocketClosedError(f"closed with code {event.code}: {event.reason}")
        self._report_closed(error)

    def _protocol_error(self, code: int, reason: str) -> None:
        """The peer broke the framing: a close frame with ``code`` (RFC 6455 §7.4), then close.
        Lingers (bounded) so that bytes the peer still sends do not reset away our close frame."""
        self._parts, self._parts_len = None, 0
        stream = self.stream
        if stream is not None and not stream.closing:
            stream.write(self._wsproto().send(CloseConnection(code=code, reason=reason)))
            stream.close(linger=True)
        self._report_closed(WebSocketClosedError(f"protocol error {code}: {reason}"))

    def _report_closed(self, exc: BaseException | None) -> None:
        if self._closed_reported:
            return
        self._closed_reported = True
        listener = self.listener
        if listener is not None:
            listener.ws_closed(self, exc)
