#!/usr/bin/env python3
"""Run the processes of a Procfile together in the foreground with prefixed output; Ctrl-C stops them all.

A small, dependency-free stand-in for foreman/honcho: each process gets its own session, so the supervisor
decides the shutdown order (SIGTERM to every process group, SIGKILL after a grace period). Ctrl-C (SIGINT),
SIGTERM and a closed terminal (SIGHUP) all stop every process; output that can no longer be written (the
terminal is gone) is dropped rather than stopping the shutdown. When one process exits on its own, the others
are stopped too and the exit status is passed on.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

COLOURS = ["\033[36m", "\033[33m", "\033[35m", "\033[32m", "\033[34m"]
RESET = "\033[0m"
PROCFILE_LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(.+)$")


def read_procfile(path: Path) -> list[tuple[str, str]]:
    entries = []
    for line in path.read_text().splitlines():
        match = PROCFILE_LINE.match(line.strip())
        if match and not line.lstrip().startswith("#"):
            entries.append((match.group(1), match.group(2)))
    return entries


class Supervisor:
    def __init__(self, entries: list[tuple[str, str]], grace_seconds: float) -> None:
        self.entries = entries
        self.grace_seconds = grace_seconds
        self.width = max(len(name) for name, _ in entries)
        self.colour = sys.stdout.isatty()
        self.lock = threading.Lock()
        self.procs: dict[str, subprocess.Popen] = {}

    def say(self, name: str, index: int, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        prefix = f"{stamp} {name.ljust(self.width)} | "
        if self.colour:
            prefix = f"{COLOURS[index % len(COLOURS)]}{prefix}{RESET}"
        with self.lock:
            try:
                sys.stdout.write(prefix + text.rstrip("\n") + "\n")
                sys.stdout.flush()
            except OSError:  # the terminal was closed (EIO) or the reader went away (EPIPE)
                pass

    def _pump(self, name: str, index: int, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, ""):
            self.say(name, index, line)

    def start(self) -> None:
        for index, (name, command) in enumerate(self.entries):
            proc = subprocess.Popen(  # noqa: S603 - commands come from our own Procfile
                ["/bin/sh", "-c", f"exec {command}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            self.procs[name] = proc
            self.say("system", len(self.entries), f"{name} started (pid {proc.pid})")
            threading.Thread(target=self._pump, args=(name, index, proc), daemon=True).start()

    def stop(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is None:
                self.say("system", len(self.entries), f"stopping {name} (pid {proc.pid})")
                self._signal(proc, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("system", len(self.entries), f"{name} did not stop in time: killing it")
                self._signal(proc, signal.SIGKILL)
                proc.wait()

    @staticmethod
    def _signal(proc: subprocess.Popen, sig: int) -> None:
        # SIGTERM goes to the main process, which stops its own children (gunicorn and celery pools) cleanly;
        # SIGKILL goes to the whole process group so nothing is left behind.
        try:
            if sig == signal.SIGKILL:
                os.killpg(proc.pid, sig)
            else:
                os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass

    def run(self) -> int:
        requested = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda *_: requested.set())
        self.start()
        status = 0
        while not requested.is_set():
            exited = [(name, proc) for name, proc in self.procs.items() if proc.poll() is not None]
            if exited:
                name, proc = exited[0]
                self.say("system", len(self.entries), f"{name} exited with status {proc.returncode}")
                status = proc.returncode or 1
                break
            requested.wait(0.2)
        self.stop()
        self.say("system", len(self.entries), "all processes stopped")
        return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("procfile", type=Path, nargs="?", default=Path("Procfile"))
    parser.add_argument("--grace", type=float, default=15.0, help="seconds to wait before SIGKILL")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME", help="a process not to start")
    args = parser.parse_args()
    entries = [(name, command) for name, command in read_procfile(args.procfile) if name not in args.skip]
    return Supervisor(entries, args.grace).run()


if __name__ == "__main__":
    sys.exit(main())
