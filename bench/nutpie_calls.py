"""What the per-gradient benchmarks share: the variables Bambi stores, and a compiled model's
log-density C callback called through ctypes."""

from __future__ import annotations

import ctypes

import numpy as np


def stored(model) -> list[str]:
    """What Bambi asks nutpie to store: every unobserved variable but the likelihood's mean."""
    return [v.name for v in model.unobserved_value_vars
            if v.name != "mu" and not v.name.endswith("__")]


def caller(compiled):
    """``call(x) -> (logp, gradient)`` of nutpie's compiled model; the gradient is one buffer
    reused by every call (copy it to keep it)."""
    proto = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_void_p,
                             ctypes.c_void_p, ctypes.c_void_p)
    fn, n = proto(compiled.compiled_logp_func.address), compiled.n_dim
    grad, logp, user = np.zeros(n), np.zeros(()), compiled.user_data.ctypes.data

    def call(x):
        fn(n, x.ctypes.data, grad.ctypes.data, logp.ctypes.data, user)
        return float(logp), grad
    return call
