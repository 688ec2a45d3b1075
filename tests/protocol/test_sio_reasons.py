"""Why a socket leaves: every Engine.IO reason has its Socket.IO reason, named as Node names it."""

from __future__ import annotations

import pytest

from eio import DisconnectReason as EngineReason
from sio.reasons import FROM_ENGINE, DisconnectReason


def test_sio_reasons_cover_every_engine_reason() -> None:
    assert set(FROM_ENGINE) == set(EngineReason)


@pytest.mark.parametrize("engine", list(EngineReason), ids=[r.name for r in EngineReason])
def test_sio_reasons_keep_the_reference_servers_words(engine: EngineReason) -> None:
    # Node's socket.io passes the engine's reason string through unchanged.
    assert str(FROM_ENGINE[engine]) == str(engine)
    assert isinstance(FROM_ENGINE[engine], DisconnectReason)
