"""Penalized smooths s(x) in the Bayesian engine (brms's ``s()``).

As in the REML/ML engine (:mod:`multilevel.formula.smooths`), a smooth is its
unpenalized columns, passed to Bambi as ordinary fixed-effect columns (named
:func:`bambi_column`, shown as ``s(x)Fx1``), plus its penalized block X_r b with
b = sds · z, z ~ N(0, 1): brms's parameterization. The smooth's SD ``sds`` (shown as
``sd__s(x)|s(x)``) has brms's default prior, a half Student-t with 3 degrees of freedom
and scale max(2.5, MAD(y)) for identity-link models (2.5 otherwise).
"""

from __future__ import annotations

import re

import numpy as np
import pymc as pm
import pytensor.tensor as pt

SD_DF = 3.0


def bambi_column(smooth, i: int) -> str:
    """The data column holding a smooth's i-th unpenalized column for Bambi."""
    return f"s__{re.sub(r'[^A-Za-z0-9]', '_', smooth.spec.var)}__Fx{i + 1}"


def sd_scale(y: np.ndarray, identity_link: bool) -> float:
    """brms's default scale of SD priors: max(2.5, MAD(y)) on the identity link."""
    if not identity_link:
        return 2.5
    mad = 1.4826 * float(np.median(np.abs(y - np.median(y))))
    return max(2.5, mad)


def build_smooth_term(term, pymc_backend, scale: float):
    """Add the penalized block of one smooth; returns its contribution X_r · b."""
    dim = f"{term.name}__factor_dim"
    if dim not in pymc_backend.model.coords:
        pymc_backend.model.add_coords({dim: list(term.levels)})
    sd = pm.HalfStudentT(f"{term.name}_sigma", nu=SD_DF, sigma=scale)
    z = pm.Normal(f"{term.name}_offset", 0.0, 1.0, dims=dim)
    b = pm.Deterministic(term.name, sd * z, dims=dim)
    return pt.dot(pt.as_tensor_variable(np.asarray(term.smooth_Z, dtype=float)), b)
