"""map_forked: the results of a loop, exceptions propagate, inherited objects frozen in the
children and unfrozen in the parent afterwards."""

from __future__ import annotations

import gc
import os

import pytest

from multilevel import forked
from multilevel.forked import map_forked


@pytest.mark.parametrize("fork", [True, False], ids=["forked", "serial"])
def test_results_in_order_and_gc_unfrozen_afterwards(monkeypatch, fork):
    monkeypatch.setattr(forked, "can_fork", lambda: fork)
    big = list(range(1000))   # a closure over parent memory, as the report's figures use
    runs = map_forked(lambda i: (big[i] * 2, os.getpid(), gc.get_freeze_count()), [3, 1, 4, 1, 5],
                      workers=2)
    assert [r for r, _, _ in runs] == [6, 2, 8, 2, 10]
    assert ({pid for _, pid, _ in runs} != {os.getpid()}) == fork
    # the children ran with the inherited objects frozen (out of their collections)
    assert all(frozen > 0 for _, _, frozen in runs) == fork
    assert gc.get_freeze_count() == 0


def test_exception_propagates_and_gc_is_unfrozen(monkeypatch):
    monkeypatch.setattr(forked, "can_fork", lambda: True)

    def fails(i):
        if i == 2:
            raise ValueError("item 2 is bad")
        return i

    with pytest.raises(ValueError, match="item 2 is bad"):
        map_forked(fails, [1, 2, 3], workers=2)
    assert gc.get_freeze_count() == 0


def _child_replying(reply, exit_code: int = 0):
    """Fork a child that sends ``reply`` and exits with ``exit_code``."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:   # pragma: no cover - the child
        os.close(read_fd)
        forked.send_reply(write_fd, reply)
        os._exit(exit_code)
    os.close(write_fd)
    return pid, read_fd


def test_a_reply_is_collected_and_the_child_reaped():
    pid, fd = _child_replying({"draws": [1, 2, 3]})
    problem, reply, cpu_s = forked.collect_reply(pid, fd, deadline_s=30, stall_s=5)
    assert problem is None and reply == {"draws": [1, 2, 3]} and cpu_s is not None
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)   # reaped


def test_a_child_that_exits_badly_after_its_reply_is_a_failure():
    pid, fd = _child_replying("half done", exit_code=3)
    problem, reply, _ = forked.collect_reply(pid, fd, deadline_s=30, stall_s=5)
    assert problem == "failed (exit status 3)" and reply is None


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat", "rb") as fh:
        return fh.read().rsplit(b")", 1)[1].split()[0].decode()


@pytest.mark.skipif(forked.reply_spill() is None, reason="no in-memory files here (not Linux)")
def test_a_large_reply_through_the_spill_lets_the_child_exit_before_it_is_read():
    """Through the pipe, a child with 8 MB to send waits until the parent reads them; through
    the in-memory file it writes them and exits (a rerun's draws, bayes.speculate)."""
    import time

    import numpy as np

    reply = {"draws": np.arange(1_000_000, dtype=float)}   # 8 MB
    read_fd, write_fd = os.pipe()
    spill = forked.reply_spill()
    pid = os.fork()
    if pid == 0:   # pragma: no cover - the child
        os.close(read_fd)
        forked.send_reply(write_fd, reply, spill)
        os._exit(0)
    os.close(write_fd)
    deadline = time.monotonic() + 30
    while _state(pid) != "Z":   # exited, not yet reaped, before anything was read
        assert time.monotonic() < deadline, "the child did not exit before its reply was read"
        time.sleep(0.01)
    problem, got, _ = forked.collect_reply(pid, read_fd, deadline_s=30, stall_s=5, spill_fd=spill)
    assert problem is None and np.array_equal(got["draws"], reply["draws"])
    with pytest.raises(OSError):
        os.fstat(spill)   # closed by collect_reply


@pytest.mark.skipif(forked.reply_spill() is None, reason="no in-memory files here (not Linux)")
@pytest.mark.parametrize("header", [b"", b"\x00" * 3, (10**6).to_bytes(8, "little")],
                         ids=["no length", "a broken length", "a length past the end"])
def test_a_spilled_reply_without_its_whole_length_is_unreadable(header):
    read_fd, write_fd = os.pipe()
    spill = forked.reply_spill()
    pid = os.fork()
    if pid == 0:   # pragma: no cover - the child
        os.close(read_fd)
        os.pwrite(spill, b"a few bytes", 0)
        os.write(write_fd, header)
        os._exit(0)
    os.close(write_fd)
    problem, reply, _ = forked.collect_reply(pid, read_fd, deadline_s=30, stall_s=5, spill_fd=spill)
    assert problem.startswith("unreadable reply") and reply is None


@pytest.mark.skipif(not forked.can_fork(), reason="no second core or no fork here")
def test_more_items_than_the_pipe_holds_at_first_come_back_in_order():
    """The first 1,024 indices go into the pipe before the workers start, the rest after."""
    runs = map_forked(lambda i: (i * i, os.getpid()), list(range(5000)), workers=2)
    assert [r for r, _ in runs] == [i * i for i in range(5000)]
    assert len({pid for _, pid in runs}) == 2   # both workers took items


@pytest.mark.skipif(not forked.can_fork(), reason="no second core or no fork here")
def test_the_first_failure_in_the_items_order_is_raised():
    """Item 4 fails first in time (item 1 sleeps); the loop would raise item 1's error."""
    import time

    def work(i):
        if i == 1:
            time.sleep(0.3)
            raise KeyError("item 1")
        if i == 4:
            raise ValueError("item 4")
        return i

    with pytest.raises(KeyError, match="item 1"):
        map_forked(work, list(range(6)), workers=2)


@pytest.mark.skipif(not forked.can_fork(), reason="no second core or no fork here")
def test_a_worker_that_dies_or_a_result_that_cannot_travel_is_an_error_and_no_child_is_left():
    import threading

    def dies(i):
        if i == 3:
            os._exit(7)
        return i

    before = _children()   # other tests' children, if any
    with pytest.raises(RuntimeError, match=r"a worker process failed \(exit status 7\)"):
        map_forked(dies, list(range(6)), workers=2)
    with pytest.raises(RuntimeError, match="cannot be sent back"):
        map_forked(lambda i: threading.Lock() if i == 2 else i, list(range(4)), workers=2)
    map_forked(lambda i: i, [1, 2], workers=2)   # reaps the workers before it
    forked._reap_exited(block=True)
    assert forked._UNREAPED == []
    assert _children() <= before   # none of the workers is left, exited or not


def _children() -> set[int]:
    """This process's child processes (zombies included), from /proc."""
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as fh:
                    if int(fh.read().rsplit(b")", 1)[1].split()[1]) == os.getpid():
                        found.add(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return found
