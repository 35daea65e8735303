"""Pointwise log-likelihood from the linear predictor, in numpy, for every family.

PyMC's ``compute_log_likelihood`` compiles a PyTensor function for every fit (0.4-0.6 s
in a fresh process, a third of a cached sleepstudy fit's own time). For models whose
rows are independent given the parameters, the same numbers follow from the posterior
draws of the fixed and group effects (η = Xβ + Zb, in the design's lme4 layout) and the
family's density with Bambi's links and parameterisations, without compiling anything.

* :func:`family_loglik` — the densities, shared with the held-out log-likelihood of
  K-fold and reloo (:mod:`multilevel.compare.pointwise`);
* :func:`attach` — a fit's ``log_likelihood`` group in PyMC's layout (``chain, draw,
  __obs__``, the response's name), so LOO, WAIC and :func:`multilevel.compare` cannot
  tell the difference; ``tests/test_loglik.py`` checks the values against PyMC's.

``ar1``/``cs`` residuals (rows dependent within groups) keep PyMC's computation.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from multilevel.bayes import densities
from multilevel.bayes.distributional import parameter_draws
from multilevel.bayes.draws import group_contribution   # noqa: F401  (its home before draws.py)
from multilevel.formula.families import (   # parameters besides η
    AUXILIARY, CATEGORICAL_FAMILIES, TRIALS_FAMILIES,
)
from multilevel.formula.links import inverse_link

_HALF_LOG_2PI = 0.5 * np.log(2.0 * np.pi)


def supports(built) -> bool:
    """Whether :func:`attach` computes this model's log-likelihood (else PyMC does)."""
    return built.family in AUXILIARY and built.design.spec.parsed.residuals is None


def family_loglik(family: str, eta: np.ndarray, y: np.ndarray, params: dict | None = None,
                  trials: np.ndarray | None = None, extra_var=0.0, link: str | None = None,
                  weights: np.ndarray | None = None) -> np.ndarray:
    """log p(y | η) per draw and row with Bambi's link and parameterisation of ``family``.

    Parameters
    ----------
    family : str
    eta : ndarray (draws, rows)
        Linear predictor.
    y : ndarray (rows,)
        Response (successes for binomial, 0/1 for bernoulli).
    params : dict
        The family's :data:`AUXILIARY` parameters, each of shape (draws, 1), or (draws,
        rows) for a parameter with a formula of its own.
    trials : ndarray (rows,), optional
        Binomial trials.
    extra_var : float or ndarray (draws, rows)
        Gaussian only: variance added to σ² (new groups integrated out).
    link : str, optional
        A non-default link (R's name, as passed to Bambi); the density is that of μ = g⁻¹(η).
    weights : ndarray (rows,), optional
        Gaussian prior weights: the residual variance of row i is σ²/wᵢ.
    """
    params = params or {}
    if family in densities.FAMILIES:   # beta, weibull, zero-inflated and hurdle counts, ...
        return densities.density(family, eta, y, params, trials)
    if link is not None:
        return _linked_loglik(family, bambi_mean(family, eta, link), y, params, trials)
    if family == "gamma":   # Bambi: shape α, mean μ = 1/η (inverse link)
        return _gamma(1.0 / eta, y, params["alpha"])
    if family == "gaussian":
        var = params["sigma"] ** 2 / (1.0 if weights is None else weights) + extra_var
        return -0.5 * (y - eta) ** 2 / var - _HALF_LOG_2PI - 0.5 * np.log(var)
    if family == "t":
        sigma, nu = params["sigma"], params["nu"]
        z = (y - eta) / sigma
        return (special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
                - np.log(sigma) - (nu + 1) / 2 * np.log1p(z * z / nu))
    if family == "bernoulli":
        # log σ(η) and log(1 − σ(η)) as −softplus(∓η): no overflow for large |η|
        return -np.logaddexp(0.0, np.where(y > 0.5, -eta, eta))
    if family == "binomial":
        n = np.asarray(trials, dtype=float)
        return (special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
                - y * np.logaddexp(0.0, -eta) - (n - y) * np.logaddexp(0.0, eta))
    if family == "poisson":
        return y * eta - np.exp(eta) - special.gammaln(y + 1)
    if family == "negativebinomial":   # mean μ = exp(η), shape α
        alpha = params["alpha"]
        log_mu_alpha = np.logaddexp(eta, np.log(alpha))                 # log(μ + α)
        return (special.gammaln(y + alpha) - special.gammaln(alpha) - special.gammaln(y + 1)
                + alpha * (np.log(alpha) - log_mu_alpha) + y * (eta - log_mu_alpha))
    raise ValueError(f"no closed-form log-likelihood for the family {family!r}")


def _gamma(mu, y, alpha):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (alpha * np.log(alpha / mu) - special.gammaln(alpha) + (alpha - 1) * np.log(y)
               - alpha * y / mu)
    return np.where(mu > 0, out, -np.inf)


# Bambi's probit divides by pt.sqrt(2) of an integer constant: float32's √2
_SQRT2_BAMBI = float(np.float32(np.sqrt(2.0)))


def bambi_mean(family: str, eta: np.ndarray, link: str) -> np.ndarray:
    """μ = g⁻¹(η) computed as Bambi's links compute it (probit through erf with float32's √2,
    probabilities of exactly 0 or 1 moved in by machine ε), so densities equal PyMC's."""
    if link not in ("probit", "cloglog"):
        return inverse_link(family, eta, link)
    eps = np.finfo(np.float64).eps
    mu = 0.5 + 0.5 * special.erf(eta / _SQRT2_BAMBI) if link == "probit" else 1 - np.exp(-np.exp(eta))
    return np.where(mu == 0, eps, np.where(mu == 1, 1 - eps, mu))


def _linked_loglik(family: str, mu: np.ndarray, y: np.ndarray, params: dict, trials) -> np.ndarray:
    """Densities at the mean μ for non-default links (Bambi's parameterisations)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if family == "gaussian":
            sigma = params["sigma"]
            return -0.5 * ((y - mu) / sigma) ** 2 - _HALF_LOG_2PI - np.log(sigma)
        if family in ("bernoulli", "binomial"):
            n = np.ones_like(y) if trials is None else np.asarray(trials, dtype=float)
            const = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
            return const + special.xlogy(y, mu) + special.xlog1py(n - y, -mu)
        if family == "poisson":
            return special.xlogy(y, mu) - mu - special.gammaln(y + 1)
        if family == "gamma":
            return _gamma(mu, y, params["alpha"])
    raise ValueError(f"no closed-form log-likelihood for the family {family!r} with a link")


def pointwise(fit) -> np.ndarray:
    """log p(y_i | draw) of every fitted row, shape (chain, draw, rows), a block of draws
    at a time (:func:`fitted_eta_chunks`)."""
    posterior = fit.posterior
    chains, draws = posterior["chain"].size, posterior["draw"].size
    if fit.family in CATEGORICAL_FAMILIES:   # one η per category (multilevel.bayes.categorical)
        from multilevel.bayes.categorical import pointwise as categorical_pointwise

        return categorical_pointwise(fit).reshape(chains, draws, -1)
    y = np.asarray(_observed(fit.idata).values, dtype=float)
    # (draws, 1) for a scalar parameter, (draws, rows) for one with a formula (sigma ~ x),
    # (draws, K - 1) for ordinal thresholds
    params = parameter_draws(fit)
    trials = fit.design.frame.trials if fit.family in TRIALS_FAMILIES else None
    out = np.empty((chains * draws, len(y)))
    for rows, eta in fitted_eta_chunks(fit):
        out[rows] = family_loglik(fit.family, eta, y, {k: v[rows] for k, v in params.items()}, trials,
                                  link=getattr(fit, "link", None), weights=fit.design.weights)
    return out.reshape(chains, draws, -1)


def fitted_eta_chunks(fit, rows_times_draws: int = 1_000_000):
    """η of the fitted rows (group effects included), a block of posterior draws at a time.

    Yields ``(draws, eta)`` with ``draws`` a slice of the flattened (chain, draw) axis and
    ``eta`` of shape (len(draws), rows): what :func:`multilevel.predict.bayes.linear_predictor_draws`
    gives for the fitted rows, within a bounded memory (InstEval's 2000 draws x 73,421 rows at once take gigabytes).
    Blocks of ~1e6 values (8 MB) keep the temporaries in reused memory: 4e6 made the
    InstEval log-likelihood 3.5x slower, mostly page faults of fresh allocations.
    """
    design = fit.design
    fixef = fit.fixef_draws().to_numpy()
    effects = fit.ranef_draws()
    size = max(1, rows_times_draws // max(1, design.n))
    for start in range(0, len(fixef), size):
        draws = slice(start, start + size)
        eta = fixef[draws] @ design.X.T + (0.0 if design.offset is None else design.offset)
        for term in design.reterms:
            if term.smooth_Z is not None:   # s(x): its penalized columns times their effects
                eta += effects[term.name][draws][:, :, 0] @ term.smooth_Z.T
                continue
            eta += group_contribution(effects[term.name][draws], term.codes, term.X)
        yield draws, eta


def attach(fit) -> None:
    """Add the ``log_likelihood`` group to ``fit.idata`` (PyMC's layout and names)."""
    import xarray as xr

    observed = _observed(fit.idata)
    posterior = fit.posterior
    dataset = xr.Dataset(
        {observed.name: (("chain", "draw", *observed.dims), pointwise(fit))},
        coords={"chain": posterior["chain"].values, "draw": posterior["draw"].values,
                **{dim: observed[dim].values for dim in observed.dims}},
        attrs=dict(posterior.attrs),
    )
    fit.idata["log_likelihood"] = xr.DataTree(dataset=dataset)


def _observed(idata):
    group = idata["observed_data"]
    [name] = list(group.data_vars)
    return group[name]
