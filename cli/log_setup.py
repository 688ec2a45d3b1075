"""The only place that configures logging handlers (the libraries only log)."""

from __future__ import annotations

import logging
import sys

__all__ = ["setup_logging"]

LEVELS = ("debug", "info", "warning", "error")


def setup_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
