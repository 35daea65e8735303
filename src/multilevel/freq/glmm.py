"""Generalized linear mixed models by the Laplace approximation, as lme4's ``glmer``.

For given θ and β, penalized iteratively reweighted least squares (PIRLS) finds the
conditional modes û; the Laplace approximation of the deviance is then

    −2 ℓ(θ, β) ≈ −2 log p(y | û) + ||û||² + log|Λ'Z'WZΛ + I|.

As glmer's default (``nAGQ = 1``), the fit has two stages: first θ alone is
optimized with β updated inside PIRLS (``nAGQ = 0``), then θ and β jointly on the
Laplace deviance. With ``nAGQ > 1`` and a single scalar random effect the second stage
uses adaptive Gauss-Hermite quadrature; with ``nAGQ = 0`` the first stage is the fit
(β as PIRLS leaves it, standard errors from R_X). Two optimizer settings:

* ``optimizer="glmer"`` (default) replays glmer's default run (lme4 1.1-31,
  ``glmerControl()``): lme4's PIRLS (restarted from the stage's starting linear
  predictor at every evaluation, stopped at a relative change of 1e-7 of the penalized
  deviance, the log-determinant from the last iteration's weights), BOBYQA on θ in
  stage 1 and lme4's own Nelder-Mead (:mod:`multilevel.freq.neldermead`) with glmer's
  steps and tolerances in stage 2, then glmer's boundary check. That search stops
  short of the optimum (logLik typically 1e-6 relative below it, fixed effects 1e-4
  away); the point is to print the numbers glmer prints.
* ``optimizer="bobyqa"``: exact PIRLS and BOBYQA in both stages, to the optimum of the
  Laplace (or AGQ) deviance (glmer with tight controls reaches the same point).

The weighted least-squares steps reuse the Gaussian engine's factorization.
Standard errors come from the finite-difference Hessian of the deviance over (θ, β),
as glmer's default ``vcov`` (``use.hessian = TRUE``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.linalg import lapack

from multilevel.blas import single_blas_thread
from multilevel.errors import ConvergenceWarning, FitError, SpecError
from multilevel.errors import warn as warn_user
from multilevel.formula import Design
from multilevel.freq.augmented import DENSE_MAX, ScalarSchurPirls
from multilevel.freq.deviance import solve_pls
from multilevel.freq.factor import (DenseFactor, choose_solver, lambda_dense, lambda_t_times, lambda_times,
                                    make_factor, term_factors)
from multilevel.freq.families import Family
from multilevel.freq.layout import Layout
from multilevel.freq.messages import rank_message, warn_fit
from multilevel.freq.neldermead import nelder_mead
from multilevel.freq.optimize import OptResult, bobyqa, minimize_theta, optimizer_settings
from multilevel.freq.result import FreqFit, wald_table

PIRLS_TOL = 1e-13       # relative change of the penalized deviance (Newton: ~1 extra step)
PIRLS_MAXIT = 100
STEP_TOL = 1e-10        # largest change of u at convergence (non-canonical links)
HESSIAN_DELTA = 1e-4    # lme4's deriv12 step
STAGE1_RHOEND = 1e-5
STAGE2_RESTARTS = 20    # optimizer="bobyqa": restarts of stage 2 while they still gain
OPTIMIZERS = ("glmer", "bobyqa")
# glmer's defaults (lme4 1.1-31: glmerControl, mkGlmerDevfun, optwrap, Nelder_Mead)
PWRSS_TOL = 1e-7        # tolPwrss: relative change of the penalized deviance
PWRSS_MAXIT = 100       # PIRLS iterations
PWRSS_HALVINGS = 10     # step halvings per iteration
NM_THETA_STEP = 0.1     # Nelder-Mead steps: 0.2 * c(rep(0.1, nθ), pmin(betaSD, 10))
NM_BETA_SD_MAX = 10.0
BOUNDARY_TOL = 1e-5     # boundary.tol of check.boundary
DENSE_WORK_MAX = 4_000_000  # n·K² up to which a PIRLS step forms the dense augmented system


@dataclass(frozen=True)
class PirlsState:
    """What lme4's predictor and response modules hold after one PIRLS run."""

    deviance: float
    beta: np.ndarray
    u: np.ndarray
    eta: np.ndarray
    weights: np.ndarray           # the weights of the last iteration's factorization
    factor: object
    RXtRX: np.ndarray | None      # joint (nAGQ = 0) updates only; pp$unsc() is its inverse


def trials_or_weights(design: Design) -> np.ndarray:
    """The family's ``n``: binomial trials, else the prior weights (1 without ``weights=``)."""
    for values in (design.frame.trials, design.weights):
        if values is not None:
            return np.asarray(values, dtype=float)
    return np.ones(design.n)


class LaplaceProblem:
    """The data of a GLMM and its Laplace deviance as a function of θ (and β)."""

    def __init__(self, design: Design, family: str, solver: str = "auto", link: str | None = None,
                 theta: float | None = None):
        self.design, self.solver = design, solver
        self.layout = Layout.from_design(design)
        self.family = Family(family, link, theta)
        self.y = np.asarray(design.y, dtype=float)
        self.n = trials_or_weights(design)
        self.off = design.offset_or_zero       # offset() terms: η = Xβ + ZΛu + offset
        self.X, self.Z = design.X, self.layout.Z
        self.nth = len(design.theta_lower())
        self.const = self.family.log_constant(self.y, self.n)
        Q, n_obs = self.Z.shape[1], len(self.y)
        # small designs: glmer's PIRLS steps on the dense [ZΛ X z] (see _dense_step)
        self.Zd = self.Z.toarray() if solver == "auto" and Q + self.X.shape[1] + 1 <= DENSE_MAX \
            and n_obs * (Q + self.X.shape[1] + 1) ** 2 <= DENSE_WORK_MAX else None
        # larger scalar-term designs: the first term eliminated in closed form (ScalarSchurPirls)
        self.schur = ScalarSchurPirls(self.layout) if self.Zd is None and solver == "auto" \
            and choose_solver(self.layout) == "block" and ScalarSchurPirls.fits(self.layout) else None

    def _eta(self, Ts, beta, u) -> np.ndarray:
        return self.X @ beta + self.Z @ lambda_times(self.layout, Ts, u) + self.off

    def _pdev(self, eta, u) -> float:
        """Penalized deviance: Σ deviance residuals + ||u||² (lme4's PIRLS objective; for
        binomial/poisson −2 log p(y | η) + ||u||² up to a constant)."""
        with np.errstate(all="ignore"):   # a step out of the link's range: halve it
            value = self.family.deviance(eta, self.y, self.n) + float(u @ u)
        return value if np.isfinite(value) else np.inf

    def _laplace(self, eta, u, logdet) -> float:
        """The Laplace deviance −2 log p(y | η) + ||u||² + log|L|²."""
        return -2.0 * self.family.loglik(eta, self.y, self.n, self.const) + float(u @ u) + logdet

    def _weighted(self, eta, Ts):
        g, w = self.family.score_weight(eta, self.y, self.n)
        cp = self.layout.crossproducts(w, eta - self.off + g / w)          # working response
        return cp, make_factor(self.layout, cp, Ts, self.solver), g

    def _small_step(self, u, new_u) -> bool:
        """Fisher scoring for a non-canonical link converges linearly: the deviance settles
        long before u, so those links also need the step itself to be negligible."""
        return self.family.canonical or u is None or float(np.max(np.abs(new_u - u), initial=0)) < STEP_TOL

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
            done = abs(pdev - new) < PIRLS_TOL * (1 + abs(new)) and self._small_step(u, new_u)
            beta, u, eta, pdev = new_beta, new_u, new_eta, new
            if done:
                break
        _, factor, _ = self._weighted(eta, Ts)
        return self._laplace(eta, u, factor.logdet), beta, u

    def pirls_u(self, theta, beta, u0=None):
        """β fixed: Newton steps with step halving on u. Returns (deviance, u, η, factor)."""
        theta, beta = np.asarray(theta, dtype=float), np.asarray(beta, dtype=float)
        Ts = term_factors(self.layout, theta)
        u = np.zeros(self.layout.Z.shape[1]) if u0 is None else u0.copy()
        eta = self._eta(Ts, beta, u)
        pdev = self._pdev(eta, u)
        if not np.isfinite(pdev) and u0 is not None:   # the warm start is out of the link's range
            u = np.zeros_like(u)
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
            done = abs(pdev - new) < PIRLS_TOL * (1 + abs(new)) and self._small_step(u, new_u)
            u, eta, pdev = new_u, new_eta, new
            if done:
                break
        _, factor, _ = self._weighted(eta, Ts)
        return self._laplace(eta, u, factor.logdet), u, eta, factor

    def _dense_system(self, Ts, joint: bool) -> np.ndarray:
        """The (n, K) array B = [ZΛθ (X) ·] of :meth:`_dense_step` (small designs only); its
        last column takes each PIRLS iteration's working response."""
        Q, p = self.Zd.shape[1], self.X.shape[1]
        B = np.empty((len(self.y), Q + (p if joint else 0) + 1))
        if all(T.shape == (1, 1) for T in Ts):
            np.multiply(self.Zd, np.repeat([T[0, 0] for T in Ts], self.layout.n_levels), out=B[:, :Q])
        else:
            np.matmul(self.Zd, lambda_dense(self.layout, Ts), out=B[:, :Q])
        if joint:
            B[:, Q:Q + p] = self.X
        return B

    def _dense_step(self, B, w, z, joint: bool):
        """One penalized weighted least-squares solve of PIRLS on the dense augmented system
        Ω = B'WB + diag(I_Q, 0), B = [ZΛ (X) z]: its Cholesky factor L holds the factor of
        A = Λ'Z'WZΛ + I (first Q columns), R_X, and in its last row L₁₁⁻¹B₁'Wz, so (u, β)
        is one triangular solve. Returns (u, β or None, factor of A, R_X'R_X or None)."""
        Q, K = self.Zd.shape[1], B.shape[1]
        B[:, -1] = z
        Om = B.T @ (B * w[:, None])
        Om.ravel()[:Q * (K + 1):K + 1] += 1.0
        L, info = lapack.dpotrf(Om.T, lower=1, clean=0, overwrite_a=1)
        if info == 0:
            x, info = lapack.dtrtrs(L[:K - 1, :K - 1], L[K - 1, :K - 1], lower=1, trans=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"PIRLS: the weighted system is singular (LAPACK info {info}).")
        factor = DenseFactor(L[:Q, :Q])
        if not joint:
            return x, None, factor, None
        RX = np.tril(L[Q:K - 1, Q:K - 1])
        return x[:Q], x[Q:], factor, RX @ RX.T

    def glmer_pirls(self, theta, lp0: np.ndarray, beta=None) -> PirlsState:
        """lme4's PIRLS (``pwrssUpdate``) from the linear predictor ``lp0``.

        With ``beta`` None, u and β are updated together (glmer's nAGQ = 0 stage);
        otherwise β is fixed and enters as the offset Xβ. Every call starts from
        η = lp0, iterates u (and β) ← the penalized weighted least-squares solution for
        the working response at the current η until the penalized deviance
        (deviance residuals + ||u||²) changes by less than 1e-7 relatively, halving a
        step that raises it, and returns lme4's Laplace deviance
        log|L|² + ||u||² − 2 log p(y | η), where L is the factor of the last iteration
        (its weights are those of the η before that iteration's update).
        """
        theta = np.asarray(theta, dtype=float)
        Ts = term_factors(self.layout, theta)
        offset = self.off if beta is None else self.off + self.X @ np.asarray(beta, dtype=float)
        eta = np.asarray(lp0, dtype=float) + 0.0
        old, u_old, b_old = np.finfo(float).max, None, None
        b = None if beta is None else np.asarray(beta, dtype=float)
        B = None if self.Zd is None else self._dense_system(Ts, beta is None)
        ZL = None if B is None else B[:, :self.Zd.shape[1]]
        for _ in range(PWRSS_MAXIT):
            g, w = self.family.score_weight(eta, self.y, self.n)
            if B is not None:
                u, b_new, factor, RXtRX = self._dense_step(B, w, eta - offset + g / w, beta is None)
                b = b if beta is not None else b_new
            elif self.schur is not None:
                u, b_new, factor, RXtRX = self.schur.step(Ts, w, eta - offset + g / w,
                                                          self.X if beta is None else None)
                b = b if beta is not None else b_new
            elif beta is None:
                cp = self.layout.crossproducts(w, eta - offset + g / w)
                pls = solve_pls(self.layout, cp, theta, self.solver, residuals=False)
                factor, u, b, RXtRX = pls.factor, pls.u, pls.beta, pls.RXtRX
            else:
                cp = self.layout.crossproducts(w, eta - offset + g / w)
                factor, RXtRX = make_factor(self.layout, cp, Ts, self.solver), None
                Zwz = np.concatenate([cp.Z1Xy[..., -1].reshape(-1), cp.ZrXy[:, -1]])
                u = factor.solve(lambda_t_times(self.layout, Ts, Zwz[:, None]))[:, 0]
            eta, pdev = self._glmer_update(Ts, offset, u, b if beta is None else None, ZL)
            with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
                # lme4's test as written (first iteration: old = DBL_MAX, the ratio inf)
                settled = abs((old - pdev) / pdev) < PWRSS_TOL
            if settled:
                return PirlsState(deviance=factor.logdet + float(u @ u)
                                  - 2.0 * self.family.loglik(eta, self.y, self.n, self.const),
                                  beta=b, u=u, eta=eta, weights=w, factor=factor, RXtRX=RXtRX)
            if np.isnan(pdev) or pdev > old:
                for _half in range(PWRSS_HALVINGS):
                    if u_old is None or not (np.isnan(pdev) or pdev > old):
                        break
                    u = (u_old + u) / 2
                    b = b if beta is not None else (b_old + b) / 2
                    eta, pdev = self._glmer_update(Ts, offset, u, b if beta is None else None, ZL)
                if np.isnan(pdev) or pdev - old > PWRSS_TOL:
                    raise FitError("PIRLS step-halvings failed to reduce the deviance (lme4's "
                                   "pwrssUpdate error) at theta = " + str(theta.tolist()))
            old, u_old, b_old = pdev, u, b
        raise FitError(f"PIRLS did not converge in {PWRSS_MAXIT} iterations at theta = {theta.tolist()}")

    def _glmer_update(self, Ts, offset, u, beta=None, ZL=None):
        """η = offset + ZΛu (+ Xβ when β is being estimated) and the penalized deviance."""
        eta = offset + (self.Z @ lambda_times(self.layout, Ts, u) if ZL is None else ZL @ u)
        if beta is not None:
            eta = eta + self.X @ beta
        return eta, self.family.deviance(eta, self.y, self.n) + float(u @ u)


def _finite(deviance):
    """A deviance that is +inf where PIRLS breaks down, so the optimizer steps back."""

    def guarded(par):
        try:
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                value = deviance(par)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError, FitError):
            return np.inf
        return value if np.isfinite(value) else np.inf

    return guarded


def hessian(fun, x: np.ndarray, lower: np.ndarray | None = None,
            delta: float = HESSIAN_DELTA) -> np.ndarray:
    """Finite-difference Hessian as lme4's ``deriv12``: central differences with step
    ``delta``; with ``lower``, one-sided towards the interior for a component strictly
    within ``delta`` of its bound (glmer's optwrap passes no bounds, and neither do we)."""
    nx = len(x)
    fx = fun(x)
    up = np.full(nx, delta)
    lower = np.full(nx, -np.inf) if lower is None else np.asarray(lower, dtype=float)
    down = np.where(np.isfinite(lower) & (x - delta < lower) & (x > lower), x - lower, delta)
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
             nAGQ: int = 1, maxeval: int | None = None, optimizer: str = "glmer",
             link: str | None = None, nb_theta: float | None = None, warn: bool = True) -> GLMMFit:
    """Laplace (or adaptive Gauss-Hermite) ML fit of a binomial, bernoulli or Poisson GLMM.

    Parameters
    ----------
    formula : str
    design : Design
    rhoend : float, optional
        θ tolerance of ``optimizer="bobyqa"`` (default 1e-10).
    solver : str
        Factorization backend (:mod:`multilevel.freq.factor`).
    nAGQ : int
        1 = Laplace; > 1 adaptive Gauss-Hermite points (one scalar random effect).
    maxeval : int, optional
        Evaluations allowed per optimizer run (lme4's ``maxfun``; default 10000 for
        ``"glmer"``, 100000 for ``"bobyqa"``).
    optimizer : {"glmer", "bobyqa"}
        ``"glmer"`` (default) reproduces R's default ``glmer()`` run and so its printed
        estimates, which stop short of the optimum; ``"bobyqa"`` optimizes to the
        optimum itself (see the module docstring).
    link : str, optional
        R's link name (``"probit"``, ``"cloglog"``, ``"sqrt"``, ...); None: the family's default.
    nb_theta : float, optional
        The negative binomial's θ, held fixed (``family="negativebinomial"``; θ itself is
        estimated by :func:`multilevel.freq.negbin.fit_glmer_nb`).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
    ...            family="binomial", method="ml")
    >>> round(m.loglik, 4), round(m.aic, 4)
    (-92.0266, 194.0531)
    >>> tight = ml.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
    ...                family="binomial", method="ml", optimizer="bobyqa")
    >>> round(tight.loglik, 4)
    -92.0263
    """
    if optimizer not in OPTIMIZERS:
        raise SpecError(f"optimizer={optimizer!r} is not valid for a GLMM; use 'glmer' (R's default "
                        "glmer run, its printed numbers) or 'bobyqa' (to the optimum).")
    if optimizer == "glmer" and rhoend is not None:
        raise SpecError("rhoend sets the tolerance of optimizer='bobyqa'; optimizer='glmer' replays "
                        "glmer's own settings. Pass optimizer='bobyqa' with rhoend.")
    problem = LaplaceProblem(design, design.frame.family, solver, link, nb_theta)
    nagq = _check_nagq(nAGQ, design)
    with single_blas_thread():
        try:
            if optimizer == "glmer":
                opt, state, dev, H, lp0 = _optimize_glmer(problem, nagq, maxeval)
            else:
                opt, state, dev, H = _optimize_tight(problem, nagq, rhoend, maxeval)
                lp0 = None
        except np.linalg.LinAlgError as exc:   # PIRLS at the start, before any step to retreat to
            raise FitError(
                f"The GLMM {formula!r} cannot be fitted: {exc} glmer stops on such data too. "
                "Usual causes: a predictor that separates a 0/1 response completely (a glm of "
                "the fixed part warns of fitted probabilities 0 or 1), or counts so large that "
                "the weights overflow. Remove or merge the separating predictor, rescale the "
                "counts, or fit method='bayes', whose priors keep the estimates finite."
            ) from None
        # R_X (glmer's vcov with use.hessian = FALSE) and the conditional variances
        theta, beta, eta = opt.theta, state.beta, state.eta
        g, w = problem.family.score_weight(eta, problem.y, problem.n)
        pls = solve_pls(problem.layout, problem.layout.crossproducts(state.weights, eta - problem.off + g / w),
                        theta, solver, residuals=False)
    pls = dataclasses.replace(pls, beta=beta, u=state.u)
    fit = GLMMFit(formula=formula, design=design, method="ml", opt=opt, pls=pls,
                  family=design.frame.family, messages=rank_message(design), solver=solver,
                  laplace_deviance=dev, eta=eta, hessian=H, nagq=nagq, optimizer=optimizer, lp0=lp0,
                  deviance_resid=problem.family.deviance(eta, problem.y, problem.n),
                  link=problem.family.link, nb_theta=nb_theta)
    if not warn:
        return fit
    warn_fit(fit)
    if fit.hessian is not None and fit.vcov_source != "hessian":
        warn_user(f"The finite-difference Hessian is not positive definite; standard errors "
                  f"come from R_X instead (lme4's fallback). {fit.formula}", ConvergenceWarning)
    return fit


def _optimize_tight(problem: LaplaceProblem, nagq: int, rhoend, maxeval):
    """Both stages with exact PIRLS and BOBYQA, to the optimum."""
    design, nth = problem.design, problem.nth
    kwargs = optimizer_settings(rhoend, maxeval)
    lower_t = design.theta_lower()
    warm = {}

    def laplace(par):
        dev, u, _, _ = problem.pirls_u(par[:nth], par[nth:], warm.get("u"))
        if np.isfinite(dev) and np.all(np.isfinite(u)):   # a failed point must not seed the next
            warm["u"] = u
        return dev

    objective = laplace
    if nagq > 1:
        from multilevel.freq.agq import AGQDeviance

        objective = AGQDeviance(problem, nagq, warm)
    # stage 1 only provides the start of stage 2: a loose tolerance is enough
    stage1 = minimize_theta(_finite(lambda th: problem.pirls_joint(th)[0]), design.theta_start(),
                            lower_t, **{**kwargs, "rhoend": max(STAGE1_RHOEND, kwargs.get("rhoend", 0))})
    if nagq == 0:   # the fit itself: to the tight tolerance, β and u from PIRLS at its θ
        stage1 = minimize_theta(_finite(lambda th: problem.pirls_joint(th)[0]), design.theta_start(),
                                lower_t, **kwargs)
        _, beta1, u1 = problem.pirls_joint(stage1.theta)
        lp = problem._eta(term_factors(problem.layout, stage1.theta), beta1, u1)
        state = problem.glmer_pirls(stage1.theta, lp)
        return dataclasses.replace(stage1, deviance=state.deviance), state, state.deviance, None
    _, beta1, u1 = problem.pirls_joint(stage1.theta)
    warm["u"] = u1
    lower = np.concatenate([lower_t, np.full(len(beta1), -np.inf)])
    stage2 = minimize_theta(_finite(objective), np.concatenate([stage1.theta, beta1]), lower, **kwargs)
    for _ in range(STAGE2_RESTARTS):
        # BOBYQA can stop early where part of its trust region leaves the link's range (e.g.
        # Gamma's inverse link): restart from where it stopped until that gains nothing
        again = minimize_theta(_finite(objective), stage2.theta, lower, **kwargs)
        gained = stage2.deviance - again.deviance
        stage2 = dataclasses.replace(again, evaluations=stage2.evaluations + again.evaluations) \
            if gained > 0 else stage2
        if gained < 1e-7:
            break
    par = stage2.theta
    H = hessian(_finite(objective), par)
    dev = objective(par)
    theta, beta = par[:nth], par[nth:]
    _, u, eta, factor = problem.pirls_u(theta, beta, warm["u"])
    _, w = problem.family.score_weight(eta, problem.y, problem.n)
    state = PirlsState(deviance=dev, beta=beta, u=u, eta=eta, weights=w, factor=factor, RXtRX=None)
    opt = dataclasses.replace(stage2, theta=theta, evaluations=stage1.evaluations + stage2.evaluations)
    return opt, state, dev, H


def _optimize_glmer(problem: LaplaceProblem, nagq: int, maxeval):
    """R's default ``glmer()`` run (lme4 1.1-31), step for step.

    mkGlmerDevfun: PIRLS over (u, β) at the start θ from glmer's starting μ gives the
    linear predictor lp0. Stage 1 (optimizeGlmer, nAGQ = 0): BOBYQA on θ of the joint
    PIRLS deviance restarted from lp0 (no boundary restart or check in this stage).
    updateGlmerDevfun: lp0 and the start β are the PIRLS state at stage 1's θ. Stage 2:
    Nelder-Mead on (θ, β) of the u-only PIRLS deviance (or AGQ) restarted from that lp0,
    steps 0.2·(0.1 for θ, min(SD(β), 10) for β), tolerances steps·5e-4; optwrap's
    central finite-difference Hessian at the result; check.boundary: a θ within 1e-5 of
    its bound is put on it when that lowers the deviance.
    """
    design, nth = problem.design, problem.nth
    maxfun = 10_000 if maxeval is None else int(maxeval)
    lower_t = design.theta_lower()
    theta0 = design.theta_start()
    lp0 = problem.glmer_pirls(theta0, problem.family.start(problem.y, problem.n)).eta
    stage1 = bobyqa(_finite(lambda th: problem.glmer_pirls(th, lp0).deviance), theta0, lower_t,
                    maxeval=maxfun)
    if nagq == 0:
        return _glmer_nagq0(problem, stage1, lp0)
    state1 = problem.glmer_pirls(stage1.theta, lp0)
    lp0 = state1.eta
    beta_sd = np.sqrt(np.diag(np.linalg.inv(state1.RXtRX)))
    step = 0.2 * np.concatenate([np.full(nth, NM_THETA_STEP), np.minimum(beta_sd, NM_BETA_SD_MAX)])
    lower = np.concatenate([lower_t, np.full(len(beta_sd), -np.inf)])
    if nagq > 1:
        def objective(par):
            return glmer_agq(problem, par[:nth], par[nth:], lp0, nagq)[0]
    else:
        def objective(par):
            return problem.glmer_pirls(par[:nth], lp0, par[nth:]).deviance
    guarded = _finite(objective)
    nm = nelder_mead(guarded, np.concatenate([stage1.theta, state1.beta]), step, lower,
                     maxfun=maxfun)   # its default tolerances are lme4's: step * 5e-4
    par, fval = nm.x, nm.fval
    H = hessian(guarded, par)   # optwrap's deriv12, without bounds
    par, fval = _boundary_check(guarded, par, fval, lower_t)
    theta, beta = par[:nth], par[nth:]
    if nagq > 1:
        fval, state = glmer_agq(problem, theta, beta, lp0, nagq)
        saturated = problem.family.loglik(state.eta, problem.y, problem.n, problem.const) \
            + 0.5 * problem.family.deviance(state.eta, problem.y, problem.n)
        dev = fval - 2.0 * saturated   # AGQ drops the saturated log-likelihood (lme4's convention)
    else:
        state = problem.glmer_pirls(theta, lp0, beta)
        dev = fval = state.deviance
    opt = OptResult(theta=theta, deviance=fval, converged=stage1.converged and nm.converged,
                    message=nm.message if stage1.converged else f"stage 1: {stage1.message}",
                    evaluations=stage1.evaluations + nm.evaluations, restarted=False)
    return opt, state, dev, H, lp0


def _glmer_nagq0(problem: LaplaceProblem, stage1: OptResult, lp0: np.ndarray):
    """glmer(nAGQ = 0): stage 1 is the fit (θ by BOBYQA, β and u by PIRLS at each θ), then
    glmerControl's boundary check (boundary.tol 1e-5) and no Hessian, so vcov is R_X's."""
    lower_t = problem.design.theta_lower()

    def objective(theta):
        return problem.glmer_pirls(theta, lp0).deviance

    theta, fval = _boundary_check(_finite(objective), stage1.theta, stage1.deviance, lower_t)
    state = problem.glmer_pirls(theta, lp0)
    opt = dataclasses.replace(stage1, theta=theta, deviance=state.deviance)
    return opt, state, state.deviance, None, lp0


def _boundary_check(guarded, par: np.ndarray, fval: float, lower_t: np.ndarray):
    """lme4's check.boundary: a θ within 1e-5 of its bound is put on it when that lowers the
    deviance (``par`` may hold β after θ)."""
    nth = len(lower_t)
    edge = np.flatnonzero((par[:nth] - lower_t > 0) & (par[:nth] - lower_t < BOUNDARY_TOL))
    if edge.size:
        moved = par.copy()
        for i in edge:
            trial = moved.copy()
            trial[i] = lower_t[i]
            if guarded(trial) < fval:
                moved[i] = lower_t[i]
        par, fval = moved, guarded(moved)
    return par, fval


def glmer_agq(problem: LaplaceProblem, theta, beta, lp0, nagq: int):
    """lme4's ``glmerAGQ`` deviance for one scalar random effect, and the PIRLS state.

    After the u-only PIRLS from lp0, each level's integral is taken over the Gauss-Hermite
    nodes zₖ (weights wₖ summing to 1) at û + zₖ·σ_l, σ_l = 1/L_ll from the last PIRLS
    factorization, with per-level deviance dₗ(u) = u² + Σ deviance residuals:

        Σ_l dₗ(û_l) + log|L|² − 2 Σ_l log Σₖ wₖ exp(zₖ²/2 − (dₗ(û_l + zₖσ_l) − dₗ(û_l))/2).

    It leaves out the saturated log-likelihood, as lme4 does.
    """
    theta, beta = np.asarray(theta, dtype=float), np.asarray(beta, dtype=float)
    state = problem.glmer_pirls(theta, lp0, beta)
    term = problem.design.reterms[0]
    codes, x, levels = term.codes, term.X[:, 0], term.n_levels
    t = float(theta[0])
    sd = 1.0 / np.sqrt(1.0 + t * t * np.bincount(codes, weights=state.weights * x * x, minlength=levels))
    offset = problem.X @ beta + problem.off

    def per_level(u):
        resid = problem.family.deviance_residuals(offset + t * x * u[codes], problem.y, problem.n)
        return u * u + np.bincount(codes, weights=resid, minlength=levels)

    devc0 = per_level(state.u)
    nodes, weights = np.polynomial.hermite.hermgauss(nagq)
    mult = np.zeros(levels)
    for z, w in zip(np.sqrt(2.0) * nodes, weights / np.sqrt(np.pi)):
        if z == 0:
            mult += w
        else:
            mult += w * np.exp(z * z / 2 - 0.5 * (per_level(state.u + z * sd) - devc0))
    value = float(np.sum(devc0) - 2.0 * np.sum(np.log(sd)) - 2.0 * np.sum(np.log(mult)))
    return value, state


MAX_NAGQ = 100   # lme4's GHrule(ord): ord < 101


def _check_nagq(nAGQ, design: Design) -> int:
    try:
        nagq = int(nAGQ)
    except (TypeError, ValueError):
        nagq = -1
    if nagq < 0 or nagq != nAGQ:
        raise SpecError(f"nAGQ must be a non-negative integer (1 = Laplace, 0 = β estimated "
                        f"inside PIRLS), got {nAGQ!r}.")
    if nagq > MAX_NAGQ:   # Gauss-Hermite rules beyond overflow (and a huge nAGQ exhausts memory)
        raise SpecError(f"nAGQ={nagq} is more quadrature points than lme4's GHrule allows "
                        f"({MAX_NAGQ}); 25 are already exact to many digits for one scalar effect.")
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
    [-1.398, -0.992, -1.128, -1.58]
    """

    laplace_deviance: float = 0.0
    eta: np.ndarray = dataclasses.field(default=None, repr=False)
    deviance_resid: float = 0.0
    hessian: np.ndarray = dataclasses.field(default=None, repr=False)
    nagq: int = 1
    optimizer: str = "glmer"
    lp0: np.ndarray | None = dataclasses.field(default=None, repr=False)  # "glmer": PIRLS start
    link: str | None = None
    nb_theta: float | None = None     # negative binomial θ (glmer.nb's getME(m, "glmer.nb.theta"))
    nb_evaluations: int = 0           # GLMM refits of glmer.nb's θ search

    @property
    def family_object(self) -> Family:
        """The family with its link (and θ), as R's family object."""
        return Family(self.family, self.link, self.nb_theta)

    @property
    def approximation(self) -> str:
        return "Laplace Approximation" if self.nagq == 1 else \
            f"Adaptive Gauss-Hermite Quadrature, nAGQ = {self.nagq}"

    @property
    def saturated_loglik(self) -> float:
        """Σ log p(yᵢ | μᵢ = yᵢ): the constant lme4 leaves out of logLik when nAGQ > 1
        (``fit.loglik == fit.loglik_full - fit.saturated_loglik`` there)."""
        family = self.family_object
        y = self.design.y
        return family.loglik(self.eta, y, trials_or_weights(self.design)) + 0.5 * self.deviance_resid

    @property
    def sigma(self) -> float:
        """1, or for the Gamma family lme4's ``sigma()``: √((Σ wᵢ·Pearson residualᵢ² + ||u||²)/n),
        n the number of rows, not Σ w (lme4's sigmaML; its dispersion is σ², and VarCorr
        scales by σ² as for an LMM)."""
        family = self.family_object
        if not family.has_dispersion:
            return 1.0
        n = trials_or_weights(self.design)
        mu = family.mu(self.eta)
        pearson = n * (self.design.y - mu) ** 2 / family.variance(mu)
        return float(np.sqrt((np.sum(pearson) + self.pls.u @ self.pls.u) / len(n)))

    @property
    def df(self) -> int:
        """Fixed effects and θ (+ the Gamma dispersion or the negative binomial's θ), lme4's
        logLik df."""
        extra = self.family_object.has_dispersion or self.family == "negativebinomial"
        return self.design.p + len(self.pls.theta) + int(extra)

    @property
    def _vcov_hessian(self) -> np.ndarray | None:
        if self.hessian is None:   # nAGQ = 0: θ alone was optimized
            return None
        try:
            V = 2.0 * np.linalg.inv(self.hessian)[len(self.pls.theta):, len(self.pls.theta):]
        except np.linalg.LinAlgError:
            return None
        V = 0.5 * (V + V.T)
        return V if np.all(np.isfinite(V)) and np.min(np.linalg.eigvalsh(V)) > 0 else None

    @property
    def vcov_source(self) -> str:
        """"hessian" (glmer's default) or "RX" when the Hessian is not positive definite or,
        for ``nAGQ = 0``, not computed."""
        return "RX" if self._vcov_hessian is None else "hessian"

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance of the fixed effects from the inverse Hessian of the deviance over
        (θ, β), as glmer's ``vcov`` (``use.hessian = TRUE``); σ²(R_X'R_X)⁻¹ if that fails
        or for ``nAGQ = 0``."""
        V = self._vcov_hessian
        if V is None:   # R_X, scaled by the dispersion σ² (Gamma) as lme4's vcov.merMod
            V = self.sigma ** 2 * np.linalg.inv(self.pls.RXtRX)
        return pd.DataFrame(V, index=self.design.x_names, columns=self.design.x_names)

    @property
    def reml_criterion(self):
        return None

    @property
    def loglik(self) -> float:
        """lme4's ``logLik``: the Laplace log-likelihood, or for ``nAGQ > 1`` the AGQ
        log-likelihood without the saturated term (so AIC/BIC equal R's); the whole AGQ
        log-likelihood is :attr:`loglik_full`."""
        full = self.loglik_full
        return full - self.saturated_loglik if self.nagq > 1 else full

    @property
    def loglik_full(self) -> float:
        """The whole log-likelihood (Laplace or AGQ), saturated term included for nAGQ > 1:
        comparable across nAGQ values and with GLMs. Equal to :attr:`loglik` when nAGQ = 1."""
        return -0.5 * self.laplace_deviance

    @property
    def deviance(self) -> float:
        """lme4's ``deviance`` of a glmer fit: the sum of squared deviance residuals at the
        conditional modes (−2 logLik is ``-2 * fit.loglik``)."""
        return self.deviance_resid

    def refit_ml(self) -> GLMMFit:
        return self

    def deviance_function(self):
        """−2 × the Laplace (or AGQ) log-likelihood as a function of ``concat(θ, β)``: the
        function the fit's optimizer minimized (lme4's PIRLS from the fit's starting
        linear predictor for ``optimizer="glmer"``, exact PIRLS for ``"bobyqa"``)."""
        if self.nagq == 0:
            raise SpecError("This fit used nAGQ=0 (θ alone optimized, β inside PIRLS), whose "
                            "deviance is not a function of (θ, β); refit with nAGQ=1 for profiles "
                            "and θ-based inference.")
        problem = LaplaceProblem(self.design, self.family, self.solver, self.link, self.nb_theta)
        nth = problem.nth
        if self.optimizer == "glmer":
            if self.nagq > 1:
                shift = -2.0 * self.saturated_loglik
                return lambda par: glmer_agq(problem, np.asarray(par)[:nth], np.asarray(par)[nth:],
                                             self.lp0, self.nagq)[0] + shift
            return lambda par: problem.glmer_pirls(np.asarray(par)[:nth], self.lp0,
                                                   np.asarray(par)[nth:]).deviance
        if self.nagq > 1:
            from multilevel.freq.agq import AGQDeviance

            return AGQDeviance(problem, self.nagq, {})
        return lambda par: problem.pirls_u(np.asarray(par)[:nth], np.asarray(par)[nth:])[0]

    def _inverse_link(self, eta: np.ndarray) -> np.ndarray:
        return self.family_object.mu(eta)

    def summary(self, ci: float | None = None) -> pd.DataFrame:
        """Fixed effects as glmer's summary: estimate, SE, z value, Pr(>|z|) (+ Wald interval)."""
        return wald_table(self.fixef, self.se, "z_value", ci, p_values=True)
