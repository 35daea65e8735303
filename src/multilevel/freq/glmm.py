"""Generalized linear mixed models by the Laplace approximation, as lme4's ``glmer``.

For given θ and β, penalized iteratively reweighted least squares (PIRLS) finds the
conditional modes û; the Laplace approximation of the deviance is then

    −2 ℓ(θ, β) ≈ −2 log p(y | û) + ||û||² + log|Λ'Z'WZΛ + I|.

As glmer's default (``nAGQ = 1``), the fit has two stages: first θ alone is
optimized with β updated inside PIRLS (``nAGQ = 0``), then θ and β jointly on the
Laplace deviance, both with BOBYQA. With ``nAGQ > 1`` and a single scalar random
effect the second stage uses adaptive Gauss-Hermite quadrature (:mod:`multilevel.freq.agq`).
The weighted least-squares steps reuse the Gaussian engine's factorization.
Standard errors come from the finite-difference Hessian of the deviance over (θ, β),
as glmer's default ``vcov`` (``use.hessian = TRUE``).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from multilevel.errors import ConvergenceWarning, SpecError
from multilevel.formula import Design
from multilevel.freq.deviance import solve_pls
from multilevel.freq.factor import lambda_t_times, lambda_times, make_factor, term_factors
from multilevel.freq.families import Family
from multilevel.freq.fit import optimizer_settings, rank_message, warn_fit
from multilevel.freq.layout import Layout
from multilevel.freq.optimize import minimize_theta
from multilevel.freq.result import FreqFit, wald_table

PIRLS_TOL = 1e-13       # relative change of the penalized deviance (Newton: ~1 extra step)
PIRLS_MAXIT = 100
HESSIAN_DELTA = 1e-4    # lme4's deriv12 step
STAGE1_RHOEND = 1e-5


class LaplaceProblem:
    """The data of a GLMM and its Laplace deviance as a function of θ (and β)."""

    def __init__(self, design: Design, family: str, solver: str = "auto"):
        self.design, self.solver = design, solver
        self.layout = Layout.from_design(design)
        self.family = Family(family)
        self.y = np.asarray(design.y, dtype=float)
        trials = design.frame.trials
        self.n = np.ones_like(self.y) if trials is None else np.asarray(trials, dtype=float)
        self.X, self.Z = design.X, self.layout.Z
        self.nth = len(design.theta_lower())
        self.const = self.family.log_constant(self.y, self.n)

    def _eta(self, Ts, beta, u) -> np.ndarray:
        return self.X @ beta + self.Z @ lambda_times(self.layout, Ts, u)

    def _pdev(self, eta, u) -> float:
        """Penalized deviance −2 log p(y | η) + ||u||²."""
        return -2.0 * self.family.loglik(eta, self.y, self.n, self.const) + float(u @ u)

    def _weighted(self, eta, Ts):
        g, w = self.family.score_weight(eta, self.y, self.n)
        cp = self.layout.crossproducts(w, eta + g / w)          # working response
        return cp, make_factor(self.layout, cp, Ts, self.solver), g

    def pirls_joint(self, theta, beta0=None, u0=None):
        """nAGQ = 0: β and u updated together. Returns (deviance, β, u)."""
        theta = np.asarray(theta, dtype=float)
        Ts = term_factors(self.layout, theta)
        if beta0 is None:
            eta = self.family.start(self.y, self.n)
            beta, u, pdev = None, None, np.inf
        else:
            beta, u = beta0, np.zeros(self.layout.Z.shape[1]) if u0 is None else u0
            eta = self._eta(Ts, beta, u)
            pdev = self._pdev(eta, u)
        for _ in range(PIRLS_MAXIT):
            cp, _, _ = self._weighted(eta, Ts)
            pls = solve_pls(self.layout, cp, theta, self.solver, residuals=False)
            new_beta, new_u = pls.beta, pls.u
            for _half in range(30):   # step halving keeps the penalized deviance falling
                new_eta = self._eta(Ts, new_beta, new_u)
                new = self._pdev(new_eta, new_u)
                if beta is None or new <= pdev + 1e-10 * (1 + abs(pdev)):
                    break
                new_beta, new_u = (beta + new_beta) / 2, (u + new_u) / 2
            done = abs(pdev - new) < PIRLS_TOL * (1 + abs(new))
            beta, u, eta, pdev = new_beta, new_u, new_eta, new
            if done:
                break
        _, factor, _ = self._weighted(eta, Ts)
        return pdev + factor.logdet, beta, u

    def pirls_u(self, theta, beta, u0=None):
        """β fixed: Newton steps with step halving on u. Returns (deviance, u, η, factor)."""
        theta, beta = np.asarray(theta, dtype=float), np.asarray(beta, dtype=float)
        Ts = term_factors(self.layout, theta)
        u = np.zeros(self.layout.Z.shape[1]) if u0 is None else u0.copy()
        eta = self._eta(Ts, beta, u)
        pdev = self._pdev(eta, u)
        for _ in range(PIRLS_MAXIT):
            _, factor, g = self._weighted(eta, Ts)
            grad = lambda_t_times(self.layout, Ts, self.layout.Zt(g)[:, None])[:, 0] - u
            step = factor.solve(grad[:, None])[:, 0]
            for _half in range(30):
                new_u = u + step
                new_eta = self._eta(Ts, beta, new_u)
                new = self._pdev(new_eta, new_u)
                if new <= pdev + 1e-12 * (1 + abs(pdev)):
                    break
                step = step / 2
            done = abs(pdev - new) < PIRLS_TOL * (1 + abs(new))
            u, eta, pdev = new_u, new_eta, new
            if done:
                break
        _, factor, _ = self._weighted(eta, Ts)
        return pdev + factor.logdet, u, eta, factor


def _finite(deviance):
    """A deviance that is +inf where PIRLS breaks down, so the optimizer steps back."""

    def guarded(par):
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                value = deviance(par)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            return np.inf
        return value if np.isfinite(value) else np.inf

    return guarded


def hessian(fun, x: np.ndarray, lower: np.ndarray, delta: float = HESSIAN_DELTA) -> np.ndarray:
    """Central finite-difference Hessian as lme4's ``deriv12`` (one-sided at a lower bound)."""
    nx = len(x)
    fx = fun(x)
    up = np.full(nx, delta)
    down = np.where(np.isfinite(lower) & (x - delta < lower), x - lower, delta)
    H = np.empty((nx, nx))

    def at(changes):
        z = x.copy()
        for i, d in changes:
            z[i] = x[i] + d
        return fun(z)

    for j in range(nx):
        fadd, fsub = at([(j, up[j])]), at([(j, -down[j])])
        H[j, j] = fadd / up[j] ** 2 - 2 * fx / (up[j] * down[j]) + fsub / down[j] ** 2
        for i in range(j):
            H[i, j] = H[j, i] = (at([(i, up[i]), (j, up[j])]) / (up[i] + up[j]) ** 2
                                 - at([(i, up[i]), (j, -down[j])]) / (up[i] + down[j]) ** 2
                                 - at([(i, -down[i]), (j, up[j])]) / (down[i] + up[j]) ** 2
                                 + at([(i, -down[i]), (j, -down[j])]) / (down[i] + down[j]) ** 2)
    return H


def fit_glmm(formula: str, design: Design, rhoend: float | None = None, solver: str = "auto",
             nAGQ: int = 1, maxeval: int | None = None) -> GLMMFit:
    """Laplace (or adaptive Gauss-Hermite) ML fit of a binomial, bernoulli or Poisson GLMM.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
    ...            family="binomial", method="ml")
    >>> round(m.loglik, 3), round(m.aic, 3)
    (-92.026, 194.053)
    """
    from threadpoolctl import threadpool_limits

    problem = LaplaceProblem(design, design.frame.family, solver)
    nagq = _check_nagq(nAGQ, design)
    lower_t = design.theta_lower()
    kwargs = optimizer_settings(rhoend, maxeval)
    nth = problem.nth
    warm = {}

    def laplace(par):
        dev, u, _, _ = problem.pirls_u(par[:nth], par[nth:], warm.get("u"))
        warm["u"] = u
        return dev

    objective = laplace
    if nagq > 1:
        from multilevel.freq.agq import AGQDeviance

        objective = AGQDeviance(problem, nagq, warm)
    with threadpool_limits(limits=1, user_api="blas"):
        # stage 1 only provides the start of stage 2: a loose tolerance is enough
        stage1 = minimize_theta(_finite(lambda th: problem.pirls_joint(th)[0]), design.theta_start(),
                                lower_t, **{**kwargs, "rhoend": max(STAGE1_RHOEND, kwargs.get("rhoend", 0))})
        _, beta1, u1 = problem.pirls_joint(stage1.theta)
        warm["u"] = u1
        lower = np.concatenate([lower_t, np.full(len(beta1), -np.inf)])
        stage2 = minimize_theta(_finite(objective), np.concatenate([stage1.theta, beta1]), lower, **kwargs)
        par = stage2.theta
        H = hessian(_finite(objective), par, lower)
        dev = objective(par)
        theta, beta = par[:nth], par[nth:]
        _, u, eta, _ = problem.pirls_u(theta, beta, warm["u"])
        # R_X at the optimum (glmer's vcov with use.hessian = FALSE), the conditional variances
        g, w = problem.family.score_weight(eta, problem.y, problem.n)
        pls = solve_pls(problem.layout, problem.layout.crossproducts(w, eta + g / w), theta, solver,
                        residuals=False)
    pls = dataclasses.replace(pls, beta=beta, u=u)
    opt = dataclasses.replace(stage2, theta=theta, evaluations=stage1.evaluations + stage2.evaluations)
    fit = GLMMFit(formula=formula, design=design, method="ml", opt=opt, pls=pls,
                  family=design.frame.family, messages=rank_message(design), solver=solver,
                  laplace_deviance=dev, eta=eta, hessian=H, nagq=nagq,
                  deviance_resid=problem.family.deviance(eta, problem.y, problem.n))
    warn_fit(fit)
    if fit.vcov_source != "hessian":
        warnings.warn(f"The finite-difference Hessian is not positive definite; standard errors "
                      f"come from R_X instead (lme4's fallback). {fit.formula}", ConvergenceWarning,
                      stacklevel=3)
    return fit


def _check_nagq(nAGQ, design: Design) -> int:
    try:
        nagq = int(nAGQ)
    except (TypeError, ValueError):
        nagq = -1
    if nagq < 1 or nagq != nAGQ:
        raise SpecError(f"nAGQ must be a positive integer (1 = Laplace), got {nAGQ!r}.")
    if nagq > 1 and (len(design.reterms) != 1 or design.reterms[0].q != 1):
        raise SpecError("nAGQ > 1 needs a single scalar random effect such as (1 | g), as in lme4; "
                        f"this model has {', '.join(t.bar.source for t in design.reterms)}. "
                        "Use nAGQ=1 (Laplace).")
    return nagq


@dataclass(repr=False)  # keep FreqFit's lme4-style printed form
class GLMMFit(FreqFit):
    """A GLMM fitted by Laplace ML (lme4's ``glmer``): FreqFit's accessors, σ = 1.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
    ...            family="binomial", method="ml")
    >>> m.fixef.round(3).tolist()
    [-1.399, -0.992, -1.129, -1.58]
    """

    laplace_deviance: float = 0.0
    eta: np.ndarray = dataclasses.field(default=None, repr=False)
    deviance_resid: float = 0.0
    hessian: np.ndarray = dataclasses.field(default=None, repr=False)
    nagq: int = 1

    @property
    def approximation(self) -> str:
        return "Laplace Approximation" if self.nagq == 1 else \
            f"Adaptive Gauss-Hermite Quadrature, nAGQ = {self.nagq}"

    @property
    def saturated_loglik(self) -> float:
        """Σ log p(yᵢ | μᵢ = yᵢ): the constant lme4 leaves out of logLik when nAGQ > 1
        (lme4's logLik there is ``fit.loglik - fit.saturated_loglik``)."""
        family = Family(self.family)
        y = self.design.y
        n = np.ones_like(y) if self.design.frame.trials is None else self.design.frame.trials
        return family.loglik(self.eta, y, n) + 0.5 * self.deviance_resid

    @property
    def sigma(self) -> float:
        return 1.0

    @property
    def df(self) -> int:
        """Fixed effects and θ (no residual variance), lme4's logLik df."""
        return self.design.p + len(self.pls.theta)

    @property
    def _vcov_hessian(self) -> np.ndarray | None:
        try:
            V = 2.0 * np.linalg.inv(self.hessian)[len(self.pls.theta):, len(self.pls.theta):]
        except np.linalg.LinAlgError:
            return None
        V = 0.5 * (V + V.T)
        return V if np.all(np.isfinite(V)) and np.min(np.linalg.eigvalsh(V)) > 0 else None

    @property
    def vcov_source(self) -> str:
        """"hessian" (glmer's default) or "RX" when the Hessian is not positive definite."""
        return "RX" if self._vcov_hessian is None else "hessian"

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance of the fixed effects from the inverse Hessian of the deviance over
        (θ, β), as glmer's ``vcov`` (``use.hessian = TRUE``); R_X if that fails."""
        V = self._vcov_hessian
        if V is None:
            V = np.linalg.inv(self.pls.RXtRX)
        return pd.DataFrame(V, index=self.design.x_names, columns=self.design.x_names)

    @property
    def reml_criterion(self):
        return None

    @property
    def loglik(self) -> float:
        return -0.5 * self.laplace_deviance

    @property
    def deviance(self) -> float:
        """lme4's ``deviance`` of a glmer fit: the sum of squared deviance residuals at the
        conditional modes (−2 logLik is ``-2 * fit.loglik``)."""
        return self.deviance_resid

    def refit_ml(self) -> GLMMFit:
        return self

    def deviance_function(self):
        """−2 × the Laplace (or AGQ) log-likelihood as a function of ``concat(θ, β)``."""
        problem = LaplaceProblem(self.design, self.family, self.solver)
        nth = problem.nth
        if self.nagq > 1:
            from multilevel.freq.agq import AGQDeviance

            return AGQDeviance(problem, self.nagq, {})
        return lambda par: problem.pirls_u(np.asarray(par)[:nth], np.asarray(par)[nth:])[0]

    def _inverse_link(self, eta: np.ndarray) -> np.ndarray:
        return Family(self.family).mu(eta)

    def summary(self, ci: float | None = None) -> pd.DataFrame:
        """Fixed effects as glmer's summary: estimate, SE, z value, Pr(>|z|) (+ Wald interval)."""
        return wald_table(self.fixef, self.se, "z_value", ci, p_values=True)
