"""The variance parameters (θ, σ) of a linear mixed model as lmerTest treats them.

lmerTest (Kuznetsova, Brockhoff & Christensen 2017, J. Stat. Softw. 82(13)) writes the
deviance as a function of varpar = (θ, σ), with σ not profiled out,

    ML:   d(θ, σ) = log|A| + r²(θ)/σ² + n log(2πσ²)
    REML: d(θ, σ) + log|R_X'R_X| − p log(2πσ²),

and vcov(β̂) = σ² (R_X'R_X)⁻¹ as a function of varpar. The asymptotic covariance of
the variance parameters is A = 2 H⁻¹ (H the Hessian of d at the optimum; a
Moore–Penrose inverse over the positive eigenvalues), and the Jacobian of vcov(β̂)
feeds Satterthwaite's degrees of freedom.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from multilevel.errors import ConvergenceWarning, SpecError, warn
from multilevel.inference import numderiv

EIGEN_TOL = 1e-8  # lmerTest's tol for zero/negative Hessian eigenvalues


@dataclass(frozen=True)
class VarparInfo:
    """What Satterthwaite's method needs from a fit (lmerTest's ``lmerModLmerTest`` slots).

    Attributes
    ----------
    beta : ndarray (p,)
    vcov : ndarray (p, p)
        vcov(β̂) = σ² (R_X'R_X)⁻¹.
    varpar : ndarray (k,)
        (θ, σ) at the optimum.
    cov_varpar : ndarray (k, k)
        A = 2 H⁻¹.
    jac : ndarray (k, p, p)
        ∂ vcov(β̂) / ∂ varpar_j.
    hessian : ndarray (k, k)
    """

    beta: np.ndarray
    vcov: np.ndarray
    varpar: np.ndarray
    cov_varpar: np.ndarray
    jac: np.ndarray
    hessian: np.ndarray


def check_lmm(fit, what: str) -> None:
    """Refuse anything but a gaussian REML/ML mixed-model fit (FreqFit)."""
    from multilevel.freq import FreqFit

    if not isinstance(fit, FreqFit) or getattr(fit, "family", "gaussian") != "gaussian":
        raise SpecError(
            f"{what} needs a linear mixed model fitted with method='reml' or 'ml' "
            f"(got {type(fit).__name__}). For GLMMs use ddf=None (z tests); for Bayesian fits "
            "use the posterior intervals."
        )
    from multilevel.freq.structures import refuse_structured

    refuse_structured(fit, what)


def varpar_deviance(fit):
    """d(θ, σ) of lmerTest (see the module docstring) as a pure function of varpar."""
    solution = fit.deviance_function().solution
    n, p, reml = fit.nobs, fit.design.p, fit.reml

    def dev(varpar) -> float:
        theta, sigma2 = varpar[:-1], varpar[-1] ** 2
        s = solution(theta)
        out = s.logdet_A + s.r2 / sigma2 + n * np.log(2 * np.pi * sigma2)
        if reml:
            out += s.logdet_RX - p * np.log(2 * np.pi * sigma2)
        return float(out)

    return dev


def vcov_function(fit):
    """vcov(β̂) = σ² (R_X'R_X(θ))⁻¹ as a function of varpar = (θ, σ)."""
    solution = fit.deviance_function().solution

    def vcov(varpar) -> np.ndarray:
        return varpar[-1] ** 2 * np.linalg.inv(solution(varpar[:-1]).RXtRX)

    return vcov


_CACHE: dict[int, tuple] = {}


def varpar_info(fit) -> VarparInfo:
    """Hessian, A = 2H⁻¹ and the Jacobian of vcov(β̂) at the optimum (cached per fit)."""
    check_lmm(fit, "Satterthwaite's method")
    hit = _CACHE.get(id(fit))
    if hit is not None and hit[0]() is fit:
        return hit[1]
    from threadpoolctl import threadpool_limits

    varpar = np.concatenate([fit.pls.theta, [fit.sigma]])
    # as in fit_design: the small dense pieces lose to BLAS threads on shared cores
    with threadpool_limits(limits=1, user_api="blas"):
        H = numderiv.hessian(varpar_deviance(fit), varpar)
        vcov = vcov_function(fit)
        jac = numderiv.jacobian(vcov, varpar)          # (p, p, k)
    evals, evecs = np.linalg.eigh(H)
    if np.any(evals < -EIGEN_TOL):
        warn(f"The deviance's Hessian in (θ, σ) has negative eigenvalue(s) "
             f"{evals[evals < -EIGEN_TOL]}: the fit may not have converged, so "
             "Satterthwaite's df are unreliable.", ConvergenceWarning)
    pos = evals > EIGEN_TOL
    A = 2 * (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    info = VarparInfo(beta=np.asarray(fit.pls.beta, float), vcov=vcov(varpar), varpar=varpar,
                      cov_varpar=A, jac=np.moveaxis(jac, -1, 0), hessian=H)
    _CACHE[id(fit)] = (weakref.ref(fit, lambda _r, key=id(fit): _CACHE.pop(key, None)), info)
    return info
