"""Posterior predictions of a BayesFit, with lme4's choices for group effects.

The linear predictor is computed per posterior draw from the design's frozen spec
(the same columns as the fit), so predictions for new data need no PyMC model:

* ``group_effects=False``: fixed effects only (lme4's ``re.form = NA``);
* levels seen in the fit get their group effects;
* unseen levels get 0 (``new_groups="population"``, lme4's ``allow.new.levels``),
  a fresh draw from N(0, Σ) per posterior draw (``"sample"``: the uncertainty of a
  new group; seeded, so the same seed gives the same draws), or a DataError.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError, check_level, check_seed
from multilevel.formula.design import level_codes, term_matrix
from multilevel.formula.families import CATEGORICAL_FAMILIES, ORDINAL_FAMILIES
from multilevel.formula.frame import eval_arithmetic
from multilevel.formula.links import inverse_link
from multilevel.formula.newdata import check_newdata, pad_rows, predictable_rows
from multilevel.formula.reform import all_or_none, group_effect_masks
from multilevel.predict.categorical import predict_categorical, predictive_codes
from multilevel.predict.categorical import probabilities as categorical_probabilities
from multilevel.predict.ordinal import ordinal_values, probabilities

NEW_GROUPS = ("population", "sample", "error")
KINDS = ("mean", "predictive")


def predict_bayes(fit, newdata: pd.DataFrame | None = None, group_effects: bool | str = True,
                  new_groups: str = "population", kind: str = "mean", ci: float = 0.95,
                  seed: int | None = None, na_action: str = "pass") -> pd.DataFrame:
    """Posterior mean, SD and equal-tailed interval of predictions per row.

    Parameters
    ----------
    fit : BayesFit
    newdata : DataFrame or None
        None predicts the fitted rows.
    group_effects : bool or str
        All group effects, none, or those of a formula such as ``"~ (1 | Subject)"``
        (lme4's ``re.form``; :mod:`multilevel.formula.reform`).
    new_groups : {"population", "sample", "error"}
    kind : {"mean", "predictive"}
        The expected response (probability for binomial/bernoulli, rate for counts,
        ψμ for zero-inflated counts, ψμ/(1 − e^{−μ}) for hurdle counts, the expected
        category score for ordinal families: :mod:`multilevel.predict.ordinal`),
        or draws of new observations (binomial counts need the trials in ``newdata``).
        A categorical fit's table has a row per data row and category
        (:mod:`multilevel.predict.categorical`).
    ci : float
    seed : int or None
    na_action : {"pass", "exclude", "omit", "fail"}
        Rows of ``newdata`` with a missing predictor value: NaN ("pass", "exclude"), left
        out ("omit") or a DataError ("fail"), as lme4's ``predict(na.action=)``
        (:func:`multilevel.formula.newdata.predictable_rows`). A categorical fit's table
        refuses them.

    Returns
    -------
    DataFrame with ``estimate``, ``sd``, ``lower``, ``upper``, indexed like the data.

    Notes
    -----
    For fits with correlated residuals (``ar(time = t, gr = g)``, ``cosy(gr = g)``) the mean is μ
    and predictive draws are joint within each group of the given rows (so each row's
    SD is the marginal one, σ/√(1 − φ²) for AR(1)); they are not conditioned on the
    observed residuals of earlier time points.

    Examples
    --------
    >>> fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", seed=1)   # doctest: +SKIP
    >>> new = pd.DataFrame({"Days": [0, 5], "Subject": ["308", "new"]})
    >>> predict_bayes(fit, new, new_groups="sample", seed=1)                       # doctest: +SKIP
    """
    if new_groups not in NEW_GROUPS:
        raise DataError(f"new_groups={new_groups!r}; use one of {NEW_GROUPS}.")
    if kind not in KINDS:
        raise DataError(f"kind={kind!r}; use one of {KINDS}.")
    ci = check_level(ci)
    if newdata is not None and fit.family not in CATEGORICAL_FAMILIES:
        full, keep = newdata, predictable_rows(fit.design, newdata, new_groups, na_action)
        if keep is not None:   # predict the complete rows, then lme4's na.action
            table = (predict_bayes(fit, newdata[keep], group_effects, new_groups, kind, ci, seed)
                     if keep.any() else pd.DataFrame(columns=["estimate", "sd", "lower", "upper"]))
            return pad_rows(table, full.index, keep, na_action)
    elif newdata is not None:
        check_newdata(fit.design, newdata)
    if newdata is not None:
        _check_aux_newdata(fit, newdata)
    rng = np.random.default_rng(check_seed(seed))
    data = fit.design.frame.data if newdata is None else newdata
    if fit.family in CATEGORICAL_FAMILIES:   # a (row, category) table: multilevel.predict.categorical
        group_effects = all_or_none(group_effects, "categorical fits")
        return predict_categorical(fit, data, newdata, group_effects, new_groups, kind, ci, rng)
    if fit.family in ORDINAL_FAMILIES:   # category scores (multilevel.predict.ordinal)
        draws = linear_predictor_draws(fit, newdata, group_effects, new_groups, rng)
        values = ordinal_values(fit, draws, kind, rng)
    else:
        mean, params = parent_draws(fit, newdata, group_effects, new_groups, rng)
        values = (_expected(fit, mean, params) if kind == "mean"
                  else _predictive(fit, mean, data, newdata is None, rng, params))
    lo, hi = np.quantile(values, [(1 - ci) / 2, (1 + ci) / 2], axis=0)
    return pd.DataFrame({"estimate": values.mean(axis=0), "sd": values.std(axis=0, ddof=1),
                         "lower": lo, "upper": hi}, index=data.index)


def predictive_draws(fit, n_draws: int = 100, seed: int | None = None) -> np.ndarray:
    """Replicated data sets for the fitted rows, shape (n_draws, rows), from random
    posterior draws (for posterior predictive checks)."""
    if fit.family in CATEGORICAL_FAMILIES:   # category codes 0..K-1, as design.y holds them
        return predictive_codes(fit, n_draws=n_draws, seed=seed).astype(float)
    rng = np.random.default_rng(check_seed(seed))
    eta = linear_predictor_draws(fit, None, True, "population", rng)
    pick = rng.choice(eta.shape[0], size=min(n_draws, eta.shape[0]), replace=False)
    if fit.family in ORDINAL_FAMILIES:   # category scores, as design.y holds them
        return ordinal_values(fit, eta, "predictive", rng)[pick]   # η of every draw
    # only the picked draws are simulated: a hurdle count inverts a truncated CDF per draw
    # and row, which for every posterior draw takes seconds
    mean = inverse_link(fit.family, eta[pick], fit.link)
    params = {name: value[pick] for name, value in _auxiliary(fit, None, True, "population", rng).items()}
    return _predictive(fit, mean, fit.design.frame.data, True, rng, params, pick)


def category_probabilities(fit, newdata: pd.DataFrame | None = None, group_effects: bool = True,
                           new_groups: str = "population", seed: int | None = None) -> pd.DataFrame:
    """Posterior mean of P(y = k) for each row and category of an ordinal or categorical fit.

    Parameters
    ----------
    fit : BayesFit
        A ``cumulative``, ``sratio`` or ``categorical`` fit.
    newdata, group_effects, new_groups, seed
        As :func:`multilevel.predict.predict_bayes`.

    Returns
    -------
    DataFrame
        One row per data row (its index), one column per category in order; rows sum to 1.

    Examples
    --------
    >>> fit = ml.fit("rating ~ temp + contact + (1 | judge)", ml.datasets.load("wine"),
    ...              family="cumulative")                                  # doctest: +SKIP
    >>> category_probabilities(fit).head(2)                               # doctest: +SKIP
    """
    if fit.family not in (*ORDINAL_FAMILIES, *CATEGORICAL_FAMILIES):
        raise DataError(f"Category probabilities are for fits of family "
                        f"{', '.join((*ORDINAL_FAMILIES, *CATEGORICAL_FAMILIES))}; "
                        f"this fit's family is {fit.family!r}: use fit.predict().")
    if new_groups not in NEW_GROUPS:
        raise DataError(f"new_groups={new_groups!r}; use one of {NEW_GROUPS}.")
    if newdata is not None:
        check_newdata(fit.design, newdata)
    rng = np.random.default_rng(check_seed(seed))
    if fit.family in CATEGORICAL_FAMILIES:
        group_effects = all_or_none(group_effects, "categorical fits")
        probs = categorical_probabilities(fit, newdata, group_effects, new_groups, rng)
    else:
        probs = probabilities(fit, linear_predictor_draws(fit, newdata, group_effects, new_groups, rng))
    data = fit.design.frame.data if newdata is None else newdata
    return pd.DataFrame(probs.mean(axis=0), index=data.index,
                        columns=pd.Index(list(fit.design.frame.categories), name="category"))


def linear_predictor_draws(fit, newdata, group_effects: bool, new_groups: str, rng) -> np.ndarray:
    """η per posterior draw and row, shape (draws, rows)."""
    design = fit.design
    X = design.X if newdata is None else design.spec.fixed_X(newdata)
    eta = fit.fixef_draws().to_numpy() @ X.T
    offset = design.offset if newdata is None else design.spec.offset(newdata)
    if offset is not None:   # offset() terms, coefficient 1
        eta = eta + offset
    data = design.frame.data if newdata is None else newdata
    masks = group_effect_masks(design.reterms, group_effects, design.frame.data)
    grouped = any(m is not None for t, m in zip(design.reterms, masks) if t.smooth is None)
    effects = fit.ranef_draws() if grouped or design.spec.smooths else {}
    for term in design.reterms:   # a smooth s(x) is part of the population-level curve
        if term.smooth is not None:
            Zs = term.smooth_Z if newdata is None else term.smooth.random_matrix(data)
            eta = eta + effects[term.name][:, :, 0] @ Zs.T
    if not grouped:
        return eta
    from multilevel.bayes.loglik import group_contribution  # deferred: PyMC is behind bayes

    covariances = fit.covariance_draws() if new_groups == "sample" else {}
    for term, mask in zip(design.reterms, masks):
        if term.smooth is not None or mask is None:
            continue
        codes = term.codes if newdata is None else level_codes(term, data, new_groups)
        Xt = term.X if newdata is None else term_matrix(term, data)
        if not mask.all():   # the columns group_effects (re.form) keeps
            Xt = Xt * mask
        seen = codes >= 0
        contribution = group_contribution(effects[term.name], np.maximum(codes, 0), Xt)
        contribution[:, ~seen] = 0.0
        if new_groups == "sample" and not seen.all():
            from multilevel.bayes.distributional import new_group_draws   # one home for it

            contribution[:, ~seen] = new_group_draws(term, data, codes, Xt, covariances[term.name], rng)
        eta = eta + contribution
    return eta


def _check_aux_newdata(fit, newdata) -> None:
    """New rows carry the columns of the auxiliary parameters' formulas (sigma ~ x)."""
    if getattr(getattr(fit, "built", None), "aux", ()):
        from multilevel.bayes.distributional import check_newdata as check_aux   # deferred: PyMC

        check_aux(fit, newdata)


def _auxiliary(fit, newdata, group_effects: bool, new_groups: str, rng) -> dict:
    """The family's auxiliary parameters per posterior draw: shape (draws, 1), or (draws,
    rows) for a parameter with a formula of its own (``sigma ~ x``)."""
    from multilevel.bayes.distributional import parameter_draws   # deferred: PyMC is behind bayes

    return parameter_draws(fit, newdata, group_effects, new_groups, rng)


def parent_draws(fit, newdata, group_effects, new_groups: str, rng) -> tuple[np.ndarray, dict]:
    """The family's parent parameter μ per (draw, row) and its other parameters per draw
    (:func:`_auxiliary`), for a family with one linear predictor."""
    draws = linear_predictor_draws(fit, newdata, group_effects, new_groups, rng)
    return inverse_link(fit.family, draws, fit.link), _auxiliary(fit, newdata, group_effects,
                                                                 new_groups, rng)


def expected_draws(fit, newdata, group_effects, new_groups: str, rng) -> tuple[np.ndarray, dict]:
    """E[y] per (draw, row), and the family's other parameters (see :func:`parent_draws`)."""
    mean, params = parent_draws(fit, newdata, group_effects, new_groups, rng)
    return _expected(fit, mean, params), params


def _expected(fit, mu: np.ndarray, params: dict) -> np.ndarray:
    """E[y] per draw: the parent parameter μ, times the share of the count component for
    zero-inflated and hurdle counts."""
    from multilevel.bayes import densities   # deferred: PyMC is behind multilevel.bayes

    if fit.family not in densities.FAMILIES:
        return mu
    return densities.response_mean(fit.family, mu, params)


def _predictive(fit, mean: np.ndarray, data: pd.DataFrame, fitted_rows: bool, rng,
                params: dict | None = None, pick: np.ndarray | None = None) -> np.ndarray:
    """New observations per draw; ``params`` from :func:`_auxiliary` (None: the family's
    parameters read from the posterior as one value per draw); ``pick``: the posterior
    draws ``mean`` and ``params`` hold (None: all, in order)."""
    family, post = fit.family, fit.posterior

    def posterior(name):   # one value per draw of ``mean``: (draws, 1)
        values = np.asarray(post[name].values, dtype=float).reshape(-1, 1)
        return values if pick is None else values[pick]

    if params is None:
        from multilevel.formula.families import AUXILIARY

        params = {name: posterior(name) for name in AUXILIARY.get(family, ())}

    def aux(name):   # the family's parameters, else the residual correlation (ar1_phi, cs_rho)
        return params[name] if name in params else posterior(name)

    from multilevel.bayes import densities   # deferred: PyMC is behind multilevel.bayes

    if family in densities.FAMILIES:   # beta, weibull, zero-inflated and hurdle counts, ...
        trials = (_trials(fit, data, fitted_rows) if family in ("beta_binomial", "zero_inflated_binomial")
                  else None)
        return densities.simulate(family, mean, params, rng, trials)

    residuals = fit.design.spec.parsed.residuals
    if family == "gaussian" and residuals is not None:
        # correlated errors: joint draws within each group of these rows
        from multilevel.bayes.residuals import PARAMS, residual_layout, simulate

        layout = residual_layout(residuals, data, family, single_rows=True)
        return mean + simulate(layout, aux("sigma"), aux(PARAMS[residuals.kind]), rng)
    if family == "gaussian":   # prior weights: σ/√w (new rows without the column: w = 1)
        return rng.normal(mean, aux("sigma") / np.sqrt(_weights(fit, data, fitted_rows)))
    if family == "t":
        return mean + aux("sigma") * rng.standard_t(aux("nu"), size=mean.shape)
    if family == "bernoulli":
        return rng.binomial(1, mean).astype(float)
    if family == "binomial":
        return rng.binomial(_trials(fit, data, fitted_rows).astype(np.int64), mean).astype(float)
    if family == "poisson":
        return rng.poisson(mean).astype(float)
    if family == "gamma":   # Bambi's gamma: shape alpha, mean mu
        return rng.gamma(aux("alpha"), mean / aux("alpha"))
    alpha = aux("alpha")  # Bambi's negative binomial: mean mu, shape alpha
    return rng.negative_binomial(alpha, alpha / (alpha + mean)).astype(float)


def _weights(fit, data: pd.DataFrame, fitted_rows: bool):
    column = getattr(getattr(fit, "built", None), "weights", None)
    if column is None:
        return 1.0
    if fitted_rows:
        return fit.design.weights
    return data[column].to_numpy(dtype=float) if column in data.columns else 1.0


def _trials(fit, data: pd.DataFrame, fitted_rows: bool) -> np.ndarray:
    if fitted_rows:
        return np.asarray(fit.design.frame.trials)
    resp = fit.design.spec.parsed.response
    try:
        first = eval_arithmetic(resp.args[0], data)
        second = eval_arithmetic(resp.args[1], data)
    except Exception as exc:
        raise DataError(
            f"Predictive draws of a binomial model need the trials in newdata: the columns of "
            f"{resp.text!r} ({exc})."
        ) from None
    return first + second if resp.kind == "cbind" else second
