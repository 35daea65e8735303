"""Regularization path: coefficients across prior scales, the scale chosen by LOO.

For a grid of fixed prior scales (ridge τ or lasso b, on standardized slopes) the
model is fitted once per scale; each fit gives posterior means and intervals of the
coefficients and its PSIS-LOO elpd. The scale with the best elpd is LOO's choice;
beside it stand the fit that learns the scale (hyperprior) and scikit-learn's
cross-validated choice (RidgeCV / LassoCV) translated to the prior's scale with the
least-squares σ̂ (τ = σ̂/√α, b = σ̂²/(nα)).

The fits are independent jobs run by :func:`multilevel.distributed.run_jobs`
(serially, or on a Dask cluster with ``client=``).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.distributed.runner import DEFAULT
from multilevel.errors import ConvergenceWarning, PriorError
from multilevel.priors import lasso, ridge, standardize

KINDS = {"ridge": ridge, "lasso": lasso}


@dataclass
class PathResult:
    """The path table, the choices and the learned fit.

    Attributes
    ----------
    table : DataFrame
        One row per (scale, coefficient): estimate, lower, upper (standardized
        coefficients, response units per SD of the predictor).
    loo : DataFrame
        elpd_loo and its SE per scale.
    best_scale : float
        The grid scale with the highest elpd_loo.
    sklearn_scale : float
        scikit-learn's cross-validated penalty as a prior scale.
    learned : DataFrame
        Summary of the fit with the scale learned by a hyperprior.
    """

    kind: str
    table: pd.DataFrame
    loo: pd.DataFrame
    best_scale: float
    sklearn_scale: float
    sklearn_alpha: float
    learned: pd.DataFrame = field(repr=False)

    def at_scale(self, scale: float) -> pd.DataFrame:
        """The coefficients (estimate, lower, upper) at the grid scale nearest ``scale``."""
        scales = self.table["scale"].unique()
        nearest = scales[np.argmin(np.abs(np.log(scales) - np.log(scale)))]
        return self.table[self.table["scale"] == nearest].set_index("term")[["estimate", "lower", "upper"]]

    def _summary_parts(self) -> tuple[str, list[str], pd.DataFrame, pd.DataFrame]:
        symbol = "tau" if self.kind == "ridge" else "b"
        n_scales, n_terms = self.loo.shape[0], self.table["term"].nunique()
        best = self.loo.loc[self.loo["scale"] == self.best_scale].iloc[0]
        title = f"{self.kind} path: {n_scales} prior scales x {n_terms} coefficients (standardized)"
        lines = [f"LOO choice: {symbol} = {self.best_scale:.4g} (elpd_loo {best['elpd_loo']:.2f}, "
                 f"se {best['se']:.2f})",
                 f"scikit-learn CV: alpha = {self.sklearn_alpha:.4g}, as a prior scale {symbol} = "
                 f"{self.sklearn_scale:.4g}"]
        coefs = pd.concat({"LOO choice": self.at_scale(self.best_scale)["estimate"],
                           "lower": self.at_scale(self.best_scale)["lower"],
                           "upper": self.at_scale(self.best_scale)["upper"],
                           "scikit-learn scale": self.at_scale(self.sklearn_scale)["estimate"]}, axis=1)
        return title, lines, coefs, self.loo

    def __repr__(self) -> str:
        from multilevel.display import text_table

        title, lines, coefs, _ = self._summary_parts()
        return "\n".join([title, *lines, "",
                          "Coefficients at the chosen scales (interval at the LOO choice):", text_table(coefs),
                          "", "Full path: .table; LOO per scale: .loo; .plot()"])

    def _repr_html_(self) -> str:
        from multilevel.display import html_pre, html_section, html_table

        title, lines, coefs, loo = self._summary_parts()
        return html_section(title, [(None, html_pre("\n".join(lines))),
                                    ("Coefficients at the chosen scales (interval at the LOO choice)",
                                     html_table(coefs)),
                                    ("elpd_loo per prior scale", html_table(loo, index=False))])

    def plot(self):
        """Coefficient paths with intervals; LOO's and scikit-learn's choices marked."""
        import matplotlib.pyplot as plt

        fig, (ax, ax_loo) = plt.subplots(2, 1, figsize=(7, 7), sharex=True,
                                        gridspec_kw={"height_ratios": [3, 1]})
        for term, rows in self.table.groupby("term", sort=False):
            line, = ax.plot(rows["scale"], rows["estimate"], marker="o", ms=3, label=term)
            ax.fill_between(rows["scale"], rows["lower"], rows["upper"], alpha=0.15,
                            color=line.get_color())
        for a in (ax, ax_loo):
            a.axvline(self.best_scale, color="k", ls="--", lw=1, label="LOO choice" if a is ax else None)
            a.axvline(self.sklearn_scale, color="grey", ls=":", lw=1,
                      label=f"scikit-learn CV (alpha={self.sklearn_alpha:.3g})" if a is ax else None)
        ax.set_xscale("log")
        ax.set_ylabel("standardized coefficient")
        ax.set_title(f"{self.kind} path")
        ax.legend(fontsize=7, ncol=2)
        ax_loo.errorbar(self.loo["scale"], self.loo["elpd_loo"], yerr=self.loo["se"], marker="o", ms=3)
        ax_loo.set_xlabel(f"prior scale ({'τ' if self.kind == 'ridge' else 'b'})")
        ax_loo.set_ylabel("elpd_loo")
        fig.tight_layout()
        return fig


def regularization_path(formula: str, data: pd.DataFrame, kind: str = "ridge", scales=None, *,
                        draws: int = 500, tune: int = 500, chains: int = 2, seed: int = 1,
                        ci: float = 0.9, client=DEFAULT, progress: bool | None = None) -> PathResult:
    """Fit the model across prior scales and choose the scale by LOO.

    Parameters
    ----------
    formula : str
        A Gaussian regression without random effects.
    data : DataFrame
    kind : {"ridge", "lasso"}
    scales : sequence of float, optional
        Prior scales in response units per predictor SD (default: 10 values
        log-spaced from sd(y)/100 to sd(y)).
    draws, tune, chains, seed : sampling settings of every fit (seed shared).
    ci : float
        Interval level of the table.
    client : None, "local", str or distributed.Client
        Where the fits run (:func:`multilevel.distributed.run_jobs`): by default the
        client set by ``multilevel.distributed.using(...)``, else serially.
    progress : bool, optional
        A line on stderr per finished fit (one per scale and the learned-scale fit);
        default: when stderr is a terminal; ``False``: none.

    Returns
    -------
    PathResult

    Examples
    --------
    >>> path = regularization_path("target ~ bmi + bp + s5", ml.datasets.load("diabetes"),
    ...                            kind="ridge", scales=[1, 10, 100])          # doctest: +SKIP
    >>> path.best_scale, path.sklearn_scale                                  # doctest: +SKIP
    """
    from multilevel.engines import fit as fit_model

    if kind not in KINDS:
        raise PriorError(f"kind={kind!r}; use one of {', '.join(KINDS)}.")
    frame = fit_model(formula, data, method="ml")          # least squares: σ̂, columns, checks
    X, y = frame.design.X[:, 1:], frame.design.y
    names = frame.design.x_names[1:]
    if scales is None:
        scales = np.geomspace(np.std(y) / 100, np.std(y), 10)
    scales = [float(s) for s in scales]
    settings = dict(draws=draws, tune=tune, chains=chains, seed=seed, progress=False, check=False)
    jobs = [functools.partial(_fit_summary, formula, data, KINDS[kind](s), settings, ci) for s in scales]
    jobs.append(functools.partial(_fit_summary, formula, data, KINDS[kind](None), settings, ci))
    from multilevel.distributed import run_jobs

    results = run_jobs(jobs, client=client, progress=progress,
                       label=f"{kind} path: fits at {len(scales)} scales and a learned one")
    Z, _, sd = standardize(X)
    rows, loo_rows = [], []
    for scale, (summary, elpd, se) in zip(scales, results[:-1]):
        for term, factor in zip(names, sd):
            rows.append((scale, term, *(summary.loc[term, ["estimate", "lower", "upper"]] * factor)))
        loo_rows.append((scale, elpd, se))
    table = pd.DataFrame(rows, columns=["scale", "term", "estimate", "lower", "upper"])
    loo = pd.DataFrame(loo_rows, columns=["scale", "elpd_loo", "se"])
    alpha, sk_scale = _sklearn_choice(kind, Z, y, frame.sigma)
    return PathResult(kind=kind, table=table, loo=loo, best_scale=float(loo.loc[loo["elpd_loo"].idxmax(), "scale"]),
                      sklearn_scale=sk_scale, sklearn_alpha=alpha, learned=results[-1][0])


def _fit_summary(formula, data, prior, settings, ci):
    import arviz as az

    from multilevel.engines import fit as fit_model

    fit = fit_model(formula, data, priors=prior, **settings)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        result = az.loo(fit.idata)
    with warnings.catch_warnings():
        # each grid fit's R-hat and ESS stay in its summary rows; one warning per grid
        # point would bury the path
        warnings.simplefilter("ignore", category=ConvergenceWarning)
        summary = fit.summary(ci=ci)
    return summary, float(result.elpd), float(result.se)


def _sklearn_choice(kind: str, Z: np.ndarray, y: np.ndarray, sigma: float) -> tuple[float, float]:
    from sklearn.linear_model import LassoCV, RidgeCV

    if kind == "ridge":
        alpha = float(RidgeCV(alphas=np.geomspace(1e-3, 1e4, 60)).fit(Z, y).alpha_)
        return alpha, float(sigma / np.sqrt(alpha))
    alpha = float(LassoCV(cv=5, random_state=0, max_iter=100_000).fit(Z, y).alpha_)
    return alpha, float(sigma ** 2 / (len(y) * alpha))
