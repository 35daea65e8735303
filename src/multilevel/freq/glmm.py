"""Generalized linear mixed models by the Laplace approximation, as lme4's ``glmer``.

For given θ and β, penalized iteratively reweighted least squares (PIRLS) finds the
conditional modes û; the Laplace approximation of the deviance is then

    −2 ℓ(θ, β) ≈ −2 log p(y | û) + ||û||² + log|Λ'Z'WZΛ + I|.

As glmer's default (``nAGQ = 1``), the fit has two stages: first θ alone is
optimized with β updated inside PIRLS (``nAGQ = 0``), then θ and β jointly on the
Laplace deviance, both with BOBYQA. The weighted least-squares steps reuse the
Gaussian engine's solver (:func:`multilevel.freq.deviance.solve_pls`) on rows
scaled by √W.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import special

from multilevel.errors import ConvergenceWarning, DataError, SingularFitWarning
from multilevel.formula import Design
from multilevel.freq.deviance import BlockSolver, Crossproducts, lambda_factor, solve_pls
from multilevel.freq.optimize import minimize_theta
from multilevel.freq.result import FreqFit

PIRLS_TOL = 1e-10
PIRLS_MAXIT = 60


@dataclass(frozen=True)
class Family:
    """Link, inverse link and log-likelihood pieces of a GLM family."""

    name: str

    def mu(self, eta: np.ndarray) -> np.ndarray:
        return special.expit(eta) if self.name in ("binomial", "bernoulli") else np.exp(eta)

    def start(self, y, n) -> np.ndarray:
        """Starting linear predictor from the data (R's ``mustart``)."""
        if self.name in ("binomial", "bernoulli"):
            p = (y + 0.5) / (n + 1.0)
            return np.log(p / (1 - p))
        return np.log(y + 0.1)

    def score_weight(self, eta, y, n):
        """Gradient of log p wrt η and the Fisher weight (canonical links: logit, log)."""
        mu = self.mu(eta)
        if self.name in ("binomial", "bernoulli"):
            return y - n * mu, np.maximum(n * mu * (1 - mu), 1e-12)
        return y - mu, np.maximum(mu, 1e-12)

    def loglik(self, eta, y, n) -> float:
        """Σ log p(y | η), with the binomial coefficient (R's dbinom / dpois)."""
        if self.name in ("binomial", "bernoulli"):
            log_choose = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
            return float(np.sum(log_choose + y * _log_expit(eta) + (n - y) * _log_expit(-eta)))
        return float(np.sum(y * eta - np.exp(eta) - special.gammaln(y + 1)))

    def deviance_residuals(self, eta, y, n) -> float:
        """Σ of squared deviance residuals (R's ``sum(residuals(m, "deviance")^2)``)."""
        mu = self.mu(eta)
        if self.name in ("binomial", "bernoulli"):
            p = np.clip(mu, 1e-300, 1 - 1e-16)
            term1 = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / (n * p)), 0.0)
            term2 = np.where(n - y > 0, (n - y) * np.log(np.where(n - y > 0, n - y, 1) / (n * (1 - p))), 0.0)
            return float(2 * np.sum(term1 + term2))
        term = np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu), 0.0)
        return float(2 * np.sum(term - (y - mu)))


def _log_expit(x):
    return -np.logaddexp(0.0, -x)


class LaplaceProblem:
    """The data of a GLMM and its Laplace deviance as functions of θ (and β)."""

    def __init__(self, design: Design, family: str):
        self.design = design
        self.family = Family(family)
        self.y = design.y
        trials = design.frame.trials
        self.n = np.ones_like(self.y) if trials is None else np.asarray(trials, dtype=float)
        self.Z = design.Z().tocsc()
        self.X = design.X
        first = design.reterms[0]
        self.q_first, self.block = first.q * first.n_levels, first.q
        self.nth = len(design.theta_lower())

    # ------------------------------------------------------------- PIRLS
    def _weighted_cp(self, eta):
        g, w = self.family.score_weight(eta, self.y, self.n)
        z = eta + g / w                        # working response
        sw = np.sqrt(w)
        Xw, Zw, zw = self.X * sw[:, None], sp.diags(sw) @ self.Z, z * sw
        cp = Crossproducts(ZtZ=(Zw.T @ Zw).tocsc(), ZtX=np.asarray(Zw.T @ Xw), Zty=np.asarray(Zw.T @ zw),
                           XtX=Xw.T @ Xw, Xty=Xw.T @ zw, yty=float(zw @ zw), n=len(self.y),
                           p=self.X.shape[1], q_first=self.q_first, block=self.block)
        return cp, w, g

    def _laplace(self, eta, u, w, Lam) -> float:
        A = (Lam.T @ (self.Z.T @ sp.diags(w) @ self.Z) @ Lam + sp.identity(Lam.shape[0])).tocsc()
        logdet = BlockSolver(A, self.q_first, self.block).logdet
        return -2.0 * self.family.loglik(eta, self.y, self.n) + float(u @ u) + logdet

    def pirls_joint(self, theta, beta0=None):
        """nAGQ = 0: β and u updated together; returns (deviance, β, u, pls)."""
        Lam = lambda_factor(self.design, theta)
        eta = self.family.start(self.y, self.n) if beta0 is None else self.X @ beta0
        old = np.inf
        for _ in range(PIRLS_MAXIT):
            cp, w, _ = self._weighted_cp(eta)
            pls = solve_pls(self.design, cp, theta)
            new_eta = self.X @ pls.beta + self.Z @ (Lam @ pls.u)
            dev = -2.0 * self.family.loglik(new_eta, self.y, self.n) + float(pls.u @ pls.u)
            eta = new_eta
            if abs(old - dev) < PIRLS_TOL * (abs(dev) + 1):
                break
            old = dev
        cp, w, _ = self._weighted_cp(eta)
        pls = solve_pls(self.design, cp, theta)
        return self._laplace(eta, pls.u, w, Lam), pls.beta, pls.u, pls

    def pirls_u(self, theta, beta, u0=None):
        """β fixed: Newton steps with step halving on u; returns (deviance, u, w, η)."""
        Lam = lambda_factor(self.design, theta)
        ZL = (self.Z @ Lam).tocsc()
        offset = self.X @ beta
        u = np.zeros(ZL.shape[1]) if u0 is None else u0.copy()

        def penalized(u_):
            eta_ = offset + ZL @ u_
            return -2.0 * self.family.loglik(eta_, self.y, self.n) + float(u_ @ u_), eta_

        pdev, eta = penalized(u)
        for _ in range(PIRLS_MAXIT):
            g, w = self.family.score_weight(eta, self.y, self.n)
            A = (ZL.T @ sp.diags(w) @ ZL + sp.identity(ZL.shape[1])).tocsc()
            step = BlockSolver(A, self.q_first, self.block).solve((ZL.T @ g - u)[:, None])[:, 0]
            for _half in range(30):
                new, eta_new = penalized(u + step)
                if new <= pdev + 1e-12:
                    break
                step = step / 2
            converged = abs(pdev - new) < PIRLS_TOL * (abs(new) + 1)
            u, pdev, eta = u + step, new, eta_new
            if converged:
                break
        _, w = self.family.score_weight(eta, self.y, self.n)
        return self._laplace(eta, u, w, Lam), u, w, eta


def fit_glmm(formula: str, design: Design, rhoend: float | None = None, **_ignored) -> GLMMFit:
    """Laplace ML fit of a binomial, bernoulli or Poisson GLMM (glmer's defaults)."""
    family = design.frame.family
    if family == "binomial" and design.frame.trials is None:
        raise DataError("A binomial GLMM needs successes and trials: cbind(s, f) or p(s, n).")
    problem = LaplaceProblem(design, family)
    lower_t = design.theta_lower()
    kwargs = {} if rhoend is None else {"rhoend": rhoend}
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        stage1 = minimize_theta(_finite(lambda th: problem.pirls_joint(th)[0]), design.theta_start(),
                                lower_t, **kwargs)
        _, beta1, u1, _ = problem.pirls_joint(stage1.theta)
        nth = problem.nth
        warm = {"u": u1}

        def joint(par):
            dev, u, _, _ = problem.pirls_u(par[:nth], par[nth:], warm["u"])
            warm["u"] = u
            return dev

        lower = np.concatenate([lower_t, np.full(len(beta1), -np.inf)])
        stage2 = minimize_theta(_finite(joint), np.concatenate([stage1.theta, beta1]), lower, **kwargs)
    theta, beta = stage2.theta[:nth], stage2.theta[nth:]
    laplace, u, w, eta = problem.pirls_u(theta, beta, warm["u"])
    # R_X from the weighted PLS at the optimum: glmer's vcov with use.hessian = FALSE
    cp, _, _ = problem._weighted_cp(eta)
    pls = dataclasses.replace(solve_pls(design, cp, theta), beta=beta, u=u)
    fit = GLMMFit(formula=formula, design=design, method="ml", opt=stage2, pls=pls, family=family,
                  laplace_deviance=laplace, eta=eta,
                  deviance_resid=problem.family.deviance_residuals(eta, problem.y, problem.n))
    if not stage2.converged:
        warnings.warn(f"The optimizer did not converge: {stage2.message}.", ConvergenceWarning, stacklevel=3)
    if fit.singular:
        warnings.warn(f"boundary (singular) fit: the variance of {', '.join(fit.singular_terms())} is "
                      "estimated as zero.", SingularFitWarning, stacklevel=3)
    return fit


def _finite(deviance):
    """A deviance that is +inf where PIRLS breaks down, so the optimizer steps back."""

    def guarded(par):
        try:
            value = deviance(par)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            return np.inf
        return value if np.isfinite(value) else np.inf

    return guarded


@dataclass
class GLMMFit(FreqFit):
    """A GLMM fitted by Laplace ML (lme4's ``glmer``): FreqFit's accessors, σ = 1.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
    ...            family="binomial", method="ml")
    >>> round(m.loglik, 3)
    -92.027
    """

    laplace_deviance: float = 0.0
    eta: np.ndarray = dataclasses.field(default=None, repr=False)
    deviance_resid: float = 0.0

    @property
    def sigma(self) -> float:
        return 1.0

    @property
    def df(self) -> int:
        return self.design.p + len(self.pls.theta)

    @property
    def varcorr(self) -> pd.DataFrame:
        table = super().varcorr
        return table[table["grp"] != "Residual"].reset_index(drop=True)

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

    def predict(self, newdata=None, group_effects: bool = True, new_groups: str = "population",
                type: str = "link") -> pd.DataFrame:
        """Predictions on the link (``type="link"``) or response scale (``"response"``)."""
        if type not in ("link", "response"):
            raise DataError(f"type={type!r}; use 'link' or 'response'.")
        out = super().predict(newdata, group_effects=group_effects, new_groups=new_groups)
        if type == "response":
            out["estimate"] = Family(self.family).mu(out["estimate"].to_numpy())
        return out

    def summary(self) -> pd.DataFrame:
        est, se = self.fixef, self.se
        return pd.DataFrame({"estimate": est, "std_error": se, "z_value": est / se})
