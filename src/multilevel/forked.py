"""Map a function over items in forked worker processes, or in turn where forking is not
available.

Forked children inherit the parent's memory, so the function may be a closure over
large objects (a fitted model, a factorization set-up) that could not be pickled or
would be slow to; only the items' results travel back. Used for the marginal
sampler's chains and the report's figures. Serial when there is one core, off Linux
(fork is unsafe on macOS), and inside daemonic processes (Dask workers may not fork).

A single forked child that computes one thing and sends it back (the compile's second
callback, a rerun's sampling) replies with :func:`send_reply`; the parent reads it with
:func:`collect_reply`, which kills a child that stalls or outlives its deadline. A large
reply can go through an unnamed in-memory file (:func:`reply_spill`) instead of the pipe:
the child then writes it at once and exits, instead of waiting, blocked on a full pipe,
until the parent reads it (a rerun's draws: 8 MB, 64 KB at a time).
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing as mp
import os
import pickle
import select
import signal
import sys
import time
from collections.abc import Callable, Sequence

_FUNCTION: Callable | None = None   # what the forked workers run (set just before forking)


def can_fork() -> bool:
    return ((os.cpu_count() or 1) > 1 and sys.platform.startswith("linux")
            and not mp.current_process().daemon)


def map_forked(function: Callable, items: Sequence, workers: int | None = None) -> list:
    """``[function(item) for item in items]``, computed by up to ``workers`` forked processes.

    The results are the same either way; exceptions raised by ``function`` propagate.
    """
    from concurrent.futures import ProcessPoolExecutor

    global _FUNCTION
    workers = min(len(items), workers or os.cpu_count() or 1)
    if workers < 2 or not can_fork():
        return [function(item) for item in items]
    # the workers get indices: the items stay in the inherited memory (they may hold lambdas)
    _FUNCTION = lambda index: function(items[index])  # noqa: E731
    # Frozen, the inherited objects are left out of the children's garbage collections:
    # a full collection would walk the parent's whole heap (a fit: millions of objects,
    # ~0.15 s) and copy every page it touches (Python's gc.freeze docs).
    gc.freeze()
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
            return list(pool.map(_call, range(len(items))))
    finally:
        gc.unfreeze()
        _FUNCTION = None


def _call(index: int):
    return _FUNCTION(index)


def reply_spill() -> int | None:
    """An unnamed in-memory file for a child's reply (made before the fork, shared by
    both), or ``None`` where there is none (then the reply goes through the pipe)."""
    try:
        return os.memfd_create("multilevel-reply", os.MFD_CLOEXEC)
    except (AttributeError, OSError):   # not Linux, or no descriptors left
        return None


def send_reply(write_fd: int, reply, spill_fd: int | None = None) -> None:
    """In a forked child: pickle ``reply`` whole into the pipe ``write_fd`` and close it.

    With ``spill_fd`` (:func:`reply_spill`) the pickle is written there, and the pipe
    carries only its length: the child need not wait for the parent to read it.
    """
    data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    if spill_fd is not None:
        view, offset = memoryview(data), 0
        while offset < len(view):
            offset += os.pwrite(spill_fd, view[offset:], offset)
        data = len(view).to_bytes(8, "little")
    with os.fdopen(write_fd, "wb") as out:
        out.write(data)


def collect_reply(pid: int, read_fd: int, deadline_s: float, stall_s: float,
                  spill_fd: int | None = None):
    """A forked child's reply (:func:`send_reply`) from ``read_fd``, waiting while the
    child makes progress; the child is reaped and ``read_fd`` closed.

    Returns ``(problem, reply, cpu_s)``: ``problem`` is ``None`` and ``reply`` the
    unpickled object, or ``problem`` says what went wrong ("timed out" after
    ``deadline_s``, "stalled" after ``stall_s`` without CPU time, "failed (exit status
    N)", "unreadable reply (...)") and ``reply`` is ``None``; ``cpu_s`` is the child's
    CPU time. An interrupt kills the child before it propagates. ``spill_fd``: the
    in-memory file the child was given (:func:`send_reply`); it is closed here too.
    """
    deadline = time.monotonic() + deadline_s
    chunks: list[bytes] = []
    cpu, since = cpu_ticks(pid), time.monotonic()
    problem = None
    try:
        while True:
            now = time.monotonic()
            if now > deadline:
                problem = "timed out"
                break
            ready, _, _ = select.select([read_fd], [], [], 0.2)
            if ready:
                chunk = os.read(read_fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
                since = now
                continue
            ticks = cpu_ticks(pid)
            if ticks != cpu or ticks is None:
                cpu, since = ticks, now
            elif now - since > stall_s:
                problem = "stalled"
                break
    except BaseException:   # interrupted (Ctrl-C): no child left behind
        reap(pid, kill=True)
        close_quietly(spill_fd)
        raise
    finally:
        os.close(read_fd)
    exit_code, cpu_s = reap(pid, kill=problem is not None)
    if problem is None and exit_code != 0:
        problem = f"failed (exit status {exit_code})"
    try:
        if problem is not None:
            return problem, None, cpu_s
        data = b"".join(chunks)
        if spill_fd is not None:
            data = _read_spill(spill_fd, data)
        return None, pickle.loads(data), cpu_s
    except Exception as exc:  # noqa: BLE001  a truncated reply
        return f"unreadable reply ({type(exc).__name__})", None, cpu_s
    finally:
        if spill_fd is not None:
            close_quietly(spill_fd)


def _read_spill(spill_fd: int, header: bytes) -> bytes:
    """The pickle the child wrote to ``spill_fd``; ``header`` (the pipe's content) holds
    its length."""
    if len(header) != 8:
        raise ValueError("no length of a spilled reply")
    size = int.from_bytes(header, "little")
    parts, offset = [], 0
    while offset < size:
        part = os.pread(spill_fd, size - offset, offset)
        if not part:
            raise EOFError("the spilled reply is shorter than its length")
        parts.append(part)
        offset += len(part)
    return b"".join(parts)


def close_quietly(*fds: int | None) -> None:
    """Close the descriptors that are open (``None`` and closed ones are skipped)."""
    for fd in fds:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def cpu_ticks(pid: int) -> int | None:
    """A child's user + system CPU time in clock ticks (None where /proc is absent)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def reap(pid: int, kill: bool) -> tuple[int, float]:
    """Wait for a child (killed first where asked): (its exit status, negative for a
    signal, or -1 when it was reaped already; its CPU seconds)."""
    if kill:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    try:
        _, status, usage = os.wait4(pid, 0)
    except ChildProcessError:
        return -1, 0.0
    return os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
