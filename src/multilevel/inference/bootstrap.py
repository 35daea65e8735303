"""Parametric bootstrap: refit simulated responses (lme4's ``bootMer``), percentile
intervals (``confint(method = "boot")``) and the bootstrap LRT (pbkrtest's ``PBmodcomp``).

All responses are simulated in this process from one seeded generator; the refits are
independent jobs on :func:`multilevel.distributed.run_jobs` (serial, or Dask when a
client is given), so a cluster run equals the serial run. Only the response changes
between refits: each refit reuses the model's design (X, the random-effects terms).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np

from multilevel.errors import SpecError, check_seed
from multilevel.inference.parameters import variance_estimates
from multilevel.inference.simulate import check_nsim, simulate_responses

CHUNK = 25  # refits per job: few enough for progress, many enough to amortize pickling


@dataclass(frozen=True)
class RefitJob:
    """Refit one model to a block of simulated responses (plain data, picklable)."""

    formula: str
    design: object
    method: str
    family: str
    solver: str
    options: dict
    ys: np.ndarray
    start: np.ndarray | None = None   # θ̂ of the fitted model: the refits' starting point
    what: str = "parameters"   # "parameters" (θ-order SD/cor, σ, β), "loglik" or "statistic"
    label: str = ""
    statistic: object = None   # what="statistic": a function of a refit (bootMer's FUN)


def _refit(job: RefitJob, y: np.ndarray):
    design = dataclasses.replace(job.design, y=y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # singular / non-converged refits are kept, as bootMer
        if job.family == "gaussian":
            return _refit_lmm(job, design)
        from multilevel.freq.glmm import fit_glmm

        return fit_glmm(job.formula, design, solver=job.solver, **job.options)


def _refit_lmm(job: RefitJob, design):
    """fit_design's stages with the optimizer started at the fitted θ̂ (lme4's ``refit``
    starts there too), which saves evaluations."""
    from threadpoolctl import threadpool_limits

    from multilevel.freq import FreqFit, make_deviance
    from multilevel.freq.optimize import minimize_theta

    reml = job.method == "reml"
    deviance = make_deviance(design, reml=reml, solver=job.solver)
    with threadpool_limits(limits=1, user_api="blas"):
        opt = minimize_theta(deviance, job.start, design.theta_lower())
        pls = deviance.solution(opt.theta)
    return FreqFit(formula=job.formula, design=design, method=job.method, opt=opt, pls=pls,
                   solver=job.solver)


def run_refits(job: RefitJob) -> np.ndarray:
    """The statistic of every response in the job's block (rows)."""
    rows = []
    for y in job.ys:
        fit = _refit(job, y)
        if job.what == "loglik":
            rows.append([fit.loglik])
        elif job.what == "statistic":
            rows.append(job.statistic(fit))
        else:
            rows.append(np.concatenate([variance_estimates(fit, fit.pls.theta), fit.pls.beta]))
    return np.asarray(rows, dtype=float)


def _jobs(fit, ys: np.ndarray, what: str, statistic=None) -> list[RefitJob]:
    options = {}
    if fit.family != "gaussian":   # the fit's link, and glmer.nb's θ held fixed (lme4's refit)
        options = {"nAGQ": getattr(fit, "nagq", 1), "optimizer": getattr(fit, "optimizer", "glmer"),
                   "link": getattr(fit, "link", None), "nb_theta": getattr(fit, "nb_theta", None)}
    return [RefitJob(formula=fit.formula, design=fit.design, method=fit.method, family=fit.family,
                     solver=fit.solver, options=options, ys=ys[i:i + CHUNK],
                     start=np.asarray(fit.pls.theta, dtype=float), what=what,
                     label=f"refits {i + 1}-{min(i + CHUNK, len(ys))}", statistic=statistic)
            for i in range(0, len(ys), CHUNK)]


def bootstrap_replicates(fit, nsim: int, seed: int | None = None, client=None,
                         progress=None) -> np.ndarray:
    """(nsim, k) bootstrap replicates of (SDs/correlations in θ order, σ, fixed effects)."""
    from multilevel.distributed import run_jobs

    from multilevel.freq.structures import refuse_structured

    refuse_structured(fit, "A parametric bootstrap")
    nsim = check_nsim(nsim, 2, "nsim (bootstrap replicates)")
    ys = simulate_responses(fit, nsim, np.random.default_rng(check_seed(seed)))
    kwargs = {} if client is None else {"client": client}
    blocks = run_jobs(_jobs(fit, ys, "parameters"), run_refits, progress=progress,
                      label=f"bootstrap: blocks of {CHUNK} refits", **kwargs)
    return np.vstack(blocks)


def percentile(t: np.ndarray, alpha: float) -> float:
    """The bootstrap percentile as the boot package computes it (``norm.inter``): the
    (R+1)α-th order statistic, interpolated on the normal-quantile scale."""
    from scipy.stats import norm

    t = np.sort(t[np.isfinite(t)])
    R = len(t)
    rk = (R + 1) * alpha
    k = int(np.floor(rk))
    if k == rk:
        return float(t[k - 1])
    if k == 0:
        return float(t[0])
    if k >= R:
        return float(t[-1])
    w = (norm.ppf(alpha) - norm.ppf(k / (R + 1))) / (norm.ppf((k + 1) / (R + 1)) - norm.ppf(k / (R + 1)))
    return float(t[k - 1] + w * (t[k] - t[k - 1]))


BOOT_TYPES = ("perc", "basic", "norm")


def check_boot_type(value, name: str = "boot_type") -> str:
    """``value`` if it is one of :data:`BOOT_TYPES`, else a SpecError naming ``name``."""
    if value not in BOOT_TYPES:
        raise SpecError(f"{name}={value!r} is not valid; use one of {BOOT_TYPES} (lme4's boot.type).")
    return value


def boot_interval(t: np.ndarray, t0: float, level: float, boot_type: str = "perc") -> tuple[float, float]:
    """One bootstrap interval as the boot package's ``boot.ci`` gives it (lme4's
    ``confint(method = "boot", boot.type = ...)``), from the replicates ``t`` (non-finite
    ones left out, as boot.ci does) and the estimate ``t0``.

    ``"perc"``: the percentiles (:func:`percentile`); ``"basic"``: the percentiles reflected
    about the estimate, 2 t0 − q(1 − α/2) and 2 t0 − q(α/2); ``"norm"``: the normal
    interval around the bias-corrected estimate, t0 − bias ± z SD(t), bias = mean(t) − t0.

    Examples
    --------
    >>> t = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    >>> [round(v, 4) for v in boot_interval(t, 3.0, 0.5, "norm")]
    [-0.3847, 4.3847]
    """
    from scipy.stats import norm

    check_boot_type(boot_type)
    t = np.asarray(t, dtype=float)
    t = t[np.isfinite(t)]
    if t.size < 2:
        return np.nan, np.nan
    alpha = (1 - level) / 2
    if boot_type == "norm":
        bias = t.mean() - t0
        half = t.std(ddof=1) * norm.ppf(1 - alpha)
        return float(t0 - bias - half), float(t0 - bias + half)
    lo, hi = percentile(t, alpha), percentile(t, 1 - alpha)
    if boot_type == "basic":
        return float(2 * t0 - hi), float(2 * t0 - lo)
    return lo, hi


@dataclass(frozen=True)
class BootstrapLRT:
    """pbkrtest's ``PBmodcomp``: the observed LRT statistic, its χ² p and the parametric
    bootstrap p = (1 + #{ref ≥ stat}) / (1 + nsim).

    Attributes
    ----------
    stat, df, p_chisq, p_bootstrap : float
    reference : ndarray
        The simulated LRT statistics (failed refits dropped).
    nsim : int
    """

    stat: float
    df: int
    p_chisq: float
    p_bootstrap: float
    reference: np.ndarray
    nsim: int

    def __repr__(self) -> str:
        return (f"BootstrapLRT(stat={self.stat:.4g}, df={self.df}, p_chisq={self.p_chisq:.4g}, "
                f"p_bootstrap={self.p_bootstrap:.4g}, nsim={self.nsim})")


def bootstrap_lrt(small, large, nsim: int = 1000, seed: int | None = None, client=None,
                  progress=None) -> BootstrapLRT:
    """Parametric-bootstrap likelihood-ratio test of nested mixed models (``PBmodcomp``).

    Responses are simulated from the smaller model; both models are refitted to each
    (ML: REML fits are refitted with ML first, as ``ml.lrt``); the p-value is the share
    of simulated statistics at least as large as the observed one (counting the observed).
    Useful where the χ² reference is doubtful, e.g. a variance on its boundary.

    Parameters
    ----------
    small, large : FreqFit or GLMMFit
        Fits of nested models to the same rows.
    nsim : int
    seed : int, optional
    client : None, "local", address or distributed.Client
        Where the refits run (:func:`multilevel.distributed.run_jobs`).
    progress : bool or callable, optional

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.inference import bootstrap_lrt
    >>> d = ml.datasets.load("sleepstudy")
    >>> a = ml.fit("Reaction ~ Days + (1 | Subject)", d, method="ml")
    >>> b = ml.fit("Reaction ~ Days + (Days | Subject)", d, method="ml")
    >>> res = bootstrap_lrt(a, b, nsim=20, seed=1)
    >>> round(res.stat, 3), res.df, round(res.p_bootstrap, 4)
    (42.139, 2, 0.0476)
    """
    from scipy import stats

    from multilevel.distributed import run_jobs

    nsim = check_nsim(nsim, 1, "bootstrap (number of simulated responses)")
    small = small.refit_ml() if getattr(small, "reml", False) else small
    large = large.refit_ml() if getattr(large, "reml", False) else large
    if small.df > large.df:
        small, large = large, small
    from multilevel.freq.structures import refuse_structured

    for fit in (small, large):
        refuse_structured(fit, "bootstrap_lrt")
    if small.nobs != large.nobs or not np.allclose(small.design.y, large.design.y):
        raise SpecError("bootstrap_lrt needs two fits to the same rows and response.")
    stat = 2.0 * (large.loglik - small.loglik)
    df = int(large.df - small.df)
    ys = simulate_responses(small, int(nsim), np.random.default_rng(check_seed(seed)))
    kwargs = {} if client is None else {"client": client}
    ll = [np.vstack(run_jobs(_jobs(m, ys, "loglik"), run_refits, progress=progress,
                             label=f"bootstrap LRT: blocks of {CHUNK} refits", **kwargs))[:, 0]
          for m in (small, large)]
    ref = 2.0 * (ll[1] - ll[0])
    ref = ref[np.isfinite(ref)]
    return BootstrapLRT(stat=float(stat), df=df, p_chisq=float(stats.chi2.sf(stat, df)),
                        p_bootstrap=float((1 + np.sum(ref >= stat)) / (1 + len(ref))),
                        reference=ref, nsim=int(nsim))


def refit(fit, newresp):
    """The same mixed model fitted to a new response (lme4's ``refit(object, newresp)``).

    The rows, design, family, link, method (REML or ML) and options stay those of
    ``fit``; the optimizer starts at the fit's θ, as lme4's does. Used for simulation
    studies: ``fit.refit(fit.simulate(seed=1)["sim_1"])``.

    Parameters
    ----------
    fit : FreqFit or GLMMFit
    newresp : array-like
        One value per fitted row, in the fitted rows' order: successes for a binomial
        model (the trials stay the model's), 0/1 for bernoulli, counts for Poisson and
        the negative binomial (glmer.nb's θ is kept, as lme4's refit keeps its family).

    Returns
    -------
    A fit of the same kind, with the fit's warnings (singular fit, convergence).

    Raises
    ------
    SpecError
        A Bayesian fit or a linear model (fit those with ``ml.fit``), or ``newresp`` of
        the wrong length or with missing values.
    DataError
        Values outside the family's support.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> again = refit(m, m.design.y)
    >>> abs(again.reml_criterion - m.reml_criterion) < 1e-8
    True
    """
    from multilevel.freq import FreqFit

    if not isinstance(fit, FreqFit):
        raise SpecError(f"refit() is lme4's refit for mixed models fitted with method='reml' or "
                        f"'ml' (got {type(fit).__name__}); fit a linear or Bayesian model to the new "
                        "response with ml.fit.")
    y = _new_response(fit, newresp)
    design = dataclasses.replace(fit.design, y=y)
    job = _jobs(fit, y[None, :], "parameters")[0]
    if fit.family != "gaussian":
        from multilevel.freq.glmm import fit_glmm

        return fit_glmm(fit.formula, design, solver=fit.solver, **job.options)
    from multilevel.freq.messages import rank_message, warn_fit

    new = _refit_lmm(job, design)
    new = dataclasses.replace(new, messages=rank_message(design))
    warn_fit(new)
    return new


def _new_response(fit, newresp) -> np.ndarray:
    from multilevel.errors import DataError
    from multilevel.formula.families import check_family_response

    try:
        y = np.asarray(newresp, dtype=float)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"newresp must be numbers, one per fitted row ({fit.nobs}); {exc}.") from None
    if y.ndim != 1 or len(y) != fit.nobs:
        raise SpecError(f"newresp must have one value per fitted row ({fit.nobs}); got shape {y.shape}.")
    if not np.all(np.isfinite(y)):
        raise SpecError(f"newresp has {int(np.sum(~np.isfinite(y)))} missing or infinite value(s); "
                        "refit() keeps the fitted rows, so every row needs a response.")
    from multilevel.formula.validate import check_glmm_response_varies, check_response

    trials = fit.design.frame.trials
    if fit.family in ("binomial", "bernoulli"):
        n = np.ones(fit.nobs) if trials is None else np.asarray(trials, dtype=float)
        if np.any((y < 0) | (y > n) | (y != np.round(y))):
            raise DataError(f"newresp of a {fit.family} model must be whole numbers of successes "
                            "between 0 and the model's trials (0/1 for bernoulli).")
    else:
        check_family_response(y, fit.family, "newresp")
    check_response(y, fit.family, "newresp", trials)   # what ml.fit refuses: constant responses
    if fit.family != "gaussian":
        check_glmm_response_varies(y, "newresp", trials)
    return y
