"""The OPEN packet's JSON: exactly sid, upgrades, pingInterval, pingTimeout, maxPayload."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .json_depth import json_depth_exceeds

__all__ = ["MAX_OPEN_DEPTH", "OpenPayload"]

#: Deepest nesting accepted in an OPEN payload (a flat object: anything deep is hostile).
MAX_OPEN_DEPTH = 8


@dataclass(frozen=True, slots=True)
class OpenPayload:
    sid: str
    upgrades: tuple[str, ...]
    ping_interval_ms: int
    ping_timeout_ms: int
    max_payload: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "sid": self.sid,
                "upgrades": list(self.upgrades),
                "pingInterval": self.ping_interval_ms,
                "pingTimeout": self.ping_timeout_ms,
                "maxPayload": self.max_payload,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> OpenPayload:
        """Parse a server's OPEN payload (client side).

        Raises:
            ValueError: not JSON (or nested deeper than an OPEN payload ever is), or a key
                missing or of the wrong type.
        """
        if json_depth_exceeds(text, MAX_OPEN_DEPTH):
            raise ValueError(f"OPEN payload nested deeper than {MAX_OPEN_DEPTH} levels")
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("OPEN payload is not an object")
        sid, upgrades = data.get("sid"), data.get("upgrades", [])
        interval, timeout = data.get("pingInterval"), data.get("pingTimeout")
        max_payload = data.get("maxPayload", 1_000_000)
        if not isinstance(sid, str) or not sid:
            raise ValueError("OPEN payload has no sid")
        if not isinstance(upgrades, list) or not all(isinstance(u, str) for u in upgrades):
            raise ValueError("OPEN payload has bad upgrades")
        for value in (interval, timeout, max_payload):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError("OPEN payload has a bad number")
        assert isinstance(interval, int) and isinstance(timeout, int)
        assert isinstance(max_payload, int)
        return cls(sid, tuple(upgrades), interval, timeout, max_payload)
