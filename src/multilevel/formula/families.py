"""What each response family needs of the data, and its parameters besides the mean.

One table for every stage: the model frame validates the response with
:data:`RESPONSE` (:func:`check_family_response`), the Bayesian engine reads the
auxiliary parameters from :data:`AUXILIARY` (the names Bambi gives them in the
posterior, with Bambi's default priors), and the summary lists them.
"""

from __future__ import annotations

import numpy as np

from multilevel.errors import DataError
from multilevel.formula.validate import check_counts

# The family's parameters besides the mean, as named in Bambi's posterior.
AUXILIARY = {
    "gaussian": ("sigma",), "t": ("sigma", "nu"), "negativebinomial": ("alpha",),
    "bernoulli": (), "binomial": (), "poisson": (), "gamma": ("alpha",),
    "beta": ("kappa",), "exponential": (), "weibull": ("alpha",), "laplace": ("b",),
    "zero_inflated_poisson": ("psi",),
    "zero_inflated_negativebinomial": ("alpha", "psi"), "hurdle_poisson": ("psi",),
    "hurdle_negativebinomial": ("alpha", "psi"), "hurdle_gamma": ("alpha", "psi"),
    "beta_binomial": ("kappa",), "zero_inflated_binomial": ("psi",),
    "wald": ("lam",), "lognormal": ("sigma",), "hurdle_lognormal": ("sigma", "psi"),
}
# Families whose response is successes out of trials (cbind(s, f) or p(s, n)).
TRIALS_FAMILIES = ("binomial", "beta_binomial", "zero_inflated_binomial")

# What the response must be: "real", "positive", "nonnegative", "unit" (strictly between 0 and 1),
# "counts" (non-negative whole numbers); bernoulli and binomial are read elsewhere.
RESPONSE = {
    "gaussian": "real", "t": "real", "laplace": "real",
    "gamma": "positive", "exponential": "positive", "weibull": "positive",
    "wald": "positive", "lognormal": "positive", "hurdle_lognormal": "nonnegative",
    "beta": "unit",
    "poisson": "counts", "negativebinomial": "counts", "zero_inflated_poisson": "counts",
    "zero_inflated_negativebinomial": "counts", "hurdle_poisson": "counts",
    "hurdle_negativebinomial": "counts", "hurdle_gamma": "nonnegative",
}


def check_family_response(y: np.ndarray, family: str, name: str) -> None:
    """Refuse a response outside the family's support, naming the column.

    Examples
    --------
    >>> check_family_response(np.array([0.2, 0.9]), "beta", "share")
    >>> check_family_response(np.array([0.2, 1.0]), "beta", "share")
    Traceback (most recent call last):
    ...
    multilevel.errors.DataError: Response column 'share' must lie strictly between 0 and 1 ...
    """
    kind = RESPONSE.get(family, "real")
    if kind == "counts":
        check_counts(y, family, name)
        return
    if kind == "positive":
        bad = y <= 0
        need = "must be positive"
    elif kind == "nonnegative":
        bad = y < 0
        need = "must be non-negative (zeros, and positive amounts)"
    elif kind == "unit":
        bad = (y <= 0) | (y >= 1)
        need = "must lie strictly between 0 and 1"
    else:
        return
    if bad.any():
        shown = ", ".join(f"{v:g}" for v in np.unique(y[bad])[:5])
        hint = (" (proportions of exactly 0 or 1: squeeze them, e.g. (y * (n - 1) + 0.5) / n, "
                "or model the counts with family='binomial')") if kind == "unit" else ""
        raise DataError(
            f"Response column {name!r} {need} for family {family!r}; {int(bad.sum())} row(s) "
            f"have other values ({shown}){hint}."
        )
