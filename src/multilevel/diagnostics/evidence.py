"""Does the model need this random effect? The usual evidence, stated together.

A reviewer asks for the intraclass correlation, the likelihood-ratio test of the
variance component (with its boundary correction: the null value, a variance of 0,
lies on the edge of the parameter space), AIC and BIC of both models; a Bayesian
analysis adds the expected log predictive density (PSIS-LOO) and the posterior of
the ICC. :func:`random_effect_evidence` computes them and says which model each
criterion favours; it does not hide disagreement behind one verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.diagnostics.icc import ICCResult, icc
from multilevel.errors import ComparisonError

NAMES = ("null", "alt")


@dataclass(frozen=True)
class RandomEffectEvidence:
    """The evidence for the random effect(s) the larger model adds.

    Attributes
    ----------
    icc : ICCResult
        ICC of the larger (frequentist) model.
    lrt : LRTResult
        Likelihood-ratio test from ML fits (``p`` naive χ², ``p_boundary`` the χ² mixture).
    table : DataFrame
        Rows ``null``, ``alt``: npar, logLik, AIC, BIC (ML fits, lme4's ``anova``) and,
        with Bayesian fits, ``elpd_loo``, ``elpd_loo_se``, ``p_loo`` and ``n_high_k``
        (observations with Pareto k > 0.7 left after the ``high_k`` fix).
    added : list of str
        The variance components the larger model adds (``Days|Subject``).
    elpd_diff, elpd_diff_se : float or None
        ``elpd_loo(alt) - elpd_loo(null)`` and its standard error (pointwise differences).
    icc_bayes : ICCResult or None
        The posterior ICC of the larger Bayesian model.
    statements : list of str
        One sentence per criterion.
    """

    icc: ICCResult
    lrt: object
    table: pd.DataFrame
    added: list[str]
    elpd_diff: float | None = None
    elpd_diff_se: float | None = None
    icc_bayes: ICCResult | None = None
    statements: list[str] = field(default_factory=list)

    def favoured(self) -> dict[str, str]:
        """Which model each criterion favours: criterion → ``"null"`` or ``"alt"``."""
        out = {"AIC": _smaller(self.table["AIC"]), "BIC": _smaller(self.table["BIC"])}
        p = self.lrt.p_boundary if self.lrt.p_boundary is not None else self.lrt.p
        out["LRT (5%)"] = "alt" if p < 0.05 else "null"
        if self.elpd_diff is not None:
            out["elpd_loo"] = "alt" if self.elpd_diff > 0 else "null"
        return out

    def __str__(self) -> str:
        lines = [f"Evidence for the random effect(s) {', '.join(self.added)}:"]
        lines += [f"  - {s}" for s in self.statements]
        lines.append(self.table.to_string(float_format="{:.2f}".format))
        return "\n".join(lines)


def random_effect_evidence(null, alt, data: pd.DataFrame | str | None = None, *, bayes=None,
                           ci: float = 0.95, high_k: str = "warn") -> RandomEffectEvidence:
    """ICC, likelihood-ratio test, AIC/BIC (and elpd) for a random effect, side by side.

    Parameters
    ----------
    null, alt : str or fitted model
        The model without and with the random effect: formulas (fitted here by REML;
        the test refits them by ML, as lme4's ``anova``) or REML/ML fits. ``null`` may
        have no random effects at all (``"y ~ x"``, least squares).
    data : DataFrame or str, optional
        Needed when formulas are given.
    bayes : tuple (BayesFit, BayesFit), optional
        Bayesian fits of the same two models: adds PSIS-LOO elpd of each, the elpd
        difference with its standard error, and the posterior ICC of the larger one.
    ci : float
        Interval mass of the posterior ICC.
    high_k : {"warn", "reloo", "moment_match", "kfold"}
        What :func:`multilevel.compare.loo` does about observations with Pareto k > 0.7.

    Returns
    -------
    RandomEffectEvidence

    Examples
    --------
    >>> import multilevel as ml
    >>> ev = ml.diagnostics.random_effect_evidence(
    ...     "Reaction ~ Days", "Reaction ~ Days + (1 | Subject)", "sleepstudy")
    >>> round(ev.icc.adjusted, 3), ev.lrt.df, ev.favoured()["BIC"]
    (0.589, 1, 'alt')
    """
    from multilevel.engines import fit
    from multilevel.freq.lrt import lrt

    fits = []
    for model in (null, alt):
        if isinstance(model, str):
            if data is None:
                raise ComparisonError("Formulas need data: random_effect_evidence(null, alt, data).")
            model = fit(model, data, method="reml")
        elif not hasattr(model, "refit_ml"):
            raise ComparisonError(
                f"null and alt must be formulas or REML/ML fits, got {type(model).__name__}; pass "
                "Bayesian fits as bayes=(null_fit, alt_fit)."
            )
        fits.append(model)
    small, large = fits
    added = _added(small, large)
    test = lrt(small, large, names=NAMES)
    table = test.table[["npar", "logLik", "AIC", "BIC"]].copy()
    if list(table.index) != list(NAMES):
        raise ComparisonError("alt has fewer parameters than null; pass the smaller model first.")
    result = dict(icc=icc(large), lrt=test, added=added)
    statements = [_icc_sentence(result["icc"]), _lrt_sentence(test), _ic_sentence(table, "AIC"),
                  _ic_sentence(table, "BIC")]
    if bayes is not None:
        diff, se, bayes_icc, loo_cols = _bayesian(bayes, ci, high_k)
        for col, values in loo_cols.items():
            table[col] = values
        result.update(elpd_diff=diff, elpd_diff_se=se, icc_bayes=bayes_icc)
        statements.append(
            f"elpd_loo favours {'alt' if diff > 0 else 'null'}: difference {diff:+.1f} (SE {se:.1f}, "
            f"{abs(diff) / se:.1f} SE from zero)"
        )
        lo, hi = bayes_icc.table.loc["adjusted", ["lower", "upper"]]
        statements.append(f"posterior adjusted ICC {bayes_icc.adjusted:.3f} "
                          f"({ci:.0%} interval {lo:.3f} to {hi:.3f})")
        for name, k in zip(NAMES, loo_cols["n_high_k"]):
            if k:
                statements.append(f"PSIS-LOO is unreliable for {k} row(s) of {name} (Pareto k > 0.7): "
                                  "rerun with high_k='moment_match' or 'reloo'")
    return RandomEffectEvidence(table=table, statements=statements, **result)


def _added(small, large) -> list[str]:
    def names(fit):
        return {(t.group, c) for t in getattr(fit.design, "reterms", []) for c in t.cnms}

    added = names(large) - names(small)
    if not added:
        raise ComparisonError(
            "alt adds no random-effect variance to null; random_effect_evidence tests a random "
            "effect, e.g. null 'y ~ x' and alt 'y ~ x + (1 | g)'. Use ml.lrt for other comparisons."
        )
    return [f"{c}|{g}" for g, c in sorted(added)]


def _bayesian(bayes, ci: float, high_k: str):
    from multilevel.compare import loo

    try:
        b_null, b_alt = bayes
    except (TypeError, ValueError):
        raise ComparisonError("bayes= takes a pair (null_fit, alt_fit) of Bayesian fits.") from None
    for b in (b_null, b_alt):
        if not hasattr(b, "idata"):
            raise ComparisonError(f"bayes= needs Bayesian fits, got {type(b).__name__}.")
    runs = [loo(b, name=n, high_k=high_k) for b, n in zip((b_null, b_alt), NAMES)]
    results = [run.elpd for run in runs]
    pointwise = [np.asarray(r.elpd_i, dtype=float).ravel() for r in results]
    if pointwise[0].shape != pointwise[1].shape:
        raise ComparisonError("The Bayesian fits have different numbers of observations.")
    d = pointwise[1] - pointwise[0]
    diff, se = float(d.sum()), float(np.sqrt(d.size * np.var(d, ddof=1)))
    cols = {"elpd_loo": [r.elpd for r in results], "elpd_loo_se": [r.se for r in results],
            "p_loo": [r.p for r in results], "n_high_k": [run.high_k_left for run in runs]}
    return diff, se, icc(b_alt, ci=ci), cols


def _smaller(column: pd.Series) -> str:
    return str(column.idxmin())


def _icc_sentence(r: ICCResult) -> str:
    return (f"ICC adjusted {r.adjusted:.3f}, conditional {r.conditional:.3f}: {r.adjusted:.0%} of "
            "the variance left after the fixed effects lies between groups")


def _lrt_sentence(test) -> str:
    text = f"likelihood-ratio test χ²({test.df}) = {test.chisq:.2f}, naive p = {test.p:.3g}"
    if test.p_boundary is not None:
        text += f", boundary-corrected p = {test.p_boundary:.3g} (χ² mixture; use this one)"
    return text


def _ic_sentence(table: pd.DataFrame, col: str) -> str:
    delta = float(table.loc["alt", col] - table.loc["null", col])
    return f"{col} favours {'alt' if delta < 0 else 'null'} (Δ{col} alt − null = {delta:+.1f})"
