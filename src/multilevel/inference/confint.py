"""``confint``: Wald, profile and parametric-bootstrap intervals for every parameter of a
REML/ML mixed model, as lme4's ``confint.merMod``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import SpecError, check_level
from multilevel.inference.parameters import variance_estimates, variance_parameters

METHODS = ("wald", "profile", "boot")


def _estimates(fit) -> np.ndarray:
    return variance_estimates(fit, fit.pls.theta)


def confint(fit, method: str = "profile", level: float = 0.95, nsim: int = 500,
            seed: int | None = None, client=None, progress=None, parm=None, boot_type: str = "perc") -> pd.DataFrame:
    """Confidence intervals for the variance parameters and the fixed effects.

    The rows follow lme4: for each random-effects term the SD of each column and the
    correlation of each pair in θ order (``.sig01``, ``.sig02``, ...), the residual SD
    (``.sigma``), then the fixed effects.

    A linear model (a gaussian formula without group terms) gets R's ``confint(lm)``:
    β ± t(n − rank X) × SE for the coefficients, for ``"profile"`` and ``"wald"`` alike.

    Parameters
    ----------
    fit : FreqFit, GLMMFit or OLSFit
    method : {"profile", "wald", "boot"}
        ``"profile"`` (lme4's default): the profile likelihood of the ML fit (REML fits
        are refitted by ML first, as lme4 does; GLMMs on the deviance in (θ, β)),
        inverted at ζ = ±z. The σ of a gamma or inverse Gaussian GLMM (its dispersion,
        plugged into the deviance, not one of its parameters) has no profile: NaN.
        ``"wald"``: estimate ± z·SE for the fixed effects; the variance parameters get
        NaN, as in lme4 (their sampling distribution is far from normal).
        ``"boot"``: parametric bootstrap — ``nsim`` responses simulated with new group
        effects (:func:`~multilevel.inference.simulate`), each refitted with the same
        design, percentile intervals (boot's ``norm.inter``, as lme4) or another of
        ``boot_type``.
    level : float
    nsim, seed : int
        Bootstrap size and seed (the same seed gives the same intervals, on any client).
    client : None, "local", address or distributed.Client
        Where the bootstrap refits run (:func:`multilevel.distributed.run_jobs`).
    progress : bool or callable, optional
        Progress of the bootstrap refits.
    parm : str or list of str, optional
        The rows wanted (lme4's ``parm``): ``"beta_"`` (the fixed effects), ``"theta_"``
        (the variance parameters and σ), or names as the index or the ``name`` column
        give them (``".sig01"``, ``"sd_(Intercept)|Subject"``, ``"Days"``). Default: all.
    boot_type : {"perc", "basic", "norm"}
        The bootstrap interval (lme4's ``boot.type``, boot's ``boot.ci`` types): percentile
        (default), basic (the percentiles reflected about the estimate) or normal (around
        the bias-corrected estimate, ± z × the replicates' SD); see
        :func:`multilevel.inference.bootstrap.boot_interval`.

    Returns
    -------
    DataFrame indexed by lme4's names (``.sig01``, ..., ``.sigma``, fixed effects) with
    ``name`` (lme4's ``sd_(Intercept)|Subject`` / ``cor_...`` / ``sigma`` / the fixed
    effect), ``grp``, ``var1``, ``var2`` (as ``fit.varcorr``), ``estimate``, ``lower``,
    ``upper``. The bootstrap adds ``std_error`` (the SD of the replicates) and keeps the
    replicates in ``.attrs["replicates"]``.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.inference import confint
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> confint(m, method="wald")[["lower", "upper"]].round(3)
                   lower    upper
    .sig01           NaN      NaN
    .sig02           NaN      NaN
    .sig03           NaN      NaN
    .sigma           NaN      NaN
    (Intercept)  238.029  264.781
    Days           7.438   13.497
    """
    from scipy import stats

    from multilevel.freq import FreqFit

    method = str(method).lower()
    if method not in METHODS:
        raise SpecError(f"method={method!r} is not valid; use one of {METHODS}.")
    from multilevel.inference.linear import is_linear_model, lm_confint

    if is_linear_model(fit):   # R's confint(lm): exact t intervals, whatever the method
        return select_parm(lm_confint(fit, method, check_level(level, "level", SpecError)), parm)
    from multilevel.inference.glm_tests import glm_confint, is_glm

    if is_glm(fit):   # MASS's confint(glm) (profile) or confint.default (wald)
        return select_parm(glm_confint(fit, method, check_level(level, "level", SpecError)), parm)
    if not isinstance(fit, FreqFit):
        raise SpecError(f"confint() needs a mixed model fitted with method='reml' or 'ml' (got "
                        f"{type(fit).__name__}); Bayesian fits have fit.summary(ci=...).")
    level = check_level(level, "level", SpecError)
    if method != "wald":
        from multilevel.freq.structures import refuse_structured

        refuse_structured(fit, f"confint(method={method!r})")
    info = variance_parameters(fit)
    fixed = pd.DataFrame({"parameter": fit.design.x_names, "name": fit.design.x_names,
                          "grp": None, "var1": None, "var2": None, "kind": "fixed"})
    table = pd.concat([info, fixed], ignore_index=True)
    table["estimate"] = np.concatenate([_estimates(fit), fit.pls.beta])
    nvar = len(info)
    if method == "wald":
        z = stats.norm.ppf(0.5 + level / 2)
        se = fit.se.to_numpy()
        lower = np.concatenate([np.full(nvar, np.nan), fit.pls.beta - z * se])
        upper = np.concatenate([np.full(nvar, np.nan), fit.pls.beta + z * se])
    elif method == "profile":
        from multilevel.inference.profile import glmm_profile_intervals, profile_intervals

        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):   # small dense pieces, as fit_design
            ci = (profile_intervals(fit, level) if fit.family == "gaussian"
                  else glmm_profile_intervals(fit, level))
        lower, upper = ci[:, 0], ci[:, 1]
    else:
        from multilevel.inference.bootstrap import boot_interval, bootstrap_replicates, check_boot_type

        check_boot_type(boot_type)   # before the refits, not after
        reps = bootstrap_replicates(fit, nsim, seed=seed, client=client, progress=progress)
        lower, upper = np.array([boot_interval(reps[:, k], t0, level, boot_type)
                                 for k, t0 in enumerate(table["estimate"].to_numpy())]).T.reshape(2, -1)
        table["std_error"] = np.nanstd(reps, axis=0, ddof=1)
        table.attrs["replicates"] = reps
        table.attrs["nsim"] = int(nsim)
    table["lower"], table["upper"] = lower, upper
    table.attrs.update(method=method, level=level)
    if method == "boot":
        table.attrs["boot_type"] = boot_type
    return select_parm(table.set_index("parameter").drop(columns="kind").rename_axis(None), parm)


def select_parm(table: pd.DataFrame, parm) -> pd.DataFrame:
    """The rows of a confint table that lme4's ``parm`` names (see :func:`confint`).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> list(confint(m, method="wald", parm="beta_").index)
    ['(Intercept)', 'Days']
    """
    if parm is None:
        return table
    fixed = table["grp"].isna().to_numpy()   # variance parameters name their group, σ "Residual"
    if isinstance(parm, str) and parm in ("beta_", "theta_"):
        return table[fixed] if parm == "beta_" else table[~fixed]
    wanted = [parm] if isinstance(parm, str) else parm
    if not isinstance(wanted, (list, tuple)) or not all(isinstance(w, str) for w in wanted) or not wanted:
        raise SpecError(f"parm must be 'beta_', 'theta_', or parameter names such as "
                        f"{list(table.index[:3])}; got {parm!r}.")
    rows = []
    for w in wanted:
        if w in table.index:
            rows.append(w)
        elif "name" in table and (table["name"] == w).sum() == 1:
            rows.append(table.index[(table["name"] == w).to_numpy()][0])
        else:
            raise SpecError(f"parm {w!r} is not a parameter of this model; use 'beta_', 'theta_' or "
                            f"one of {list(table.index)} (or their names {list(table.get('name', []))}).")
    return table.loc[rows]
