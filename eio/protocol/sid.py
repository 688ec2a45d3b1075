"""Session ids: 20 URL-safe characters from the OS CSPRNG, like the reference server's base64id.

A tag (a worker id in the cluster) may lead the id, so that the id alone tells which process owns
the session.
"""

from __future__ import annotations

import secrets

__all__ = ["generate_sid"]


def generate_sid(tag: str = "") -> str:
    """A fresh session id: ``tag`` followed by 120 random bits in URL-safe base64."""
    return tag + secrets.token_urlsafe(15)
