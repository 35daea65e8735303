"""Marginal likelihoods by bridge sampling, Bayes factors and posterior model
probabilities (R's bridgesampling, as brms' ``bridge_sampler``, ``bayes_factor`` and
``post_prob`` call it).

The estimator is Meng & Wong's (1996) iterative bridge sampler with a normal proposal,
as bridgesampling's ``method = "normal"`` (Gronau et al. 2017):

* the kept unconstrained draws of each chain are split in halves; the first halves fix
  the proposal, a multivariate normal with their mean and covariance; the second halves
  and as many proposal draws enter the iteration;
* q11, q21: the model's log density (priors × likelihood × the transforms' Jacobians,
  PyMC's own ``model.logp()``, normalizing constants included) at the posterior and the
  proposal draws; q12, q22: the proposal's log density at the same points;
* r ← mean_j[ℓ₂ⱼ / (s₁ℓ₂ⱼ + s₂r)] / mean_i[1 / (s₁ℓ₁ᵢ + s₂r)] with ℓ = exp(q·1 − q·2 − ℓ*),
  ℓ* the median of the posterior half's, s₁ = n_eff/(n_eff + N₂), s₂ = N₂/(n_eff + N₂),
  n_eff the median effective sample size of the posterior half; from r₀ = 0.5 until r
  changes by less than 1e-10 relatively, at most ``maxiter`` times (else once more from
  the geometric mean of the last two r, to 1e-4 on log p(y)); log p(y) = log r + ℓ*.

Error: the expected relative mean-squared error of Frühwirth-Schnatter (2004),
re² = V(f₁)/(N₂E(f₁)²) + τ V(f₂)/(N₁E(f₂)²), with τ the integrated autocorrelation time
of f₂ on the posterior draws (their count over their effective sample size; the paper's
normalized spectral density at zero), and its square root ``cv``; and the iteration's own
Monte Carlo SE of log p(y) (``mcse_logml``), as bridgesampling reports both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.errors import ComparisonError, FitError

R0, TOL1, TOL2 = 0.5, 1e-10, 1e-4


@dataclass(frozen=True)
class BridgeResult:
    """A bridge-sampling estimate of a fit's log marginal likelihood log p(y).

    Attributes
    ----------
    logml : float
        The estimate (the mean over ``repetitions`` when there are several).
    logmls : ndarray
        One estimate per repetition (fresh proposal draws each).
    re2, cv : float
        Expected relative mean-squared error of p(y) and its square root (the first
        repetition's), as bridgesampling's ``error_measures``.
    mcse_logml : float
        Monte Carlo SE of log p(y) from the iteration (first repetition).
    niter : int
        Iterations of the first repetition.
    n_posterior, n_proposal : int
        Posterior draws in the iteration (the second halves of the chains) and proposal draws.
    """

    logml: float
    logmls: np.ndarray = field(repr=False)
    re2: float
    cv: float
    mcse_logml: float
    niter: int
    n_posterior: int
    n_proposal: int

    def __str__(self) -> str:
        return (f"Bridge sampling estimate of the log marginal likelihood: {self.logml:.5f}\n"
                f"Estimate obtained in {self.niter} iteration(s) via method \"normal\" "
                f"(expected relative error {self.cv:.2%}, MCSE of log p(y) {self.mcse_logml:.3g}).")


@dataclass(frozen=True)
class BayesFactor:
    """The Bayes factor of model 1 over model 2, p(y | M1) / p(y | M2).

    Attributes
    ----------
    bf, log_bf : float
    logml1, logml2 : float
        The two log marginal likelihoods.
    cv : float
        Approximate relative error of ``bf``: sqrt(cv1² + cv2²).
    """

    bf: float
    log_bf: float
    logml1: float
    logml2: float
    cv: float

    def __str__(self) -> str:
        return (f"Estimated Bayes factor in favor of model 1 over model 2: {self.bf:.5g} "
                f"(log BF {self.log_bf:.4f}, relative error ~{self.cv:.1%}).")


def bridge_sampler(fit, *, repetitions: int = 1, seed: int | None = None, maxiter: int = 1000,
                   use_neff: bool = True) -> BridgeResult:
    """The log marginal likelihood log p(y) of a Bayesian fit by bridge sampling.

    Parameters
    ----------
    fit : BayesFit
        Fitted with ``keep_unconstrained=True`` (NUTS through nutpie): the points where
        the log density is evaluated are the sampler's own unconstrained draws.
    repetitions : int
        Independent estimates, each with fresh proposal draws (their spread shows the
        estimator's Monte Carlo error); ``logml`` is their mean.
    seed : int, optional
        Seed of the proposal draws; default the fit's seed (the same fit gives the same
        estimate).
    maxiter : int
        Iterations before the restart (see the module docstring).
    use_neff : bool
        Weight the posterior half by its effective sample size (bridgesampling's default).

    Returns
    -------
    BridgeResult

    Raises
    ------
    FitError
        The fit kept no unconstrained draws, has improper priors or potential terms, or
        the iteration did not converge.

    Examples
    --------
    >>> import multilevel as ml
    >>> fit = ml.fit("Yield ~ 1 + (1 | Batch)", "Dyestuff", seed=1, keep_unconstrained=True,
    ...              progress=False)                                    # doctest: +SKIP
    >>> print(ml.bridge_sampler(fit))                                   # doctest: +SKIP
    """
    from multilevel.bayes.flatdensity import (
        check_layout,
        flat_log_density,
        unconstrained_draws,
    )

    if not hasattr(fit, "idata") or not hasattr(fit, "built"):
        raise FitError(f"bridge_sampler needs a Bayesian fit (ml.fit(..., method='bayes', "
                       f"keep_unconstrained=True)), got {type(fit).__name__}.")
    if isinstance(repetitions, bool) or not isinstance(repetitions, (int, np.integer)) or repetitions < 1:
        raise FitError(f"repetitions must be a positive integer, got {repetitions!r}.")
    if isinstance(maxiter, bool) or not isinstance(maxiter, (int, np.integer)) or maxiter < 1:
        raise FitError(f"maxiter must be a positive integer, got {maxiter!r}.")
    draws, logp = unconstrained_draws(fit.idata)
    density = flat_log_density(fit.built.pymc)
    check_layout(density, draws, logp)
    chains, n, dim = draws.shape
    if n < 4:
        raise FitError(f"bridge sampling splits each chain's draws in halves; {n} draws per chain "
                       "are too few (use hundreds).")
    half = int(np.floor(n / 2 + 0.5))   # R's round(n / 2) for the halves bridgesampling takes
    fit_part = draws[:, :half].reshape(-1, dim)
    iter_part, q11 = draws[:, half:], logp[:, half:].reshape(-1)
    neff = _median_ess(iter_part) if use_neff else None
    iter_part = iter_part.reshape(-1, dim)
    mean, cov = fit_part.mean(axis=0), _near_pd(np.atleast_2d(np.cov(fit_part, rowvar=False)))
    proposal = _Normal(mean, cov)
    q12 = proposal.logpdf(iter_part)
    rng = np.random.default_rng(fit.settings.seed if seed is None else seed)
    logmls, first = [], None
    for _ in range(repetitions):
        generated = proposal.draw(rng, len(iter_part))
        q21, q22 = density(generated), proposal.logpdf(generated)
        logml, niter, mcse = _iterate(q11, q12, q21, q22, neff, maxiter, chains)
        logmls.append(logml)
        if first is None:
            first = (niter, mcse, _relative_error(logml, q11, q12, q21, q22, chains))
    niter, mcse, (re2, cv) = first
    return BridgeResult(logml=float(np.mean(logmls)), logmls=np.asarray(logmls), re2=re2, cv=cv,
                        mcse_logml=mcse, niter=niter, n_posterior=len(iter_part),
                        n_proposal=len(iter_part))


def bayes_factor(fit1, fit2, *, seed: int | None = None, repetitions: int = 1) -> BayesFactor:
    """The Bayes factor p(y | fit1) / p(y | fit2), from :func:`bridge_sampler` of each.

    Both fits must model the same response values (same rows, same order): a Bayes factor
    of models of different data means nothing. Fit both with ``keep_unconstrained=True``
    and with proper priors chosen for the comparison: a Bayes factor depends on the
    priors' scales, unlike LOO.

    Examples
    --------
    >>> import multilevel as ml
    >>> kw = dict(seed=1, keep_unconstrained=True, progress=False)
    >>> m1 = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", **kw)  # doctest: +SKIP
    >>> m0 = ml.fit("Reaction ~ Days + (1 | Subject)", "sleepstudy", **kw)     # doctest: +SKIP
    >>> print(ml.bayes_factor(m1, m0))                                        # doctest: +SKIP
    """
    _check_same_response({"fit1": fit1, "fit2": fit2})
    b1 = bridge_sampler(fit1, seed=seed, repetitions=repetitions)
    b2 = bridge_sampler(fit2, seed=seed, repetitions=repetitions)
    log_bf = b1.logml - b2.logml
    return BayesFactor(bf=float(np.exp(log_bf)), log_bf=float(log_bf), logml1=b1.logml,
                       logml2=b2.logml, cv=float(np.hypot(b1.cv, b2.cv)))


def post_prob(fits: dict, prior_prob=None, *, seed: int | None = None) -> pd.Series:
    """Posterior model probabilities p(M_k | y) of the named fits (brms' ``post_prob``).

    Parameters
    ----------
    fits : dict
        ``{name: BayesFit}``, each fitted with ``keep_unconstrained=True`` to the same response.
    prior_prob : sequence or dict, optional
        Prior model probabilities (normalized here); default equal.
    """
    if not isinstance(fits, dict) or len(fits) < 2:
        raise ComparisonError("post_prob takes a dict of at least two named fits, {'m1': fit1, 'm2': fit2}.")
    _check_same_response(fits)
    names = list(fits)
    if prior_prob is None:
        prior = np.ones(len(names))
    else:
        if isinstance(prior_prob, dict):
            missing = set(names) ^ set(prior_prob)
            if missing:
                raise ComparisonError(f"prior_prob must name the same models as fits; differing: {sorted(missing)}.")
            prior_prob = [prior_prob[k] for k in names]
        prior = np.asarray(prior_prob, dtype=float)
        if prior.shape != (len(names),) or not np.all(np.isfinite(prior)) or np.any(prior < 0) \
                or prior.sum() <= 0:
            raise ComparisonError(f"prior_prob needs {len(names)} non-negative numbers, not all 0; "
                                  f"got {prior_prob!r}.")
    logml = np.array([bridge_sampler(fits[k], seed=seed).logml for k in names])
    with np.errstate(divide="ignore"):
        log_post = logml + np.log(prior / prior.sum())
    log_post -= np.logaddexp.reduce(log_post)
    return pd.Series(np.exp(log_post), index=names, name="post_prob")


def _check_same_response(fits: dict) -> None:
    responses = {}
    for name, fit in fits.items():
        if not hasattr(fit, "idata") or "observed_data" not in fit.idata.children:
            raise ComparisonError(f"{name}: a Bayes factor needs Bayesian fits (method='bayes'), "
                                  f"got {type(fit).__name__}.")
        observed = fit.idata["observed_data"].to_dataset()
        responses[name] = np.concatenate([np.ravel(observed[v].values) for v in observed.data_vars])
    first, *rest = responses.items()
    for name, values in rest:
        if values.shape != first[1].shape or not np.array_equal(values, first[1], equal_nan=True):
            raise ComparisonError(f"{first[0]} and {name} model different response values; Bayes "
                                  "factors compare models of the same data (same rows, same order).")


def _median_ess(part: np.ndarray) -> float:
    """Median over the coordinates of their effective sample sizes (chains pooled)."""
    from arviz_stats.base import array_stats

    ess = array_stats.ess(np.moveaxis(part, -1, 0), chain_axis=-2, draw_axis=-1, method="mean")
    ess = np.asarray(ess, dtype=float)
    ess = ess[np.isfinite(ess)]
    return float(np.median(ess)) if ess.size else float(part.shape[0] * part.shape[1])


def _ess(values: np.ndarray) -> float:
    """Effective sample size of one quantity's draws (chains × draws); their count when
    it cannot be computed (a constant)."""
    from arviz_stats.base import array_stats

    ess = float(array_stats.ess(values, chain_axis=0, draw_axis=1, method="mean"))
    return ess if np.isfinite(ess) and ess > 0 else float(values.size)


def _near_pd(cov: np.ndarray) -> np.ndarray:
    """The covariance with eigenvalues floored at a small share of the largest (as
    bridgesampling's nearPD: a proposal must have a density)."""
    cov = (cov + cov.T) / 2
    values, vectors = np.linalg.eigh(cov)
    floor = max(values.max(), 1e-300) * 1e-10
    if values.min() >= floor:
        return cov
    return (vectors * np.maximum(values, floor)) @ vectors.T


class _Normal:
    """A multivariate normal proposal: log density and draws."""

    def __init__(self, mean: np.ndarray, cov: np.ndarray):
        self.mean, self.chol = mean, np.linalg.cholesky(cov)
        self.log_norm = -0.5 * len(mean) * np.log(2 * np.pi) - np.log(np.diag(self.chol)).sum()

    def logpdf(self, x: np.ndarray) -> np.ndarray:
        from scipy.linalg import solve_triangular

        z = solve_triangular(self.chol, (x - self.mean).T, lower=True)
        return self.log_norm - 0.5 * (z ** 2).sum(axis=0)

    def draw(self, rng, n: int) -> np.ndarray:
        return self.mean + rng.standard_normal((n, len(self.mean))) @ self.chol.T


def _iterate(q11, q12, q21, q22, neff, maxiter, chains):
    """Meng & Wong's fixed point (bridgesampling's scheme: criterion r to 1e-10 from r0,
    then, if that does not converge, log p(y) to 1e-4 from the last two r's geometric mean)."""
    l1, l2 = q11 - q12, q21 - q22
    if not np.all(np.isfinite(l1)):
        raise FitError("The log density is not finite at some posterior draws; bridge sampling "
                       "cannot proceed.")
    lstar = float(np.median(l1))
    n1, n2 = len(l1), len(l2)
    neff = n1 if neff is None else neff
    s1, s2 = neff / (neff + n2), n2 / (neff + n2)
    out = _scheme(l1 - lstar, l2 - lstar, s1, s2, R0, TOL1, "r", maxiter, chains)
    if out[0] is None:
        r_vals = out[3]
        out = _scheme(l1 - lstar, l2 - lstar, s1, s2, float(np.sqrt(r_vals[-2] * r_vals[-1])),
                      TOL2, "logml", maxiter, chains, lstar)
        if out[0] is None:
            raise FitError(f"Bridge sampling did not converge in {maxiter} iterations; draw more "
                           "posterior samples (and check the fit's convergence).")
    r, niter, mcse, _ = out
    return float(np.log(r) + lstar), niter, mcse


def _scheme(d1, d2, s1, s2, r, tol, criterion, maxiter, chains, lstar=0.0):
    """Iterate from r; ``(r, iterations, mcse of log r, r values)``, r None without convergence."""
    r_vals, change, i = [r], tol + 1, 0
    with np.errstate(over="ignore", divide="ignore"):
        e2, e1 = np.exp(-d2), np.exp(d1)   # overflow to inf gives a term of 0, as it should
        while i < maxiter and change > tol:
            old = r
            numi = 1.0 / (s1 + s2 * r * e2)
            deni = 1.0 / (s1 * e1 + s2 * r)
            m_num, m_den = numi.mean(), deni.mean()
            r = m_num / m_den
            r_vals.append(r)
            change = abs((r - old) / r) if criterion == "r" else \
                abs((np.log(r) - np.log(old)) / (np.log(r) + lstar))
            i += 1
    if i >= maxiter and change > tol:
        return None, i, np.nan, r_vals
    # the iteration's variance of r (bridgesampling's): the proposal terms are independent,
    # the posterior ones autocorrelated (their variance scaled by draws over ESS)
    var_den = deni.var(ddof=1) * len(deni) / _ess(deni.reshape(chains, -1))
    var_r = (m_num / m_den) ** 2 * (numi.var(ddof=1) / m_num ** 2 + var_den / m_den ** 2) / len(numi)
    return r, i, float(np.sqrt(np.log1p(var_r / r ** 2))), r_vals


def _relative_error(logml, q11, q12, q21, q22, chains):
    """Frühwirth-Schnatter's expected relative mean-squared error of p(y), and its root."""
    n1, n2 = len(q11), len(q21)
    s1, s2 = n1 / (n1 + n2), n2 / (n1 + n2)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        # f1 = p/(s1 p + s2 g) at the proposal draws, f2 = g/(s1 p + s2 g) at the posterior
        # ones, with p the normalized posterior density exp(q·1 - logml)
        f1 = 1.0 / (s1 + s2 * np.exp(q22 - (q21 - logml)))
        f2 = 1.0 / (s1 * np.exp((q11 - logml) - q12) + s2)
    tau = len(f2) / _ess(f2.reshape(chains, -1))
    re2 = f1.var(ddof=1) / (n2 * f1.mean() ** 2) + tau * f2.var(ddof=1) / (n1 * f2.mean() ** 2)
    return float(re2), float(np.sqrt(re2))
