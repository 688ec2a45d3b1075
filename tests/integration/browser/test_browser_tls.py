"""Chromium over TLS: the page, the client bundle and Socket.IO served by our server on https,
the chat scenario of ``test_browser_client`` in each transport mode (https polling, wss).

Chromium trusts the test certificate through ``--ignore-certificate-errors-spki-list`` with
the SHA-256 of its public key: certificate errors are ignored for that key only, so the pin is
still checked (a Chromium without it refuses the page, as the last test shows)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ..tls_support import TlsFiles
from .conftest import (
    Browser,
    BrowserChatServer,
    ScenarioFailed,
    _requirements,
    _static_files,
)
from .test_browser_client import MODES, run_chat


@pytest.fixture(scope="module")
def tls_browser(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles) -> Iterator[Browser]:
    node = _requirements()
    log_path = tmp_path_factory.mktemp("browser-tls") / "driver.log"
    pin = f"--ignore-certificate-errors-spki-list={tls_files.good_spki_sha256}"
    with log_path.open("w", encoding="utf-8") as log:
        driver = Browser(node, log, [pin])
        try:
            yield driver
        finally:
            driver.close()


@pytest.fixture
def tls_server(tls_browser: Browser, tls_files: TlsFiles) -> Iterator[BrowserChatServer]:
    cert = tls_files.good
    server = BrowserChatServer(_static_files(), certfile=cert.certfile, keyfile=cert.keyfile)
    yield server
    server.stop()


@pytest.mark.parametrize("mode", MODES)
def test_browser_chat_over_tls(
    tls_browser: Browser, tls_server: BrowserChatServer, mode: str
) -> None:
    assert tls_server.origin.startswith("https://")
    run_chat(tls_browser, tls_server, mode, tls_server, recovery=False)


def test_browser_without_the_pin_refuses_the_page(
    browser: Browser, tls_server: BrowserChatServer
) -> None:
    params: dict[str, Any] = {"scenario": "chat", "url": None, "transports": None}
    with pytest.raises(ScenarioFailed, match="ERR_CERT_AUTHORITY_INVALID"):
        browser.run(tls_server.origin + "/", params, timeout=10.0)
