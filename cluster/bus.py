"""The worker's end of the cluster bus: the ``ClusterTransport`` of the fork cluster.

Frames go to the master, which relays them to the other workers (``cluster/supervisor.py``).
A worker's ``uid`` in the cluster is its worker id, so that an answer goes to its requester's
worker alone. Who is up comes from the master (``Control`` frames), which learns of a death at
once from SIGCHLD: no heartbeats are needed on this transport.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from reactor import Reactor, Stream

from .frames import (
    ALL,
    MASTER,
    Control,
    Frame,
    FrameDecoder,
    FrameError,
    decode_json,
    decode_message,
    encode_message,
)
from .messages import ClusterMessage, MessageSink, response_without_namespace

__all__ = ["BUS_MAX_BUFFER", "WorkerBus"]

log = logging.getLogger(__name__)

#: Bytes the bus may have unsent before the link is considered broken.
BUS_MAX_BUFFER = 256 * 1024 * 1024


class WorkerBus:
    """Cluster messages between this worker and the others (through the master)."""

    def __init__(
        self,
        reactor: Reactor,
        sock: socket.socket,
        worker_id: int,
        on_eof: Callable[[], None],
    ) -> None:
        self.reactor = reactor
        self.worker_id = worker_id
        self.uid = str(worker_id)
        #: The other live workers, as the master last told us.
        self.peers: set[int] = set()
        self._nodes: frozenset[str] = frozenset()
        self._sinks: dict[str, MessageSink] = {}
        self._on_eof = on_eof
        self._decoder = FrameDecoder()
        self.stream = Stream(reactor, sock, self, max_buffer=BUS_MAX_BUFFER)
        self.stream.start()

    # -- ClusterTransport -----------------------------------------------------------------------

    @property
    def nodes(self) -> frozenset[str]:
        return self._nodes

    def register(self, nsp: str, sink: MessageSink) -> None:
        self._sinks[nsp] = sink

    def publish(self, message: ClusterMessage) -> None:
        if self.peers:
            self.stream.write(encode_message(message, self.worker_id, ALL))

    def publish_response(self, requester_uid: str, message: ClusterMessage) -> None:
        try:
            target = int(requester_uid)
        except ValueError:
            log.error("no worker has uid %r; response dropped", requester_uid)
            return
        self.stream.write(encode_message(message, self.worker_id, target))

    # -- StreamProtocol -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._decoder.feed(data)
        except FrameError as exc:
            log.error("broken cluster bus: %s", exc)
            self.stream.abort(exc)
            return
        for frame, _raw in frames:
            try:
                self._dispatch(frame)
            except FrameError as exc:
                log.error("bad frame %s from worker %s: %s", frame.kind, frame.source, exc)
            except Exception:
                log.exception("error handling frame %s from worker %s", frame.kind, frame.source)

    def eof_received(self) -> None:
        pass

    def connection_lost(self, exc: BaseException | None) -> None:
        for peer in list(self.peers):
            self._peer_down(peer, "is unreachable: the master went away")
        self._on_eof()

    # -- receiving ------------------------------------------------------------------------------

    def _dispatch(self, frame: Frame) -> None:
        if frame.source == MASTER:
            self._from_master(frame.kind, frame.payload)
            return
        message = decode_message(frame)
        sink = self._sinks.get(message.nsp)
        if sink is not None:
            sink.on_message(message)
            return
        answer = response_without_namespace(message, self.uid)
        if answer is not None:
            self.publish_response(message.uid, answer)

    def _from_master(self, kind: int, payload: bytes) -> None:
        body = decode_json(payload)
        if kind == Control.HELLO:
            self._set_peers({int(w) for w in body.get("workers", []) if int(w) != self.worker_id})
        elif kind == Control.WORKER_UP:
            self._set_peers(self.peers | {int(body["worker"])})
        elif kind == Control.WORKER_DOWN:
            self._peer_down(int(body["worker"]), "died")

    def _set_peers(self, peers: set[int]) -> None:
        self.peers = peers
        self._nodes = frozenset(str(peer) for peer in peers)

    def _peer_down(self, worker: int, why: str) -> None:
        if worker not in self.peers:
            return
        self._set_peers(self.peers - {worker})
        for sink in list(self._sinks.values()):
            sink.on_node_left(str(worker), f"worker {worker} {why}")
