"""Map a function over items in forked worker processes, or in turn where forking is not
available.

Forked children inherit the parent's memory, so the function may be a closure over
large objects (a fitted model, a factorization set-up) that could not be pickled or
would be slow to; only the items' results travel back. Used for the marginal
sampler's chains and the report's figures. Serial when there is one core, off Linux
(fork is unsafe on macOS), and inside daemonic processes (Dask workers may not fork).
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import sys
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
