"""The only place that configures logging handlers (the libraries only log)."""

from __future__ import annotations

import logging
import sys

__all__ = ["set_log_prefix", "setup_logging"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

LEVELS = ("debug", "info", "warning", "error")


def setup_logging(level: str = "info") -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), format=FORMAT, stream=sys.stderr)


def set_log_prefix(prefix: str) -> None:
    """Start every log line of this process with ``[prefix]`` (a cluster worker's id)."""
    for handler in logging.getLogger().handlers:
        handler.setFormatter(logging.Formatter(f"[{prefix}] {FORMAT}"))
