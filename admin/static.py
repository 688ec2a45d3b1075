"""Serving the UI's own files (the npm package's ``ui/dist``) under ``/admin/``: optional, for
a UI on the server's own origin instead of the hosted one.

Only files inside the directory are served: the path is percent-decoded first, then refused if
any segment is ``..``/``.``/empty-with-a-root, holds a backslash or NUL, or the resolved file
lies outside the directory (a symlink out). Missing files are 404; directories serve their
``index.html``. Files are read once and kept (the UI is ~2 MB; a page load is a dozen files).
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote

from eio import DeferredResponse, HttpHandler, HttpRequest, HttpResponse

__all__ = ["UI_PREFIX", "static_ui_handler"]

UI_PREFIX = "/admin"

#: Types the UI's files need, whatever the host's mime database says.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}


def content_type(path: Path) -> str:
    known = CONTENT_TYPES.get(path.suffix.lower())
    if known is not None:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def safe_relative(url_path: str) -> str | None:
    """The file a URL path (after the prefix) names, relative, or None if it is not safe."""
    decoded = unquote(url_path, errors="strict") if "%" in url_path else url_path
    if "\\" in decoded or "\x00" in decoded:
        return None
    parts = decoded.split("/")
    if any(part in ("..", ".") for part in parts):
        return None
    relative = "/".join(part for part in parts if part)
    return relative or "index.html"


def _not_found() -> HttpResponse:
    return HttpResponse(404, [("content-type", "text/plain; charset=utf-8")], b"Not Found\n")


def static_ui_handler(directory: str | Path, fallback: HttpHandler | None = None) -> HttpHandler:
    """An ``HttpHandler`` serving ``directory`` under ``/admin/`` (and ``fallback`` elsewhere).

    Raises:
        ValueError: ``directory`` has no ``index.html`` (not the UI's ``dist`` folder).
    """
    root = Path(directory).resolve()
    if not (root / "index.html").is_file():
        raise ValueError(f"{directory} has no index.html (give the admin UI's ui/dist folder)")
    cache: dict[str, HttpResponse] = {}

    def handle(request: HttpRequest) -> HttpResponse | DeferredResponse | None:
        path = request.path
        if path != UI_PREFIX and not path.startswith(UI_PREFIX + "/"):
            return fallback(request) if fallback is not None else None
        if request.method not in ("GET", "HEAD"):
            return HttpResponse(405, [("allow", "GET, HEAD")], b"")
        if path == UI_PREFIX:  # relative links in index.html need the trailing slash
            return HttpResponse(301, [("location", UI_PREFIX + "/")], b"")
        try:
            relative = safe_relative(path[len(UI_PREFIX) + 1 :])
        except UnicodeDecodeError:
            relative = None
        if relative is None:
            return _not_found()
        cached = cache.get(relative)
        if cached is not None:
            return cached
        file = (root / relative).resolve()
        if file.is_dir():
            file = file / "index.html"
        if not file.is_relative_to(root) or not file.is_file():
            return _not_found()
        try:
            body = file.read_bytes()
        except OSError:
            return _not_found()
        response = HttpResponse(
            200,
            [("content-type", content_type(file)), ("cache-control", "no-cache")],
            body,
        )
        cache[relative] = response
        return response

    return handle
