"""Session ids: 20 URL-safe characters from the OS CSPRNG, like the reference server's base64id."""

from __future__ import annotations

import secrets

__all__ = ["generate_sid"]


def generate_sid() -> str:
    """A fresh session id: 120 random bits in URL-safe base64."""
    return secrets.token_urlsafe(15)
