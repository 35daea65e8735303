"""Can these models be compared? Same rows, same response, comparable likelihoods.

Every check raises :class:`~multilevel.errors.ComparisonError` naming the models
and saying what to do.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from multilevel.errors import ComparisonError

# A density and a probability mass are not on the same scale: elpd, AIC and LRT
# across these two kinds compare numbers with different units.
CONTINUOUS = {"gaussian", "t", "gamma", "beta", "exponential", "weibull", "laplace", "wald",
              "lognormal"}


def is_bayes(fit) -> bool:
    return hasattr(fit, "idata")


def check_fits(fits) -> dict:
    """Validate the ``{name: fit}`` mapping; returns it as a plain dict (order kept)."""
    if not isinstance(fits, Mapping):
        raise ComparisonError(
            f"compare() takes a dict {{name: fit}}, got {type(fits).__name__}. "
            "Example: ml.compare({'intercepts': fit_a, 'slopes': fit_b})."
        )
    fits = dict(fits)
    if len(fits) < 2:
        raise ComparisonError(
            f"compare() needs at least two models, got {len(fits)}"
            + (f" ({', '.join(map(repr, fits))})" if fits else "") + "."
        )
    for name, fit in fits.items():
        if not isinstance(name, str) or not name:
            raise ComparisonError(f"Model names must be non-empty strings, got {name!r}.")
        if not (is_bayes(fit) or hasattr(fit, "loglik")) or not hasattr(fit, "design"):
            raise ComparisonError(
                f"Model {name!r} is a {type(fit).__name__}, not a fit from multilevel.fit()."
            )
    _check_same_data(fits)
    _check_families(fits)
    return fits


def _response(fit) -> str:
    return fit.design.spec.parsed.response.text


def _check_same_data(fits: dict) -> None:
    names = list(fits)
    ref_name, ref = names[0], fits[names[0]]
    y0 = np.asarray(ref.design.y, dtype=float)
    for name in names[1:]:
        fit = fits[name]
        y = np.asarray(fit.design.y, dtype=float)
        if y.shape != y0.shape:
            raise ComparisonError(
                f"Models {ref_name!r} and {name!r} were fit to different data: {y0.size} vs "
                f"{y.size} rows. Compare models on the same rows: remove rows with missing "
                "values in any model's columns before fitting all of them."
            )
        if not np.allclose(y, y0, rtol=1e-10, atol=0.0, equal_nan=False):
            raise ComparisonError(
                f"Models {ref_name!r} and {name!r} have different responses "
                f"({_response(ref)!r} vs {_response(fit)!r}, or different rows): their "
                "likelihoods are not comparable. Fit both to the same response and rows."
            )
        # binomial vs poisson of the same counts is a fair comparison; different trials are not
        t0, t = ref.design.frame.trials, fit.design.frame.trials
        if t0 is not None and t is not None and not np.array_equal(t0, t):
            raise ComparisonError(
                f"Models {ref_name!r} and {name!r} have different binomial trials; "
                "compare models of the same counts."
            )
        w0, w = ref.design.weights, fit.design.weights
        if (w0 is None) != (w is None) or (w0 is not None and not np.array_equal(w0, w)):
            raise ComparisonError(
                f"Models {ref_name!r} and {name!r} have different prior weights (weights=): "
                "each weighs the rows' log-likelihood differently, so elpd, AIC and LRT are not "
                "comparable. Fit both with the same weights."
            )


def _check_families(fits: dict) -> None:
    kinds = {name: fit.family in CONTINUOUS for name, fit in fits.items()}
    if len(set(kinds.values())) > 1:
        listing = ", ".join(f"{n!r} ({fits[n].family})" for n in fits)
        raise ComparisonError(
            f"Cannot compare {listing}: the log-likelihood of a continuous family (gaussian, t) "
            "is a density and that of a discrete family a probability, so elpd, AIC and "
            "likelihood-ratio tests across them are meaningless. Compare models of one kind."
        )


def families_differ(fits: dict) -> bool:
    return len({fit.family for fit in fits.values()}) > 1
