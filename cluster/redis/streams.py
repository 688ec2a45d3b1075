"""The Redis Streams adapter, wire-compatible with Node's ``@socket.io/redis-streams-adapter``
0.3.1: a ``ClusterTransport`` (and ``RecoveryTransport``) under the unchanged
``cluster.ClusterAdapter``, so that Python servers and Node servers sharing one Redis (one
stream name, one channel prefix) form one fleet.

What travels, and how, is ``streams_format``'s. Here, on the reactor's Redis connections:

- **One link per server** (``RedisStreams``, Node's ``createAdapter``): a connection for
  commands, one that reads the stream (``XREAD BLOCK``, each read chained from the last one's
  answer, never missing an entry across reconnects), and one subscribed to every namespace's
  request channel and this server's answer channel. A ``RedisStreamsTransport`` per namespace
  (Node's per-namespace adapter) shares it.
- **Who is up**: 0.3.1 has no heartbeats; a server of a namespace is one subscribed to its
  channels (Node counts them with ``PUBSUB NUMSUB``). The link lists them, uids included, with
  ``PUBSUB CHANNELS <prefix>#*`` every ``nodes_interval`` seconds: a server is known within that
  time, and one that is gone (its connection closed: exit, kill -9) is reported to the adapter,
  whose requests stop waiting for it.
- **Connection state recovery** (``nsp.server.recovery`` set): offsets are stream ids. A
  recoverable broadcast is XADDed and delivered here when the XADD answers, with its id
  appended (``assigns_offsets``: see ``ClusterAdapter._broadcast_at_log_offset``); replies come
  in order, so do the deliveries. A broadcast read from the stream gets its entry's id appended
  (``with_offset``). Sessions are written **eagerly**, beyond Node (which writes a session only
  when its socket leaves): ``SET`` at join and at each change of rooms, kept alive while the
  socket is (``PEXPIRE`` every half window), so that a kill -9 leaves them restorable; a
  voluntary disconnect deletes it. A restore takes the session (``MULTI GET DEL EXEC``), checks
  that the offset is still in the stream, and reads forward (``XRANGE``) the broadcasts of the
  namespace to the session's rooms, **up to exactly what this server has delivered**: the
  entries its reader dispatched, and its own that the XADD confirmed. Later ones reach the socket
  live, once it is back in its rooms: none is lost or doubled by the restore itself.
- Redis going away costs what is published meanwhile (the client counts it), never the local
  delivery; the reader and the subscriber come back by themselves.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sio.protocol import Packet, RecoveryOptions, Restored, Session, encode_messages

from ..adapter import ClusterAdapter
from ..messages import ClusterMessage, MessageSink, MessageType, RestoreCallback
from .client import RedisClient, RedisError, RedisSubscriber, RedisUnavailable
from .streams_format import (
    StreamFormatError,
    decode_entry,
    decode_ephemeral,
    decode_session,
    encode_entry,
    encode_ephemeral,
    encode_session,
    entry_fields,
    is_ephemeral,
    is_offset,
    missed_packet,
    next_offset,
    offset_key,
    peer_pattern,
    peers_in,
    request_channel,
    response_channel,
    session_key,
    with_offset,
)

if TYPE_CHECKING:
    from reactor import Reactor, TimerHandle
    from sio import Namespace

__all__ = [
    "RESTORE_TIMEOUT",
    "RedisStreams",
    "RedisStreamsAdapterFactory",
    "RedisStreamsTransport",
    "redis_streams_adapter_factory",
]

log = logging.getLogger(__name__)

#: Seconds before a failed read of the stream is tried again.
READ_RETRY = 0.5
#: Seconds a restore may take before the client starts afresh.
RESTORE_TIMEOUT = 5.0
#: Entries per XRANGE of a restore, and most XRANGE calls (Node: 100 calls, unbounded each).
RESTORE_PAGE = 1000
RESTORE_MAX_PAGES = 100

_NO_OFFSET = (0, 0)


class _Logged:
    """A recoverable broadcast of this server waiting for its XADD's answer."""

    __slots__ = ("done", "offset", "on_logged")

    def __init__(self, on_logged: Callable[[str | None], None]) -> None:
        self.on_logged = on_logged
        self.done = False
        self.offset: str | None = None


class RedisStreams:
    """One server's link to the fleet: its connections, its reader of the stream, its
    subscriptions, and who else is up (shared by every namespace's transport)."""

    def __init__(
        self,
        reactor: Reactor,
        url: str,
        *,
        stream_name: str = "socket.io",
        maxlen: int = 10_000,
        channel_prefix: str = "socket.io",
        session_key_prefix: str = "sio:session:",
        read_count: int = 100,
        block_ms: int = 5000,
        nodes_interval: float = 1.0,
        name: str = "redis-streams",
    ) -> None:
        self.reactor = reactor
        self.stream_name = stream_name
        self.maxlen = maxlen
        self.channel_prefix = channel_prefix
        self.session_key_prefix = session_key_prefix
        self.read_count = read_count
        self.block_ms = block_ms
        self.nodes_interval = nodes_interval
        #: This server's uid in the fleet (as Node makes them: 8 random bytes in hex).
        self.uid = secrets.token_hex(8)
        self.closed = False
        self._namespaces: dict[str, RedisStreamsTransport] = {}
        #: Our recoverable broadcasts, in XADD order (delivered in that order).
        self._logged: deque[_Logged] = deque()
        #: The last entry the reader dispatched (None until it knows where the stream ends),
        #: and the last of our own broadcasts delivered here: what a restore replays up to.
        self.read_up_to: str | None = None
        self.own_up_to: str | None = None
        self._read_failing = False
        #: A command of the reader is in flight (one at a time: each chained from the last).
        self._reading = False
        self.client = RedisClient(reactor, url, name=name)
        self.reader = _ReaderClient(reactor, url, self._next_read, name=f"{name}-read")
        self.subscriber = RedisSubscriber(
            reactor, url, self._on_pubsub, name=f"{name}-sub", on_subscribed=self.poll_nodes
        )
        self._nodes_timer: TimerHandle | None = reactor.call_later(nodes_interval, self._nodes_tick)
        self._read_timer: TimerHandle | None = None

    def transport(self, nsp: str, recovery: RecoveryOptions | None = None) -> RedisStreamsTransport:
        """The transport of namespace ``nsp`` (its adapter registers with it)."""
        return RedisStreamsTransport(self, nsp, recovery)

    def close(self) -> None:
        """Close the connections (after what they have to send)."""
        if self.closed:
            return
        self.closed = True
        for timer in (self._nodes_timer, self._read_timer):
            if timer is not None:
                timer.cancel()
        self._nodes_timer = self._read_timer = None
        for transport in self._namespaces.values():
            transport.stop()
        self.client.close()
        self.reader.close()
        self.subscriber.close()

    # -- namespaces -----------------------------------------------------------------------------

    def register(self, transport: RedisStreamsTransport) -> None:
        self._namespaces[transport.nsp] = transport
        if self.read_up_to is not None:
            self._subscribe(transport.nsp)
            self.poll_nodes()

    def _subscribe(self, nsp: str) -> None:
        """Join the namespace's servers: from now on the others count this one (and send it
        requests), so it subscribes only once its reader knows where it reads from."""
        prefix = self.channel_prefix
        self.subscriber.subscribe(
            request_channel(prefix, nsp), response_channel(prefix, nsp, self.uid)
        )

    def unregister(self, transport: RedisStreamsTransport) -> None:
        if self._namespaces.get(transport.nsp) is transport:
            del self._namespaces[transport.nsp]
        # The subscriptions stay (no UNSUBSCRIBE in the client): Node's servers go on counting
        # this one for the namespace until it exits, and get no answer from it.

    # -- sending --------------------------------------------------------------------------------

    def publish(self, message: ClusterMessage) -> None:
        """To every other server: over pub/sub (a request) or the stream (see the format)."""
        try:
            if is_ephemeral(message):
                channel = request_channel(self.channel_prefix, message.nsp)
                self.client.command("PUBLISH", channel, encode_ephemeral(message))
            else:
                self.client.command(*self._xadd(message))
        except StreamFormatError as exc:
            log.warning("%s message not sent to the fleet: %s", message.type.name, exc)

    def publish_response(self, requester_uid: str, message: ClusterMessage) -> None:
        try:
            payload = encode_ephemeral(message)
        except StreamFormatError as exc:
            log.warning("%s answer not sent: %s", message.type.name, exc)
            return
        channel = response_channel(self.channel_prefix, message.nsp, requester_uid)
        self.client.command("PUBLISH", channel, payload)

    def _xadd(self, message: ClusterMessage) -> list[str | int]:
        fields = encode_entry(message)
        return ["XADD", self.stream_name, "MAXLEN", "~", self.maxlen, "*", *fields]

    def publish_logged(
        self, message: ClusterMessage, everywhere: bool, on_logged: Callable[[str | None], None]
    ) -> None:
        """XADD a recoverable broadcast; ``on_logged(its id)`` when Redis answers, in order.
        Not ``everywhere`` (``local``): not logged (every reader of the stream would deliver it),
        ``on_logged(None)`` in its turn."""
        entry = _Logged(on_logged)
        self._logged.append(entry)
        if not everywhere:
            entry.done = True
            self._deliver_logged()
            return
        try:
            command = self._xadd(message)
        except StreamFormatError as exc:
            log.warning("broadcast not sent to the fleet: %s", exc)
            entry.done = True
            self._deliver_logged()
            return

        def added(reply: Any) -> None:
            entry.done = True
            if isinstance(reply, bytes):
                entry.offset = reply.decode("ascii")
            elif isinstance(reply, RedisError):
                log.warning("broadcast not logged in the stream: %s", reply)
            self._deliver_logged()

        self.client.command(*command, callback=added)

    def _deliver_logged(self) -> None:
        logged = self._logged
        while logged and logged[0].done:
            entry = logged.popleft()
            if entry.offset is not None:
                self.own_up_to = entry.offset
            try:
                entry.on_logged(entry.offset)
            except Exception:
                log.exception("error delivering a broadcast")

    # -- reading the stream ---------------------------------------------------------------------

    def _next_read(self) -> None:
        """The reader's next command (unless one is in flight): first where the stream ends
        (reading from ``$`` would lose what comes between a failed read and the next), then
        ``XREAD`` after the last entry read, each chained from the last one's answer."""
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None
        if self.closed or self._reading:
            return
        self._reading = True
        if self.read_up_to is None:
            self.reader.command(
                "XREVRANGE", self.stream_name, "+", "-", "COUNT", 1, callback=self._on_stream_end
            )
            return
        self.reader.command(
            "XREAD",
            "COUNT",
            self.read_count,
            "BLOCK",
            self.block_ms,
            "STREAMS",
            self.stream_name,
            self.read_up_to,
            callback=self._on_read,
        )

    def _on_stream_end(self, reply: Any) -> None:
        self._reading = False
        if self.closed:
            return
        if not isinstance(reply, list):
            self._read_failed(reply)
            return
        last = "0-0"
        if reply and isinstance(reply[0], list) and isinstance(reply[0][0], bytes):
            last = reply[0][0].decode("ascii")
        self.read_up_to = last
        for nsp in self._namespaces:
            self._subscribe(nsp)
        self.poll_nodes()
        self._next_read()

    def _read_failed(self, reply: Any) -> None:
        """Try again later (at once when the reader's connection comes back)."""
        if isinstance(reply, RedisError) and not self._read_failing:
            log.error("cannot read stream %r: %s", self.stream_name, reply)
        self._read_failing = True
        self._read_timer = self.reactor.call_later(READ_RETRY, self._next_read)

    def _on_read(self, reply: Any) -> None:
        self._reading = False
        if self.closed:
            return
        if isinstance(reply, RedisError | RedisUnavailable):
            self._read_failed(reply)
            return
        if self._read_failing:
            self._read_failing = False
            log.info("reading stream %r again", self.stream_name)
        if isinstance(reply, list):
            for stream in reply:
                if isinstance(stream, list) and len(stream) == 2 and isinstance(stream[1], list):
                    self._dispatch(stream[1])
        self._next_read()

    def _dispatch(self, entries: list[Any]) -> None:
        if len(entries) > 1:
            # Several broadcasts in one read: their fan-outs coalesce (see the cluster bus).
            self.reactor.tick_events += len(entries)
        for entry in entries:
            if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], bytes):
                continue
            entry_id = entry[0].decode("ascii", "replace")
            try:
                self._dispatch_entry(entry_id, entry[1])
            except StreamFormatError as exc:
                log.warning("bad entry %s in stream %r: %s", entry_id, self.stream_name, exc)
            except Exception:
                log.exception("error handling entry %s", entry_id)
            self.read_up_to = entry_id

    def _dispatch_entry(self, entry_id: str, raw: Any) -> None:
        fields = entry_fields(raw)
        if fields.get("uid") == self.uid.encode():
            return  # ours: delivered here when its XADD answered
        nsp = fields.get("nsp")
        transport = self._namespaces.get(nsp.decode("utf-8", "replace")) if nsp else None
        if transport is not None:
            transport.receive(decode_entry(fields), entry_id)

    # -- pub/sub --------------------------------------------------------------------------------

    def _on_pubsub(self, channel: bytes, payload: bytes, pattern: bytes | None) -> None:
        try:
            message = decode_ephemeral(payload)
        except StreamFormatError as exc:
            log.warning("bad message on %r: %s", channel[:200], exc)
            return
        if message.uid == self.uid:
            return
        transport = self._namespaces.get(message.nsp)
        if transport is not None:
            transport.receive(message, None)

    # -- who is up ------------------------------------------------------------------------------

    def _nodes_tick(self) -> None:
        self._nodes_timer = None
        if self.closed:
            return
        self.poll_nodes()
        self._nodes_timer = self.reactor.call_later(self.nodes_interval, self._nodes_tick)

    def poll_nodes(self) -> None:
        """Ask Redis which servers are subscribed (answered to each namespace's transport)."""
        if self.closed:
            return
        pattern = peer_pattern(self.channel_prefix)
        self.client.command("PUBSUB", "CHANNELS", pattern, callback=self._on_channels)

    def _on_channels(self, reply: Any) -> None:
        if not isinstance(reply, list) or self.closed:
            return  # Redis is down: who was up stays so (their requests time out)
        channels = [name.decode("utf-8", "replace") for name in reply if isinstance(name, bytes)]
        for nsp, transport in list(self._namespaces.items()):
            transport.set_nodes(peers_in(channels, self.channel_prefix, nsp) - {self.uid})


class _ReaderClient(RedisClient):
    """The reader's connection: it reads again as soon as it is up (again)."""

    def __init__(self, reactor: Reactor, url: str, on_up: Callable[[], None], *, name: str) -> None:
        self._when_up = on_up
        super().__init__(reactor, url, name=name)

    def _on_up(self) -> None:
        self.reactor.call_soon(self._when_up)


class RedisStreamsTransport:
    """The ``ClusterTransport`` and ``RecoveryTransport`` of one namespace (``ClusterAdapter``'s),
    over the server's ``RedisStreams`` link."""

    #: The log (the stream) names each broadcast's offset (its entry id).
    assigns_offsets = True

    def __init__(self, link: RedisStreams, nsp: str, recovery: RecoveryOptions | None) -> None:
        self.link = link
        self.nsp = nsp
        self.uid = link.uid
        self.recovery = recovery
        self.sink: MessageSink | None = None
        #: The server's packet encoder (its parser's), for the packets a restore replays.
        self.encode: Callable[[Packet], list[str | bytes]] = encode_messages
        self._nodes: frozenset[str] = frozenset()
        #: Sessions of this server's sockets (sid -> pid), kept alive in Redis while they are.
        self._live: dict[str, str] = {}
        self._refresh_timer: TimerHandle | None = None
        window = recovery.max_disconnection_duration if recovery is not None else 0.0
        self._window_ms = max(1, round(window * 1000))
        self._refresh = max(1.0, window / 2)
        #: A live session's key outlives a kill -9 of this server by at least the window.
        self._live_ms = self._window_ms + round(self._refresh * 1000)

    def health(self) -> dict[str, float]:
        """For metrics: connected (1) when every Redis connection is; commands dropped."""
        link = self.link
        connections = (link.client, link.reader, link.subscriber)
        return {
            "connected": 1.0 if all(c.connected for c in connections) else 0.0,
            "dropped": float(link.client.dropped + link.reader.dropped),
        }

    # -- ClusterTransport -----------------------------------------------------------------------

    @property
    def nodes(self) -> frozenset[str]:
        return self._nodes

    def register(self, nsp: str, sink: MessageSink) -> None:
        if nsp != self.nsp:
            raise ValueError(f"the transport of {self.nsp!r} cannot carry {nsp!r}")
        self.sink = sink
        self.link.register(self)

    def publish(self, message: ClusterMessage) -> None:
        kind = message.type
        if kind is MessageType.ADAPTER_CLOSE:
            # Node's 0.3.1 sends none: leaving is unsubscribing (at exit, or close()).
            self.link.unregister(self)
            return
        if kind is MessageType.INITIAL_HEARTBEAT or kind is MessageType.HEARTBEAT:
            return
        self.link.publish(message)

    def publish_response(self, requester_uid: str, message: ClusterMessage) -> None:
        self.link.publish_response(requester_uid, message)

    # -- RecoveryTransport ----------------------------------------------------------------------

    def publish_logged(
        self, message: ClusterMessage, everywhere: bool, on_logged: Callable[[str | None], None]
    ) -> None:
        self.link.publish_logged(message, everywhere, on_logged)

    def update_session(self, nsp: str, update: dict[str, Any]) -> None:
        """Write a session as it changes (see the module docstring): ``open`` SETs it, ``rooms``
        and a kept ``end`` SET it again if it is still there (``XX``: if another server took it
        back meanwhile, it stays taken), a final ``end`` deletes it."""
        op = update.get("op")
        sid = str(update.get("sid"))
        client = self.link.client
        if op == "open":
            pid = str(update.get("pid"))
            self._live[sid] = pid
            self._set(pid, sid, update, self._live_ms, only_if_there=False)
            if self._refresh_timer is None:
                self._refresh_timer = self.link.reactor.call_later(self._refresh, self._keep_alive)
        elif op == "rooms":
            current = self._live.get(sid)
            if current is not None:
                self._set(current, sid, update, self._live_ms, only_if_there=True)
        elif op == "end":
            live = self._live.pop(sid, None)
            pid = live or str(update.get("pid"))
            if update.get("keep"):
                self._set(pid, sid, update, self._window_ms, only_if_there=live is not None)
            elif live is not None:
                client.command("DEL", session_key(self.link.session_key_prefix, live))

    def _set(
        self, pid: str, sid: str, update: dict[str, Any], px: int, *, only_if_there: bool
    ) -> None:
        rooms = [str(room) for room in update.get("rooms") or ()]
        try:
            value = encode_session(Session(sid, pid, rooms, update.get("data")))
        except StreamFormatError as exc:
            log.warning("session of %s not kept: %s", sid, exc)
            return
        key = session_key(self.link.session_key_prefix, pid)
        if only_if_there:
            self.link.client.command("SET", key, value, "PX", px, "XX")
        else:
            self.link.client.command("SET", key, value, "PX", px)

    def _keep_alive(self) -> None:
        self._refresh_timer = None
        if self.link.closed or not self._live:
            return
        prefix = self.link.session_key_prefix
        for pid in self._live.values():
            self.link.client.command("PEXPIRE", session_key(prefix, pid), self._live_ms)
        self._refresh_timer = self.link.reactor.call_later(self._refresh, self._keep_alive)

    def restore_session(self, nsp: str, pid: str, offset: str, callback: RestoreCallback) -> None:
        _Restore(self, pid, offset, callback).start()

    # -- from the link --------------------------------------------------------------------------

    def receive(self, message: ClusterMessage, entry_id: str | None) -> None:
        sink = self.sink
        if sink is None:
            return
        if entry_id is not None and self.recovery is not None:
            message = with_offset(message, entry_id)
        sink.on_message(message)

    def set_nodes(self, nodes: frozenset[str]) -> None:
        gone = self._nodes - nodes
        self._nodes = nodes
        if self.sink is not None:
            for uid in sorted(gone):
                self.sink.on_node_left(uid, f"server {uid} left the fleet")

    def stop(self) -> None:
        if self._refresh_timer is not None:
            self._refresh_timer.cancel()
            self._refresh_timer = None


class _Restore:
    """One restore (see the module docstring): the session, the offset, the entries after it."""

    def __init__(
        self, transport: RedisStreamsTransport, pid: str, offset: str, callback: RestoreCallback
    ) -> None:
        self.transport = transport
        self.link = transport.link
        self.pid = pid
        self.offset = offset
        self.callback: RestoreCallback | None = callback
        self.session: Session | None = None
        self.found: Any = None  # the session's key's value, then whether the offset is there
        self.answers = 0
        #: Matching entries: (id, from this server, their messages).
        self.missed: list[tuple[tuple[int, int], bool, list[str | bytes]]] = []
        self.cursor = offset
        self.pages = 0
        self.timer: TimerHandle | None = None

    def start(self) -> None:
        if not is_offset(self.offset) or self.link.closed:
            self.finish(None)
            return
        self.timer = self.link.reactor.call_later(RESTORE_TIMEOUT, self.finish, None)
        client = self.link.client
        key = session_key(self.link.session_key_prefix, self.pid)
        # GET and DEL as one (Node's GETDEL, for Redis before 6.2 too).
        client.command("MULTI", callback=self._queued)
        client.command("GET", key, callback=self._queued)
        client.command("DEL", key, callback=self._queued)
        client.command("EXEC", callback=self._on_session)
        stream = self.link.stream_name
        client.command("XRANGE", stream, self.offset, self.offset, callback=self._on_offset)

    def _queued(self, reply: Any) -> None:
        if isinstance(reply, RedisError):
            log.warning("restore of a session: %s", reply)

    def _on_session(self, reply: Any) -> None:
        if isinstance(reply, list) and reply and isinstance(reply[0], bytes):
            try:
                self.session = decode_session(reply[0])
            except StreamFormatError as exc:
                log.warning("bad session for a restore: %s", exc)
        self._answered()

    def _on_offset(self, reply: Any) -> None:
        self.found = isinstance(reply, list) and bool(reply)
        self._answered()

    def _answered(self) -> None:
        self.answers += 1
        if self.answers < 2 or self.callback is None:
            return
        if self.session is None or not self.found:
            self.finish(None)
            return
        self._page()

    def _page(self) -> None:
        self.pages += 1
        self.link.client.command(
            "XRANGE",
            self.link.stream_name,
            next_offset(self.cursor),
            "+",
            "COUNT",
            RESTORE_PAGE,
            callback=self._on_page,
        )

    def _on_page(self, reply: Any) -> None:
        if self.callback is None:
            return
        if not isinstance(reply, list):
            self.finish(None)
            return
        session = self.session
        assert session is not None
        link = self.link
        nsp = self.transport.nsp
        own = link.uid.encode()
        for entry in reply:
            if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], bytes):
                continue
            entry_id = entry[0].decode("ascii", "replace")
            if not is_offset(entry_id):
                continue
            self.cursor = entry_id
            try:
                fields = entry_fields(entry[1])
                if fields.get("nsp") != nsp.encode() or fields.get("type") != b"3":
                    continue
                messages = missed_packet(
                    decode_entry(fields), entry_id, nsp, session.rooms, self.transport.encode
                )
            except StreamFormatError:
                continue
            if messages is not None:
                mine = fields.get("uid") == own
                self.missed.append((offset_key(entry_id), mine, messages))
        # Up to what this server delivered: its reader's position and its own confirmed XADDs.
        read = link.read_up_to
        own_up_to = offset_key(link.own_up_to) if link.own_up_to else _NO_OFFSET
        bound = max(offset_key(read) if read else _NO_OFFSET, own_up_to)
        if reply and offset_key(self.cursor) < bound and self.pages < RESTORE_MAX_PAGES:
            self._page()
            return
        if len(reply) == RESTORE_PAGE and read is None and self.pages < RESTORE_MAX_PAGES:
            self._page()  # the reader has not started: everything to the end, as Node does
            return
        self._done(read, own_up_to)

    def _done(self, read: str | None, own_up_to: tuple[int, int]) -> None:
        session = self.session
        assert session is not None
        read_key = offset_key(read) if read else None
        missed = [
            messages
            for key, mine, messages in self.missed
            if (key <= own_up_to if mine else read_key is None or key <= read_key)
        ]
        self.finish(Restored(session, missed))

    def finish(self, restored: Restored | None) -> None:
        callback, self.callback = self.callback, None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if callback is not None:
            callback(restored)


class RedisStreamsAdapterFactory:
    """``sio.Server(adapter=...)``: each namespace's ``ClusterAdapter`` over ``link``."""

    def __init__(self, link: RedisStreams) -> None:
        self.link = link

    def __call__(self, nsp: Namespace) -> ClusterAdapter:
        recovery: RecoveryOptions | None = nsp.server.recovery
        transport = self.link.transport(nsp.name, recovery)
        transport.encode = nsp.server.parser.encode
        return ClusterAdapter(nsp, transport)

    def close(self) -> None:
        self.link.close()


def redis_streams_adapter_factory(
    reactor: Reactor,
    url: str,
    *,
    stream_name: str = "socket.io",
    maxlen: int = 10_000,
    channel_prefix: str = "socket.io",
    session_key_prefix: str = "sio:session:",
    read_count: int = 100,
    block_ms: int = 5000,
    nodes_interval: float = 1.0,
) -> RedisStreamsAdapterFactory:
    """The adapter factory of a server in a fleet over Redis Streams at ``url``
    (``redis://HOST:PORT[/DB]``), Node's ``createAdapter(redisClient, opts)`` with its option
    defaults; its connections open now, on ``reactor``. ``close()`` closes them."""
    link = RedisStreams(
        reactor,
        url,
        stream_name=stream_name,
        maxlen=maxlen,
        channel_prefix=channel_prefix,
        session_key_prefix=session_key_prefix,
        read_count=read_count,
        block_ms=block_ms,
        nodes_interval=nodes_interval,
    )
    return RedisStreamsAdapterFactory(link)
