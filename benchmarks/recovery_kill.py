"""Kill a worker under load: messages lost with connection state recovery on, and off.

    PYTHONPATH=. python benchmarks/recovery_kill.py [--clients 40] [--rate 50] [--runs 1]

A cluster of 2 workers (``sio-chat server --workers 2``), 40 official socket.io-client chat
clients over 40 loopback source addresses (so both workers hold clients), 50 messages a second
in all, sent with retries (at least once); SIGKILL of worker 1 after 2 s; 6 s of traffic
(``--seconds``). Per
client: the messages it should have received (every other client's), and those that never
arrived (``benchmarks/recovery_kill.js``). Once with ``--recovery-window 120``, once with
``--recovery-window 0``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

from cluster.sticky import slot_for

ROOT = Path(__file__).resolve().parents[1]
SIO_CHAT = str(Path(sys.executable).with_name("sio-chat"))


def addresses(count: int, workers: int) -> list[str]:
    """``count`` loopback addresses, as evenly spread over the workers as sticky dispatch
    allows."""
    per_worker = {w: [] for w in range(workers)}  # type: dict[int, list[str]]
    last = 2
    while sum(len(v) for v in per_worker.values()) < count:
        ip = f"127.0.0.{last}"
        slot = slot_for(ip, workers)
        if len(per_worker[slot]) < count // workers:
            per_worker[slot].append(ip)
        last += 1
    return [ip for ips in per_worker.values() for ip in ips]


def run(window: int, clients: int, rate: int, seconds: int) -> dict[str, object]:
    argv = [SIO_CHAT, "server", "--workers", "2", "--host", "127.0.0.1", "--port", "0"]
    argv += ["--recovery-window", str(window)]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None and server.stderr is not None
        line = server.stdout.readline()
        match = re.search(r"listening on (.+):(\d+)", line)
        assert match, line
        url = f"http://127.0.0.1:{match.group(2)}"
        pids: dict[int, int] = {}
        stderr_lines: list[str] = []
        while len(pids) < 2:
            err = server.stderr.readline()
            stderr_lines.append(err)
            found = re.search(r"worker (\d+) started \(pid (\d+)\)", err)
            if found:
                pids[int(found.group(1))] = int(found.group(2))
        drain = threading.Thread(target=lambda: stderr_lines.extend(server.stderr or ()))
        drain.start()
        params = {
            "url": url,
            "ips": addresses(clients, 2),
            "rate": rate,
            "seconds": seconds,
            "killAt": 2,
            "killPid": pids[1],
            "settle": 1500,
        }
        done = subprocess.run(
            ["node", str(ROOT / "benchmarks" / "recovery_kill.js"), json.dumps(params)],
            capture_output=True,
            text=True,
            timeout=90 + seconds,
        )
        result = json.loads(done.stdout.strip().splitlines()[-1])
        result["tracebacks"] = sum("Traceback" in line for line in stderr_lines)
        return result
    finally:
        server.terminate()
        server.wait(10)


def summary(window: int, result: dict[str, object]) -> str:
    rows = result["clients"]
    assert isinstance(rows, list)
    killed = [row for row in rows if row["connects"] > 1]
    expected = sum(row["expected"] for row in rows)
    lost = sum(row["lost"] for row in rows)
    duplicates = sum(row["duplicates"] for row in rows)
    lost_killed = sum(row["lost"] for row in killed)
    recovered = sum(1 for row in killed if row["recovered"])
    failed = sum(row["failed"] + row["unanswered"] for row in rows)
    return (
        f"recovery-window {window:>3}: {len(rows)} clients ({len(killed)} on the killed worker, "
        f"{recovered} recovered), {expected} deliveries expected, {lost} lost "
        f"({lost_killed} at the killed worker's clients), {duplicates} duplicates, "
        f"{failed} sends failed, {result['tracebacks']} tracebacks"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=6, help="of traffic (the kill at 2 s)")
    args = parser.parse_args()
    for _ in range(args.runs):
        for window in (120, 0):
            result = run(window, args.clients, args.rate, args.seconds)
            print(summary(window, result), flush=True)


if __name__ == "__main__":
    main()
