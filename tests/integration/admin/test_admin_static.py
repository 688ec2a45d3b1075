"""``--admin-ui-dir``: the UI's own files under ``/admin/``, and nothing else.

Each file type with its content type; ``/admin`` redirects to ``/admin/`` (the page's links are
relative); 404 for a missing file, for ``..`` plain or percent-encoded (``%2e%2e``, ``%2F``),
for a backslash, a NUL, an absolute path after the prefix and a symlink out of the folder; 405
for other methods; other paths go to the application's handler. Then the real package's
``ui/dist`` through a real server.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from protocol.wire.clients import http_request

import admin
import sio
from eio import HttpHandler, HttpRequest, HttpResponse

from ..chat.conftest import ServerFactory

UI_DIST = (
    Path(__file__).resolve().parents[2]
    / "node"
    / "node_modules"
    / "@socket.io"
    / "admin-ui"
    / "ui"
    / "dist"
)


@pytest.fixture
def ui_dir(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "js").mkdir(parents=True)
    (root / "css").mkdir()
    (root / "img").mkdir()
    (root / "index.html").write_text("<html>ui</html>")
    (root / "js" / "app.js").write_text("let x = 1;")
    (root / "css" / "app.css").write_text("body {}")
    (root / "img" / "logo.svg").write_text("<svg/>")
    (root / "favicon.png").write_bytes(b"\x89PNG")
    (tmp_path / "secret.txt").write_text("do not serve")
    (root / "js" / "out.js").symlink_to(tmp_path / "secret.txt")
    return root


def get(handler: HttpHandler, target: str, method: str = "GET") -> HttpResponse:
    response = handler(HttpRequest.build(method, target))
    assert response is not None, target
    return response


@pytest.mark.parametrize(
    ("target", "content_type", "body"),
    [
        ("/admin/", "text/html; charset=utf-8", b"<html>ui</html>"),
        ("/admin/index.html", "text/html; charset=utf-8", b"<html>ui</html>"),
        ("/admin/js/app.js", "application/javascript; charset=utf-8", b"let x = 1;"),
        ("/admin/css/app.css", "text/css; charset=utf-8", b"body {}"),
        ("/admin/img/logo.svg", "image/svg+xml", b"<svg/>"),
        ("/admin/favicon.png", "image/png", b"\x89PNG"),
        ("/admin/js/app.js?v=3", "application/javascript; charset=utf-8", b"let x = 1;"),
        ("/admin/js%2Fapp.js", "application/javascript; charset=utf-8", b"let x = 1;"),
    ],
)
def test_files_with_their_types(ui_dir: Path, target: str, content_type: str, body: bytes) -> None:
    response = get(admin.static_ui_handler(ui_dir), target)
    assert response.status == 200
    assert dict(response.headers)["content-type"] == content_type
    assert response.body == body


@pytest.mark.parametrize(
    "target",
    [
        "/admin/missing.js",
        "/admin/js/missing.js",
        "/admin/../secret.txt",
        "/admin/js/../../secret.txt",
        "/admin/%2e%2e/secret.txt",
        "/admin/%2E%2E%2Fsecret.txt",
        "/admin/js/%2e%2e/%2e%2e/secret.txt",
        "/admin/%2e%2e%5csecret.txt",
        "/admin/..%5Csecret.txt",
        "/admin/%00index.html",
        "/admin//etc/passwd",
        "/admin/%2Fetc%2Fpasswd",
        "/admin/js/out.js",
        "/admin/%ff%fe",
    ],
)
def test_nothing_outside_the_folder(ui_dir: Path, target: str) -> None:
    response = get(admin.static_ui_handler(ui_dir), target)
    assert response.status == 404
    assert b"do not serve" not in response.body and b"root:" not in response.body


def test_redirect_methods_and_fallback(ui_dir: Path) -> None:
    def app(request: HttpRequest) -> HttpResponse | None:
        return HttpResponse(200, [], b"app") if request.path == "/" else None

    handler = admin.static_ui_handler(ui_dir, fallback=app)
    moved = get(handler, "/admin")
    assert (moved.status, dict(moved.headers)["location"]) == (301, "/admin/")
    assert get(handler, "/admin/", "POST").status == 405
    assert get(handler, "/").body == b"app"
    assert handler(HttpRequest.build("GET", "/administrator")) is None
    assert admin.static_ui_handler(ui_dir)(HttpRequest.build("GET", "/")) is None


def test_a_folder_that_is_not_the_ui_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"index\.html"):
        admin.static_ui_handler(tmp_path)


@pytest.mark.skipif(not UI_DIST.is_dir(), reason="the npm test packages are not installed")
def test_the_real_ui_through_a_server(server_factory: ServerFactory) -> None:
    def serve_ui(io: sio.Server) -> None:
        io.eio.http_handler = admin.static_ui_handler(UI_DIST)

    server = server_factory(setup=serve_ui)
    address = (server.host, server.port)
    page = http_request(address, "GET", "/admin/")
    assert page.status == 200 and b"Socket.IO Admin UI" in page.body
    scripts = [name.name for name in (UI_DIST / "js").glob("app.*.js")]
    script = http_request(address, "GET", f"/admin/js/{scripts[0]}")
    assert script.status == 200
    assert script.header("content-type") == "application/javascript; charset=utf-8"
    assert script.body == (UI_DIST / "js" / scripts[0]).read_bytes()
    assert http_request(address, "GET", "/admin/%2e%2e/%2e%2e/package.json").status == 404
