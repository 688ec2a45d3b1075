"""The worker's end of the cluster bus: the ``ClusterTransport`` of the fork cluster.

Frames go to the master, which relays them to the other workers (``cluster/supervisor.py``).
A worker's ``uid`` in the cluster is its worker id, so that an answer goes to its requester's
worker alone. Who is up comes from the master (``Control`` frames), which learns of a death at
once from SIGCHLD: no heartbeats are needed on this transport.
"""

from __future__ import annotations

import itertools
import logging
import socket
from collections import deque
from collections.abc import Callable
from typing import Any

from reactor import Reactor, Stream, TimerHandle
from sio.protocol import Restored, Session

from .frames import (
    ALL,
    MASTER,
    Control,
    Frame,
    FrameDecoder,
    FrameError,
    Metrics,
    Recovery,
    decode_json,
    decode_message,
    decode_payload,
    encode_frame,
    encode_json,
    encode_message,
)
from .messages import ClusterMessage, MessageSink, RestoreCallback, response_without_namespace

__all__ = ["BUS_MAX_BUFFER", "RESTORE_TIMEOUT", "MetricsCallback", "WorkerBus"]

log = logging.getLogger(__name__)

#: Bytes the bus may have unsent before the link is considered broken.
BUS_MAX_BUFFER = 256 * 1024 * 1024
#: Seconds a worker waits for the master's answer to a restore (then: a fresh session).
RESTORE_TIMEOUT = 5.0


#: ``callback(reports, master)``: the other workers' snapshots that came in time, by worker id,
#: and the master's figures (None if it did not answer in time).
MetricsCallback = Callable[[dict[int, Any], dict[str, Any] | None], None]


class _Gathering:
    """A metrics scrape waiting for the other workers' snapshots and the master's figures."""

    __slots__ = ("callback", "expected", "master", "reports", "timer")

    def __init__(self, callback: MetricsCallback, expected: set[int], timer: TimerHandle) -> None:
        self.callback = callback
        self.expected = expected
        self.timer = timer
        self.reports: dict[int, Any] = {}
        self.master: dict[str, Any] | None = None

    @property
    def complete(self) -> bool:
        return self.master is not None and self.expected <= self.reports.keys()


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
        #: Deliveries waiting for the master to confirm their broadcast is logged, in order.
        self._awaiting_log: deque[Callable[[str | None], None]] = deque()
        self._restores: dict[int, tuple[RestoreCallback, TimerHandle]] = {}
        self._restore_ids = itertools.count(1)
        #: What this worker answers a metrics query with (set when metrics are on).
        self.metrics_provider: Callable[[], Any] | None = None
        self._gatherings: dict[int, _Gathering] = {}
        self._gathering_ids = itertools.count(1)
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

    # -- RecoveryTransport ----------------------------------------------------------------------

    #: The adapter chooses the offsets (see ``RecoveryTransport``).
    assigns_offsets = False

    def publish_logged(
        self, message: ClusterMessage, everywhere: bool, on_logged: Callable[[str | None], None]
    ) -> None:
        target = ALL if everywhere and self.peers else MASTER
        self.stream.write(encode_message(message, self.worker_id, target))
        self._awaiting_log.append(on_logged)

    def update_session(self, nsp: str, update: dict[str, Any]) -> None:
        payload = encode_json(update)
        self.stream.write(encode_frame(Recovery.SESSION, self.worker_id, MASTER, payload, nsp))

    def restore_session(self, nsp: str, pid: str, offset: str, callback: RestoreCallback) -> None:
        rid = next(self._restore_ids)
        timer = self.reactor.call_later(RESTORE_TIMEOUT, self._restore_answered, rid, None)
        self._restores[rid] = (callback, timer)
        payload = encode_json({"requestId": rid, "pid": pid, "offset": offset})
        self.stream.write(encode_frame(Recovery.RESTORE, self.worker_id, MASTER, payload, nsp))

    def _restore_answered(self, rid: Any, restored: Restored | None) -> None:
        entry = self._restores.pop(rid, None) if isinstance(rid, int) else None
        if entry is None:
            return  # late (timed out) or stray
        callback, timer = entry
        timer.cancel()
        callback(restored)

    # -- metrics ------------------------------------------------------------------------------

    def gather_metrics(self, timeout: float, callback: MetricsCallback) -> None:
        """Ask every other worker for its snapshot and the master for its figures; call
        ``callback`` once all answered, or after ``timeout`` seconds with what came."""
        rid = next(self._gathering_ids)
        timer = self.reactor.call_later(timeout, self._gathered, rid)
        self._gatherings[rid] = _Gathering(callback, set(self.peers), timer)
        payload = encode_json({"requestId": rid})
        self.stream.write(encode_frame(Metrics.QUERY, self.worker_id, ALL, payload))

    def _gathered(self, rid: int) -> None:
        gathering = self._gatherings.pop(rid, None)
        if gathering is not None:
            gathering.timer.cancel()
            gathering.callback(gathering.reports, gathering.master)

    def _on_metrics_query(self, frame: Frame) -> None:
        provider = self.metrics_provider
        query = decode_json(frame.payload)
        if provider is None or not isinstance(query, dict):
            return
        payload = encode_json({"requestId": query.get("requestId"), "snapshot": provider()})
        self.stream.write(encode_frame(Metrics.REPORT, self.worker_id, frame.source, payload))

    def _on_metrics_report(self, source: int, payload: bytes) -> None:
        report = decode_json(payload)
        if not isinstance(report, dict):
            raise FrameError("metrics report is not an object")
        rid = report.get("requestId")
        gathering = self._gatherings.get(rid) if isinstance(rid, int) else None
        if gathering is None:
            return  # late (timed out) or stray
        if source == MASTER:
            master = report.get("master")
            gathering.master = master if isinstance(master, dict) else {}
        else:
            gathering.reports[source] = report.get("snapshot")
        if gathering.complete:
            self._gathered(rid)  # type: ignore[arg-type]

    # -- StreamProtocol -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        try:
            frames = self._decoder.feed(data)
        except FrameError as exc:
            log.error("broken cluster bus: %s", exc)
            self.stream.abort(exc)
            return
        if len(frames) > 1:
            # Several broadcasts in one read: their fan-outs coalesce (a quiet tick would flush
            # each on its own; see ``Reactor.quiet_tick``).
            self.reactor.tick_events += len(frames)
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
        self._awaiting_log.clear()
        for rid in list(self._restores):
            self._restore_answered(rid, None)
        for peer in list(self.peers):
            self._peer_down(peer, "is unreachable: the master went away")
        self._on_eof()

    # -- receiving ------------------------------------------------------------------------------

    def _dispatch(self, frame: Frame) -> None:
        if frame.kind == Metrics.REPORT:
            self._on_metrics_report(frame.source, frame.payload)
            return
        if frame.source == MASTER:
            self._from_master(frame.kind, frame.payload)
            return
        if frame.kind == Metrics.QUERY:
            self._on_metrics_query(frame)
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
        if kind == Control.LOGGED:
            if self._awaiting_log:
                self._awaiting_log.popleft()(None)
            return
        if kind == Recovery.RESTORED:
            self._on_restored(payload)
            return
        body = decode_json(payload)
        if kind == Control.HELLO:
            self._set_peers({int(w) for w in body.get("workers", []) if int(w) != self.worker_id})
        elif kind == Control.WORKER_UP:
            self._set_peers(self.peers | {int(body["worker"])})
        elif kind == Control.WORKER_DOWN:
            self._peer_down(int(body["worker"]), "died")

    def _on_restored(self, payload: bytes) -> None:
        head, items = decode_payload(payload)
        if not isinstance(head, dict):
            raise FrameError("restore answer is not an object")
        rid = head.get("requestId")
        described = head.get("session")
        restored = None
        if isinstance(described, dict):
            session = Session(
                str(described.get("sid")),
                str(described.get("pid")),
                [str(room) for room in described.get("rooms") or ()],
                described.get("data"),
            )
            missed: list[list[str | bytes]] = []
            offset = 0
            for count in head.get("counts") or ():
                missed.append(items[offset : offset + int(count)])
                offset += int(count)
            restored = Restored(session, missed)
        self._restore_answered(rid, restored)

    def _set_peers(self, peers: set[int]) -> None:
        self.peers = peers
        self._nodes = frozenset(str(peer) for peer in peers)

    def _peer_down(self, worker: int, why: str) -> None:
        if worker not in self.peers:
            return
        self._set_peers(self.peers - {worker})
        for sink in list(self._sinks.values()):
            sink.on_node_left(str(worker), f"worker {worker} {why}")
