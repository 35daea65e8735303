"""Profile-likelihood intervals as lme4's ``confint(m, method = "profile")``.

lme4 profiles the ML fit (a REML fit is refitted by ML first, as ``devfun2`` does),
in the parameters of :mod:`multilevel.inference.parameters` (SDs, correlations, σ,
fixed effects). For a parameter fixed at a value, the deviance is minimized over all
the others; the signed square root

    ζ(value) = sign(value − estimate) · sqrt(deviance(value) − deviance(estimate))

is compared with the normal quantile: the interval is {value : |ζ| ≤ z_(1+level)/2}.
lme4 evaluates ζ on a grid and inverts an interpolating spline; we find the two roots
of ζ = ±z directly (Brent's method on the profiled deviance), which is what the
spline approximates.

Variance parameters: the deviance in (SDs, correlations, σ) is
log|A(θ)| + r²(θ)/σ² + n log(2πσ²) with θ rebuilt from them; fixed effects: the
column's contribution becomes an offset and θ is re-optimized (σ and the other
fixed effects profiled out).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import optimize, stats

from multilevel.freq.deviance import make_deviance
from multilevel.freq.optimize import bobyqa, minimize_theta
from multilevel.inference.parameters import theta_from_varpar, varpar_from_theta

MAX_STEPS = 60


def varpar_deviance_sd(fit):
    """ML deviance as a function of (SDs/correlations in θ order, σ), β profiled."""
    solution = make_deviance(fit.design, reml=False, solver=fit.solver).solution
    qs = [t.q for t in fit.design.reterms]
    n = fit.nobs

    def dev(v) -> float:
        theta = theta_from_varpar(np.asarray(v, float), qs)
        if theta is None:
            return np.inf
        s = solution(theta)
        s2 = v[-1] ** 2
        return float(s.logdet_A + s.r2 / s2 + n * np.log(2 * np.pi * s2))

    return dev


def _lower_bounds(kinds: list[str]) -> np.ndarray:
    return np.array([0.0 if k in ("sd", "sigma") else -1.0 for k in kinds])


def _upper_bounds(kinds: list[str]) -> np.ndarray:
    return np.array([np.inf if k in ("sd", "sigma") else 1.0 for k in kinds])


class _VarparProfile:
    """ζ for one variance parameter, warm-starting the nuisance optimizations."""

    def __init__(self, dev, v_hat, base, k, kinds):
        self.dev, self.v_hat, self.base, self.k = dev, v_hat, base, k
        self.free = [i for i in range(len(v_hat)) if i != k]
        lo = np.array([0.0 if kinds[i] in ("sd", "sigma") else -np.inf for i in self.free])
        self.lower = lo
        self.cor = np.array([kinds[i] == "cor" for i in self.free])
        self.seen: dict[float, np.ndarray] = {}

    def _to_v(self, x, value):
        v = np.empty(len(self.v_hat))
        v[self.k] = value
        w = np.where(self.cor, np.tanh(x), x)
        v[self.free] = w
        return v

    def zeta(self, value: float) -> float:
        if not self.free:
            d = self.dev(np.array([value]))
        else:
            cold = self.v_hat[self.free]
            cold = np.where(self.cor, np.arctanh(np.clip(cold, -0.999999, 0.999999)), cold)
            starts = [cold]
            if self.seen:   # warm start from the nearest value already profiled
                warm = self.seen[min(self.seen, key=lambda w: abs(w - value))]
                # a correlation at ±1 (tanh saturated) is a flat direction from which BOBYQA
                # can stall far from the optimum ((B | g) with the slope SD near 0: ζ(0)
                # -1.98 where it is -1.18, and a raw brentq error): then also start cold
                saturated = np.any(self.cor & (np.abs(np.tanh(warm)) > 0.99))
                starts = [warm, cold] if saturated else [warm]
            fits = [bobyqa(lambda x: self.dev(self._to_v(x, value)), start, self.lower, rhoend=1e-9)
                    for start in starts]
            res = min(fits, key=lambda r: r.deviance if np.isfinite(r.deviance) else np.inf)
            d = res.deviance
            self.seen[value] = res.theta
        if not np.isfinite(d):
            return np.nan
        return float(np.sign(value - self.v_hat[self.k]) * np.sqrt(max(d - self.base, 0.0)))


class _FixefProfile:
    """ζ for one fixed effect: its column becomes an offset, θ is re-optimized (ML)."""

    def __init__(self, fit_ml, j, base):
        d = fit_ml.design
        self.keep = [c for c in range(d.p) if c != j]
        self.design, self.j, self.base = d, j, base
        self.beta_hat = float(fit_ml.pls.beta[j])
        self.theta = fit_ml.pls.theta.copy()
        self.lower = d.theta_lower()
        self.solver = fit_ml.solver

    def zeta(self, value: float) -> float:
        d = self.design
        X = np.asarray(d.X, float)
        reduced = dataclasses.replace(d, X=X[:, self.keep], y=np.asarray(d.y, float) - value * X[:, self.j],
                                      x_names=[d.x_names[c] for c in self.keep])
        dev = make_deviance(reduced, reml=False, solver=self.solver)
        res = minimize_theta(dev, self.theta, self.lower, rhoend=1e-9)
        return float(np.sign(value - self.beta_hat) * np.sqrt(max(res.deviance - self.base, 0.0)))


def _root(zeta, start: float, step: float, target: float, bound: float | None):
    """The value where ζ crosses ``target`` going from ``start`` in the direction of
    ``step``; the bound when ζ never reaches it before the parameter's bound."""
    a, za = start, 0.0
    for _ in range(MAX_STEPS):
        b = a + step
        if bound is not None and (b - bound) * np.sign(step) >= 0:
            b = bound - 1e-10 * np.sign(step) * max(1.0, abs(bound))
            zb = zeta(b)
            if not np.isfinite(zb) or (zb - target) * (za - target) > 0:
                return float(bound)
        else:
            zb = zeta(b)
        if not np.isfinite(zb):
            step /= 2
            continue
        if (zb - target) * (za - target) <= 0:
            return float(optimize.brentq(lambda x: zeta(x) - target, a, b, xtol=1e-10, rtol=1e-12))
        a, za = b, zb
        step *= 1.5
    return np.nan


def glmm_deviance(fit):
    """A GLMM's Laplace/AGQ deviance as a function of (SDs/correlations in θ order, β),
    the function its optimizer minimized (:meth:`GLMMFit.deviance_function`)."""
    devfun = fit.deviance_function()
    qs = [t.q for t in fit.design.reterms]
    nth = len(fit.pls.theta)

    def dev(v) -> float:
        theta = theta_from_varpar(np.concatenate([v[:nth], [1.0]]), qs)
        if theta is None:
            return np.inf
        return float(devfun(np.concatenate([theta, v[nth:]])))

    return dev


def glmm_profile_intervals(fit, level: float = 0.95):
    """lme4's profile of a glmer fit: every parameter in (SDs/correlations, β) fixed in
    turn, the others re-optimized on the deviance in (θ, β); ζ against the fit's deviance."""
    from multilevel.inference.parameters import variance_parameters

    z = stats.norm.ppf(0.5 + level / 2)
    kinds = list(variance_parameters(fit)["kind"]) + ["fixed"] * fit.design.p
    scale = kinds.index("sigma") if "sigma" in kinds else None   # gamma, wald: σ plugged in
    kinds = [k for k in kinds if k != "sigma"]
    qs = [t.q for t in fit.design.reterms]
    v_hat = np.concatenate([varpar_from_theta(fit.pls.theta, 1.0, qs)[:-1], fit.pls.beta])
    dev = glmm_deviance(fit)
    base = dev(v_hat)
    lo_b = np.array([0.0 if k == "sd" else -1.0 if k == "cor" else -np.inf for k in kinds])
    hi_b = np.array([1.0 if k == "cor" else np.inf for k in kinds])
    se = np.concatenate([np.full(len(kinds) - fit.design.p, np.nan), fit.se.to_numpy()])
    out = []
    for k, kind in enumerate(kinds):
        prof = _VarparProfile(dev, v_hat, base, k, [kd if kd != "fixed" else "beta" for kd in kinds])
        step = 0.5 * se[k] if kind == "fixed" else 0.1 * max(abs(v_hat[k]) if kind == "sd" else 1.0, 1e-3)
        lower = _root(prof.zeta, v_hat[k], -step, -z, lo_b[k] if np.isfinite(lo_b[k]) else None)
        upper = _root(prof.zeta, v_hat[k], step, z, hi_b[k] if np.isfinite(hi_b[k]) else None)
        out.append((lower, upper))
    if scale is not None:   # the dispersion is not a parameter of the deviance (lme4 refuses)
        out.insert(scale, (np.nan, np.nan))
    return np.array(out)


def profile_intervals(fit, level: float = 0.95):
    """(lower, upper) per parameter, lme4's order: variance parameters, σ, fixed effects."""
    from multilevel.inference.parameters import variance_parameters

    ml = fit.refit_ml() if fit.reml else fit
    z = stats.norm.ppf(0.5 + level / 2)
    info = variance_parameters(ml)
    kinds = list(info["kind"])
    qs = [t.q for t in ml.design.reterms]
    v_hat = varpar_from_theta(ml.pls.theta, ml.sigma, qs)
    base = ml.deviance
    dev = varpar_deviance_sd(ml)
    lo_b, hi_b = _lower_bounds(kinds), _upper_bounds(kinds)
    se_beta = ml.se.to_numpy()
    out = []
    for k, kind in enumerate(kinds):
        prof = _VarparProfile(dev, v_hat, base, k, kinds)
        scale = abs(v_hat[k]) if kind != "cor" else 1.0
        step = 0.1 * max(scale, 1e-3 * max(1.0, ml.sigma))
        lower = _root(prof.zeta, v_hat[k], -step, -z, lo_b[k])
        upper = _root(prof.zeta, v_hat[k], step, z, hi_b[k] if np.isfinite(hi_b[k]) else None)
        out.append((lower, upper))
    for j in range(ml.design.p):
        prof = _FixefProfile(ml, j, base)
        step = 0.5 * se_beta[j]
        out.append((_root(prof.zeta, prof.beta_hat, -step, -z, None),
                    _root(prof.zeta, prof.beta_hat, step, z, None)))
    return np.array(out)
