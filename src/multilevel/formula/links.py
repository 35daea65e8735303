"""The response scale: each family's inverse link.

Bambi's links are lme4's canonical ones: logit for bernoulli and binomial, log for
poisson and negative binomial, identity for gaussian and t. Bayesian predictions and
the frequentist GLM/GLMM fits both map linear predictors through :func:`inverse_link`.
"""

from __future__ import annotations

import numpy as np
from scipy import special

LOGIT = frozenset({"bernoulli", "binomial"})
LOG = frozenset({"poisson", "negativebinomial"})


def inverse_link(family: str, eta: np.ndarray) -> np.ndarray:
    """The mean on the response scale (a probability per trial for the logit families).

    Examples
    --------
    >>> inverse_link("poisson", np.array([0.0, 1.0])).round(4).tolist()
    [1.0, 2.7183]
    """
    if family in LOGIT:
        return special.expit(eta)
    if family in LOG:
        return np.exp(eta)
    return eta
