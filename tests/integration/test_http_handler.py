"""The ``http_handler`` hook: the application's own routes next to the Engine.IO endpoint."""

from __future__ import annotations

import pytest
from protocol.wire.clients import ConnectionClosedError, WsClient, WsRefused, http_request
from protocol.wire.helpers import parse_open, polling_url

from eio import HttpRequest, HttpResponse

from .conftest import StartServer


def app(request: HttpRequest) -> HttpResponse | None:
    if request.path == "/" and request.method == "GET":
        return HttpResponse(
            200, [("content-type", "text/plain")], b"hello " + request.query_string.encode()
        )
    if request.path == "/boom":
        raise RuntimeError("boom")
    if request.path == "/echo-headers":
        value = request.header("x-test") or ""
        return HttpResponse(200, [("x-seen", value)], b"")
    return None


def test_plain_route_served(start_server: StartServer) -> None:
    server = start_server(http_handler=app)
    response = http_request(server.address, "GET", "/?who=me")
    assert response.status == 200
    assert response.body == b"hello who=me"
    assert response.header("content-length") == str(len(response.body))


def test_request_headers_reach_handler(start_server: StartServer) -> None:
    server = start_server(http_handler=app)
    response = http_request(server.address, "GET", "/echo-headers", [("X-Test", "v1")])
    assert response.header("x-seen") == "v1"


@pytest.mark.parametrize("path", ["/missing", "/engine", "/engine.iox/"])
def test_unknown_route_is_404(start_server: StartServer, path: str) -> None:
    server = start_server(http_handler=app)
    assert http_request(server.address, "GET", path).status == 404


def test_no_handler_is_404(start_server: StartServer) -> None:
    server = start_server()
    assert http_request(server.address, "GET", "/").status == 404


def test_handler_error_is_500_and_server_goes_on(start_server: StartServer) -> None:
    server = start_server(http_handler=app)
    assert http_request(server.address, "GET", "/boom").status == 500
    assert http_request(server.address, "GET", "/").status == 200


def test_engine_path_not_passed_to_handler(start_server: StartServer) -> None:
    server = start_server(http_handler=app)
    response = http_request(server.address, "GET", polling_url(server.wire))
    assert response.status == 200
    parse_open(response.text)


def test_plain_routes_on_keep_alive_connection(start_server: StartServer) -> None:
    server = start_server(http_handler=app)
    with server.wire.http() as client:
        assert client.request("GET", "/").status == 200
        assert client.request("GET", "/missing").status == 404
        assert client.request("GET", polling_url(server.wire)).status == 200
        assert client.request("GET", "/?again").body == b"hello again"


def test_websocket_outside_engine_path_refused(start_server: StartServer) -> None:
    server = start_server(http_handler=app)
    with pytest.raises((WsRefused, ConnectionClosedError)) as info:
        WsClient.connect(server.address, "/chat")
    if isinstance(info.value, WsRefused):
        assert info.value.status == 404


def test_head_on_plain_route(start_server: StartServer) -> None:
    """A HEAD (a load balancer's health check) gets the GET's headers and no body."""

    def health(request: HttpRequest) -> HttpResponse | None:
        if request.path == "/health":
            return HttpResponse(200, [("content-type", "text/plain")], b"ok\n")
        return None

    server = start_server(http_handler=health)
    with server.wire.http() as client:
        response = client.request("HEAD", "/health")
        assert response.status == 200
        assert response.header("content-length") == "3"
        assert response.body == b""
        assert client.request("GET", "/health").body == b"ok\n"
