"""The messages servers of a cluster exchange, sans-IO: Node's ``ClusterMessage`` set
(``socket.io-adapter/lib/cluster-adapter.ts``), whatever carries them.

Every message is ``{uid, nsp, type, data}``: ``uid`` names the sending server, ``nsp`` the
namespace whose adapter handles it, and ``data`` has the shape Node gives each type::

    BROADCAST                  {packet, opts, requestId?}   requestId: acks are collected
    SOCKETS_JOIN/SOCKETS_LEAVE {opts, rooms}
    DISCONNECT_SOCKETS         {opts, close}
    FETCH_SOCKETS              {opts, requestId}
    FETCH_SOCKETS_RESPONSE     {requestId, sockets}
    SERVER_SIDE_EMIT           {packet, requestId?}         packet: [event, *args]
    SERVER_SIDE_EMIT_RESPONSE  {requestId, packet}
    BROADCAST_CLIENT_COUNT     {requestId, clientCount}
    BROADCAST_ACK              {requestId, packet}
    INITIAL_HEARTBEAT, HEARTBEAT, ADAPTER_CLOSE             no data

    opts = {rooms: [...], except: [...], flags: {volatile?, local?, timeout? (ms)}}

A BROADCAST's ``packet`` is a Socket.IO packet (``sio.Packet``), or that packet already encoded
(``EncodedPacket``): a transport may carry either, and a receiver delivers an encoded one as is.

How messages travel is the transport's (``ClusterTransport``): the IPC bus of the fork cluster
(``cluster/bus.py``), and Redis later. The adapter logic (``cluster/adapter.py``) is the same
over any of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

from sio.protocol import Packet, Restored

__all__ = [
    "REQUEST_TYPES",
    "RESPONSE_TYPES",
    "ClusterMessage",
    "ClusterTransport",
    "EncodedPacket",
    "MessageSink",
    "MessageType",
    "RecoveryTransport",
    "RestoreCallback",
    "response_without_namespace",
]


class MessageType(IntEnum):
    INITIAL_HEARTBEAT = 1
    HEARTBEAT = 2
    BROADCAST = 3
    SOCKETS_JOIN = 4
    SOCKETS_LEAVE = 5
    DISCONNECT_SOCKETS = 6
    FETCH_SOCKETS = 7
    FETCH_SOCKETS_RESPONSE = 8
    SERVER_SIDE_EMIT = 9
    SERVER_SIDE_EMIT_RESPONSE = 10
    BROADCAST_CLIENT_COUNT = 11
    BROADCAST_ACK = 12
    ADAPTER_CLOSE = 13


#: Answers to one server's request: sent to that server only (``publish_response``).
RESPONSE_TYPES = frozenset(
    {
        MessageType.FETCH_SOCKETS_RESPONSE,
        MessageType.SERVER_SIDE_EMIT_RESPONSE,
        MessageType.BROADCAST_CLIENT_COUNT,
        MessageType.BROADCAST_ACK,
    }
)

#: Requests whose sender waits for an answer from every other server.
REQUEST_TYPES = frozenset(
    {MessageType.FETCH_SOCKETS, MessageType.SERVER_SIDE_EMIT, MessageType.BROADCAST}
)


@dataclass(frozen=True, slots=True)
class EncodedPacket:
    """A Socket.IO packet as its Engine.IO messages, in the server's parser (JSON: text, then
    binary attachments; msgpack: one binary message). Every worker of a fork cluster has the
    same parser, so the bus carries them as they are; a transport that must give the packet
    to another format (Redis Streams: Node's ``{type, data}``) takes ``packet``, the packet
    itself when the sender had it (None: decode the messages, JSON)."""

    messages: list[str | bytes]
    packet: Packet | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class ClusterMessage:
    uid: str
    nsp: str
    type: MessageType
    data: Any = None


class MessageSink(Protocol):
    """What a transport delivers to: the cluster adapter of one namespace."""

    def on_message(self, message: ClusterMessage) -> None:
        """A message from another server, for this namespace."""
        ...

    def on_node_left(self, uid: str, why: str) -> None:
        """Server ``uid`` is gone (``why``, for errors): stop waiting for its answers."""
        ...


class ClusterTransport(Protocol):
    """Carries messages between the servers of a cluster."""

    #: This server's id in the cluster (the ``uid`` of what it sends).
    uid: str

    @property
    def nodes(self) -> frozenset[str]:
        """The other servers known to be up."""
        ...

    def register(self, nsp: str, sink: MessageSink) -> None:
        """Deliver the messages of namespace ``nsp`` to ``sink``."""
        ...

    def publish(self, message: ClusterMessage) -> None:
        """Send ``message`` to every other server."""
        ...

    def publish_response(self, requester_uid: str, message: ClusterMessage) -> None:
        """Send ``message`` (an answer) to server ``requester_uid`` only."""
        ...


#: ``callback(restored)``: the session given back, or None (the client starts afresh).
RestoreCallback = Callable[[Restored | None], None]


class RecoveryTransport(Protocol):
    """A transport that also keeps the cluster's recovery state (the packet log and the
    sessions) where a dead server's clients can find it again (connection state recovery)."""

    #: Does the log name the offsets (Redis Streams: its entries' ids)? Then a BROADCAST goes
    #: without one and ``on_logged`` says which it got; else its data holds ``offset``, chosen
    #: by the adapter (the fork cluster's bus).
    assigns_offsets: bool

    def publish_logged(
        self,
        message: ClusterMessage,
        everywhere: bool,
        on_logged: Callable[[str | None], None],
    ) -> None:
        """Log a BROADCAST and, if ``everywhere``, send it to every other server;
        ``on_logged(offset)`` once it is in the log (calls come in publishing order; the offset
        is the log's when it assigns them, else None)."""
        ...

    def update_session(self, nsp: str, update: dict[str, Any]) -> None:
        """A session changed (see ``cluster/frames.py:Recovery.SESSION``)."""
        ...

    def restore_session(self, nsp: str, pid: str, offset: str, callback: RestoreCallback) -> None:
        """Session ``pid`` of ``nsp`` back (once), with what it missed after ``offset``."""
        ...


def response_without_namespace(message: ClusterMessage, uid: str) -> ClusterMessage | None:
    """What server ``uid`` answers to a request for a namespace it does not have (a dynamic
    namespace none of its clients joined): nothing found, at once, so that the requester does
    not wait for it until its timeout. None when the message asks for no answer."""
    data = message.data if isinstance(message.data, dict) else {}
    request_id = data.get("requestId")
    if request_id is None:
        return None
    kind = message.type
    if kind is MessageType.FETCH_SOCKETS:
        answer = {"requestId": request_id, "sockets": []}
        return ClusterMessage(uid, message.nsp, MessageType.FETCH_SOCKETS_RESPONSE, answer)
    if kind is MessageType.BROADCAST:
        count = {"requestId": request_id, "clientCount": 0}
        return ClusterMessage(uid, message.nsp, MessageType.BROADCAST_CLIENT_COUNT, count)
    if kind is MessageType.SERVER_SIDE_EMIT:
        # No "packet": answered, with nothing to add to the responses (Node's servers always
        # have the namespace, so they never need this answer).
        answer = {"requestId": request_id}
        return ClusterMessage(uid, message.nsp, MessageType.SERVER_SIDE_EMIT_RESPONSE, answer)
    return None
