"""The Redis pub/sub adapter, wire-compatible with Node's ``@socket.io/redis-adapter`` (8.x): a
Python server and Node servers sharing one Redis (and one key prefix) form one fleet.

What travels, and how, is ``pubsub_format``'s; this module is the adapter's logic (Node's
``RedisAdapter``) on our reactor's Redis connections (``client``): one connection publishes and
one subscribes, shared by every namespace of the server (``redis_pubsub_adapter_factory``).

- **Broadcasts** are encoded once for this server's clients (``InMemoryAdapter`` encodes on the
  first recipient) and once in notepack for the others (the packet's arguments, binary as msgpack
  bin), and published to the namespace's channel, or to the room's when exactly one room is
  targeted (so that servers without that room skip it). A received broadcast from another
  server, of this namespace, is delivered here only (``local``).
- **Room operations and disconnects** (``sockets_join`` / ``sockets_leave`` /
  ``disconnect_sockets``) apply here at once and go to the others as requests (no answer).
- **Requests that wait for answers** (``fetch_sockets``, ``server_side_emit`` with a callback,
  ``all_rooms``, broadcasts with acknowledgements) know how many servers got them: the request is
  published in a ``MULTI`` with ``PUBSUB NUMSUB`` of the request channel, which counts the
  servers of the namespace (this one included when subscribed: its own request coming back
  counts as its answer). They end when every server answered, or at their timeout with what came
  and a ``ClusterRequestError``; at once, with an error, when Redis is down. Never a hang.
- ``server_count()`` must answer at once (the broadcast-with-acks bookkeeping asks it before
  sending): it is ``PUBSUB NUMSUB`` of the request channel, refreshed every second. A broadcast
  with acknowledgements reconciles that figure with the exact one of its own ``MULTI``: the
  client counts it reports add up to what the servers reported, in as many calls as it was told.
- The other servers' requests are answered as Node answers them (every type, ``SOCKETS`` and
  ``ALL_ROOMS`` included); a server ignores its own requests and broadcasts by its ``uid``.

**Connection state recovery** is not carried across servers (Node's pub/sub adapter has none):
with ``nsp.server.recovery`` set, each server keeps the in-memory behaviour (``InMemoryAdapter``'s
own store): broadcasts delivered here, this server's and those received from the others, get
this server's offsets and go to its log, and a client that comes back *to this server* gets
what it missed here. The offsets never travel to the other servers.

Redis going away costs the messages published meanwhile (counted in ``RedisClient.dropped``,
logged once per state change by the client), never the local delivery; the connections come
back by themselves and subscribe again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from sio import (
    BroadcastFlags,
    BroadcastOptions,
    ClientCountCallback,
    InMemoryAdapter,
    Packet,
    PacketError,
    PacketType,
)

from ..adapter import REQUEST_TIMEOUT, ClusterRequestError, RemoteSocket, _describe, encode_options
from .client import RedisClient, RedisError, RedisSubscriber
from .pubsub_format import (
    MISSING,
    Channels,
    FormatError,
    Opts,
    Request,
    RequestId,
    RequestType,
    Response,
    all_rooms_request,
    all_rooms_response,
    broadcast_ack_response,
    broadcast_request,
    client_count_response,
    decode_broadcast,
    decode_request,
    decode_response,
    done_response,
    encode_broadcast,
    fetch_response,
    remote_disconnect_request,
    remote_fetch_request,
    remote_join_request,
    remote_leave_request,
    server_side_emit_request,
    server_side_emit_response,
    sockets_response,
)

if TYPE_CHECKING:
    from reactor import Reactor, TimerHandle
    from sio import Namespace

    from ..adapter import ClusterAdapter

__all__ = ["DEFAULT_PREFIX", "RedisPubSubAdapter", "redis_pubsub_adapter_factory"]

log = logging.getLogger(__name__)

#: Node's default key (``opts.key``).
DEFAULT_PREFIX = "socket.io"
#: Seconds between two ``PUBSUB NUMSUB`` refreshes of ``server_count()``.
COUNT_INTERVAL = 1.0

Done = Callable[[list[Any], BaseException | None], None]

_UID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def uid2(length: int = 6) -> str:
    """An id as Node's ``uid2`` makes them (server uids and request ids)."""
    return "".join(_UID_CHARS[byte % 64] for byte in secrets.token_bytes(length))


def _exec_count(reply: Any) -> int | BaseException:
    """The ``PUBSUB NUMSUB`` figure in the reply to ``MULTI / NUMSUB / PUBLISH / EXEC``."""
    if isinstance(reply, BaseException):
        return reply
    try:
        count = reply[0][1]
    except (TypeError, IndexError, KeyError):
        return RedisError(f"unexpected EXEC reply {reply!r}")
    if isinstance(count, BaseException):
        return count
    if not isinstance(count, int):
        return RedisError(f"unexpected NUMSUB figure {count!r}")
    return count


# -- the connections a server's namespaces share ---------------------------------------------------


class _Link:
    """One publishing and one subscribed connection for every namespace of one server."""

    def __init__(
        self,
        reactor: Reactor,
        url: str,
        prefix: str,
        request_timeout: float,
        specific_responses: bool,
    ) -> None:
        self.reactor = reactor
        self.url = url
        self.prefix = prefix
        self.request_timeout = request_timeout
        self.specific_responses = specific_responses
        self.client: RedisClient | None = None
        self.subscriber: RedisSubscriber | None = None
        self.adapters: set[RedisPubSubAdapter] = set()
        self._by_pattern: dict[bytes, RedisPubSubAdapter] = {}
        self._by_channel: dict[bytes, RedisPubSubAdapter] = {}
        self._count_timer: TimerHandle | None = None
        self._counting = False

    def attach(self, adapter: RedisPubSubAdapter) -> None:
        if self.client is None or self.subscriber is None:
            self.client = RedisClient(self.reactor, self.url, name="redis-pubsub")
            self.subscriber = RedisSubscriber(
                self.reactor,
                self.url,
                self._on_message,
                name="redis-pubsub-sub",
                on_subscribed=self._refresh_counts,
            )
            self._count_timer = self.reactor.call_later(COUNT_INTERVAL, self._tick)
        self.adapters.add(adapter)
        channels = adapter.channels
        subscribed = (
            channels.request,
            channels.response,
            channels.specific_response(adapter.uid),
        )
        self._by_pattern[channels.pattern.encode()] = adapter
        for name in subscribed:
            self._by_channel[name.encode()] = adapter
        self.subscriber.psubscribe(channels.pattern)
        self.subscriber.subscribe(*subscribed)
        self._refresh_counts()

    def detach(self, adapter: RedisPubSubAdapter) -> None:
        self.adapters.discard(adapter)
        for routes in (self._by_pattern, self._by_channel):
            for key in [key for key, value in routes.items() if value is adapter]:
                del routes[key]
        if not self.adapters:
            # Not at once: what the closing server still sends in this tick (its clients'
            # goodbyes) goes out first; ``close`` sends what was written before closing.
            self.reactor.call_soon(self._close_if_unused)

    def _close_if_unused(self) -> None:
        if self.adapters:
            return
        if self._count_timer is not None:
            self._count_timer.cancel()
            self._count_timer = None
        for connection in (self.client, self.subscriber):
            if connection is not None:
                connection.close()
        self.client = self.subscriber = None

    # -- sending --------------------------------------------------------------------------------

    def publish(
        self, channel: str, payload: bytes, callback: Callable[[Any], None] | None = None
    ) -> None:
        if self.client is None:
            if callback is not None:
                callback(RedisError("the adapter is closed"))
            return
        self.client.command("PUBLISH", channel, payload, callback=callback)

    def publish_counted(
        self, channel: str, payload: bytes, callback: Callable[[int | BaseException], None]
    ) -> None:
        """Publish, and ``callback(n)`` with the number of servers subscribed to ``channel``
        at that instant (all of them get it), or ``callback(error)``."""
        client = self.client
        if client is None:
            callback(RedisError("the adapter is closed"))
            return
        if not client.connected:  # refused at once, counted once
            client.command("PUBLISH", channel, payload, callback=callback)
            return
        client.command("MULTI")
        client.command("PUBSUB", "NUMSUB", channel)
        client.command("PUBLISH", channel, payload)
        client.command("EXEC", callback=lambda reply: callback(_exec_count(reply)))

    # -- server counts --------------------------------------------------------------------------

    def _tick(self) -> None:
        self._count_timer = self.reactor.call_later(COUNT_INTERVAL, self._tick)
        self._refresh_counts()

    def _refresh_counts(self) -> None:
        client = self.client
        if client is None or not client.connected or self._counting or not self.adapters:
            return
        adapters = {adapter.channels.request: adapter for adapter in self.adapters}
        self._counting = True

        def counted(reply: Any) -> None:
            self._counting = False
            if not isinstance(reply, list):
                return
            for index in range(0, len(reply) - 1, 2):
                name, count = reply[index], reply[index + 1]
                adapter = adapters.get(name.decode() if isinstance(name, bytes) else str(name))
                if adapter is not None and isinstance(count, int):
                    adapter.servers = max(1, count)

        client.command("PUBSUB", "NUMSUB", *adapters, callback=counted)

    # -- receiving ------------------------------------------------------------------------------

    def _on_message(self, channel: bytes, data: bytes, pattern: bytes | None) -> None:
        if pattern is not None:
            adapter = self._by_pattern.get(pattern)
            if adapter is not None:
                adapter.on_broadcast(channel, data)
            return
        adapter = self._by_channel.get(channel)
        if adapter is not None:
            adapter.on_request_channel(channel, data)


# -- requests in flight ----------------------------------------------------------------------------


class _Request:
    """A request waiting for every server's answer (``expected`` once Redis counted them)."""

    __slots__ = ("arrived", "done", "expected", "items", "kind", "timer")

    def __init__(self, kind: RequestType, done: Done) -> None:
        self.kind = kind
        self.done = done
        self.items: list[Any] = []
        self.expected: int | None = None
        self.arrived = 0
        self.timer: TimerHandle | None = None


class _AckRequest:
    """A broadcast with acknowledgements: the other servers' client counts, reported to the
    operator in exactly ``slots`` calls (what it expects: ``server_count() - 1``) however many
    servers there really were (``expected``, from Redis), once they all reported."""

    __slots__ = (
        "ack",
        "arrived",
        "client_count",
        "expected",
        "flushed",
        "forwarded",
        "held",
        "slots",
        "timer",
    )

    def __init__(self, client_count: ClientCountCallback, ack: Callable[[Any], None], slots: int):
        self.client_count = client_count
        self.ack = ack
        self.slots = slots
        self.forwarded = 0
        self.held = 0
        self.expected: int | None = None
        self.arrived = 0
        self.flushed = False
        self.timer: TimerHandle | None = None

    def count(self, clients: int) -> None:
        """One server's client count."""
        self.arrived += 1
        if self.forwarded < self.slots - 1:  # the last slot waits for the sum of the rest
            self.forwarded += 1
            self.client_count(clients)
        else:
            self.held += clients
        self.check()

    def echo(self) -> None:
        """This server's own request came back (it counted itself)."""
        self.arrived += 1
        self.check()

    def published(self, expected: int) -> None:
        self.expected = expected
        self.check()

    def check(self) -> None:
        if self.flushed or self.expected is None or self.arrived < self.expected:
            return
        self.flushed = True
        if self.slots <= 0:
            return
        while self.forwarded < self.slots - 1:
            self.forwarded += 1
            self.client_count(0)
        self.forwarded += 1
        self.client_count(self.held)


# -- the adapter -----------------------------------------------------------------------------------


class RedisPubSubAdapter(InMemoryAdapter):
    """One namespace's adapter in a fleet sharing a Redis (see the module docstring).

    With connection state recovery on, it keeps ``InMemoryAdapter``'s behaviour, per server:
    the offsets and the log are this server's only (Node's pub/sub adapter has no recovery).
    """

    def __init__(self, nsp: Namespace, link: _Link) -> None:
        super().__init__(nsp)
        self._link = link
        self.reactor = nsp.server.reactor
        #: This server's id for this namespace (Node: one per adapter, ``uid2(6)``).
        self.uid = uid2()
        self.channels = Channels.of(link.prefix, nsp.name)
        self._responses = self.channels.response.encode()
        self.request_timeout = link.request_timeout
        #: Servers of the namespace (``PUBSUB NUMSUB``; see ``server_count``).
        self.servers = 1
        self._requests: dict[RequestId, _Request] = {}
        self._ack_requests: dict[RequestId, _AckRequest] = {}
        self._closed = False
        link.attach(self)

    def __repr__(self) -> str:
        return f"<RedisPubSubAdapter {self.nsp.name} uid={self.uid}>"

    def server_count(self) -> int:
        """The servers of this namespace, this one included, as Redis last counted them
        (refreshed every ``COUNT_INTERVAL`` and with every request that waits for answers)."""
        return self.servers

    # -- broadcasts -----------------------------------------------------------------------------

    def broadcast(self, packet: Packet, opts: BroadcastOptions) -> None:
        if not opts.flags.local:
            payload = encode_broadcast(self.uid, self.nsp.name, packet.data, encode_options(opts))
            self._link.publish(self.channels.for_rooms(opts.rooms), payload)
        # This server's clients: encoded once, on the first (with recovery on: offset, log).
        super().broadcast(packet, opts)

    def broadcast_with_ack(
        self,
        packet: Packet,
        opts: BroadcastOptions,
        client_count: ClientCountCallback,
        ack: Callable[[Any], None],
    ) -> int:
        if not opts.flags.local:
            rid = uid2()
            payload = broadcast_request(
                self.uid, rid, self.nsp.name, packet.data, encode_options(opts)
            )
            entry = _AckRequest(client_count, ack, self.servers - 1)
            self._ack_requests[rid] = entry

            def published(count: int | BaseException) -> None:
                if isinstance(count, BaseException):
                    log.debug("broadcast with acks not sent to the other servers: %s", count)
                    count = 0
                else:
                    self.servers = max(1, count)
                entry.published(count)

            self._link.publish_counted(self.channels.request, payload, published)
            # Whether every client answered is the operator's to know: forget the request
            # when its time is up (as Node).
            timeout = opts.flags.timeout or self.request_timeout
            entry.timer = self.reactor.call_later(timeout, self._ack_requests.pop, rid, None)
        return super().broadcast_with_ack(packet, opts, client_count, ack)

    # -- room operations and disconnects --------------------------------------------------------

    def add_sockets(self, opts: BroadcastOptions, rooms: frozenset[str]) -> None:
        if not opts.flags.local:
            payload = remote_join_request(self.uid, encode_options(opts), sorted(rooms))
            self._link.publish(self.channels.request, payload)
        super().add_sockets(opts, rooms)

    def del_sockets(self, opts: BroadcastOptions, rooms: frozenset[str]) -> None:
        if not opts.flags.local:
            payload = remote_leave_request(self.uid, encode_options(opts), sorted(rooms))
            self._link.publish(self.channels.request, payload)
        super().del_sockets(opts, rooms)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        if not opts.flags.local:
            payload = remote_disconnect_request(self.uid, encode_options(opts), close)
            self._link.publish(self.channels.request, payload)
        super().disconnect_sockets(opts, close)

    # -- requests that wait for answers ---------------------------------------------------------

    def fetch_sockets(self, opts: BroadcastOptions, callback: Done) -> None:
        local: list[Any] = self.local_sockets(opts)
        if opts.flags.local:
            callback(local, None)
            return
        owner = cast("ClusterAdapter", self)  # RemoteSocket needs only the adapter's operations

        def gathered(items: list[Any], error: BaseException | None) -> None:
            remote = [RemoteSocket(owner, item) for item in items if isinstance(item, dict)]
            callback(local + remote, error)

        rid = uid2()
        payload = remote_fetch_request(self.uid, rid, encode_options(opts))
        self._request(rid, RequestType.REMOTE_FETCH, payload, gathered, opts.flags.timeout)

    def all_rooms(self, callback: Callable[[set[str], BaseException | None], None]) -> None:
        """Every room of the namespace on every server (Node's ``allRooms``)."""
        local = set(self.rooms)

        def gathered(items: list[Any], error: BaseException | None) -> None:
            callback(local | {str(room) for room in items}, error)

        rid = uid2()
        self._request(rid, RequestType.ALL_ROOMS, all_rooms_request(self.uid, rid), gathered)

    def server_side_emit(
        self,
        args: list[Any],
        callback: Callable[[BaseException | None, list[Any]], None] | None,
    ) -> None:
        if callback is None:
            self._link.publish(self.channels.request, server_side_emit_request(self.uid, args))
            return
        rid = uid2()
        payload = server_side_emit_request(self.uid, args, rid)

        def answered(responses: list[Any], error: BaseException | None) -> None:
            callback(error, responses)

        self._request(rid, RequestType.SERVER_SIDE_EMIT, payload, answered)

    def _request(
        self,
        rid: RequestId,
        kind: RequestType,
        payload: bytes,
        done: Done,
        timeout: float | None = None,
    ) -> None:
        request = _Request(kind, done)
        self._requests[rid] = request
        request.timer = self.reactor.call_later(timeout or self.request_timeout, self._expire, rid)

        def published(count: int | BaseException) -> None:
            if isinstance(count, BaseException):
                self._finish(rid, ClusterRequestError(f"Redis: {count}"))
                return
            self.servers = max(1, count)
            request.expected = count
            self._check(rid, request)

        self._link.publish_counted(self.channels.request, payload, published)

    def _arrived(self, rid: RequestId, items: list[Any]) -> None:
        request = self._requests.get(rid)
        if request is None:
            return  # another server's, finished, or late
        request.items.extend(items)
        request.arrived += 1
        self._check(rid, request)

    def _check(self, rid: RequestId, request: _Request) -> None:
        if request.expected is not None and request.arrived >= request.expected:
            self._finish(rid, None)

    def _expire(self, rid: RequestId) -> None:
        request = self._requests.get(rid)
        if request is None:
            return
        expected = "?" if request.expected is None else request.expected
        error = ClusterRequestError(
            f"timeout reached: only {request.arrived} responses received out of {expected}"
            f" ({request.kind.name})"
        )
        self._finish(rid, error)

    def _finish(self, rid: RequestId, error: BaseException | None) -> None:
        request = self._requests.pop(rid, None)
        if request is None:
            return
        if request.timer is not None:
            request.timer.cancel()
        try:
            request.done(request.items, error)
        except Exception:
            log.exception("error in a Redis adapter request callback")

    # -- receiving ------------------------------------------------------------------------------

    def on_broadcast(self, channel: bytes, payload: bytes) -> None:
        """A message on one of the namespace's broadcast channels."""
        room = self.channels.room_of(channel)
        if room is None or (room and room not in self.rooms):
            return  # a room this server does not have: not even decoded
        try:
            message = decode_broadcast(payload)
            if message.uid == self.uid or message.nsp != self.nsp.name:
                return
            packet = Packet(PacketType.EVENT, self.nsp.name, message.data)
            InMemoryAdapter.broadcast(self, packet, _local_options(message.opts))
        except (FormatError, ValueError, TypeError, PacketError) as exc:
            log.warning("bad broadcast on %s: %s", channel.decode("utf-8", "replace"), exc)

    def on_request_channel(self, channel: bytes, payload: bytes) -> None:
        """A message on the request channel, or on a response channel."""
        if channel.startswith(self._responses):
            if self._requests or self._ack_requests:  # nothing awaited: not even decoded
                self._on_response(payload)
            return
        try:
            request = decode_request(payload)
        except FormatError as exc:
            log.warning("bad request on %s: %s", self.channels.request, exc)
            return
        try:
            self._on_request(request)
        except (ValueError, TypeError, PacketError) as exc:
            log.warning("bad %s request from %s: %s", request.type.name, request.uid, exc)

    def _on_request(self, request: Request) -> None:
        kind = request.type
        rid = request.request_id
        if request.uid == self.uid:  # this server's own request, back
            if rid is not None:
                if rid in self._requests:
                    self._arrived(rid, [])
                elif kind is RequestType.BROADCAST and rid in self._ack_requests:
                    self._ack_requests[rid].echo()
            return
        if kind is RequestType.SOCKETS:
            opts = BroadcastOptions(frozenset(request.rooms))
            sids = [socket.id for socket in self.local_sockets(opts)]
            self._respond(request, sockets_response(_rid(rid), sids))
        elif kind is RequestType.ALL_ROOMS:
            self._respond(request, all_rooms_response(_rid(rid), list(self.rooms)))
        elif kind in _ROOM_OPERATIONS:
            self._on_room_operation(request)
        elif kind is RequestType.REMOTE_FETCH:
            assert request.opts is not None
            sockets = self.local_sockets(_local_options(request.opts))
            described = [_describe(socket) for socket in sockets]
            self._respond(request, fetch_response(_rid(rid), described))
        elif kind is RequestType.SERVER_SIDE_EMIT:
            self._on_server_side_emit(request)
        elif kind is RequestType.BROADCAST:
            self._on_broadcast_request(request)

    def _on_room_operation(self, request: Request) -> None:
        kind = request.type
        if request.opts is not None:
            opts = _local_options(request.opts)
            rooms = frozenset(request.rooms)
            if kind is RequestType.REMOTE_JOIN:
                InMemoryAdapter.add_sockets(self, opts, rooms)
            elif kind is RequestType.REMOTE_LEAVE:
                InMemoryAdapter.del_sockets(self, opts, rooms)
            else:
                InMemoryAdapter.disconnect_sockets(self, opts, request.close)
            return
        # The older form: one socket, answered if it is here.
        socket = self.nsp.sockets.get(request.sid or "")
        if socket is None:
            return
        if kind is RequestType.REMOTE_JOIN:
            socket.join(request.room or "")
        elif kind is RequestType.REMOTE_LEAVE:
            socket.leave(request.room or "")
        else:
            socket.disconnect(request.close)
        self._respond(request, done_response(request.request_id))

    def _on_server_side_emit(self, request: Request) -> None:
        args = request.data
        assert args
        rid = request.request_id
        if rid is None:
            errors = self.nsp.server_side_handlers.dispatch(args[0], args[1:], None, self.nsp)
            self.nsp.server.stats.handler_errors += errors
            return
        answered = False

        def ack(*values: Any) -> None:
            nonlocal answered
            if answered:  # one answer per server, its first argument (as Node)
                return
            answered = True
            answer = server_side_emit_response(rid, values[0] if values else MISSING)
            # Always on the shared response channel (as Node).
            self._link.publish(self.channels.response, answer)

        errors = self.nsp.server_side_handlers.dispatch(args[0], args[1:], ack, self.nsp)
        self.nsp.server.stats.handler_errors += errors

    def _on_broadcast_request(self, request: Request) -> None:
        assert request.opts is not None and request.data is not None
        rid = _rid(request.request_id)
        # Node applies the rooms only (not the flags) to a broadcast with acks.
        opts = BroadcastOptions(
            frozenset(request.opts.rooms),
            frozenset(request.opts.except_rooms),
            BroadcastFlags(local=True),
        )
        packet = Packet(PacketType.EVENT, self.nsp.name, request.data)

        def count(clients: int) -> None:
            self._respond(request, client_count_response(rid, clients))

        def acked(response: Any) -> None:
            try:
                self._respond(request, broadcast_ack_response(rid, response))
            except (TypeError, ValueError) as exc:
                log.warning("an acknowledgement that cannot be sent back: %s", exc)

        ack_id = InMemoryAdapter.broadcast_with_ack(self, packet, opts, count, acked)
        # The requester stops listening at its timeout: so do its clients' acks here.
        timeout = request.opts.timeout or self.request_timeout
        self.reactor.call_later(timeout, self.forget_acks, ack_id)

    def _respond(self, request: Request, payload: bytes) -> None:
        """Node's ``publishResponse``: the shared response channel, or the requester's own."""
        channel = self.channels.response
        if self._link.specific_responses and isinstance(request.uid, str):
            channel = self.channels.specific_response(request.uid)
        self._link.publish(channel, payload)

    def _on_response(self, payload: bytes) -> None:
        try:
            response = decode_response(payload)
        except FormatError as exc:
            log.warning("bad response on %s: %s", self.channels.response, exc)
            return
        rid = response.request_id
        entry = self._ack_requests.get(rid)
        if entry is not None:
            if response.type is RequestType.BROADCAST_CLIENT_COUNT:
                entry.count(response.client_count)
            elif response.type is RequestType.BROADCAST_ACK:
                entry.ack(response.packet)
            return
        request = self._requests.get(rid)
        if request is None:
            return
        self._arrived(rid, _items(request.kind, response))

    # -- closing --------------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        super().close()
        for rid in list(self._requests):
            self._finish(rid, ClusterRequestError("the server is closing"))
        for entry in self._ack_requests.values():
            if entry.timer is not None:
                entry.timer.cancel()
        self._ack_requests.clear()
        self._link.detach(self)


_ROOM_OPERATIONS = frozenset(
    {RequestType.REMOTE_JOIN, RequestType.REMOTE_LEAVE, RequestType.REMOTE_DISCONNECT}
)


def _rid(rid: RequestId | None) -> RequestId:
    assert rid is not None  # the format requires one for the requests that are answered
    return rid


def _local_options(opts: Opts) -> BroadcastOptions:
    """Another server's options, applied here only."""
    return BroadcastOptions(
        frozenset(opts.rooms),
        frozenset(opts.except_rooms),
        BroadcastFlags(local=True, volatile=opts.volatile, timeout=opts.timeout),
    )


def _items(kind: RequestType, response: Response) -> list[Any]:
    """What one server's response adds to the request's results."""
    if kind is RequestType.REMOTE_FETCH or kind is RequestType.SOCKETS:
        return response.sockets or []
    if kind is RequestType.ALL_ROOMS:
        return response.rooms or []
    if kind is RequestType.SERVER_SIDE_EMIT:
        return [response.data]
    return []


def redis_pubsub_adapter_factory(
    reactor: Reactor,
    url: str,
    *,
    prefix: str = DEFAULT_PREFIX,
    request_timeout: float = REQUEST_TIMEOUT,
    specific_response_channel: bool = False,
) -> Callable[[Namespace], RedisPubSubAdapter]:
    """``sio.Server(adapter=...)`` for a fleet sharing the Redis at ``url``
    (``redis://HOST:PORT[/DB]``) with Node servers using ``@socket.io/redis-adapter``.

    One factory per server: its namespaces share one publishing and one subscribed connection,
    opened on ``reactor`` with the first namespace. ``prefix`` is Node's ``key`` option,
    ``request_timeout`` (seconds) its ``requestsTimeout``, ``specific_response_channel`` its
    ``publishOnSpecificResponseChannel`` (answers to a server on its own channel).
    """
    link = _Link(reactor, url, prefix, request_timeout, specific_response_channel)

    def make(nsp: Namespace) -> RedisPubSubAdapter:
        return RedisPubSubAdapter(nsp, link)

    return make
