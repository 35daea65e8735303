"""bayestestR's ``describe_posterior`` for a BayesFit or a table of draws."""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.effects import posterior as P
from multilevel.errors import DataError

LOGIT_ROPE = 0.1 * np.pi / np.sqrt(3)  # bayestestR's default for logistic models


def default_rope(fit) -> tuple[float, float]:
    """bayestestR's ``rope_range``: ±0.1·SD(y) for linear models, ±0.1·π/√3 on the logit
    scale, ±0.1 otherwise."""
    if fit.family in ("gaussian", "t"):
        half = 0.1 * float(np.std(np.asarray(fit.design.y, dtype=float), ddof=1))
    elif fit.family in ("bernoulli", "binomial"):
        half = LOGIT_ROPE
    else:
        half = 0.1
    return -half, half


def _draws_of(obj) -> pd.DataFrame:
    if isinstance(obj, pd.DataFrame):
        return obj
    if isinstance(obj, pd.Series):
        return obj.to_frame()
    if isinstance(obj, np.ndarray):
        arr = obj.reshape(len(obj), -1) if obj.ndim > 1 else obj[:, None]
        return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])] if arr.shape[1] > 1 else ["x"])
    from multilevel.effects.hypothesis import parameter_draws

    return parameter_draws(obj).drop(columns=["sigma"], errors="ignore")


def describe_posterior(posterior, rope="default", ci: float = 0.95, ci_method: str = "eti",
                       rope_ci: float = 0.95, bf: bool = False, prior_draws: int = 4000,
                       seed: int | None = 0) -> pd.DataFrame:
    """Median, credible interval, probability of direction, ROPE share (and a Bayes factor)
    per parameter, as bayestestR 0.13's ``describe_posterior``.

    Parameters
    ----------
    posterior : BayesFit, DataFrame (one column of draws per parameter) or array
    rope : "default", (lo, hi) or None
        "default" is bayestestR's ``rope_range`` for a fit (±0.1·SD(y) for linear models,
        ±0.18 on the logit scale, ±0.1 otherwise) and ±0.1 for plain draws.
    ci : float
    ci_method : {"eti", "hdi"}
        bayestestR's default for ``describe_posterior`` is "eti".
    rope_ci : float
        The ROPE share is taken over the draws within this interval; bayestestR 0.13's
        ``rope()`` takes the equal-tailed interval (``ci_method = "ETI"``), as here.
    bf : bool
        Add ``BF``, the Savage–Dickey Bayes factor against the point null 0 (prior density /
        posterior density: > 1 favours an effect), from the fit's own prior.

    Returns
    -------
    DataFrame with ``Parameter``, ``Median``, ``CI``, ``CI_low``, ``CI_high``, ``pd``, and with a
    ROPE ``ROPE_CI``, ``ROPE_low``, ``ROPE_high``, ``ROPE_Percentage`` (a proportion), and ``BF``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.random.default_rng(1).normal(0.5, 1, 4000)
    >>> describe_posterior(x, rope=(-0.1, 0.1))[["Parameter", "pd"]]
      Parameter     pd
    0         x  0.686
    """
    from multilevel.effects._engine import check_ci, is_bayes

    ci, rope_ci = check_ci(ci), float(rope_ci)
    if not 0 < rope_ci <= 1:
        raise DataError(f"rope_ci must lie in (0, 1], got {rope_ci!r}.")
    is_fit = not isinstance(posterior, (pd.DataFrame, pd.Series, np.ndarray))
    if is_fit and not is_bayes(posterior):
        raise DataError("describe_posterior() needs a Bayesian fit or a table of draws.")
    draws = _draws_of(posterior)
    if isinstance(rope, str):
        if rope != "default":
            raise DataError(f"rope={rope!r}; use 'default', a (lo, hi) pair or None.")
        rope = default_rope(posterior) if is_fit else (-0.1, 0.1)
    elif rope is not None:
        if len(rope) != 2 or not rope[0] < rope[1]:
            raise DataError(f"rope={rope!r} must be a (lo, hi) pair with lo < hi.")
        rope = (float(rope[0]), float(rope[1]))
    prior = None
    if bf:
        if not is_fit:
            raise DataError("bf=True needs the fit (its prior); plain draws carry none.")
        from multilevel.effects.hypothesis import parameter_draws

        prior = parameter_draws(posterior, "prior", prior_draws, seed)
    rows = []
    for name in draws.columns:
        x = draws[name].to_numpy(dtype=float)
        lo, hi = P.interval(x, ci, ci_method)
        row = {"Parameter": name, "Median": float(np.median(x)), "CI": ci, "CI_low": lo, "CI_high": hi,
               "pd": P.p_direction(x)}
        if rope is not None:
            row.update(ROPE_CI=rope_ci, ROPE_low=rope[0], ROPE_high=rope[1],
                       ROPE_Percentage=P.rope_share(x, rope, rope_ci))
        if prior is not None:
            ratio = P.savage_dickey(x, prior[name].to_numpy(dtype=float), 0.0)
            row["BF"] = 1.0 / ratio if ratio > 0 else np.inf  # no posterior density left at 0
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(ci_method=ci_method)
    return out
