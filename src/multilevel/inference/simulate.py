"""Responses simulated from a fitted mixed model, as lme4's ``simulate.merMod``.

For the families with a dispersion φ = σ² (lme4's ``sigma()``), a response is drawn with
the fitted mean and the variance the model gives it: gamma with shape w/φ (variance φμ²/w),
inverse Gaussian with shape λ = w/φ (variance φμ³/w), w the prior weight; their group
effects have the covariance VarCorr reports, σ²ΛΛ' (:data:`SCALED_EFFECTS` says why). lme4
1.1-31's ``simulate`` passes σ·w and w/σ as those shapes instead (its ``simfunList``) and
draws the group effects with covariance ΛΛ', which gives data whose refits do not return
the fitted model. The negative binomial is lme4's (size θ, prior weights left out as lme4
leaves them).
"""

from __future__ import annotations

import numpy as np

from multilevel.errors import SpecError, check_seed
from multilevel.formula.reform import all_or_none

SIMULATE_FAMILIES = ("gaussian", "binomial", "bernoulli", "poisson", "gamma", "wald",
                     "negativebinomial")
# Families whose group effects have covariance σ²ΛΛ' (what VarCorr reports). For gamma and
# the inverse Gaussian glmer's PIRLS penalizes the deviance, which is φ times −2 log L, so
# its θ estimates the group SD over σ: data simulated with SD θ and refitted gave θ 1.7
# times the fit's (lme4 1.1-31 simulates so); with SD θσ, the fit's θ back (within 20 %).
SCALED_EFFECTS = ("gaussian", "gamma", "wald")


def _check(fit) -> None:
    from multilevel.freq import FreqFit

    if not isinstance(fit, FreqFit):
        raise SpecError(f"simulate() needs a mixed model fitted with method='reml' or 'ml'; got "
                        f"{type(fit).__name__}.")
    if fit.family not in SIMULATE_FAMILIES:
        raise SpecError(f"simulate() supports the families {SIMULATE_FAMILIES}; got {fit.family!r}.")
    general = [t.bar.source for t in fit.design.reterms if t.is_general]
    if general:
        raise SpecError(f"simulate() (and the parametric bootstrap) draws independent group effects; "
                        f"{', '.join(general)} are not available there yet.")


def _new_group_effects(fit, rng: np.random.Generator) -> np.ndarray:
    """Z b with b drawn afresh from the fitted covariance (u ~ N(0, I), b = σ Λ u; b = Λ u
    for the families without a dispersion)."""
    scale = fit.sigma if fit.family in SCALED_EFFECTS else 1.0
    out = np.zeros(fit.nobs)
    for term, T in zip(fit.design.reterms, fit._term_factors()):
        u = rng.standard_normal((term.n_levels, term.q))
        b = scale * u @ T.T                                  # levels × q
        rows = term.codes >= 0
        out[rows] += np.sum(np.asarray(term.X)[rows] * b[term.codes[rows]], axis=1)
    return out


def simulate_responses(fit, nsim: int, rng: np.random.Generator,
                       group_effects: bool = True) -> np.ndarray:
    """(nsim, n) responses on the scale of ``fit.design.y`` (successes for binomial)."""
    _check(fit)
    group_effects = all_or_none(group_effects, "simulate (lme4's use.u)")
    eta0 = fit.design.X @ fit.pls.beta
    if not group_effects:  # lme4's use.u = TRUE: keep the fitted conditional modes
        eta0 = fit.linear_predictor(group_effects=True)
    out = np.empty((int(nsim), fit.nobs))
    trials = fit.design.frame.trials
    n_trials = np.ones(fit.nobs) if trials is None else np.asarray(trials, dtype=float)
    for s in range(int(nsim)):
        eta = eta0 + (_new_group_effects(fit, rng) if group_effects else 0.0)
        if fit.family == "gaussian":
            out[s] = eta + fit.sigma * rng.standard_normal(fit.nobs)
        elif fit.family in ("binomial", "bernoulli"):
            out[s] = rng.binomial(n_trials.astype(np.int64), fit._inverse_link(eta))
        else:
            out[s] = _draw(fit, fit._inverse_link(eta), rng)
    return out


def _draw(fit, mu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Responses of the non-binomial GLMM families given their means."""
    if fit.family == "poisson":
        return rng.poisson(mu)
    if fit.family == "negativebinomial":
        theta = fit.nb_theta
        return rng.negative_binomial(theta, theta / (theta + mu)).astype(float)
    weights = fit.design.weights
    w = np.ones(fit.nobs) if weights is None else np.asarray(weights, dtype=float)
    shape = w / fit.sigma ** 2       # w/φ: gamma's shape, the inverse Gaussian's λ
    if fit.family == "gamma":
        return rng.gamma(shape, mu / shape)
    return rng.wald(mu, shape)


def check_nsim(nsim, minimum: int, what: str = "nsim") -> int:
    """A count of simulations: a whole number of at least ``minimum`` (200.0 is 200; 2.5 or
    "100" is refused, not truncated)."""
    whole = isinstance(nsim, (int, np.integer)) or (isinstance(nsim, (float, np.floating))
                                                    and float(nsim).is_integer())
    if isinstance(nsim, bool) or not whole or nsim < minimum:
        raise SpecError(f"{what} must be a whole number of at least {minimum}, got {nsim!r}.")
    return int(nsim)


def simulate(fit, nsim: int = 1, seed: int | None = None, group_effects: bool = True):
    """Simulate responses from a REML/ML fit, as lme4's ``simulate()``.

    Parameters
    ----------
    fit : FreqFit or GLMMFit
        Gaussian, binomial, bernoulli, Poisson, gamma, inverse Gaussian (``"wald"``) or
        negative binomial mixed model (the module docstring says how the dispersion
        families differ from lme4 1.1-31's).
    nsim : int
        Number of simulated responses.
    seed : int, optional
        Seeds numpy's generator; the same seed gives the same responses.
    group_effects : bool
        True (lme4's default ``use.u = FALSE``): new group effects drawn from the fitted
        covariance for every simulation. False (``use.u = TRUE``): the fitted
        conditional modes are kept and only the residual / sampling noise is new.

    Returns
    -------
    DataFrame (n rows × nsim columns ``sim_1``, ...), indexed like the fitted rows;
    binomial responses are counts of successes (the trials are the model's).

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.inference import simulate
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> sims = simulate(m, nsim=3, seed=1)
    >>> sims.shape, list(sims.columns)
    ((180, 3), ['sim_1', 'sim_2', 'sim_3'])
    """
    import pandas as pd

    nsim = check_nsim(nsim, 1)
    ys = simulate_responses(fit, nsim, np.random.default_rng(check_seed(seed)), group_effects)
    return pd.DataFrame(ys.T, index=fit.design.frame.data.index,
                        columns=[f"sim_{i + 1}" for i in range(int(nsim))])
