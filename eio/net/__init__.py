"""The I/O shell: the reactor, sockets, and the transports that drive the sans-IO protocol."""
