"""The master: owns the listening socket, forks the workers, hands each connection to the worker
of its client's slot, relays the bus between workers, restarts the dead, and stops them all.

    client ──TCP──> master ──SCM_RIGHTS (slot = crc32(client IP) % N)──> worker k
                    master <──bus frames──> worker 1..N (relayed, never decoded)

With connection state recovery on, the master also keeps the cluster's recovery store
(``cluster/recovery.py``): it logs each recoverable broadcast as it relays it (reading its
head), confirms it to its sender, tracks sessions, and answers restores.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass

from reactor import Listener, Reactor, Stream, TimerHandle, open_listening_socket
from sio.protocol import RecoveryOptions

from .bus import BUS_MAX_BUFFER
from .fdpass import MAX_QUEUED, FdSender
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
    decode_payload,
    encode_frame,
    encode_json,
    encode_payload,
)
from .messages import MessageType
from .recovery import ClusterRecoveryStore
from .sticky import MAX_PEEK, forwarded_client, head_complete, slot_for
from .worker import AppFactory, run_worker

__all__ = ["ClusterConfig", "Supervisor"]

log = logging.getLogger(__name__)

#: A worker that dies sooner than this after it started counts as a crash loop.
CRASH_LOOP_WINDOW = 2.0
#: Longest wait before restarting a worker that keeps crashing.
MAX_RESTART_DELAY = 5.0
#: Seconds a trusted-proxy connection may take to send its request head.
PEEK_TIMEOUT = 10.0
#: First and longest pause before peeking again at an incomplete request head.
PEEK_RETRY = 0.005
PEEK_RETRY_MAX = 0.1


@dataclass(frozen=True)
class ClusterConfig:
    host: str = "0.0.0.0"
    port: int = 3000
    #: Worker processes.
    workers: int = 2
    #: "ip": sticky by client address (the default). "round-robin": every TCP connection to the
    #: next worker, ignoring stickiness (only to show why stickiness is needed).
    dispatch: str = "ip"
    #: Take the client address from X-Forwarded-For / Forwarded (behind a reverse proxy).
    trusted_proxy: bool = False
    #: Seconds workers get to close their clients at shutdown before they are killed.
    shutdown_timeout: float = 5.0
    #: Connections kept for a worker that is busy or restarting; beyond that they are closed.
    max_queued: int = MAX_QUEUED
    #: Connection state recovery (the workers' servers must have the same): the master keeps
    #: the packet log and the sessions, so that they survive a worker. None: off.
    recovery: RecoveryOptions | None = None
    #: Serve GET /metrics in every worker, gathering all the workers' figures
    #: (``cluster/metrics.py``; needs the ``[metrics]`` extra).
    metrics: bool = False


class _Slot:
    def __init__(self, reactor: Reactor, index: int, max_queued: int) -> None:
        self.index = index
        self.id = index + 1
        self.pid: int | None = None
        self.sender = FdSender(reactor, max_queued)
        self.link: Stream | None = None
        self.started_at = 0.0
        self.failures = 0
        self.restart_timer: TimerHandle | None = None
        #: Times this worker was started again after it died (for metrics).
        self.restarts = 0
        self.logged = encode_frame(Control.LOGGED, MASTER, self.id)


class _HubLink:
    """The master's end of one worker's bus: frames in, relayed to their targets."""

    def __init__(self, supervisor: Supervisor, slot: _Slot) -> None:
        self.supervisor = supervisor
        self.slot = slot
        self.decoder = FrameDecoder()

    def data_received(self, data: bytes) -> None:
        try:
            frames = self.decoder.feed(data)
        except FrameError as exc:
            log.error("broken bus from worker %d: %s", self.slot.id, exc)
            if self.slot.link is not None:
                self.slot.link.abort(exc)
            return
        for frame, raw in frames:
            self.supervisor._relay(self.slot, frame, raw)

    def eof_received(self) -> None:
        pass

    def connection_lost(self, exc: BaseException | None) -> None:
        pass  # the worker's death is learned from SIGCHLD

    def drain(self, sock: socket.socket) -> None:
        """Read what the dead worker wrote before it died (its last broadcasts and session
        changes): the socket keeps it after the process is gone."""
        while True:
            try:
                data = sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not data:
                return
            self.data_received(data)


class _Peeker:
    """Trusted-proxy mode: peek (without consuming) at the request head for the client address.

    Peeking leaves the bytes in the socket, so while the head is incomplete the socket stays
    readable: waiting for readability again would spin. Instead the peeker stops watching the
    socket and peeks again a moment later (sooner after progress), until ``PEEK_TIMEOUT``.
    """

    def __init__(self, supervisor: Supervisor, conn: socket.socket, peer: tuple[str, int] | None):
        self.supervisor = supervisor
        self.conn = conn
        self.peer = peer
        self.timer = supervisor.reactor.call_later(PEEK_TIMEOUT, self.give_up)
        self.retry_timer: TimerHandle | None = None
        self.retry_delay = PEEK_RETRY
        self.seen = 0
        conn.setblocking(False)
        supervisor.reactor.register(conn, self)
        supervisor._peekers.add(self)

    def on_readable(self) -> None:
        try:
            head = self.conn.recv(MAX_PEEK, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.give_up()
            return
        if not head:
            self.give_up()
            return
        if not head_complete(head):
            if _peer_gone(self.conn):
                self.give_up()
                return
            if len(head) > self.seen:
                self.seen = len(head)
                self.retry_delay = PEEK_RETRY
            reactor = self.supervisor.reactor
            reactor.unregister(self.conn)
            self.retry_timer = reactor.call_later(self.retry_delay, self._peek_again)
            self.retry_delay = min(self.retry_delay * 2, PEEK_RETRY_MAX)
            return
        self.done()
        client = forwarded_client(head)
        peer = (client, self.peer[1] if self.peer else 0) if client else self.peer
        self.supervisor._route(self.conn, peer)

    def _peek_again(self) -> None:
        self.retry_timer = None
        self.supervisor.reactor.register(self.conn, self)

    def on_writable(self) -> None:  # pragma: no cover - registered for reading only
        pass

    def done(self) -> None:
        self.timer.cancel()
        if self.retry_timer is not None:
            self.retry_timer.cancel()
            self.retry_timer = None
        self.supervisor.reactor.unregister(self.conn)
        self.supervisor._peekers.discard(self)

    def give_up(self) -> None:
        self.done()
        self.conn.close()


def _peer_gone(conn: socket.socket) -> bool:
    """Has the client reset the connection, or closed its side (so the head will never end)?
    Peeking cannot tell: it returns the same bytes again."""
    try:
        if conn.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            return True
        if sys.platform == "linux" and hasattr(socket, "TCP_INFO"):
            state = conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0]
            return state in _TCP_PEER_CLOSED
    except OSError:
        return True
    return False


#: Frames the recovery store reads (when recovery is on).
_RECOVERY_KINDS = frozenset((MessageType.BROADCAST, Recovery.SESSION, Recovery.RESTORE))
#: Seconds between two prunings of the recovery store.
PRUNE_INTERVAL = 10.0

#: Linux TCP states after the peer's FIN or RST: CLOSE, CLOSE_WAIT, LAST_ACK.
_TCP_PEER_CLOSED = frozenset((7, 8, 9))


class Supervisor:
    """Run ``config.workers`` workers of the app built by ``app_factory`` (see worker.py)."""

    def __init__(
        self,
        config: ClusterConfig,
        app_factory: AppFactory,
        *,
        on_listening: Callable[[tuple[str, int]], None] | None = None,
    ) -> None:
        self.config = config
        self.app_factory = app_factory
        self.on_listening = on_listening
        self.reactor = Reactor()
        self.slots = [
            _Slot(self.reactor, index, config.max_queued) for index in range(config.workers)
        ]
        self._round_robin = itertools.cycle(range(config.workers))
        self._listener: Listener | None = None
        self._peekers: set[_Peeker] = set()
        self._stopping = False
        self._kill_timer: TimerHandle | None = None
        self.recovery = ClusterRecoveryStore(config.recovery) if config.recovery else None
        self._prune_timer: TimerHandle | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def run(self) -> int:
        """Serve until SIGINT/SIGTERM; returns the exit code (0 after a clean stop)."""
        sock = open_listening_socket(self.config.host, self.config.port)
        reactor = self.reactor
        reactor.add_signal_handler(signal.SIGCHLD, self._reap)
        reactor.add_signal_handler(signal.SIGINT, self.stop)
        reactor.add_signal_handler(signal.SIGTERM, self.stop)
        self._listener = Listener(reactor, sock, self._on_accept)
        for slot in self.slots:
            self._spawn(slot)
        if self.recovery is not None:
            self._prune_timer = reactor.call_later(PRUNE_INTERVAL, self._prune)
        address = self._listener.address
        log.info(
            "master %d listening on %s:%d with %d workers", os.getpid(), *address, len(self.slots)
        )
        if self.on_listening is not None:
            self.on_listening(address)
        try:
            reactor.run()
        finally:
            self._kill_all(signal.SIGKILL)
            self._reap()
            reactor.close()
        return 0

    def stop(self) -> None:
        """Stop accepting, ask the workers to close their clients, wait (bounded), exit."""
        if self._stopping:
            log.info("second stop request: killing the workers")
            self._kill_all(signal.SIGKILL)
            return
        self._stopping = True
        log.info("stopping: closing the listener and the workers")
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for peeker in list(self._peekers):
            peeker.give_up()
        for slot in self.slots:
            if slot.restart_timer is not None:
                slot.restart_timer.cancel()
                slot.restart_timer = None
            slot.sender.drop_queued()  # the channels stay: a worker reads EOF as "master died"
        self._kill_all(signal.SIGTERM)
        self._kill_timer = self.reactor.call_later(
            self.config.shutdown_timeout, self._kill_all, signal.SIGKILL
        )
        self._maybe_done()

    def _kill_all(self, signum: int) -> None:
        for slot in self.slots:
            if slot.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(slot.pid, signum)

    def _maybe_done(self) -> None:
        if self._stopping and all(slot.pid is None for slot in self.slots):
            if self._kill_timer is not None:
                self._kill_timer.cancel()
            if self._prune_timer is not None:
                self._prune_timer.cancel()
            self.reactor.stop()

    # -- workers --------------------------------------------------------------------------------

    def _spawn(self, slot: _Slot) -> None:
        slot.restart_timer = None
        if self._stopping:
            return
        fd_parent, fd_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        bus_parent, bus_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        live = [other.id for other in self.slots if other.pid is not None] + [slot.id]
        master_pid = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                fd_parent.close()
                bus_parent.close()
                self._forget_in_child()
                code = run_worker(
                    slot.id,
                    fd_child,
                    bus_child,
                    self.app_factory,
                    master_pid,
                    metrics=self.config.metrics,
                )
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        fd_child.close()
        bus_child.close()
        slot.pid = pid
        slot.started_at = self.reactor.time()
        link = Stream(self.reactor, bus_parent, _HubLink(self, slot), max_buffer=BUS_MAX_BUFFER)
        slot.link = link
        link.start()
        link.write(encode_frame(Control.HELLO, MASTER, slot.id, encode_json({"workers": live})))
        self._tell_others(slot, Control.WORKER_UP)
        slot.sender.attach(fd_parent)
        log.info("worker %d started (pid %d)", slot.id, pid)

    def _forget_in_child(self) -> None:
        """In a new worker: let go of everything of the master's but the worker's own pair."""
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        if self._listener is not None:
            # Its socket and its spare fd, not ``close()``: that would unregister it from the
            # epoll instance this child shares with the master.
            self._listener.close_fds()
        for peeker in self._peekers:
            peeker.conn.close()
        for other in self.slots:
            if other.sender.channel is not None:
                other.sender.channel.close()
            for conn, _payload in other.sender._queue:
                conn.close()
            if other.link is not None:
                other.link.sock.close()
        self.reactor.close()

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            slot = next((s for s in self.slots if s.pid == pid), None)
            if slot is not None:
                self._worker_died(slot, status)
        self._maybe_done()

    def _worker_died(self, slot: _Slot, status: int) -> None:
        slot.pid = None
        if slot.link is not None:
            hub = slot.link.protocol
            if isinstance(hub, _HubLink):
                hub.drain(slot.link.sock)
            slot.link.abort()
            slot.link = None
        if self.recovery is not None:
            kept = self.recovery.worker_died(slot.id, self.reactor.time())
            if kept:
                log.info("kept the %d sessions of worker %d for recovery", kept, slot.id)
        slot.sender.detach()
        self._tell_others(slot, Control.WORKER_DOWN)
        if os.WIFSIGNALED(status):
            how = f"killed by signal {os.WTERMSIG(status)}"
        else:
            how = f"exited with code {os.WEXITSTATUS(status)}"
        if self._stopping:
            log.info("worker %d %s", slot.id, how)
            return
        lived = self.reactor.time() - slot.started_at
        slot.failures = slot.failures + 1 if lived < CRASH_LOOP_WINDOW else 0
        delay = min(0.1 * 2 ** (slot.failures - 1), MAX_RESTART_DELAY) if slot.failures else 0.0
        log.warning("worker %d %s after %.1f s; restarting in %.1f s", slot.id, how, lived, delay)
        slot.restart_timer = self.reactor.call_later(delay, self._spawn, slot)
        slot.restarts += 1

    def _tell_others(self, slot: _Slot, kind: Control) -> None:
        frame = encode_frame(kind, MASTER, ALL, encode_json({"worker": slot.id}))
        for other in self.slots:
            if other is not slot and other.link is not None:
                other.link.write(frame)

    # -- connections ----------------------------------------------------------------------------

    def _on_accept(self, conn: socket.socket, peer: tuple[str, int] | None) -> None:
        if self._stopping:
            conn.close()
            return
        if self.config.trusted_proxy:
            _Peeker(self, conn, peer)
            return
        self._route(conn, peer)

    def _route(self, conn: socket.socket, peer: tuple[str, int] | None) -> None:
        if self.config.dispatch == "round-robin":
            index = next(self._round_robin)
        else:
            index = slot_for(peer[0] if peer else None, len(self.slots))
        self.slots[index].sender.send(conn, peer)

    # -- the bus --------------------------------------------------------------------------------

    def _relay(self, source: _Slot, frame: Frame, raw: bytes) -> None:
        if frame.source != source.id:
            log.error("worker %d sent a frame as worker %d; dropped", source.id, frame.source)
            return
        if self.recovery is not None and frame.kind in _RECOVERY_KINDS:
            try:
                if self._recovery_frame(source, frame, raw):
                    return  # answered here; else relayed as usual, below
            except FrameError as exc:
                log.error("bad frame %d from worker %d: %s", frame.kind, source.id, exc)
                return
        if frame.kind == Metrics.QUERY:
            self._report_metrics(source, frame)
        if frame.target == ALL:
            self._relay_to_others(source, frame, raw)
        elif 1 <= frame.target <= len(self.slots):
            target = self.slots[frame.target - 1]
            if target.link is not None:
                target.link.write(raw)

    def _relay_to_others(self, source: _Slot, frame: Frame, raw: bytes) -> None:
        for other in self.slots:
            if other is not source and other.link is not None:
                other.link.write(raw)

    def _report_metrics(self, source: _Slot, frame: Frame) -> None:
        """A worker gathers metrics: what only the master knows, to it alone."""
        try:
            query = decode_json(frame.payload)
        except FrameError:
            return
        if not isinstance(query, dict) or source.link is None:
            return
        master = {
            "workers": len(self.slots),
            "live": [slot.id for slot in self.slots if slot.pid is not None],
            "restarts": {str(slot.id): slot.restarts for slot in self.slots},
            "pids": {str(slot.id): slot.pid for slot in self.slots if slot.pid is not None},
        }
        payload = encode_json({"requestId": query.get("requestId"), "master": master})
        source.link.write(encode_frame(Metrics.REPORT, MASTER, source.id, payload))

    # -- the recovery store ---------------------------------------------------------------------

    def _recovery_frame(self, source: _Slot, frame: Frame, raw: bytes) -> bool:
        """A frame for the recovery store; True if it ends here (not to be relayed)."""
        recovery = self.recovery
        assert recovery is not None
        now = self.reactor.time()
        kind = frame.kind
        if kind == MessageType.BROADCAST:
            head, items = decode_payload(frame.payload)
            if not isinstance(head, dict) or "offset" not in head:
                return False
            recovery.log(frame.nsp, head, items, now)
            # Relayed before it is confirmed: the sender's own clients get it after the others.
            if frame.target == ALL:
                self._relay_to_others(source, frame, raw)
            if source.link is not None:
                source.link.write(source.logged)
            return True
        if kind == Recovery.SESSION:
            update = decode_json(frame.payload)
            if isinstance(update, dict):
                recovery.on_session(source.id, frame.nsp, update, now)
            return True
        if kind == Recovery.RESTORE:
            request = decode_json(frame.payload)
            if not isinstance(request, dict):
                return True
            pid, offset = request.get("pid"), request.get("offset")
            restored = None
            if isinstance(pid, str) and isinstance(offset, str):
                restored = recovery.restore(frame.nsp, pid, offset, now)
            answer: dict[str, object] = {"requestId": request.get("requestId"), "session": None}
            missed: list[str | bytes] = []
            if restored is not None:
                session = restored.session
                answer["session"] = {
                    "sid": session.sid,
                    "pid": session.pid,
                    "rooms": session.rooms,
                    "data": session.data,
                }
                answer["counts"] = [len(messages) for messages in restored.missed]
                for messages in restored.missed:
                    missed.extend(messages)
            payload = encode_payload(answer, missed)
            if source.link is not None:
                source.link.write(
                    encode_frame(Recovery.RESTORED, MASTER, source.id, payload, frame.nsp)
                )
            return True
        return False

    def _prune(self) -> None:
        if self.recovery is not None:
            self.recovery.prune(self.reactor.time())
        self._prune_timer = self.reactor.call_later(PRUNE_INTERVAL, self._prune)
