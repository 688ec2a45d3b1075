"""``cluster/metrics.py`` without sockets: the route in front of the app's, the exposition of
snapshots (parsed back with ``prometheus_client``'s parser), and concurrent cluster scrapes
sharing one gathering (a fake bus)."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

import sio
from cluster.metrics import Metrics, render, snapshot_of
from eio import DeferredResponse, HttpRequest, HttpResponse


def samples_of(body: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


class FakeBus:
    def __init__(self) -> None:
        self.gatherings: list[Any] = []
        self.metrics_provider: Any = None

    def gather_metrics(self, timeout: float, callback: Any) -> None:
        self.gatherings.append(callback)


def test_the_route_serves_metrics_and_leaves_the_rest_to_the_app() -> None:
    app = HttpResponse(200, [], b"app")
    io = sio.Server(http_handler=lambda request: app)
    try:
        metrics = Metrics(io)
        response = io.eio.http_handler(HttpRequest.build("GET", "/metrics"))  # type: ignore[misc]
        assert isinstance(response, HttpResponse) and response.status == 200
        assert response.headers == [("content-type", "text/plain; version=0.0.4; charset=utf-8")]
        assert ("engineio_handshakes_total", frozenset()) in samples_of(response.body)
        assert io.eio.http_handler(HttpRequest.build("GET", "/")) is app  # type: ignore[misc]
        refused = metrics.handle(HttpRequest.build("POST", "/metrics"))
        assert isinstance(refused, HttpResponse) and refused.status == 405
        metrics.close()
    finally:
        io.reactor.close()


def test_snapshots_render_with_worker_labels_and_the_masters_figures() -> None:
    io = sio.Server()
    try:
        io.stats.connections["/"] += 3
        io.stats.disconnections["/", "ping timeout"] += 1
        io.eio.stats.bytes_out += 12345
        one = snapshot_of(io, None, 1)
        two = {**snapshot_of(io, None, 2), "pid": None}
        master = {"workers": 3, "restarts": {"1": 0, "2": 2, "3": 1}}
        got = samples_of(render([one, two], master, clustered=True, process=False))
    finally:
        io.reactor.close()

    def at(name: str, **labels: str) -> float | None:
        return got.get((name, frozenset(labels.items())))

    assert at("socketio_connections_total", worker="2", namespace="/") == 3
    assert (
        at("socketio_disconnections_total", worker="1", namespace="/", reason="ping timeout") == 1
    )
    assert at("engineio_sent_bytes_total", worker="1") == 12345
    assert at("socketio_cluster_workers_reporting") == 2
    assert at("socketio_cluster_workers") == 3
    assert at("socketio_cluster_worker_reporting", worker="3") == 0  # did not answer
    assert at("socketio_cluster_worker_restarts_total", worker="2") == 2


def test_concurrent_cluster_scrapes_share_one_gathering() -> None:
    io = sio.Server()
    try:
        bus = FakeBus()
        metrics = Metrics(io, bus=bus, worker=1)  # type: ignore[arg-type]
        assert bus.metrics_provider is not None
        first = metrics.handle(HttpRequest.build("GET", "/metrics"))
        second = metrics.handle(HttpRequest.build("GET", "/metrics"))
        assert isinstance(first, DeferredResponse) and isinstance(second, DeferredResponse)
        assert len(bus.gatherings) == 1
        answers: list[HttpResponse] = []
        first.bind(answers.append)
        second.bind(answers.append)
        bus.gatherings[0]({2: {**bus.metrics_provider(), "worker": 2}}, None)
        assert len(answers) == 2 and answers[0] is answers[1]
        got = samples_of(answers[0].body)
        assert got[("socketio_cluster_workers_reporting", frozenset())] == 2
        assert got[("socketio_cluster_master_reporting", frozenset())] == 0
        # The next scrape gathers again.
        metrics.handle(HttpRequest.build("GET", "/metrics"))
        assert len(bus.gatherings) == 2
        metrics.close()
    finally:
        io.reactor.close()


def test_a_deferred_response_goes_out_once_even_if_resolved_before_it_is_bound() -> None:
    sent: list[HttpResponse] = []
    early = DeferredResponse()
    early.resolve(HttpResponse(200))
    early.bind(sent.append)
    early.resolve(HttpResponse(500))
    late = DeferredResponse()
    late.bind(sent.append)
    late.resolve(HttpResponse(201))
    late.resolve(HttpResponse(500))
    gone = DeferredResponse()
    gone.bind(sent.append)
    gone.abandon()
    gone.resolve(HttpResponse(202))
    assert [response.status for response in sent] == [200, 201]
