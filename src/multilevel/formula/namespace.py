"""The only names a formula can call besides formulae's own transforms.

formulae evaluates calls in an environment; by default it captures the caller's
frame (so ``np.system``-like tricks would be reachable). We hand it this closed
namespace instead; :func:`multilevel.formula.parse.check_names` refuses any
other call before evaluation.

``scale``, ``standardize`` and ``center`` are here for completeness, but formulae looks
its own transforms up first: :mod:`multilevel.formula.transforms` therefore installs R's
versions in formulae's table, so that our design and Bambi's both use them.
"""

from __future__ import annotations

import numpy as np
from formulae.environment import Environment

from multilevel.formula import transforms
from multilevel.formula.splines import NaturalSpline


def r_log(x, base=None):
    """R's ``log(x, base = exp(1))``: ``log(wt, 10)``, ``log(wt, base = 2)``."""
    return np.log(x) if base is None else np.log(x) / np.log(float(base))


def r_round(x, digits=0):
    """R's ``round(x, digits = 0)`` (IEC 60559: halves to even, as numpy)."""
    return np.round(np.asarray(x, dtype=float), int(digits))


def r_ifelse(test, yes, no):
    """R's ``ifelse(test, yes, no)``, element-wise."""
    return np.where(np.asarray(test, dtype=bool), yes, no)


# R's element-wise maths under R's names (all numpy ufuncs: nothing else is reachable)
R_MATHS = {"floor": np.floor, "ceiling": np.ceil, "trunc": np.trunc, "sign": np.sign,
           "sin": np.sin, "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
           "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
           "expm1": np.expm1, "pmin": np.minimum, "pmax": np.maximum}

SAFE_FUNCTIONS = {
    **R_MATHS,
    "ifelse": r_ifelse,
    "divide": np.divide,   # a / b inside a call (multilevel.formula.parse.divisions_as_calls)
    "mod": np.mod,         # R's a %% b inside a call (floored, as R's): same place
    "log": r_log,
    "round": r_round,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
    **transforms.FORMULA_TRANSFORMS,
    "ns": NaturalSpline,
    # R's spellings of the logical constants, for arguments such as scale(x, scale = FALSE)
    "TRUE": True,
    "FALSE": False,
}


def safe_environment() -> Environment:
    """A formulae evaluation environment holding only :data:`SAFE_FUNCTIONS`."""
    return Environment([dict(SAFE_FUNCTIONS)])
