"""One BLAS thread around the optimizer loops and the report's figure workers, without
rescanning the loaded libraries. A module of the ground layer: the report of a Bayesian
fit does not import the REML engine (``multilevel.freq``, 15 ms) to use it.

``threadpoolctl.threadpool_limits`` builds a ``ThreadpoolController`` on every call,
which walks the process's shared libraries (2-3 ms, as long as a whole sleepstudy
REML fit's evaluations). The controller is built once, on first use (after numpy and
scipy have loaded their BLAS), and reused.
"""

from __future__ import annotations

import sys

_CONTROLLER = None
_MODULES = -1   # len(sys.modules) when the controller was built


def single_blas_thread():
    """Context manager limiting BLAS to one thread (the dense pieces of the deviance gain
    nothing from more, and lose badly when the cores are shared: bench/bench_freq.py).

    Examples
    --------
    >>> import numpy as np
    >>> with single_blas_thread():
    ...     float(np.ones((2, 2)) @ np.ones(2) @ np.ones(2))
    4.0
    """
    global _CONTROLLER, _MODULES
    if _CONTROLLER is None or len(sys.modules) != _MODULES:
        # rebuilt when modules were imported since: one may have loaded another BLAS
        from threadpoolctl import ThreadpoolController

        _CONTROLLER, _MODULES = ThreadpoolController(), len(sys.modules)
    return _CONTROLLER.limit(limits=1, user_api="blas")
