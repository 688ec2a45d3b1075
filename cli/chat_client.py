"""``sio-chat client``: reads lines, sends them as ``chat message``, prints what others say.

Works on a terminal (incoming lines are printed above the line being typed, which is then
redrawn) and with a pipe or a file as stdin (scripted use: it sends every line, then leaves once
everything is sent). Connection state goes to stderr; messages to stdout.

Dropped connections: the client reconnects by itself. Lines typed while offline are sent once it
is back. With a server that offers connection state recovery (``sio-chat server`` does by
default; its CONNECT reply carries a ``pid``), each line is also sent with an acknowledgement, one
at a time, and tried again (``retries``, ``ack_timeout``) until the server has it, so a line in
flight when the connection dropped is sent again; and a reconnection that got the session back
shows the messages missed meanwhile, then ``[reconnected: N missed messages]``. Any other server
(the tutorial's, which acknowledges nothing) gets each line once, without an acknowledgement.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import IO, Any

from reactor import Reactor
from sio import ClientSocket, ConnectError, Manager

__all__ = ["ChatClient"]

HELP = (
    "commands: /who  /join ROOM  /leave  /ping  /quit  /help "
    "(anything else is sent as a chat message; typed while offline, it is sent on reconnection)"
)
#: Seconds to wait, after stdin ended, for a connection that would carry the lines typed.
EOF_CONNECT_WAIT = 30.0
#: Seconds the client gives its last packets to leave before it exits.
EXIT_GRACE = 2.0
#: With a server that offers connection state recovery: how often a line is tried again before
#: it is given up ("gave up sending"), and the seconds each try waits for its acknowledgement.
#: A dropped connection fails the try in flight at once (it is sent again on reconnection); the
#: timeout only catches a connection that died silently (the ping timeout notices that too,
#: later) or a slow server.
RETRIES = 3
ACK_TIMEOUT = 10.0
#: Seconds leaving waits for the lines not acknowledged yet.
SEND_WAIT = 30.0
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
        ssl_verify: bool = True,
        ca_file: str | None = None,
        parser: str = "json",
        retries: int = RETRIES,
        ack_timeout: float = ACK_TIMEOUT,
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
            ssl_verify=ssl_verify,
            ca_file=ca_file,
            parser=parser,
        )
        # Retries start off: they are turned on at each connection to a server with connection
        # state recovery (``_on_connect``). Every ack (commands) gets ``ack_timeout``.
        self.socket: ClientSocket = self.manager.socket(
            "/", {"user": user}, ack_timeout=ack_timeout
        )
        self.retries = retries
        self.exit_code = 0
        self._leaving = False
        self._left = False
        self._stdin_done = False
        #: Lines sent with an acknowledgement and not acknowledged (nor given up) yet.
        self._unacked = 0
        #: Between the transport's opening and the CONNECT reply: the events received then are
        #: the ones a restored session missed.
        self._replaying = False
        self._missed = 0
        self._wire()

    # -- events ---------------------------------------------------------------------------------

    def _wire(self) -> None:
        socket, manager, console = self.socket, self.manager, self.console
        # (``*_``: with connection state recovery, an event's last argument is its offset.)
        socket.on("chat message", self._on_chat_message)
        socket.on("notice", lambda text, *_: console.message(f"* {text}"))
        socket.on("connect", self._on_connect)
        socket.on("disconnect", lambda reason: console.status(f"disconnected: {reason}"))
        socket.on("connect_error", self._on_connect_error)
        manager.on("open", self._on_open)
        manager.on("reconnect_attempt", lambda n: console.status(f"reconnecting (attempt {n})"))
        manager.on("reconnect_failed", self._gave_up)

    def _on_chat_message(self, text: Any, *_: Any) -> None:
        if self._replaying:
            self._missed += 1
        self.console.message(str(text))

    def _on_open(self) -> None:
        self._replaying = True
        self._missed = 0

    def _on_connect(self) -> None:
        socket = self.socket
        self._replaying = False
        # Retries need a server that acknowledges every event: one with connection state
        # recovery (ours acknowledges every event; the tutorial's server, none).
        socket.retries = self.retries if socket.pid else 0
        if socket.recovered:
            missed = self._missed
            plural = "" if missed == 1 else "s"
            self.console.status(f"reconnected: {missed} missed message{plural}")
        else:
            self.console.status(
                f"connected to {self.url} as {self.user} ({self.manager.transport})"
            )
        if self._stdin_done:
            self.reactor.call_soon(self._leave)

    def _on_connect_error(self, error: ConnectError) -> None:
        self.console.status(f"connection failed: {error}")
        if self.manager.fatal_error is not None:
            # A refused certificate will be refused again: stop and say why.
            self.console.status("not reconnecting: the server's certificate was refused")
            self.exit_code = 1
            self._stop_soon()

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
        elif self.socket.retries:
            self._unacked += 1
            self.socket.emit("chat message", self.user, line, callback=partial(self._sent, line))
        else:
            self.socket.emit("chat message", self.user, line)

    def _sent(self, line: str, error: BaseException | None, *_: Any) -> None:
        """A line's acknowledgement, or the error it was given up with."""
        self._unacked -= 1
        if error is not None:
            self.console.status(f"gave up sending ({error}): {line}")
        if self._leaving and not self._unacked:
            self._disconnect()

    def _command(self, line: str) -> None:
        name, _, arg = line[1:].partition(" ")
        arg = arg.strip()
        status = self.console.status

        def answered(show: Callable[..., None]) -> Callable[..., None]:
            # (every ack has a timeout: the error, or None, comes first)
            def callback(error: BaseException | None, *args: Any) -> None:
                if error is not None:
                    status(f"/{name}: no answer ({error})")
                else:
                    show(*args)

            return callback

        if name in ("quit", "exit"):
            self._leave()
        elif name == "who":
            self.socket.emit(
                "who", callback=answered(lambda names=(), *_: status("online: " + ", ".join(names)))
            )
        elif name == "join":
            self.socket.emit("join", arg, callback=answered(lambda text="", *_: status(str(text))))
        elif name == "leave":
            self.socket.emit("leave", callback=answered(lambda text="", *_: status(str(text))))
        elif name == "ping":
            sent = self.reactor.time()

            def pong(*_: Any) -> None:
                status(f"pong in {(self.reactor.time() - sent) * 1000:.1f} ms")

            self.socket.emit("echo", sent, callback=answered(pong))
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
        """Leave once what was typed is sent: the lines awaiting their acknowledgement first
        (at most ``SEND_WAIT`` seconds). Offline, leave at once."""
        if self._leaving:
            return
        self._leaving = True
        if not self.socket.connected:
            self._disconnect()
        elif self._unacked:
            self.console.status(f"sending {self._unacked} more line(s) before leaving")
            self.reactor.call_later(SEND_WAIT, self._disconnect)
        else:
            self.reactor.call_later(LEAVE_GRACE, self._disconnect)

    def _interrupted(self) -> None:
        """Ctrl-C (or SIGTERM): leave; a second one leaves without waiting."""
        if self._leaving:
            self._disconnect()
        else:
            self._leave()

    def _disconnect(self) -> None:
        if self._left:
            return
        self._left = True
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

        self.reactor.add_signal_handler(signal.SIGINT, self._interrupted)
        self.reactor.add_signal_handler(signal.SIGTERM, self._interrupted)
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
