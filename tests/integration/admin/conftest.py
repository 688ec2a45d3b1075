"""The Admin UI tests reuse the chat tests' fixtures: a client reactor thread, recording
clients, in-process servers, and the check that our code logged no error."""

from __future__ import annotations

from ..chat.conftest import client_factory, loop, no_unhandled_errors, server_factory

__all__ = ["client_factory", "loop", "no_unhandled_errors", "server_factory"]
