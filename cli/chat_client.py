"""``sio-chat client``: reads lines, sends them as ``chat message``, prints what others say.

Works on a terminal (incoming lines are printed above the line being typed, which is then
redrawn) and with a pipe or a file as stdin (scripted use: it sends every line, then leaves once
everything is sent). Connection state goes to stderr; messages to stdout.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable
from typing import IO, Any

from reactor import Reactor
from sio import ClientSocket, ConnectError, Manager

__all__ = ["ChatClient"]

HELP = (
    "commands: /who  /join ROOM  /leave  /ping  /quit  /help "
    "(anything else is sent as a chat message)"
)
#: Seconds to wait, after stdin ended, for a connection that would carry the lines typed.
EOF_CONNECT_WAIT = 30.0
#: Seconds the client gives its last packets to leave before it exits.
EXIT_GRACE = 2.0
#: Seconds between the last messages and the goodbye. The official server runs an event's
#: handlers a tick after reading it, and drops the event if the socket left meanwhile: a
#: DISCONNECT read together with the last messages would lose them.
LEAVE_GRACE = 0.1


class Console:
    """Prints whole lines without mangling the line being typed on a terminal."""

    def __init__(self, out: IO[str], err: IO[str], interactive: bool) -> None:
        self.out, self.err = out, err
        self.interactive = interactive
        self._lock = threading.Lock()
        self._readline: Any = None
        if interactive:
            try:
                import readline

                self._readline = readline
            except ImportError:  # pragma: no cover - readline is missing on some platforms
                self._readline = None

    def _emit(self, stream: IO[str], line: str) -> None:
        with self._lock:
            if self.interactive:
                typed = self._readline.get_line_buffer() if self._readline else ""
                stream.write("\r\x1b[K" + line + "\n")
                stream.flush()
                self.out.write(typed)
                self.out.flush()
            else:
                stream.write(line + "\n")
                stream.flush()

    def message(self, line: str) -> None:
        self._emit(self.out, line)

    def status(self, line: str) -> None:
        self._emit(self.err, f"[{line}]")


class ChatClient:
    """The chat client on its own reactor (run in the calling thread)."""

    def __init__(
        self,
        url: str,
        user: str,
        *,
        transports: tuple[str, ...] = ("polling", "websocket"),
        path: str = "/socket.io/",
        reconnection_attempts: float = math.inf,
        reconnection_delay: float = 1.0,
        stdin: IO[str] | None = None,
        out: IO[str] | None = None,
        err: IO[str] | None = None,
    ) -> None:
        self.user = user
        self.url = url
        self.stdin = stdin or sys.stdin
        out = out or sys.stdout
        interactive = self.stdin.isatty() and out.isatty()
        self.console = Console(out, err or sys.stderr, interactive)
        self.reactor = Reactor()
        self.manager = Manager(
            url,
            reactor=self.reactor,
            transports=transports,
            path=path,
            reconnection_attempts=reconnection_attempts,
            reconnection_delay=reconnection_delay,
            reconnection_delay_max=max(5.0, reconnection_delay),
        )
        self.socket: ClientSocket = self.manager.socket("/", {"user": user})
        self.exit_code = 0
        self._leaving = False
        self._stdin_done = False
        self._wire()

    # -- events ---------------------------------------------------------------------------------

    def _wire(self) -> None:
        socket, manager, console = self.socket, self.manager, self.console
        socket.on("chat message", lambda text, *_: console.message(str(text)))
        socket.on("notice", lambda text, *_: console.message(f"* {text}"))
        socket.on("connect", self._on_connect)
        socket.on("disconnect", lambda reason: console.status(f"disconnected: {reason}"))
        socket.on("connect_error", self._on_connect_error)
        manager.on("reconnect_attempt", lambda n: console.status(f"reconnecting (attempt {n})"))
        manager.on("reconnect_failed", self._gave_up)

    def _on_connect(self) -> None:
        self.console.status(f"connected to {self.url} as {self.user} ({self.manager.transport})")
        if self._stdin_done:
            self.reactor.call_soon(self._leave)

    def _on_connect_error(self, error: ConnectError) -> None:
        self.console.status(f"connection failed: {error}")

    def _gave_up(self) -> None:
        self.console.status("gave up reconnecting")
        self.exit_code = 1
        self._stop_soon()

    # -- input ----------------------------------------------------------------------------------

    def handle_line(self, line: str) -> None:
        line = line.rstrip("\r\n")
        if not line.strip():
            return
        if line.startswith("/"):
            self._command(line)
        else:
            self.socket.emit("chat message", self.user, line)

    def _command(self, line: str) -> None:
        name, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        status = self.console.status
        if name in ("quit", "exit"):
            self._leave()
        elif name == "who":
            self.socket.emit("who", callback=lambda names=(): status("online: " + ", ".join(names)))
        elif name == "join":
            self.socket.emit("join", arg, callback=lambda text="": status(str(text)))
        elif name == "leave":
            self.socket.emit("leave", callback=lambda text="": status(str(text)))
        elif name == "ping":
            sent = self.reactor.time()

            def pong(*_: Any) -> None:
                status(f"pong in {(self.reactor.time() - sent) * 1000:.1f} ms")

            self.socket.emit("echo", sent, callback=pong)
        elif name == "help":
            status(HELP)
        else:
            status(f"unknown command /{name}; {HELP}")

    def _read_stdin(self) -> None:
        post: Callable[..., None] = self.reactor.call_soon_threadsafe
        try:
            if self.console.interactive:
                while True:
                    post(self.handle_line, input())
            else:
                for line in self.stdin:
                    post(self.handle_line, line)
        except (EOFError, KeyboardInterrupt):
            pass
        except (OSError, ValueError):
            pass  # stdin closed under us
        post(self._stdin_ended)

    def _stdin_ended(self) -> None:
        self._stdin_done = True
        if self.socket.connected:
            self._leave()
        else:
            self.console.status("input ended; waiting to send what was typed")
            self.reactor.call_later(EOF_CONNECT_WAIT, self._give_up_waiting)

    def _give_up_waiting(self) -> None:
        if not self._leaving:
            self.console.status("could not connect; exiting")
            self.exit_code = 1
            self._stop_soon()

    # -- leaving --------------------------------------------------------------------------------

    def _leave(self) -> None:
        if self._leaving:
            return
        self._leaving = True
        if self.socket.connected:
            self.reactor.call_later(LEAVE_GRACE, self._disconnect)
        else:
            self._disconnect()

    def _disconnect(self) -> None:
        self.socket.disconnect()  # closes the connection once queued packets are out
        self._stop_soon()

    def _stop_soon(self) -> None:
        """Close the connection, then stop (after one more tick for the last frames), or
        ``EXIT_GRACE`` seconds later."""
        self.reactor.call_later(EXIT_GRACE, self.reactor.stop)
        self.manager.close(on_closed=lambda: self.reactor.call_soon(self.reactor.stop))

    def run(self) -> int:
        """Connect, chat until /quit, end of input or a signal; returns the exit code."""
        import signal

        self.reactor.add_signal_handler(signal.SIGINT, self._leave)
        self.reactor.add_signal_handler(signal.SIGTERM, self._leave)
        self.console.status(f"connecting to {self.url}")
        self.socket.connect()
        reader = threading.Thread(target=self._read_stdin, name="stdin", daemon=True)
        reader.start()
        try:
            self.reactor.run()
        finally:
            self.reactor.close()
        if self.console.interactive:
            self.console.out.write("\n")
            self.console.out.flush()
        return self.exit_code


def exit_now(code: int) -> None:
    """Exit without waiting for the stdin thread (blocked in a read it cannot leave)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
