"""HTTP long-polling: a GET waits (parked) for packets, a POST brings the client's.

    client                       server
      | ---- GET  (parked) -------> |  answered at the end of the tick that queued packets,
      | <--- 200 payload ---------- |  or with the session's last packet when it ends
      | ---- POST payload --------> |  every packet goes through Session.receive
      | <--- 200 "ok" ------------- |

One GET and one POST at a time: a second one breaks the session ("transport error"), as in
the reference server.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from ..errors import ErrorCode, ParseError, RequestError
from ..outbound import Outbound
from ..protocol.encoding import choose_encoding, compress
from ..protocol.payload import decode_payload, encode_payload
from ..protocol.request import TransportName
from ..protocol.session import CLOSE_PACKET, DisconnectReason

if TYPE_CHECKING:
    from ..net.http import HttpConnection, HttpRequest
    from ..socket import EngineSocket

__all__ = ["OK_HEADERS", "TEXT_HEADERS", "PollingTransport"]

log = logging.getLogger(__name__)

TEXT_HEADERS = [("content-type", "text/plain; charset=UTF-8"), ("cache-control", "no-store")]
OK_HEADERS = [("content-type", "text/html")]


class PollingTransport:
    """The polling requests of one session."""

    __slots__ = ("_encoding", "_headers", "_poll", "owner", "session")

    name = TransportName.POLLING

    def __init__(self, owner: EngineSocket) -> None:
        self.owner = owner
        self.session = owner.session
        #: The parked GET, if any, with the headers and encoding of its answer.
        self._poll: HttpConnection | None = None
        self._headers: list[tuple[str, str]] = []
        self._encoding: str | None = None
        config = owner.server.config
        self.session.max_poll_packets = config.max_poll_packets
        self.session.max_poll_queue = config.max_poll_queue

    # -- Transport ------------------------------------------------------------------------------

    @property
    def writable(self) -> bool:
        return self._poll is not None

    def send_message(self, data: str) -> None:
        if self.session.send_message(data):
            self._queued()

    def send_binary(self, data: bytes) -> None:
        if self.session.send(bytes(data)):
            self._queued()

    def send_outbound(self, outbound: Outbound) -> None:
        # Counted when a poll is answered, not as the shared frames the sender counted.
        outbound.count_sent(self.owner.server.traffic, -1)
        session = self.session
        if session.sending:
            for packet in outbound.packets:
                session.send(packet)
            self._queued()

    def _queued(self) -> None:
        """Packets were queued: flush at the end of the tick, or drop a client that stopped
        polling (``Session.check_poll_queue``)."""
        owner = self.owner
        event = self.session.check_poll_queue()
        if event is not None:
            log.debug("polling queue full sid=%s", owner.sid)
            owner.server.stats.slow_consumers += 1
            owner.handle(event)
        owner.mark_dirty()

    def flush(self) -> None:
        """Answer the parked GET if the session has something for it."""
        if self._poll is not None:
            reply = self.session.poll_reply()
            if reply is not None:
                self._answer(reply)

    def close(self) -> None:
        if self._poll is not None:
            # Parked but not answered by the last flush: answer with what the session says
            # (NOOP once upgraded), or with CLOSE.
            self._answer(self.session.poll_reply() or [CLOSE_PACKET])

    # -- GET ------------------------------------------------------------------------------------

    def on_poll(
        self, conn: HttpConnection, request: HttpRequest, cors: list[tuple[str, str]]
    ) -> None:
        owner = self.owner
        event = self.session.open_poll()
        if event is not None:
            owner.server.respond_error(conn, RequestError(ErrorCode.BAD_REQUEST), cors)
            owner.handle(event)
            return
        config = owner.server.config
        self._poll = conn
        self._headers = cors
        self._encoding = (
            choose_encoding(request.header("accept-encoding")) if config.http_compression else None
        )
        conn.park(self._poll_aborted)
        owner.mark_dirty()

    def _answer(self, packets: list[str | bytes]) -> None:
        conn, self._poll = self._poll, None
        assert conn is not None
        body = encode_payload(packets).encode("utf-8")
        traffic = self.owner.server.traffic
        if traffic is not None:
            traffic.packets_out += len(packets)
            traffic.bytes_out += len(body)
        headers = TEXT_HEADERS + self._headers
        encoding = self._encoding
        if encoding is not None and len(body) >= self.owner.server.config.compression_threshold:
            body = compress(body, encoding)
            headers = [*headers, ("content-encoding", encoding)]
        conn.respond(200, headers, body)

    def _poll_aborted(self) -> None:
        self._poll = None
        event = self.session.poll_aborted()
        if event is not None:
            self.owner.handle(event)
        self.owner.mark_dirty()

    # -- POST -----------------------------------------------------------------------------------

    def on_post(
        self, conn: HttpConnection, request: HttpRequest, cors: list[tuple[str, str]]
    ) -> None:
        owner = self.owner
        server = owner.server
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type == "application/octet-stream":
            # Engine.IO v4 sends binary as base64 text; a binary body is a v3 client or garbage.
            server.respond_error(conn, RequestError(ErrorCode.BAD_REQUEST), cors)
            owner.fail(DisconnectReason.TRANSPORT_ERROR)
            return
        event = self.session.open_post()
        if event is not None:
            server.respond_error(conn, RequestError(ErrorCode.BAD_REQUEST), cors)
            owner.handle(event)
            return
        conn.park(self._post_aborted)
        conn.read_body(
            server.config.max_payload,
            partial(self._post_body, conn, cors),
            partial(self._post_too_large, conn, cors),
        )

    def _post_body(self, conn: HttpConnection, cors: list[tuple[str, str]], body: bytes) -> None:
        owner = self.owner
        session = self.session
        error: ParseError | None = None
        try:
            packets = decode_payload(body, owner.server.config.max_decode_packets)
        except ParseError as exc:
            packets, error = exc.decoded, exc
        traffic = owner.server.traffic
        if traffic is not None:
            traffic.packets_in += len(packets)
            traffic.bytes_in += len(body)
        now = owner.server.reactor.time()
        for packet in packets:
            event = session.receive(packet, now)
            if event is not None:
                owner.handle(event)
        # Done after the packets: the replies they bring are no zombie's backlog.
        session.close_post()
        if error is not None:
            log.debug("parse error on POST sid=%s: %s", owner.sid, error)
            owner.fail(DisconnectReason.PARSE_ERROR)
            owner.server.respond_error(conn, RequestError(ErrorCode.BAD_REQUEST), cors)
        else:
            conn.respond(200, OK_HEADERS + cors, b"ok")
        owner.mark_dirty()

    def _post_too_large(self, conn: HttpConnection, cors: list[tuple[str, str]]) -> None:
        self.session.close_post()
        error = RequestError(ErrorCode.BAD_REQUEST, "Payload too large", status=413)
        self.owner.server.respond_error(conn, error, cors, close=True)

    def _post_aborted(self) -> None:
        self.session.close_post()
        self.owner.fail(DisconnectReason.TRANSPORT_ERROR)
