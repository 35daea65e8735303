"""nutpie's two C callbacks compiled at the same time: the expansion in a forked child.

A first fit of a new model structure compiles two numba C callbacks (:mod:`multilevel.
bayes.callbacks`): the log density with its gradient (3.4-4.5 s on sleepstudy's
``(Days | Subject)``, mostly LLVM re-optimizing the PyTensor kernels it inlines) and the
expansion of a draw into the stored variables (1.8-2.5 s). They do not depend on each
other, so :func:`compile_pair` forks a child that compiles the expansion while this
process compiles the log density, and the child sends back its compile result in the
form the disk cache stores (``CompileResult._reduce()``: object code, function
descriptor, environment), rebuilt here as a cache load is.

The log density is compiled in this process from the same state as a serial compile, so
its code and a seeded fit's draws are the serial compile's. The expansion's object code
is compiled from the same LLVM IR by the same LLVM, before instead of after the log
density (tests/test_parallel_compile.py checks both callbacks' outputs equal a serial
compile's exactly).

Serial, silently and with the same result, when:

* ``MULTILEVEL_PARALLEL_COMPILE=0`` or :data:`ENABLED` is false;
* :func:`multilevel.forked.can_fork` says no (one core, not Linux, a daemonic process
  such as a Dask nanny's worker);
* the fork fails, the child fails, is killed, or produces an uncacheable result (dynamic
  globals: code with addresses of this process that object code cannot carry);
* the child stalls (no CPU time for :data:`STALL_S` seconds: blocked on a lock that
  another thread held at the fork) or outlives :func:`_deadline`; it is killed.

Threads. The fork happens while this thread holds numba's compiler lock, so no other
thread is inside numba or LLVM (the only work the child does). The other threads of a
fit process are C threads that hold no lock the child needs (measured: 2 OpenBLAS
workers, jemalloc's background thread; nutpie's sampler threads are joined when a
sampling ends, none remain); glibc's and jemalloc's allocators re-initialise their
locks at a fork, and CPython its own (GIL, import lock, logging). What cannot be proven
safe (a lock held by another Python thread that the child would need) is caught by the
stall check and costs a serial compile, never a hang.

Load. The fork is made whatever the machine's load: with other work running, two
processes get a larger share of the cores than one (measured on 2 cores, bench/README.md:
at load 2.3-3.3 the callbacks took 2.4-2.9 s forked against 3.5-3.9 s serial; one batch
at load 3.1-3.7 was slower forked, 4.7-5.9 s against 3.5-5.2 s). The fork costs 0.2-0.4
CPU seconds more in all (copy-on-write page faults, the child's start).
"""

from __future__ import annotations

import contextlib
import gc
import os
import time
import warnings

from multilevel.forked import can_fork, collect_reply, reap, send_reply

ENABLED = os.environ.get("MULTILEVEL_PARALLEL_COMPILE", "1").strip().lower() not in (
    "0", "false", "off", "no")
STALL_S = 5.0        # a child with no CPU time for this long is blocked: killed, serial
MIN_WAIT_S = 30.0    # after this process's compile ends, the child gets at least this long
WAIT_RATIO = 4.0     # ... or this many times that compile's seconds, whichever is longer
# numba's LLVM optimization level for the callbacks only (None: numba's, 3); measured in
# bench/README.md ("First-ever fit"), not adopted
OPT_LEVEL: int | None = None
# What the last compile_pair did: "forked", or "serial: <why>"; seconds of each callback
# (the child's as measured in the child) and of both together (bench_coldstart.py).
LAST: dict = {}
# How the last rebuild readied numba: "runtime" (its runtime's symbols) or "refresh"
# (the whole context; multilevel.bayes.objcode)
LAST_LINK: dict = {}


class _Capture:
    """Stands in for numba's function cache to keep the compile result of a C callback."""

    cres = None

    def load_overload(self, sig, target_context):
        return None

    def save_overload(self, sig, cres):
        self.cres = cres


class LoadedCallback:
    """What nutpie needs of a compiled C callback: its address (and a live library)."""

    def __init__(self, cres, reduced: tuple | None = None):
        self._cres = cres
        self._reduced = reduced
        self.address = cres.library.get_pointer_to_function(cres.fndesc.llvm_cfunc_wrapper_name)

    def reduce(self) -> tuple:
        """``cres._reduce()``: what the disk cache stores (a rebuilt library cannot be
        serialized again, numba keeps no object code of it: the parts it was rebuilt from),
        without the environments its code never reads (:func:`multilevel.bayes.objcode.slim`)."""
        from multilevel.bayes.objcode import slim

        return slim(self._reduced if self._reduced is not None else self._cres._reduce())


def compile_callback(pyfunc, signature) -> LoadedCallback:
    """numba's compile of ``pyfunc`` as a C callback, keeping its compile result."""
    from numba.core import sigutils
    from numba.core.ccallback import CFunc

    cfunc = CFunc(pyfunc, sigutils.normalize_signature(signature), locals={}, options={})
    cfunc._cache = _Capture()
    with _opt_level():
        cfunc.compile()
    return LoadedCallback(cfunc._cache.cres)


@contextlib.contextmanager
def _opt_level():
    """:data:`OPT_LEVEL` for the module passes numba runs while this block compiles
    (numba reads ``config.OPT`` when it builds each pass manager)."""
    if OPT_LEVEL is None:
        yield
        return
    from numba.core import config

    saved = config.OPT
    config.OPT = config._OptLevel(OPT_LEVEL)
    try:
        yield
    finally:
        config.OPT = saved


def cacheable(cres) -> bool:
    """Whether the object code of ``cres`` may leave this process (disk cache, a fork)."""
    return not cres.library.has_dynamic_globals and all(x.can_cache for x in cres.lifted)


def rebuild(reduced) -> LoadedCallback:
    """A callback from ``cres._reduce()``'s parts (stored on disk or sent by a child)."""
    from numba.core.compiler import CompileResult
    from numba.core.registry import cpu_target

    from multilevel.bayes.objcode import prepare

    context = cpu_target.target_context
    LAST_LINK["context"] = prepare(context, reduced)   # the symbols the object code needs
    return LoadedCallback(CompileResult._rebuild(context, *reduced), reduced)


def compile_pair(first: tuple, second: tuple) -> tuple[LoadedCallback, LoadedCallback]:
    """``(compile_callback(*first), compile_callback(*second))``, the second in a forked
    child while this process compiles the first, where that is possible and safe.

    Examples
    --------
    >>> from multilevel.bayes.parallel_compile import compile_pair
    >>> def inc(x):
    ...     return x + 1.0
    >>> a, b = compile_pair((inc, "float64(float64)"), (inc, "float64(float64)"))  # doctest: +SKIP
    >>> a.address != 0 and b.address != 0  # doctest: +SKIP
    True
    """
    start, cpu = time.perf_counter(), time.process_time()
    why = _why_serial()
    child = None if why else _fork(second)
    if child is None:
        LAST.clear()
        LAST["mode"] = f"serial: {why or 'fork failed'}"
        one = _timed(first, "first_s")
        two = _timed(second, "second_s")
        LAST["both_s"] = time.perf_counter() - start
        LAST["cpu_s"] = time.process_time() - cpu
        return one, two
    LAST.clear()
    LAST["pid"] = child[0]
    try:
        one = _timed(first, "first_s")
    except BaseException:
        os.close(child[1])
        _reap(child[0], kill=True)
        raise
    status, value, seconds = _collect(*child, waited_for=LAST["first_s"])
    two = None
    if status == "ok":
        try:
            two = rebuild(value)
        except Exception as exc:  # noqa: BLE001  an object code that does not link: compile it here
            status = f"not rebuilt ({type(exc).__name__}: {exc})"
    if two is None:
        LAST["mode"] = f"serial: child {status}"
        two = _timed(second, "second_s")
    else:
        LAST["mode"], LAST["second_s"] = "forked", seconds
    LAST["both_s"] = time.perf_counter() - start
    LAST["cpu_s"] = time.process_time() - cpu + LAST.pop("child_cpu_s", 0.0)
    return one, two


def _why_serial() -> str | None:
    if not ENABLED:
        return "off (MULTILEVEL_PARALLEL_COMPILE=0)"
    if not hasattr(os, "fork") or not can_fork():
        return "no fork here (one core, not Linux, or a daemonic process)"
    return None


def _timed(args: tuple, name: str) -> LoadedCallback:
    t = time.perf_counter()
    out = compile_callback(*args)
    LAST[name] = time.perf_counter() - t
    return out


def _fork(args: tuple) -> tuple[int, int] | None:
    """Start the child compiling ``args``; (its pid, the pipe's read end), or None."""
    from numba.core.compiler_lock import global_compiler_lock

    try:
        read_fd, write_fd = os.pipe()
    except OSError:
        return None
    # Holding numba's compiler lock, no other thread is inside numba or LLVM at the fork.
    # Frozen, the inherited objects stay out of the child's garbage collections (a full
    # collection would walk, and copy, the parent's whole heap: multilevel.forked).
    pid = -1
    with global_compiler_lock:
        gc.freeze()
        try:
            with warnings.catch_warnings():   # Python >= 3.12: "multi-threaded, use of fork()"
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            pid = -1
        finally:
            if pid != 0:
                gc.unfreeze()
    if pid == 0:   # the child: never returns
        _child(write_fd, read_fd, args)
    os.close(write_fd)
    if pid < 0:
        os.close(read_fd)
        return None
    return pid, read_fd


def _child(write_fd: int, read_fd: int, args: tuple) -> None:
    code = 1
    try:
        os.close(read_fd)
        warnings.simplefilter("ignore")   # nothing from the child on the user's terminal
        t = time.perf_counter()
        cres = compile_callback(*args)._cres
        seconds = time.perf_counter() - t
        if cacheable(cres):
            reply = ("ok", cres._reduce(), seconds)
        else:
            reply = ("uncacheable (dynamic globals)", None, seconds)
        send_reply(write_fd, reply)
        code = 0
    except BaseException:  # noqa: BLE001  any failure: the parent compiles serially
        code = 1
    finally:
        os._exit(code)   # no atexit handlers, no flushing of the parent's buffers


def _collect(pid: int, read_fd: int, waited_for: float):
    """The child's reply (status, value, seconds); waits while the child makes progress."""
    problem, reply, cpu_s = collect_reply(pid, read_fd, max(MIN_WAIT_S, WAIT_RATIO * waited_for),
                                          STALL_S)
    LAST["child_cpu_s"] = cpu_s
    return (problem, None, None) if problem is not None else reply


def _reap(pid: int, kill: bool) -> int:
    """Wait for the child (killed first where asked); its exit status (negative: signal).
    Its CPU seconds go to ``LAST["child_cpu_s"]``."""
    exit_code, LAST["child_cpu_s"] = reap(pid, kill)
    return exit_code
