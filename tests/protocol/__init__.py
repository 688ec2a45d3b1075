"""Sans-IO unit tests: packets and events in, packets and events out; no sockets, threads or sleeps.

This directory is a package so that its module names (``protocol.test_eio_upgrade``) cannot
collide with same-named modules elsewhere under ``tests/`` (``tests/integration``).
"""
