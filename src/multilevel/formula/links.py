"""The response scale: each family's links and their inverses, as R's family objects.

The default links are lme4's (and Bambi's): logit for bernoulli and binomial, log for
poisson and the negative binomial, inverse for gamma (R's ``Gamma()`` and Bambi's),
identity for gaussian and t; Bambi's for the families lme4 lacks (logit for beta, log for
exponential, weibull and the zero-inflated and hurdle families, whose mean here is that of
the non-zero component, identity for laplace). ``link=`` chooses another
from :data:`LINKS`. Bayesian predictions and the frequentist GLM/GLMM fits both map
linear predictors through :func:`inverse_link`.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from multilevel.errors import FamilyError

LOGIT = frozenset({"bernoulli", "binomial"})
LOG = frozenset({"poisson", "negativebinomial", "gamma"})
# The links each family accepts (first: the default).
LINKS = {
    "bernoulli": ("logit", "probit", "cloglog"),
    "binomial": ("logit", "probit", "cloglog"),
    "poisson": ("log", "identity", "sqrt"),
    "negativebinomial": ("log",),
    "gamma": ("inverse", "log", "identity"),
    "gaussian": ("identity",),   # log: Bambi's default priors fail to initialize it (absent)
    "t": ("identity",),
    # Bambi's default links of the further families (only those)
    "beta": ("logit",),
    "exponential": ("log",),
    "weibull": ("log",),
    "laplace": ("identity",),
    "zero_inflated_poisson": ("log",),
    "zero_inflated_negativebinomial": ("log",),
    "hurdle_poisson": ("log",),
    "hurdle_negativebinomial": ("log",),
    "hurdle_gamma": ("log",),
    "beta_binomial": ("logit",),
    "zero_inflated_binomial": ("logit",),
    # inverse Gaussian: log by default, not Bambi's (and R's) 1/mu^2 (multilevel.bayes.translate.
    # BAMBI_LINKS says why); R's other links for glmer's inverse.gaussian with method="ml"
    "wald": ("log", "1/mu^2", "inverse", "identity"),
    "lognormal": ("identity",),   # η is the mean of log(y)
    "hurdle_lognormal": ("identity",),
    # ordinal: P(y <= k) = logistic(threshold_k - η) (cumulative), P(y = k | y >= k) for sratio
    "cumulative": ("logit",),
    "sratio": ("logit",),
    "categorical": ("softmax",),   # P(y = k) = exp(η_k) / Σ exp(η_j), η of the first category 0
}


def default_link(family: str) -> str:
    """The link used when ``link=`` is not given."""
    return LINKS.get(family, ("identity",))[0]


def inverse_link_fn(link: str):
    """μ = g⁻¹(η) for an R link name."""
    return {"logit": special.expit, "probit": special.ndtr,
            "cloglog": lambda e: -np.expm1(-np.exp(np.minimum(e, 700))),
            "log": np.exp, "identity": lambda e: e, "sqrt": np.square,
            "inverse": lambda e: 1.0 / e, "1/mu^2": lambda e: 1.0 / np.sqrt(e)}[link]


def inverse_link(family: str, eta: np.ndarray, link: str | None = None) -> np.ndarray:
    """The mean on the response scale (a probability per trial for the binomial families).

    Examples
    --------
    >>> inverse_link("poisson", np.array([0.0, 1.0])).round(4).tolist()
    [1.0, 2.7183]
    >>> inverse_link("binomial", np.array([0.0]), link="probit").tolist()
    [0.5]
    """
    return inverse_link_fn(link or default_link(family))(eta)


def check_link(family: str, link: str | None) -> str | None:
    """Validate ``link=`` for the family (R's names); None or the default link → None."""
    if link is None:
        return None
    allowed = LINKS.get(family, ())
    if link not in allowed:
        raise FamilyError(f"link={link!r} is not available for family {family!r}; use one of "
                          f"{', '.join(allowed)}.")
    return None if link == default_link(family) else link
