"""Run the command line on a pseudo-terminal of a known size (tests of what a user sees)."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_in_terminal(args, columns=72, cwd=None, timeout=300) -> tuple[int, str]:
    """Run ``multilevel ARGS`` with stdin/stdout/stderr on a pseudo-terminal of ``columns``."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PYTHONPATH"] = str(ROOT / "src")
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.Popen([sys.executable, "-m", "multilevel.cli", *args], stdin=slave,
                            stdout=slave, stderr=slave, env=env, cwd=cwd, close_fds=True)
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:   # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
    code = proc.wait(timeout=timeout)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def screen(text: str) -> str:
    """What the terminal shows: a line rewritten in place (``\\r``) keeps its last
    version; the clear-to-end-of-line code is dropped."""
    lines = [line.rsplit("\r", 1)[-1] for line in text.split("\n")]
    return "\n".join(re.sub(r"\x1b\[K", "", line) for line in lines)


def widest(text: str) -> int:
    """The longest line on screen, but the closing "Wrote PATH/" (a path is not wrapped)."""
    return max(len(line) for line in screen(text).splitlines() if not line.startswith("Wrote "))
