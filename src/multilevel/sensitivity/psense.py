"""Prior predictive checks and power-scaling sensitivity (Kallioinen et al. 2023).

Power-scaling perturbs the prior (or the likelihood) by raising it to a power near 1
and measures how much each posterior changes (ArviZ's ``psense``). A parameter whose
posterior moves with the prior *and* with the likelihood shows prior-data conflict;
one that moves with the prior but not the likelihood has a weak likelihood (the prior
dominates). Both need the ``log_prior`` group, which is computed on demand.

Which priors are power-scaled: as priorsense does for brms, the top-level priors —
fixed effects (Bambi's priors, or a fixed-scale preset's density on the standardized
slopes), group-effect SDs (also inside correlated blocks: their HalfNormal SDs and the
LKJ correlation), the scales of learned presets, auxiliary parameters (``sigma``,
``nu``, ``alpha``) and the residual correlation (``ar1_phi``, ``cs_rho``). Group-level
effects given their SDs, and slopes given a learned penalty scale, are hierarchical and
not scaled; a horseshoe's local scales are not stored in the posterior and are not
scaled either (its global scale is). The names used are in ``table.attrs["power_scaled"]``.
Parameters are named as in ``fit.summary()`` (``sd__(Intercept)|Subject``, not Bambi's
``1|Subject_sigma``).
"""

from __future__ import annotations

import contextlib
import io
import logging

import numpy as np
import pandas as pd

from multilevel.errors import PriorError

FLAGS = {
    "potential prior-data conflict": "prior-data conflict: the prior and the data pull this "
                                     "parameter in different directions; revisit the prior",
    "potential strong prior / weak likelihood": "weak likelihood: the prior dominates; the data say "
                                                "little about this parameter",
}
OK = "ok"


def _parameter_names(fit) -> list[str]:
    """The summary's parameter names (:meth:`BayesFit.summary` rows)."""
    return list(fit.summary_draws.data_vars)


def _summary_tree(fit, names: list[str]):
    """The fit's log-prior and log-likelihood with the posterior of the summary's
    parameters (fixed effects, ``sd__``/``cor__`` rows, auxiliary parameters), so that
    the sensitivity table is indexed as the summary is."""
    import xarray as xr

    post = fit.posterior
    draws = fit.summary_draws[names].assign_coords(chain=post["chain"].values, draw=post["draw"].values)
    return xr.DataTree.from_dict({"posterior": draws,
                                  "log_prior": fit.idata["log_prior"].to_dataset(),
                                  "log_likelihood": fit.idata["log_likelihood"].to_dataset()})


def _scaled_names(fit, scaled: list[str]) -> list[str]:
    """Names of the power-scaled log-prior terms: the summary's parameter names where a
    term is the prior of summary parameters, else the term's own name (a preset's joint
    prior on the standardized slopes: ``ridge_standardized``)."""
    from multilevel.bayes.names import summary_names

    mapping = summary_names(fit.built, fit.posterior)
    return list(dict.fromkeys(n for term in scaled for n in mapping.get(term, [term])))


def log_prior(fit) -> list[str]:
    """Add the log prior densities of the top-level parameters to ``fit.idata["log_prior"]``
    (once) and return the names to power-scale.

    Bambi's ``compute_log_prior`` covers the free parameters stored in the posterior; the
    correlated blocks' SD and LKJ priors and fixed-scale presets are added here. Constant
    terms (normalising constants) are left out: they cancel in the power-scaling weights.
    """
    import xarray as xr

    from multilevel.bayes.backend import _sd_scale

    bambi = fit.built.bambi
    if "log_prior" not in fit.idata.children:
        bambi.compute_log_prior(fit.idata)
        post = fit.posterior
        extra = {}
        component = bambi.conditional_parameters[bambi.family.likelihood.parent]
        # (structured blocks' SDs and correlation parameters are free variables whose log
        # priors Bambi computes: multilevel.bayes.structures)
        for block in (b for b in fit.built.blocks if b.correlated and b.structure is None):
            for name in block.bambi_terms:
                scale = _sd_scale(component.group_specific_terms[name], block)
                sd = post[f"{name}_sigma"]
                extra[f"{name}_sigma"] = -0.5 * (sd / scale) ** 2        # HalfNormal(scale)
            corr = np.asarray(post[block.corr_name].values, dtype=float)
            eta = bambi.backend.lkj_eta
            extra[block.corr_name] = xr.DataArray((eta - 1.0) * np.linalg.slogdet(corr)[1],
                                                  dims=("chain", "draw"))
        preset = bambi.backend.coefficient_prior
        if preset is not None:
            try:  # fixed-scale presets: -log p(gamma) = l1 sum|gamma| + l2/2 sum gamma^2 + const
                l1, l2 = preset.penalty(None, fit.nobs)
            except PriorError:  # learned scales: gamma given its scale is hierarchical
                l1 = l2 = None
            gamma = post.get(f"{preset.name}_standardized")
            if l1 is not None and gamma is not None:
                extra[f"{preset.name}_standardized"] = -(l1 * abs(gamma) + 0.5 * l2 * gamma ** 2)
        tree = fit.idata["log_prior"]
        fit.idata["log_prior"] = tree.to_dataset().assign(
            {k: v.reset_coords(drop=True) for k, v in extra.items()})
    group_terms = {t for c in bambi.conditional_parameters.values() for t in c.group_specific_terms}
    return [n for n in fit.idata["log_prior"].data_vars if n not in group_terms]


def sensitivity(fit, var_names: list[str] | None = None) -> pd.DataFrame:
    """Power-scaling sensitivity per parameter with a plain-language flag.

    Parameters
    ----------
    fit : BayesFit
    var_names : list of str, optional
        Parameters, named as the rows of ``fit.summary()``: ``(Intercept)``, ``Days``,
        ``sd__(Intercept)|Subject``, ``cor__(Intercept).Days|Subject``, ``sigma``;
        default: all of them (fixed effects, group SDs and correlations, auxiliary
        parameters and the residual correlation).

    Returns
    -------
    DataFrame with columns ``prior``, ``likelihood`` (sensitivity: CJS distance per
    unit of log power; above 0.05 counts as sensitive), ``diagnosis`` (ArviZ's) and
    ``flag`` (what it means), one row per parameter; ``attrs["power_scaled"]``: the
    parameters whose priors were scaled (a coefficient preset's joint prior under its
    own name, e.g. ``ridge_standardized``).

    Examples
    --------
    >>> fit = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy",
    ...              priors={"Days": ml.priors.Prior("Normal", mu=0, sigma=0.5)})  # doctest: +SKIP
    >>> fit.sensitivity(["Days", "sigma"])["flag"]                                   # doctest: +SKIP
    Days     prior-data conflict: the prior and the data pull this parameter ...
    sigma    ok
    """
    import arviz as az

    scaled = log_prior(fit)
    valid = _parameter_names(fit)
    names = [var_names] if isinstance(var_names, str) else list(var_names or valid)
    missing = [n for n in names if n not in valid]
    if missing:
        raise PriorError(f"No parameter(s) {', '.join(map(repr, missing))} in this model; "
                         f"choose from: {', '.join(valid)}.")
    # ArviZ logs a pointer to its docs when something is flagged; our flag column says it
    with _quiet_logger("arviz_stats.psense"), contextlib.redirect_stdout(io.StringIO()):
        table = az.psense_summary(_summary_tree(fit, names), var_names=names, prior_var_names=scaled)
    table = table.loc[names].copy()
    table["flag"] = [FLAGS.get(str(d), OK) for d in table["diagnosis"]]
    table.attrs["power_scaled"] = _scaled_names(fit, scaled)
    return table


@contextlib.contextmanager
def _quiet_logger(name: str):
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def prior_predictive(fit, draws: int = 500, seed: int | None = None):
    """Draws from the prior and the prior predictive distribution of the fitted model.

    Parameters
    ----------
    fit : BayesFit
    draws : int
    seed : int or None
        The same seed gives the same draws.

    Returns
    -------
    DataTree with groups ``prior``, ``prior_predictive`` and ``observed_data``.

    Examples
    --------
    >>> fit = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy")      # doctest: +SKIP
    >>> fit.prior_predictive(draws=100, seed=1)["prior_predictive"]         # doctest: +SKIP
    """
    return fit.built.sample_prior(draws=draws, seed=seed)
