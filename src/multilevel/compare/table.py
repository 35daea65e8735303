"""``ml.compare``: Bayesian and frequentist comparison of the same models, one table.

Bayesian columns (Bayesian fits only) come from ArviZ: ``elpd_loo``, ``se``,
``p_loo``, ``elpd_diff``, ``dse``, stacking ``weight`` and ``rank`` (``az.loo`` /
``az.compare``), the count of Pareto ``k`` above the threshold before and after
the chosen fix, and WAIC (``elpd_waic``, ``se_waic``, ``p_waic``, ours).
Frequentist columns (every model, from its ML companion) are lme4's ``anova()``:
``npar``, ``AIC``, ``BIC``, ``logLik``, ``deviance``, ``Chisq``, ``Df``,
``Pr(>Chisq)`` (:mod:`multilevel.compare.freqcols`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd

from multilevel.compare.checks import check_fits, is_bayes
from multilevel.compare.crossval import (
    K_THRESHOLD, LooResult, check_high_k, fold_scheme, group_values, kfold, loo,
)
from multilevel.compare.infocrit import WaicResult, log_likelihood_array, waic_from_array
from multilevel.compare.refit import make_folds
from multilevel.errors import ComparisonError

BAYES_COLUMNS = ["elpd_loo", "se", "p_loo", "elpd_diff", "dse", "weight", "rank", "cv",
                 "n_high_k", "high_k_left", "elpd_waic", "se_waic", "p_waic"]
WEIGHT_METHODS = ("stacking", "bb-pseudo-bma", "pseudo-bma")


@dataclass
class Comparison:
    """The result of :func:`compare`.

    Attributes
    ----------
    table : DataFrame
        One row per model (see :func:`compare` for the columns).
    notes : list of str
        What the table cannot say in numbers: high Pareto k and the fix applied,
        models without an LRT and why, refits with convergence problems.
    loo : dict of LooResult
    waic : dict of WaicResult
    """

    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    loo: dict[str, LooResult] = field(default_factory=dict, repr=False)
    waic: dict[str, WaicResult] = field(default_factory=dict, repr=False)

    def to_markdown(self) -> str:
        """The table and its notes as markdown."""
        from multilevel.compare.render import comparison_markdown

        return comparison_markdown(self)

    def plot(self, path=None):
        """elpd with SE bars and AIC/BIC differences; saved to ``path`` when given."""
        from multilevel.compare.plot import plot_comparison

        return plot_comparison(self, path=path)

    def _formatted(self) -> pd.DataFrame:
        from multilevel.compare.render import format_cell

        return pd.DataFrame({c: [format_cell(str(c), v) for v in self.table[c]] for c in self.table.columns},
                            index=self.table.index)

    def __repr__(self) -> str:
        from multilevel.display import bullets, text_table

        lines = [f"Model comparison: {len(self.table)} models", "", text_table(self._formatted())]
        if self.notes:
            lines += ["", "Notes:", bullets(self.notes)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        from multilevel.display import html_section, html_table

        parts = [(None, html_table(self._formatted()))]
        if self.notes:
            parts.append(("Notes", "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
                          + "</ul>"))
        return html_section(f"Model comparison: {len(self.table)} models", parts)


def compare(fits: dict, *, high_k: str = "warn", k_threshold: float = K_THRESHOLD,
            k_folds: int | None = None, group_by=None, refit: dict | None = None,
            weights: str = "stacking", lrt="auto", frequentist: bool = True,
            seed: int | None = 0, progress: bool | None = None) -> Comparison:
    """Compare models fit to the same data: LOO and WAIC beside AIC, BIC and LRT.

    Parameters
    ----------
    fits : dict of {str: fit}
        Two or more fits from :func:`multilevel.fit` of the same response and rows.
    high_k : {"warn", "reloo", "moment_match", "kfold"}
        What to do where PSIS-LOO is unreliable (Pareto ``k > k_threshold``):
        report it and warn; refit without each such row (exact LOO for it); moment
        matching (no refits); or K-fold cross-validation for every Bayesian model
        with the same folds.
    k_threshold : float
        0.7 as in R's ``loo`` and brms.
    k_folds : int, optional
        Folds for ``high_k="kfold"``: 10 by default; with ``group_by``, one fold
        per group (leave-one-group-out) unless given.
    group_by : str or array-like, optional
        Column (or one label per row) whose groups are kept whole in K-fold folds.
    refit : dict, optional
        Sampling settings for refits (``draws``, ``tune``, ``chains``, ``seed``,
        ``sampler``, ``target_accept``); default: each fit's own.
    weights : {"stacking", "bb-pseudo-bma", "pseudo-bma"}
        How ``az.compare`` weighs the models.
    lrt : {"auto", True, False}
        Likelihood-ratio tests between consecutive models (in ``npar`` order) that
        are nested: ``"auto"`` tests those and notes the others; ``True`` raises
        :class:`ComparisonError` for a pair that cannot be tested (not nested, or of
        different families); ``False`` gives no tests.
    frequentist : bool
        Add logLik, AIC, BIC (and the LRT) from ML fits of the same formulas; Bayesian
        fits get an ML companion fitted on demand.
    seed : int, optional
        Seed of the fold assignment.
    progress : bool, optional
        Refits (``"reloo"``, ``"kfold"``) print a line on stderr per finished fold or
        refit, named by model. Default: on when stderr is a terminal, never into a
        pipe, a log or a notebook; ``False``: none.

    Returns
    -------
    Comparison
        ``.table`` has one row per model with the columns ``elpd_loo``, ``se``,
        ``p_loo``, ``elpd_diff``, ``dse``, ``weight``, ``rank`` (0 = best),
        ``cv`` (how elpd was estimated), ``n_high_k`` (rows with Pareto k above the
        threshold), ``high_k_left`` (after the fix), ``elpd_waic``, ``se_waic``,
        ``p_waic``; and, from the ML fits, ``npar``, ``AIC``, ``BIC``, ``logLik``,
        ``deviance``, ``Chisq``, ``Df``, ``Pr(>Chisq)`` as lme4's ``anova()`` prints
        them (rows ordered by ``npar`` then). ``.notes`` explains what needs
        explaining.

    Raises
    ------
    ComparisonError
        Fewer than two models; models fit to different rows or responses; a
        Bayesian fit without a log-likelihood group; continuous and discrete
        families mixed; ``lrt=True`` with a pair that is not nested or mixes
        families (likelihood-ratio tests are meaningless there).

    Examples
    --------
    >>> import multilevel as ml
    >>> a = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", seed=1)    # doctest: +SKIP
    >>> b = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", seed=1) # doctest: +SKIP
    >>> cmp = ml.compare({"intercepts": a, "slopes": b}, high_k="reloo")       # doctest: +SKIP
    >>> print(cmp.to_markdown())                                               # doctest: +SKIP
    """
    fits = check_fits(fits)
    check_high_k(high_k, k_folds, group_by, refit)
    if weights.lower() not in WEIGHT_METHODS:
        raise ComparisonError(f"weights={weights!r} is not valid; use one of: {', '.join(WEIGHT_METHODS)}.")
    bayes = {name: fit for name, fit in fits.items() if is_bayes(fit)}
    if not bayes and (high_k != "warn" or refit is not None):
        raise ComparisonError(f"high_k={high_k!r}{' and refit=' if refit is not None else ''}: none of "
                              "the fits is Bayesian, so there is no LOO for them to fix (REML/ML fits "
                              "are compared by AIC, BIC and the likelihood-ratio test). Drop them.")
    notes: list[str] = []
    table = pd.DataFrame(index=pd.Index(list(fits), name="model"))
    freq = None
    if frequentist:  # first: it is fast and its errors (lrt=True) come before any refit
        from multilevel.compare.freqcols import frequentist_table

        freq, freq_notes = frequentist_table(fits, lrt=lrt)
        table = freq[[]]  # anova()'s row order: by npar
    loo_results, waic_results = {}, {}
    if bayes:
        loo_results, waic_results = _bayesian(bayes, high_k, k_threshold, k_folds, group_by, refit,
                                              seed, progress)
        table = table.join(_bayes_table(loo_results, waic_results, weights))
        notes += [n for r in loo_results.values() for n in r.notes]
        notes += [f"{name}: p_waic > 0.4 for {w.n_high_p} observation(s); WAIC is unreliable "
                  "there, prefer elpd_loo." for name, w in waic_results.items() if w.n_high_p]
        if len(bayes) < 2:
            notes.append("Only one Bayesian model: elpd differences and weights need two or more.")
        if freq is None:
            table = table.sort_values("rank", kind="stable")
    if freq is not None:
        table = table.join(freq)
        notes += freq_notes
    table.attrs["k_threshold"] = k_threshold
    return Comparison(table=table, notes=notes, loo=loo_results, waic=waic_results)


def _bayesian(bayes, high_k, k_threshold, k_folds, group_by, refit, seed, progress=None):
    folds = None
    if high_k == "kfold":
        first = next(iter(bayes.values()))
        labels = _group_labels(bayes, group_by)
        folds = make_folds(first.nobs, k_folds, labels, seed)
    loo_results, waic_results = {}, {}
    for name, fit in bayes.items():
        if folds is not None:  # the same folds for every model
            loo_results[name] = kfold(fit, folds, refit=refit, name=name,
                                      scheme=fold_scheme(group_by, k_folds), progress=progress)
        else:
            loo_results[name] = loo(fit, high_k=high_k, k_threshold=k_threshold, refit=refit,
                                    name=name, progress=progress)
        waic_results[name] = waic_from_array(log_likelihood_array(fit, None, name))
    return loo_results, waic_results


def _group_labels(bayes, group_by):
    """Group labels per row, from the first model whose data has the column."""
    if group_by is None or not isinstance(group_by, str):
        return group_values(next(iter(bayes.values())), group_by)
    for name, fit in bayes.items():
        if group_by in fit.design.frame.data.columns:
            return group_values(fit, group_by, name)
    raise ComparisonError(
        f"group_by={group_by!r} is a column of none of the models' data "
        f"({', '.join(map(repr, bayes))}); pass one label per row instead."
    )


def _bayes_table(loo_results, waic_results, weights) -> pd.DataFrame:
    import arviz as az

    names = list(loo_results)
    rows = pd.DataFrame(index=pd.Index(names, name="model"), columns=BAYES_COLUMNS, dtype=object)
    for name in names:
        r, w = loo_results[name], waic_results[name]
        rows.loc[name, ["elpd_loo", "se", "p_loo"]] = [r.elpd.elpd, r.elpd.se, r.elpd.p]
        rows.loc[name, ["cv", "n_high_k", "high_k_left"]] = [r.method, r.n_high_k, r.high_k_left]
        rows.loc[name, ["elpd_waic", "se_waic", "p_waic"]] = [w.elpd, w.se, w.p]
    if len(names) >= 2:
        with warnings.catch_warnings():
            # az.compare repeats ArviZ's own high-k warning; ours is in the notes.
            warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
            ranked = az.compare({n: loo_results[n].elpd for n in names}, method=weights,
                                round_to="none")
        for name in names:
            rows.loc[name, ["elpd_diff", "dse", "weight", "rank"]] = [
                ranked.loc[name, "elpd_diff"], ranked.loc[name, "dse"],
                ranked.loc[name, "weight"], int(ranked.loc[name, "rank"])]
    else:
        rows.loc[names[0], ["elpd_diff", "dse", "weight", "rank"]] = [0.0, 0.0, 1.0, 0]
    out = rows.astype({c: float for c in BAYES_COLUMNS if c not in ("cv", "rank", "n_high_k",
                                                                       "high_k_left")})
    return out.astype({"rank": "Int64", "n_high_k": "Int64", "high_k_left": "Int64"})
