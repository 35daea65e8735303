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

import atexit
import contextlib
import gc
import math
import multiprocessing as mp
import os
import pickle
import select
import signal
import sys
import time
import warnings
from collections.abc import Callable, Sequence

_CLAIM = 4   # bytes of a job index in the workers' pipe of jobs
_UNREAPED: list[int] = []   # map_forked's workers whose exit has not been waited for


def can_fork() -> bool:
    return ((os.cpu_count() or 1) > 1 and sys.platform.startswith("linux")
            and not mp.current_process().daemon)


def map_forked(function: Callable, items: Sequence, workers: int | None = None) -> list:
    """``[function(item) for item in items]``, computed by up to ``workers`` forked processes.

    The results are the same either way; exceptions raised by ``function`` propagate (the
    first in the items' order, as in the loop). Each worker takes the next item's index
    from a pipe when it has finished one (items come in the caller's order: costliest
    first balances the workers) and sends all its results back when the pipe is empty,
    through an in-memory file (:func:`send_reply`). No executor, queues or threads:
    ``ProcessPoolExecutor`` took ~20 ms to start its workers and ~20 ms to stop them, on
    the report's critical path.
    """
    workers = min(len(items), workers or os.cpu_count() or 1)
    if workers < 2 or not can_fork():
        return [function(item) for item in items]
    _reap_exited(block=True)   # the last call's workers, long exited
    # Frozen, the inherited objects are left out of the children's garbage collections:
    # a full collection would walk the parent's whole heap (a fit: millions of objects,
    # ~0.15 s) and copy every page it touches (Python's gc.freeze docs).
    gc.freeze()
    try:
        return _map_in_children(function, items, workers)
    finally:
        gc.unfreeze()


def _map_in_children(function: Callable, items: Sequence, workers: int) -> list:
    jobs_r, jobs_w = os.pipe()
    children: list[tuple[int, int | None, int | None] | None] = []
    # the first indices before the forks (a pipe holds at least one page), so that the
    # first worker starts at once; the others once all the workers run
    first = min(len(items), select.PIPE_BUF // _CLAIM)
    try:
        os.write(jobs_w, _indices(range(first)))
        for _ in range(workers):
            child = _fork_worker(function, items, jobs_r, jobs_w)
            if child is None:   # no process or descriptor left: fewer workers
                break
            children.append(child)
        os.close(jobs_r)
        jobs_r = None
        if not children:
            return [function(item) for item in items]
        _feed(jobs_w, range(first, len(items)))
        jobs_w = None
        done: dict[int, tuple[bool, object]] = {}
        for k, (pid, read_fd, spill) in enumerate(children):
            problem, reply, _ = collect_reply(pid, read_fd, math.inf, math.inf, spill_fd=spill,
                                              reap_later=True)
            if problem is not None:   # reaped by collect_reply
                children[k] = None
                raise RuntimeError(f"a worker process {problem}")
            children[k] = (pid, None, None)   # its descriptors closed, its exit not waited for
            done.update(reply)
    except BaseException:   # an interrupt or a failed worker: no child left behind
        for pid, read_fd, spill in filter(None, children):
            reap(pid, kill=True)
            close_quietly(read_fd, spill)
        raise
    finally:
        close_quietly(jobs_r, jobs_w)
    # every reply is in: the workers' exits (10-15 ms each, unmapping their memory) are not
    # waited for; those still exiting are reaped by the next call, or at this process's exit
    if not _UNREAPED:
        atexit.unregister(_reap_exited)
        atexit.register(_reap_exited, block=True)
    _UNREAPED.extend(pid for pid, _, _ in children)
    _reap_exited(block=False)
    results = []
    for index in range(len(items)):
        ok, value = done[index]
        if not ok:
            raise value
        results.append(value)
    return results


def _reap_exited(block: bool) -> None:
    """Reap the workers of earlier calls that have exited (all of them, with ``block``)."""
    for pid in list(_UNREAPED):
        try:
            done, _ = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:   # reaped elsewhere
            done = pid
        if done:
            _UNREAPED.remove(pid)


def _fork_worker(function, items, jobs_r: int, jobs_w: int) -> tuple[int, int, int | None] | None:
    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return None
    spill = reply_spill()
    try:
        with warnings.catch_warnings():   # Python >= 3.12: "multi-threaded, use of fork()"
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError:
        close_quietly(read_fd, write_fd, spill)
        return None
    if pid == 0:   # the worker: never returns
        _work(function, items, jobs_r, jobs_w, read_fd, write_fd, spill)
    os.close(write_fd)
    return pid, read_fd, spill


def _work(function, items, jobs_r: int, jobs_w: int, read_fd: int, write_fd: int, spill) -> None:
    """A worker: ``function`` of each item whose index it reads, until the pipe is empty;
    then ``{index: (True, result) or (False, exception)}`` to the parent."""
    code = 1
    try:
        close_quietly(jobs_w, read_fd)
        done = {}
        while len(claim := os.read(jobs_r, _CLAIM)) == _CLAIM:
            index = int.from_bytes(claim, "little")
            try:
                done[index] = (True, function(items[index]))
            except Exception as exc:  # noqa: BLE001 - raised by the parent, in the items' order
                done[index] = (False, exc)
        try:   # pickled once, whole; nothing is written where that fails
            send_reply(write_fd, done, spill)
        except Exception:  # noqa: BLE001 - the entries that cannot travel become errors
            send_reply(write_fd, {i: _picklable(entry) for i, entry in done.items()}, spill)
        code = 0
    except BaseException:  # noqa: BLE001 - an interrupt, or the parent has gone: no reply
        code = 1
    finally:
        os._exit(code)   # no atexit handlers, no flushing of the parent's buffers


def _picklable(entry: tuple[bool, object]) -> tuple[bool, object]:
    try:
        pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
        return entry
    except Exception as exc:  # noqa: BLE001 - a result or exception that cannot travel back
        what = "result" if entry[0] else f"exception {entry[1]!r}"
        return False, RuntimeError(f"a worker's {what} cannot be sent back: {exc}")


def _indices(indices) -> bytes:
    return b"".join(i.to_bytes(_CLAIM, "little") for i in indices)


def _feed(jobs_w: int, indices) -> None:
    """The indices into the workers' pipe, then its end. Writes of whole indices, at most
    PIPE_BUF bytes each, are atomic: a worker's read of one index never gets part of one."""
    data = _indices(indices)
    step = (select.PIPE_BUF // _CLAIM) * _CLAIM
    # a broken pipe: every worker has ended, and collecting them says how
    with contextlib.suppress(BrokenPipeError):
        for start in range(0, len(data), step):
            os.write(jobs_w, data[start:start + step])
    os.close(jobs_w)


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
                  spill_fd: int | None = None, reap_later: bool = False):
    """A forked child's reply (:func:`send_reply`) from ``read_fd``, waiting while the
    child makes progress; the child is reaped and ``read_fd`` closed. With
    ``reap_later``, a child whose reply came whole is left to the caller to reap (its
    exit, the unmapping of its memory, takes 10-15 ms after the reply).

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
    reaped = not (reap_later and problem is None)
    exit_code, cpu_s = reap(pid, kill=problem is not None) if reaped else (0, None)
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
        if not reaped:   # no whole reply after all: reaped now, its exit status says why
            exit_code, cpu_s = reap(pid, kill=True)
            if exit_code != 0:
                return f"failed (exit status {exit_code})", None, cpu_s
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
