"""A reactor raises the soft RLIMIT_NOFILE to the hard limit (thousands of clients need fds)."""

from __future__ import annotations

import resource
from collections.abc import Iterator

import pytest

from reactor import Reactor, raise_fd_limit


@pytest.fixture
def restore_limits() -> Iterator[tuple[int, int]]:
    limits = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield limits
    resource.setrlimit(resource.RLIMIT_NOFILE, limits)


def test_reactor_raises_soft_limit(restore_limits: tuple[int, int]) -> None:
    _, hard = restore_limits
    lowered = 64 if hard == resource.RLIM_INFINITY else min(64, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
    reactor = Reactor()
    try:
        new_soft, new_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert new_hard == hard
        if hard != resource.RLIM_INFINITY:
            assert new_soft == hard
        else:  # some kernels cap an "unlimited" hard limit; it must at least have gone up
            assert new_soft > lowered
    finally:
        reactor.close()


def test_raise_fd_limit_reports_the_soft_limit(restore_limits: tuple[int, int]) -> None:
    assert raise_fd_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert raise_fd_limit() == resource.getrlimit(resource.RLIMIT_NOFILE)[0]  # idempotent
