"""Scale a Socket.IO server over CPU cores: a master that hands each connection to the worker
of its client's IP (sticky), and a bus that carries broadcasts and room operations between the
workers."""

from __future__ import annotations

from .adapter import ClusterAdapter, RemoteSocket
from .supervisor import ClusterConfig, Supervisor
from .worker import AppFactory

__all__ = ["AppFactory", "ClusterAdapter", "ClusterConfig", "RemoteSocket", "Supervisor"]
