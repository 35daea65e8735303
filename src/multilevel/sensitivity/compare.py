"""Fit one model under several priors and put the posteriors side by side."""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.distributed.runner import DEFAULT
from multilevel.errors import ConvergenceWarning, PriorError


@dataclass
class PriorComparison:
    """Posterior summaries, LOO and (on demand) power-scaling sensitivity per prior.

    Attributes
    ----------
    summary : DataFrame
        Rows: parameters; columns: (prior name, statistic) for estimate, lower, upper.
    loo : DataFrame
        elpd_loo, se, p_loo and the count of Pareto k > 0.7 (``n_high_k``) per prior.
    fits : dict
        The fits, by prior name.
    """

    summary: pd.DataFrame
    loo: pd.DataFrame
    fits: dict = field(repr=False)

    def intervals(self, digits: int = 4) -> pd.DataFrame:
        """One column per prior, cells ``estimate [lower, upper]`` (for printing)."""
        def cell(row, name):
            est, lo, hi = (row[(name, stat)] for stat in ("estimate", "lower", "upper"))
            return f"{est:.{digits}g} [{lo:.{digits}g}, {hi:.{digits}g}]"

        names = list(dict.fromkeys(name for name, _ in self.summary.columns))
        return pd.DataFrame({name: [cell(row, name) for _, row in self.summary.iterrows()]
                             for name in names}, index=self.summary.index)

    def __repr__(self) -> str:
        from multilevel.display import text_table

        names = ", ".join(self.loo.index)
        return "\n".join([f"Prior comparison: {len(self.loo)} priors ({names})", "",
                          "Posterior estimate [interval] per prior:", text_table(self.intervals()), "",
                          "LOO per prior:", text_table(self.loo)])

    def _repr_html_(self) -> str:
        from multilevel.display import html_section, html_table

        return html_section(f"Prior comparison: {len(self.loo)} priors",
                            [("Posterior estimate [interval] per prior", html_table(self.intervals())),
                             ("LOO per prior", html_table(self.loo))])

    def sensitivity(self, var_names: list[str] | None = None) -> pd.DataFrame:
        """Power-scaling sensitivity of each fit side by side: columns (prior name,
        ``prior`` | ``likelihood`` | ``flag``); see :func:`multilevel.sensitivity.sensitivity`."""
        from multilevel.sensitivity.psense import sensitivity  # the verb, not the fit's alias

        tables = {name: sensitivity(fit, var_names)[["prior", "likelihood", "flag"]]
                  for name, fit in self.fits.items()}
        return pd.concat(tables, axis=1)

    def plot(self, params: list[str] | None = None):
        """Overlay the posterior densities of ``params`` (summary row names) across priors."""
        import matplotlib.pyplot as plt

        params = params or list(self.summary.index[:4])
        fig, axes = plt.subplots(1, len(params), figsize=(3.4 * len(params), 3), squeeze=False)
        for ax, param in zip(axes[0], params):
            for name, fit in self.fits.items():
                data = fit.summary_draws
                if param not in data:
                    raise PriorError(f"No parameter {param!r}; choose from {list(data.data_vars)}.")
                values = np.asarray(data[param].values).ravel()
                ax.hist(values, bins=40, density=True, histtype="step", lw=1.5, label=name)
            ax.set_title(param, fontsize=9)
            ax.set_yticks([])
        axes[0][0].legend(fontsize=8)
        fig.tight_layout()
        return fig


def _fit_one(formula, data, priors, family, settings):
    from multilevel.engines import fit as fit_model

    return fit_model(formula, data, family=family, priors=priors, **settings)


def compare_priors(formula: str, data, priors: dict, *, family: str = "gaussian", ci: float = 0.95,
                   client=DEFAULT, **settings) -> PriorComparison:
    """Fit ``formula`` under each prior in ``priors`` and compare the posteriors.

    Parameters
    ----------
    formula : str
    data : DataFrame or dataset name
    priors : dict of {name: priors argument}
        E.g. ``{"weak": None, "ridge": ml.priors.ridge(1.0), "tight": {"Days": Prior(...)}}``.
    family : str
    ci : float
    client : None, "local", str or distributed.Client
        Where the fits run (:func:`multilevel.distributed.run_jobs`); by default the
        client set by ``multilevel.distributed.using(...)``, else serially.
    **settings
        Sampling settings shared by all fits (``draws``, ``tune``, ``chains``, ``seed``).
        ``progress``: ``True`` draws each fit's progress bar too; ``False`` prints
        nothing; by default a line on stderr per finished fit when stderr is a terminal.

    Examples
    --------
    >>> res = ml.compare_priors("Reaction ~ Days + (1 | Subject)", "sleepstudy",
    ...                         {"weak": None, "ridge": ml.priors.ridge(1.0)})   # doctest: +SKIP
    >>> res.summary, res.loo                                                     # doctest: +SKIP
    """
    import arviz as az

    from multilevel.distributed import run_jobs

    if not isinstance(priors, dict) or len(priors) < 2:
        raise PriorError("compare_priors needs a dict of at least two named priors.")
    progress = settings.get("progress")   # None: a line per fit on a terminal
    settings = {**settings, "progress": bool(progress)}   # a sampler bar only when asked
    jobs = [functools.partial(_fit_one, formula, data, p, family, settings) for p in priors.values()]
    fits = dict(zip(priors, run_jobs(jobs, client=client, progress=False if progress is False else None,
                                     label=f"compare_priors: fits under {len(priors)} priors")))
    columns = {}
    loo_rows = []
    for name, fit in fits.items():
        with warnings.catch_warnings():
            # each fit has warned once already (ml.fit); the summary would repeat it
            warnings.filterwarnings("ignore", category=ConvergenceWarning)
            table = fit.summary(ci=ci)
        for stat in ("estimate", "lower", "upper"):
            columns[(name, stat)] = table[stat]
        with warnings.catch_warnings():
            # high Pareto k is reported in the n_high_k column instead
            warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
            res = az.loo(fit.idata, pointwise=True)
        n_high = int((np.asarray(res.pareto_k) > 0.7).sum())
        loo_rows.append((name, float(res.elpd), float(res.se), float(res.p), n_high))
    summary = pd.DataFrame(columns)
    loo = pd.DataFrame(loo_rows, columns=["prior", "elpd_loo", "se", "p_loo", "n_high_k"]).set_index("prior")
    return PriorComparison(summary=summary, loo=loo, fits=fits)
