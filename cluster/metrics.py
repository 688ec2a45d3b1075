"""Prometheus metrics: ``GET /metrics`` on a server's own HTTP routes (``install_metrics``).

The figures are the statistics seam's plain counters (``eio/stats.py``, ``sio/stats.py``),
gauges counted from the session table and the namespaces, and the loop-lag histogram
(``reactor/lag.py``), all read when a scrape comes: nothing of ``prometheus_client`` runs on
a hot path. It is imported only when metrics are installed (the ``[metrics]`` extra).

In the fork cluster a scrape lands on one worker (sticky dispatch); that worker asks the others
for their snapshots over the bus (``WorkerBus.gather_metrics``: ``Metrics.QUERY`` and
``REPORT`` frames, JSON) and the master for what it alone knows (workers, restarts, pids), and
answers once all did or after ``GATHER_TIMEOUT``. Every figure is labelled ``worker="<id>"``
(no sums: ``sum without (worker)`` in PromQL gives them); a worker that did not answer in time
is missing from the figures and shows as ``socketio_cluster_worker_reporting{worker} 0``.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from eio import DeferredResponse, HttpRequest, HttpResponse
from reactor import LagHistogram, LoopLagMonitor

if TYPE_CHECKING:
    import sio

    from .bus import WorkerBus

__all__ = [
    "GATHER_TIMEOUT",
    "METRICS_PATH",
    "Metrics",
    "check_metrics_available",
    "install_metrics",
    "render",
    "snapshot_of",
]

#: Where the metrics are served.
METRICS_PATH = "/metrics"
#: Seconds a scraped worker waits for the other workers' snapshots (Prometheus's own scrape
#: timeout is 10 s by default).
GATHER_TIMEOUT = 1.0

MISSING_LIBRARY = "GET /metrics needs prometheus_client: pip install 'sio-chat[metrics]'"


def check_metrics_available() -> None:
    """Raises ImportError (saying what to install) without the ``[metrics]`` extra."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        raise ImportError(MISSING_LIBRARY) from exc


def adapter_health(adapter: object) -> dict[str, float] | None:
    """An adapter's health figures, if it has any (the Redis adapters: ``connected`` 0/1,
    ``dropped`` commands)."""
    health = getattr(adapter, "health", None)
    if not callable(health):
        return None
    figures = health()
    return figures if isinstance(figures, dict) else None


def snapshot_of(
    io: sio.Server, lag: LagHistogram | None = None, worker: int | None = None
) -> dict[str, Any]:
    """One server's figures as plain data (JSON on the cluster bus): its counters, and the
    gauges counted now."""
    sessions = Counter(esock.transport for esock in io.eio.sessions.values())
    sockets: Counter[tuple[str, str]] = Counter()
    adapters: list[list[Any]] = []
    for name, nsp in io.namespaces.items():
        for socket in nsp.sockets.values():
            sockets[name, socket.conn.transport] += 1
        health = adapter_health(nsp.adapter)
        if health is not None:
            adapters.append([name, health])
    return {
        "worker": worker,
        "pid": os.getpid(),
        "engine": io.eio.stats.snapshot(),
        "server": io.stats.snapshot(),
        "sessions": dict(sessions),
        "sockets": [[nsp, transport, count] for (nsp, transport), count in sockets.items()],
        "lag": None
        if lag is None
        else {"bounds": list(lag.bounds), "counts": list(lag.counts), "sum": lag.sum},
        "adapters": adapters,
    }


class Metrics:
    """``GET /metrics`` on ``io``, in front of its other HTTP routes (see ``install_metrics``)."""

    def __init__(
        self,
        io: sio.Server,
        *,
        bus: WorkerBus | None = None,
        worker: int | None = None,
        path: str = METRICS_PATH,
        gather_timeout: float = GATHER_TIMEOUT,
    ) -> None:
        check_metrics_available()
        self.io = io
        self.bus = bus
        self.worker = worker
        self.path = path
        self.gather_timeout = gather_timeout
        self.lag = LoopLagMonitor(io.reactor)
        self.lag.start()
        io.eio.count_traffic()
        self._next = io.eio.http_handler
        #: Scrapes waiting for the gathering under way (at most one at a time: a flood of
        #: scrapes costs the other workers one snapshot each per gathering, not one per scrape).
        self._waiting: list[DeferredResponse] = []
        io.eio.http_handler = self.handle
        if bus is not None:
            bus.metrics_provider = self.snapshot

    def snapshot(self) -> dict[str, Any]:
        return snapshot_of(self.io, self.lag.histogram, self.worker)

    def handle(self, request: HttpRequest) -> HttpResponse | DeferredResponse | None:
        if request.path != self.path:
            return self._next(request) if self._next is not None else None
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(405, [("allow", "GET, HEAD"), ("content-type", "text/plain")])
        if self.bus is None:
            return _response(render([self.snapshot()]))
        deferred = DeferredResponse()
        waiting = self._waiting
        waiting.append(deferred)
        if len(waiting) > 1:
            return deferred  # a gathering is under way: its answer serves this scrape too
        own = self.snapshot()

        def gathered(reports: dict[int, Any], master: dict[str, Any] | None) -> None:
            snapshots = [
                own,
                *(reports[w] for w in sorted(reports) if isinstance(reports[w], dict)),
            ]
            response = _response(render(snapshots, master, clustered=True))
            answered, self._waiting = self._waiting, []
            for scrape in answered:
                scrape.resolve(response)

        self.bus.gather_metrics(self.gather_timeout, gathered)
        return deferred

    def close(self) -> None:
        self.lag.stop()


def install_metrics(
    io: sio.Server, *, bus: WorkerBus | None = None, worker: int | None = None
) -> Metrics:
    """Serve ``GET /metrics`` (Prometheus text format) on ``io``; other paths go to its own
    HTTP routes as before. ``bus`` and ``worker``: a worker of the fork cluster (the cluster
    installs it itself with ``ClusterConfig(metrics=True)``).

    Raises:
        ImportError: the ``[metrics]`` extra (``prometheus_client``) is not installed.
    """
    return Metrics(io, bus=bus, worker=worker)


def _response(body: bytes) -> HttpResponse:
    # The text format 0.0.4 (what generate_latest writes), which every Prometheus reads.
    from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

    return HttpResponse(200, [("content-type", CONTENT_TYPE_PLAIN_0_0_4)], body)


def render(
    snapshots: list[dict[str, Any]],
    master: dict[str, Any] | None = None,
    *,
    clustered: bool = False,
    process: bool = True,
) -> bytes:
    """The Prometheus text exposition of these snapshots (and the master's figures)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snapshots, master, clustered))
    if process:
        registry.register(_ProcessCollector(snapshots, clustered))
    return generate_latest(registry)


def _field(section: str, key: str) -> Callable[[dict[str, Any]], float]:
    """Reads ``snapshot[section][key]``."""

    def pick(snapshot: dict[str, Any]) -> float:
        return float(snapshot[section][key])

    return pick


class _SnapshotCollector:
    """A ``prometheus_client`` collector over snapshots (read at scrape time)."""

    def __init__(
        self, snapshots: list[dict[str, Any]], master: dict[str, Any] | None, clustered: bool
    ) -> None:
        self.snapshots = snapshots
        self.master = master
        self.clustered = clustered

    def _workers(self) -> Iterator[tuple[list[str], dict[str, Any]]]:
        for snap in self.snapshots:
            yield ([str(snap.get("worker"))] if self.clustered else []), snap

    def collect(self) -> Iterable[Any]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        base = ["worker"] if self.clustered else []

        def counter(name: str, doc: str, labels: list[str] | None = None) -> Any:
            return CounterMetricFamily(name, doc, labels=base + (labels or []))

        def gauge(name: str, doc: str, labels: list[str] | None = None) -> Any:
            return GaugeMetricFamily(name, doc, labels=base + (labels or []))

        families: list[Any] = []

        def simple(family: Any, pick: Callable[[dict[str, Any]], float]) -> None:
            for worker, snap in self._workers():
                family.add_metric(worker, pick(snap))
            families.append(family)

        # Gauges, counted at scrape time.
        sockets = gauge(
            "socketio_connected_sockets",
            "Sockets connected now, by namespace and transport.",
            ["namespace", "transport"],
        )
        sessions = gauge(
            "engineio_open_sessions", "Engine.IO sessions open now, by transport.", ["transport"]
        )
        for worker, snap in self._workers():
            for nsp, transport, count in snap.get("sockets", []):
                sockets.add_metric([*worker, nsp, transport], count)
            for transport in ("polling", "websocket"):
                sessions.add_metric([*worker, transport], snap["sessions"].get(transport, 0))
        families += [sockets, sessions]

        # Engine.IO counters.
        simple(
            counter("engineio_handshakes", "Engine.IO sessions opened."),
            lambda s: s["engine"]["handshakes"],
        )
        closes = counter("engineio_closes", "Engine.IO sessions closed, by reason.", ["reason"])
        for worker, snap in self._workers():
            for reason, count in sorted(snap["engine"]["closes"].items()):
                closes.add_metric([*worker, reason], count)
        families.append(closes)
        for direction, verb in (("in", "received"), ("out", "sent")):
            simple(
                counter(f"engineio_packets_{verb}", f"Engine.IO packets {verb}, every transport."),
                _field("engine", f"packets_{direction}"),
            )
            simple(
                counter(
                    f"engineio_{verb}_bytes",
                    f"Bytes of the Engine.IO packets {verb}: websocket frames, polling bodies "
                    "(before HTTP compression).",
                ),
                _field("engine", f"bytes_{direction}"),
            )
        simple(
            counter(
                "engineio_slow_consumers_dropped",
                "Connections dropped as too slow (write buffer over its cap, poll queue full).",
            ),
            lambda s: s["engine"]["slow_consumers"],
        )

        # Socket.IO counters.
        connections = counter(
            "socketio_connections", "Sockets connected, by namespace.", ["namespace"]
        )
        disconnections = counter(
            "socketio_disconnections",
            "Sockets disconnected, by namespace and reason.",
            ["namespace", "reason"],
        )
        for worker, snap in self._workers():
            for nsp, count in sorted(snap["server"]["connections"].items()):
                connections.add_metric([*worker, nsp], count)
            for nsp, reason, count in snap["server"]["disconnections"]:
                disconnections.add_metric([*worker, nsp, reason], count)
        families += [connections, disconnections]
        for name, key, doc in (
            ("socketio_broadcasts", "broadcasts", "Broadcasts with a local recipient."),
            (
                "socketio_deliveries",
                "deliveries",
                "Packets handed to a recipient by a broadcast or an emit.",
            ),
            (
                "socketio_volatile_drops",
                "volatile_drops",
                "Volatile packets dropped: the recipient could not take them then.",
            ),
            (
                "socketio_handler_errors",
                "handler_errors",
                "Exceptions raised by application handlers, middlewares and callbacks.",
            ),
            (
                "socketio_recovery_hits",
                "recovery_hits",
                "Connection state recovery: sessions given back.",
            ),
            (
                "socketio_recovery_misses",
                "recovery_misses",
                "Connection state recovery: restores asked for that found no session.",
            ),
        ):
            simple(counter(name, doc), _field("server", key))

        # The loop's lag.
        lag = HistogramMetricFamily(
            "engineio_event_loop_lag_seconds",
            "How late the reactor ran a timer due every 0.25 s (what delays pings).",
            labels=base,
        )
        for worker, snap in self._workers():
            observed = snap.get("lag")
            if not observed:
                continue
            histogram = LagHistogram(tuple(observed["bounds"]))
            histogram.counts = list(observed["counts"])
            buckets = [
                ("+Inf" if bound == float("inf") else repr(bound), count)
                for bound, count in histogram.cumulative()
            ]
            lag.add_metric(worker, buckets, observed["sum"])
        families.append(lag)

        # Adapters that report their health (the Redis adapters).
        adapter_up = gauge(
            "socketio_adapter_connected",
            "Is the adapter connected to its broker (1) or not (0), by namespace.",
            ["namespace"],
        )
        adapter_dropped = counter(
            "socketio_adapter_dropped",
            "Adapter commands dropped while its broker was unreachable, by namespace.",
            ["namespace"],
        )
        for worker, snap in self._workers():
            for nsp, health in snap.get("adapters", []):
                if "connected" in health:
                    adapter_up.add_metric([*worker, nsp], health["connected"])
                if "dropped" in health:
                    adapter_dropped.add_metric([*worker, nsp], health["dropped"])
        families += [adapter_up, adapter_dropped]

        if self.clustered:
            families += self._cluster_families(counter, gauge)
        return families

    def _cluster_families(
        self, counter: Callable[..., Any], gauge: Callable[..., Any]
    ) -> list[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        master = self.master
        reporting = {str(snap.get("worker")) for snap in self.snapshots}
        families: list[Any] = []
        count = GaugeMetricFamily(
            "socketio_cluster_workers_reporting", "Workers whose figures are in this scrape."
        )
        count.add_metric([], len(reporting))
        families.append(count)
        answered = GaugeMetricFamily(
            "socketio_cluster_master_reporting",
            "Did the master answer this scrape in time (1) or not (0).",
        )
        answered.add_metric([], 0 if master is None else 1)
        families.append(answered)
        if master is None:
            return families
        workers = GaugeMetricFamily("socketio_cluster_workers", "Worker processes configured.")
        workers.add_metric([], int(master.get("workers", 0)))
        families.append(workers)
        per_worker = GaugeMetricFamily(
            "socketio_cluster_worker_reporting",
            "Is this worker's data in this scrape (1), or did it not answer in time (0).",
            labels=["worker"],
        )
        restarts = CounterMetricFamily(
            "socketio_cluster_worker_restarts",
            "Times the master started this worker again after it died.",
            labels=["worker"],
        )
        for worker, times in sorted(master.get("restarts", {}).items(), key=lambda i: int(i[0])):
            per_worker.add_metric([worker], 1 if worker in reporting else 0)
            restarts.add_metric([worker], times)
        families += [per_worker, restarts]
        return families


class _ProcessCollector:
    """``prometheus_client``'s process metrics (CPU, memory, fds) of every reporting worker,
    read from ``/proc`` of its pid (a worker can read its siblings'), labelled by worker."""

    def __init__(self, snapshots: list[dict[str, Any]], clustered: bool) -> None:
        self.snapshots = snapshots
        self.clustered = clustered

    def collect(self) -> Iterable[Any]:
        from prometheus_client import ProcessCollector
        from prometheus_client.metrics_core import Metric

        merged: dict[str, Any] = {}
        for snap in self.snapshots:
            pid = snap.get("pid")
            if not isinstance(pid, int):
                continue
            extra = {"worker": str(snap.get("worker"))} if self.clustered else {}
            source = ProcessCollector(pid=partial(int, pid), registry=None)
            for family in source.collect():
                target = merged.get(family.name)
                if target is None:
                    target = merged[family.name] = Metric(
                        family.name, family.documentation, family.type
                    )
                for sample in family.samples:
                    target.add_sample(sample.name, {**sample.labels, **extra}, sample.value)
        return list(merged.values())
