"""Ordered categorical responses (``cumulative``, ``sratio``) in the package's layout.

Bambi fits them with thresholds in the intercept's place (it builds the design with an
intercept, so factors keep their contrasts, then removes that column): the design here
does the same, so the fixed effects, η = Xβ + Zb and predictions line up with Bambi's
posterior. The thresholds are one auxiliary vector, ``threshold``, reported one row per
boundary between adjacent categories with R's ``clm`` names (``1|2``, ``low|mid``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from multilevel.errors import FormulaError
from multilevel.formula import Design


def without_intercept(design: Design) -> Design:
    """The design with its intercept column removed (the thresholds take its place)."""
    if "(Intercept)" not in design.x_names:
        raise FormulaError(
            f"family={design.frame.family!r} has thresholds in place of the intercept, and the "
            "formula removes the intercept ('0 +' or '- 1'): keep it (write 'y ~ x', not "
            "'y ~ 0 + x'); it is not estimated."
        )
    j = design.x_names.index("(Intercept)")
    keep = [i for i in range(len(design.x_names)) if i != j]
    kept = np.arange(design.X.shape[1]) if design.spec.kept_columns is None else design.spec.kept_columns
    spec = dataclasses.replace(design.spec, x_names=[design.x_names[i] for i in keep],
                               kept_columns=np.asarray(kept)[keep])
    return dataclasses.replace(design, X=design.X[:, keep], x_names=spec.x_names, spec=spec)


def threshold_names(categories) -> list[str]:
    """R's ``clm`` names of the thresholds: ``"a|b"`` between adjacent categories a and b."""
    labels = [str(c) for c in categories]
    return [f"{a}|{b}" for a, b in zip(labels[:-1], labels[1:])]


THRESHOLD_SD = 2.5


def default_threshold_prior(family: str, n_categories: int):
    """Normal(μ_k, 2.5) on the thresholds, ordered for ``cumulative``: μ spread evenly over
    [-2, 2] (cumulative; Bambi's centres) or 0 (sratio, whose thresholds need no order).

    Bambi's SD of 1 is too tight on the logit scale: with no intercept the thresholds move
    with the predictors' mean (ordinal's wine data: clmm puts 4|5 at 6.1 ± 1.0, four SDs of
    Bambi's prior above its centre 2); 2.5 is brms's scale for ordinal intercepts.
    """
    import bambi as bmb
    import pymc as pm

    if family == "cumulative":
        return bmb.Prior("Normal", mu=np.round(np.linspace(-2, 2, n_categories - 1), 2),
                         sigma=THRESHOLD_SD, transform=pm.distributions.transforms.ordered)
    return bmb.Prior("Normal", mu=np.zeros(n_categories - 1), sigma=THRESHOLD_SD)
