"""Prior predictive checks and power-scaling sensitivity (Kallioinen et al. 2023).

Power-scaling perturbs the prior (or the likelihood) by raising it to a power near 1
and measures how much each posterior changes (ArviZ's ``psense``). A parameter whose
posterior moves with the prior *and* with the likelihood shows prior-data conflict;
one that moves with the prior but not the likelihood has a weak likelihood (the prior
dominates). Both need the ``log_prior`` group, which is computed on demand.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pandas as pd

FLAGS = {
    "potential prior-data conflict": "prior-data conflict: the prior and the data pull this "
                                     "parameter in different directions; revisit the prior",
    "potential strong prior / weak likelihood": "weak likelihood: the prior dominates; the data say "
                                                "little about this parameter",
}
OK = "ok"


def _parameter_names(fit) -> list[str]:
    component = fit.built.bambi.conditional_parameters[fit.built.bambi.family.likelihood.parent]
    names = (["Intercept"] if component.intercept_term is not None else []) + list(component.common_terms)
    names += [f"{t}_sigma" for b in fit.built.blocks for t in b.bambi_terms]
    return names + [n for n in ("sigma", "nu", "alpha") if n in fit.posterior]


def sensitivity(fit, var_names: list[str] | None = None) -> pd.DataFrame:
    """Power-scaling sensitivity per parameter with a plain-language flag.

    Parameters
    ----------
    fit : BayesFit
    var_names : list of str, optional
        Posterior variables (Bambi's names: ``Intercept``, ``Days``, ``1|Subject_sigma``,
        ``sigma``); default: fixed effects, group SDs and auxiliary parameters.

    Returns
    -------
    DataFrame with columns ``prior``, ``likelihood`` (sensitivity: CJS distance per
    unit of log power), ``diagnosis`` (ArviZ's) and ``flag`` (what it means).
    """
    import arviz as az

    if "log_prior" not in fit.idata.children:
        fit.built.bambi.compute_log_prior(fit.idata)
    names = var_names or _parameter_names(fit)
    with contextlib.redirect_stdout(io.StringIO()):  # ArviZ prints a pointer to its docs
        table = az.psense_summary(fit.idata, var_names=names)
    table = table.copy()
    table["flag"] = [FLAGS.get(str(d), OK) for d in table["diagnosis"]]
    return table


def prior_predictive(fit, draws: int = 500, seed: int | None = None):
    """Draws from the prior and the prior predictive distribution of the fitted model.

    Returns
    -------
    DataTree with groups ``prior``, ``prior_predictive`` and ``observed_data``.
    """
    import pymc as pm

    with fit.built.pymc:
        return pm.sample_prior_predictive(draws=draws, random_seed=seed)


def plot_prior_predictive(fit, draws: int = 100, seed: int | None = 0):
    """The observed response against data sets simulated from the prior alone."""
    import matplotlib.pyplot as plt

    idata = prior_predictive(fit, draws=draws, seed=seed)
    group = idata["prior_predictive"]
    name = next(iter(group.data_vars))
    sims = np.asarray(group[name].values).reshape(-1, fit.nobs)
    y = np.asarray(fit.design.y, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    lo, hi = np.quantile(sims, [0.01, 0.99])
    lo, hi = min(lo, y.min()), max(hi, y.max())
    edges = np.linspace(lo, hi, 50)
    for sim in sims[:draws]:
        counts, _ = np.histogram(sim, bins=edges, density=True)
        ax.step(edges[:-1], counts, where="post", color="C1", alpha=0.15, lw=1)
    counts, _ = np.histogram(y, bins=edges, density=True)
    ax.step(edges[:-1], counts, where="post", color="k", lw=2, label="observed")
    ax.plot([], [], color="C1", alpha=0.5, label=f"{draws} prior predictive data sets")
    ax.legend(fontsize=8)
    ax.set_title("Prior predictive check")
    fig.tight_layout()
    return fig
