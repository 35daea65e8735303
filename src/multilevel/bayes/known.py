"""Known-covariance group effects in the Bayesian engine: ``(1 | gr(g, cov = A))``.

brms's parameterization: with A = R R' factored once (:mod:`multilevel.formula.known`),
the effects are b = sd · R z with z ~ N(0, 1) per level and the group SD ``sd`` under
the usual group-SD prior (Bambi's HalfNormal default for the term, or the user's
``sd__(Intercept)|g`` / ``1|g`` prior). The effects are stored under Bambi's name
(``1|g``, one per level) and the SD under ``1|g_sigma``, so summaries, predictions and
the log-likelihood read them as any other intercept term's.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt
from bambi.backend.terms import GroupSpecificTerm

from multilevel.errors import PriorError


def known_root_in_bambi_order(known, bambi_levels) -> np.ndarray:
    """R with rows in Bambi's level order (R R' = A in that order)."""
    position = {level: i for i, level in enumerate(known.levels)}
    labels = [str(level) for level in bambi_levels]
    missing = [lv for lv in labels if lv not in position]
    if missing:   # the design and Bambi see the same rows; a mismatch is a spelling problem
        raise PriorError(f"The levels {missing[:5]} of {known.name!r}'s term are spelled differently "
                         "by Bambi and the design; use string labels for the grouping column.")
    return known.dense_root()[[position[lv] for lv in labels]]


def _sd_prior(term, name: str):
    """The term's SD prior: Bambi's ``Normal(0, sigma=<SD prior>)`` → the SD's distribution."""
    prior = term.prior
    sigma = prior.args.get("sigma") if prior.name == "Normal" else None
    mu = np.asarray(prior.args.get("mu", 0.0)) if prior.name == "Normal" else None
    if (sigma is None or not hasattr(sigma, "name") or set(prior.args) - {"mu", "sigma"}
            or mu.dtype.kind not in "iuf" or np.any(mu != 0)):
        raise PriorError(f"The known-covariance term {term.name!r} has effects sd · R z; give its "
                         "prior as Prior('Normal', mu=0, sigma=<a prior on the SD>), e.g. "
                         "sigma=Prior('HalfNormal', sigma=2).")
    dist = getattr(pm, sigma.name)
    return dist(name, **{k: np.asarray(v, dtype=float) for k, v in sigma.args.items()})


def build_known_term(term, known, pymc_backend, noncentered: bool):
    """Add the effects b = sd · R z of one known-covariance term; returns its contribution to
    the linear predictor (b[level of row] · predictor)."""
    coords = GroupSpecificTerm(term, noncentered).coords
    for name, values in coords.items():
        if name not in pymc_backend.model.coords:
            pymc_backend.model.add_coords({name: values})
    dims = list(coords)
    R = known_root_in_bambi_order(known, term.groups)
    sd = _sd_prior(term, f"{term.name}_sigma")
    z = pm.Normal(f"{term.name}_offset", 0.0, 1.0, dims=dims)
    coef = pm.Deterministic(term.name, sd * pt.dot(pt.as_tensor_variable(R), z), dims=dims)
    return coef[term.group_index] * np.asarray(term.predictor).reshape(-1)
