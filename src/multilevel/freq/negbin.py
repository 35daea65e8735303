"""Negative-binomial GLMMs as lme4's ``glmer.nb``: θ (variance μ + μ²/θ) by profiling.

glmer.nb fits a Poisson GLMM, starts θ at MASS's ``theta.ml`` of its fitted means, and
then minimizes −2 logLik of the GLMM refitted with ``negative.binomial(θ)`` over log θ
in log θ₀ ± 3 (R's ``optimize``, Brent's method). The same here, with the inner fits
taken to their optimum (``optimizer="bobyqa"``) and Brent's method run to a tighter
tolerance; the final fit at θ̂ uses the optimizer the user chose. θ̂ is reported as
``fit.nb_theta`` (lme4's ``getME(m, "glmer.nb.theta")``) and counted in logLik's df.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import optimize, special

from multilevel.errors import FitError
from multilevel.formula import Design
from multilevel.freq.glmm import GLMMFit, fit_glmm, trials_or_weights

LOG_THETA_TOL = 1e-6     # Brent's tolerance on log θ (glmer.nb: 5e-5)
THETA_ML_LIMIT = 20      # theta.ml's iterations


def theta_ml(y: np.ndarray, mu: np.ndarray, weights: np.ndarray) -> float:
    """MASS's ``theta.ml``: the ML θ of a negative binomial with the means held fixed
    (Newton's method on the score, from the moment estimate)."""
    n = np.sum(weights)
    theta = n / np.sum(weights * (y / mu - 1) ** 2)
    for _ in range(THETA_ML_LIMIT):
        theta = max(theta, 1e-8)
        score = np.sum(weights * (special.digamma(theta + y) - special.digamma(theta) + np.log(theta)
                                  + 1 - np.log(theta + mu) - (y + theta) / (mu + theta)))
        info = np.sum(weights * (-special.polygamma(1, theta + y) + special.polygamma(1, theta)
                                 - 1 / theta + 2 / (mu + theta) - (y + theta) / (mu + theta) ** 2))
        step = score / info
        theta += step
        if abs(step) < 1e-6 * max(theta, 1.0):
            break
    if not np.isfinite(theta) or theta <= 0:
        raise FitError("The negative binomial's theta could not be started from the Poisson fit "
                       "(theta.ml failed): the counts may not be overdispersed; try family='poisson'.")
    return float(theta)


def fit_glmer_nb(formula: str, design: Design, nAGQ: int = 1, link: str | None = None,
                 optimizer: str = "bobyqa", **options) -> GLMMFit:
    """Fit a negative-binomial GLMM with θ estimated as ``glmer.nb`` does.

    Parameters
    ----------
    formula : str
    design : Design
    nAGQ : int
    link : str, optional
        Only the log link (glmer.nb's) is available.
    optimizer : {"bobyqa", "glmer"}
        The final fit's optimizer (see :func:`~multilevel.freq.glmm.fit_glmm`). glmer.nb's
        last fit is a refit that starts from the previous θ's optimum, so it ends close to
        the optimum: "bobyqa" (the default here) is nearer to it than a fresh default
        glmer run ("glmer").
    **options
        Passed to :func:`~multilevel.freq.glmm.fit_glmm` (``rhoend``, ``maxeval``, ``solver``).

    Returns
    -------
    GLMMFit
        With ``nb_theta`` = θ̂ and ``nb_evaluations`` GLMM refits of the θ search.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("TICKS ~ YEAR + (1 | BROOD)", "grouseticks", family="negativebinomial",
    ...            method="ml")
    >>> round(m.nb_theta, 2)
    3.3
    """
    poisson_design = dataclasses.replace(design, frame=dataclasses.replace(design.frame, family="poisson"))
    poisson = fit_glmm(formula, poisson_design, nAGQ=nAGQ, warn=False, **options)
    mu = poisson.family_object.mu(poisson.eta)
    theta0 = theta_ml(design.y, mu, trials_or_weights(design))
    inner = {k: v for k, v in options.items() if k != "rhoend"}
    count = [0]

    def deviance(log_theta: float) -> float:
        count[0] += 1
        m = fit_glmm(formula, design, nAGQ=nAGQ, optimizer="bobyqa", nb_theta=float(np.exp(log_theta)),
                     warn=False, **inner)
        return -2.0 * m.loglik

    lo, hi = np.log(theta0) - 3, np.log(theta0) + 3
    result = optimize.minimize_scalar(deviance, bounds=(lo, hi), method="bounded",
                                      options={"xatol": LOG_THETA_TOL})
    theta = float(np.exp(result.x))
    fit = fit_glmm(formula, design, nAGQ=nAGQ, optimizer=optimizer, nb_theta=theta, link=link,
                   **options)
    if np.isclose(result.x, lo, atol=1e-3) or np.isclose(result.x, hi, atol=1e-3):
        fit.messages.append(f"theta = {theta:.4g} is at the end of the search interval "
                            f"[{np.exp(lo):.4g}, {np.exp(hi):.4g}] (as glmer.nb's).")
    return dataclasses.replace(fit, nb_evaluations=count[0])
