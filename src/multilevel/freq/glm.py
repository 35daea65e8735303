"""Generalized linear models without random effects by IRLS, as R's ``glm``.

Each iteration solves the weighted least-squares problem ‖√W (z − Xβ)‖² by a QR
least-squares solve (never an inverse of X'WX), with step halving when the deviance
rises; iterations stop when the relative deviance change is below 1e-12 (R: 1e-8).
logLik, AIC and BIC include R's normalizing constants; ``deviance`` is R's
``deviance(glm)`` (Σ squared deviance residuals). For the gamma and inverse Gaussian
families, as R: the dispersion is Pearson's χ²/(n − p) (``summary.glm``), scaling
``vcov`` and giving t tests on n − p df; logLik plugs in the mean deviance (R's
``family$aic``) and counts the dispersion in df; ``sigma`` is R's √(deviance/(n − p)).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.errors import ConvergenceWarning, FitError, warn
from multilevel.formula import Design
from multilevel.freq.families import Family
from multilevel.freq.ols import NoRandomEffects
from multilevel.freq.result import varcorr_frame, wald_table

IRLS_TOL = 1e-12
IRLS_MAXIT = 100


@dataclass
class GLMFit(NoRandomEffects):
    """A GLM fitted by maximum likelihood (R's ``glm``), with the mixed fits' accessors.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("TICKS ~ YEAR", "grouseticks", family="poisson", method="ml")
    >>> m.df, round(m.loglik, 2)
    (3, -2740.19)
    """

    formula: str
    design: Design = field(repr=False)
    beta: np.ndarray = field(repr=False)
    R: np.ndarray = field(repr=False)
    family: str = "poisson"
    loglik: float = 0.0
    deviance: float = 0.0
    null_deviance: float = 0.0
    iterations: int = 0
    irls_converged: bool = True
    method: str = "ml"
    messages: list[str] = field(default_factory=list)
    link: str | None = None
    nb_theta: float | None = None   # the negative binomial's θ (MASS's glm.nb ``theta``)

    reml = False
    reml_criterion = None

    @property
    def converged(self) -> bool:
        return self.irls_converged

    @property
    def has_dispersion(self) -> bool:
        return self.family_object.has_dispersion

    @property
    def dispersion(self) -> float:
        """1, or for gamma and the inverse Gaussian Pearson's χ²/(n − p) (``summary.glm``)."""
        if not self.has_dispersion:
            return 1.0
        return float(np.sum(self.residuals(type="pearson").to_numpy() ** 2) / self.df_resid)

    @property
    def sigma(self) -> float:
        """1, or R's ``sigma(glm)`` √(deviance/(n − p)) for gamma and the inverse Gaussian."""
        return float(np.sqrt(self.deviance / self.df_resid)) if self.has_dispersion else 1.0

    @property
    def family_object(self) -> Family:
        """The family with its link (and θ), as R's family object."""
        return Family(self.family, self.link, self.nb_theta)

    @property
    def optimizer_message(self) -> str:
        return f"IRLS {'converged' if self.irls_converged else 'did not converge'} in {self.iterations} iterations"

    @property
    def df(self) -> int:
        """Number of coefficients, plus the dispersion for gamma and the inverse Gaussian or
        θ for the negative binomial (R's ``logLik(glm)`` and ``logLik(glm.nb)`` df)."""
        return self.design.p + int(self.has_dispersion or self.family == "negativebinomial")

    @property
    def vcov(self) -> pd.DataFrame:
        return pd.DataFrame(self.dispersion * self._vcov_unscaled(), index=self.design.x_names,
                            columns=self.design.x_names)

    @property
    def varcorr(self) -> pd.DataFrame:
        return varcorr_frame([])

    def refit_ml(self) -> GLMFit:
        return self

    def _inverse_link(self, eta: np.ndarray) -> np.ndarray:
        return self.family_object.mu(eta)

    def summary(self, ci: float | None = None) -> pd.DataFrame:
        """As R's ``summary(glm)``: estimate, SE, z value, Pr(>|z|) (+ Wald interval); t on
        n − p df where the dispersion is estimated (gamma, inverse Gaussian)."""
        if self.has_dispersion:
            return wald_table(self.fixef, self.se, "t_value", ci, df_resid=self.df_resid, p_values=True)
        return wald_table(self.fixef, self.se, "z_value", ci, p_values=True)

    def __repr__(self) -> str:
        return "\n".join([
            f"Generalized linear model ({self.family}, {self.family_object.link} link): "
            f"{self.formula}",
            f"logLik {self.loglik:.4f}  AIC {self.aic:.4f}  BIC {self.bic:.4f}",
            f"deviance {self.deviance:.4f} on {self.df_resid} df (null {self.null_deviance:.4f})", "",
            self.summary().to_string(float_format=lambda v: f"{v:.5g}"), *self.messages])


def irls(X: np.ndarray, y: np.ndarray, n: np.ndarray, family: Family, offset=None):
    """β̂, the R factor of √W X at β̂, iterations, converged (η = Xβ + offset)."""
    offset = np.zeros_like(y) if offset is None else offset
    eta = family.start(y, n)
    dev_old, beta, converged, it = np.inf, None, False, 0
    for it in range(1, IRLS_MAXIT + 1):
        g, w = family.score_weight(eta, y, n)
        sw = np.sqrt(w)
        new_beta, *_ = np.linalg.lstsq(X * sw[:, None], (eta - offset + g / w) * sw, rcond=None)
        for _half in range(30):   # halved toward the last β while invalid or worse, as R's glm.fit
            new_eta = X @ new_beta + offset
            ok = family.valid(new_eta)
            dev = family.deviance(new_eta, y, n) if ok else np.inf
            if beta is None:
                if not ok:
                    raise FitError(f"IRLS found no valid coefficients for the {family.name} model "
                                   f"with the {family.link} link (a mean outside the family's range, "
                                   "as R's glm stops); try another link.")
                break
            if np.isfinite(dev) and dev <= dev_old + 1e-10 * (1 + abs(dev_old)):
                break
            new_beta = (beta + new_beta) / 2
        beta, eta = new_beta, new_eta
        if abs(dev - dev_old) < IRLS_TOL * (abs(dev) + 0.1):
            converged = True
            break
        dev_old = dev
    _, w = family.score_weight(eta, y, n)
    R = np.linalg.qr(X * np.sqrt(w)[:, None], mode="r")
    return beta, R, it, converged


def fit_glm(formula: str, design: Design, link: str | None = None,
            nb_theta: float | None = None) -> GLMFit:
    """IRLS fit of a binomial, bernoulli, Poisson, gamma or inverse Gaussian GLM (no random
    effects), with R's links, offset() terms and prior weights or trials; a negative
    binomial GLM at θ = ``nb_theta`` (:func:`fit_glm_nb` estimates θ)."""
    from multilevel.freq.messages import rank_message
    from multilevel.freq.glmm import trials_or_weights

    family = Family(design.frame.family, link, nb_theta)
    y = np.asarray(design.y, dtype=float)
    n = trials_or_weights(design)
    offset = design.offset
    beta, R, iterations, converged = irls(design.X, y, n, family, offset)
    eta = design.X @ beta + design.offset_or_zero
    # R's null deviance: the intercept-only model (with the offset), or η = offset without one
    null_eta = design.offset_or_zero.copy()
    # the intercept-only MLE of μ: successes over trials, else the prior-weighted mean
    ybar = np.sum(y) / np.sum(n) if family.binomial else np.sum(n * y) / np.sum(n)
    if "(Intercept)" in design.x_names and 0 < ybar and (ybar < 1 or not family.binomial):
        if offset is None and family.canonical:   # the canonical link's score is Σ w (y − μ)
            null_eta[:] = family.linkfun(np.array([ybar]))[0]
        else:
            b0, *_ = irls(np.ones((len(y), 1)), y, n, family, offset)
            null_eta = null_eta + b0[0]
    messages = rank_message(design)
    mu = family.mu(eta)
    if family.binomial and np.any((mu < 1e-10) | (mu > 1 - 1e-10)):
        messages.append("fitted probabilities numerically 0 or 1 occurred (R's glm warning): complete "
                        "or quasi-complete separation; the coefficients and SEs are unreliable")
    fit = GLMFit(formula=formula, design=design, beta=beta, R=R, family=family.name,
                 # R's logLik.glm adds 1 for the dispersion to −aic/2 (glmer's logLik does not)
                 loglik=family.loglik(eta, y, n) + float(family.has_dispersion),
                 deviance=family.deviance(eta, y, n),
                 null_deviance=family.deviance(null_eta, y, n), iterations=iterations,
                 irls_converged=converged, messages=messages, link=family.link,
                 nb_theta=nb_theta)
    for message in messages:
        warn(message, ConvergenceWarning if "separation" in message else UserWarning)
    if not converged:
        warn(f"IRLS did not converge in {IRLS_MAXIT} iterations for {formula!r} (complete "
             "separation or a mean at the boundary?).", ConvergenceWarning)
    return fit


def fit_glm_nb(formula: str, design: Design, link: str | None = None) -> GLMFit:
    """A negative binomial GLM with θ by maximum likelihood, as MASS's ``glm.nb``.

    glm.nb alternates IRLS at fixed θ with ``theta.ml`` at fixed means until both settle;
    here −2 logLik of the IRLS fit at θ is minimized over log θ directly (Brent's method
    from ``theta.ml`` of the Poisson fit's means), which has the same optimum. The
    coefficients' SEs are those at θ̂ (dispersion 1, z tests), as ``summary(glm.nb)``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("TICKS ~ YEAR", "grouseticks", family="negativebinomial", method="ml")
    >>> round(m.nb_theta, 4)
    0.5139
    """
    import dataclasses

    from scipy import optimize

    from multilevel.freq.glmm import trials_or_weights
    from multilevel.freq.negbin import theta_ml

    y, w = np.asarray(design.y, dtype=float), trials_or_weights(design)
    poisson = Family("poisson", link)
    beta, *_ = irls(design.X, y, w, poisson, design.offset)
    theta0 = theta_ml(y, poisson.mu(design.X @ beta + design.offset_or_zero), w)

    def deviance(log_theta: float) -> float:
        family = Family("negativebinomial", link, float(np.exp(log_theta)))
        b, *_ = irls(design.X, y, w, family, design.offset)
        return -2.0 * family.loglik(design.X @ b + design.offset_or_zero, y, w)

    lo, hi = np.log(theta0) - 5, np.log(theta0) + 5
    result = optimize.minimize_scalar(deviance, bounds=(lo, hi), method="bounded",
                                      options={"xatol": 1e-8})
    fit = fit_glm(formula, design, link=link, nb_theta=float(np.exp(result.x)))
    if np.isclose(result.x, lo, atol=1e-3) or np.isclose(result.x, hi, atol=1e-3):
        note = (f"theta = {fit.nb_theta:.4g} is at the end of the search interval "
                f"[{np.exp(lo):.4g}, {np.exp(hi):.4g}]: the counts may not be overdispersed "
                "(try family='poisson').")
        warn(note, ConvergenceWarning)
        fit = dataclasses.replace(fit, messages=[*fit.messages, note])
    return fit
