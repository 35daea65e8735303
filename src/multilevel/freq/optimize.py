"""Minimize the profiled deviance over θ with bounds: BOBYQA, restarted at the edge.

lme4 (``optimizeLmer``) uses a derivative-free bounded optimizer (BOBYQA) started
at identity relative factors, and when a diagonal element of θ ends on its bound
of zero it checks whether moving off the boundary lowers the deviance and, if so,
restarts (``restart_edge``). We do the same with NLopt's BOBYQA, lme4's default
``nloptwrap`` optimizer, with its tolerances.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from multilevel.blas import single_blas_thread
from multilevel.freq.deviance import make_deviance

RHOEND = 1e-10      # absolute θ tolerance (lme4 uses 1e-8; tighter costs a few evaluations)
MAXEVAL = 100_000
BOUNDARY_STEP = 1e-4  # lme4's restart_edge step off the bound
BOUNDARY_TOL = 1e-5   # lme4's boundary.tol: values this close to a bound are tried on it
MOMENT_START_MIN = 160    # Q + p + 1 above which scalar-term designs start from moment_start
MOMENT_START_FLOOR = 0.01  # (a zero start sits on the bound; BOBYQA moves off it by its step)
MOMENT_START_STEP = 0.05   # initial trust radius from that start (0.05-0.2 tried: 64-75 evaluations)


@dataclass(frozen=True)
class OptResult:
    """θ̂ and how the optimizer got there."""

    theta: np.ndarray
    deviance: float
    converged: bool
    message: str
    evaluations: int
    restarted: bool
    phi: np.ndarray | None = None   # structured terms: the optimized parameters (freq.structures)


def minimize_theta(deviance, start: np.ndarray, lower: np.ndarray, rhoend: float = RHOEND,
                   maxeval: int = MAXEVAL, step: float | None = None,
                   nlopt_start: bool = False) -> OptResult:
    """Minimize ``deviance(θ)`` subject to ``θ >= lower`` (``-inf`` = unbounded).

    Parameters
    ----------
    deviance : callable
        Pure function of θ.
    start, lower : ndarray
    rhoend : float
        Absolute tolerance on θ (NLopt's ``xtol_abs``).
    maxeval : int
        Evaluations allowed per optimizer run (lme4's ``maxfun``); reaching it is
        reported as non-convergence.
    step : float, optional
        BOBYQA's initial trust-region radius (default 0.2·max(1, |start|), minqa's
        ``rhobeg``, which glmer's bobyqa uses).
    nlopt_start : bool
        Linear mixed models: when the result has a variance on its bound, also run BOBYQA
        from ``start`` with NLopt's own initial steps, lme4's ``nloptwrap`` path (lmer's
        default optimizer sets none: 3/4 of the distance to a bound, 1 for an unbounded
        zero), and keep that optimum where it is better by more than 1e-6.
    """
    result = bobyqa(deviance, start, lower, rhoend, maxeval, step)
    restarted = False
    on_edge = np.isfinite(lower) & (result.theta <= lower + 1e-10)
    if np.any(on_edge):
        # lme4's restart_edge: step off each boundary component; restart if it helps.
        trial = result.theta.copy()
        trial[on_edge] = BOUNDARY_STEP
        if deviance(trial) < result.deviance:
            again = bobyqa(deviance, trial, lower, rhoend, maxeval)
            if again.deviance < result.deviance:
                result, restarted = again, True
        if nlopt_start and step is None:
            # The uniform first step can take a multimodal criterion to a boundary optimum
            # that lme4's path does not visit: (1 + I(sens2^2) | Consumer) on lmerTest's
            # carrots ends with the intercept's θ at 0, 26 logLik units below lmer's fit
            # (tests/test_lmertest_suite.py). Only fits on the edge pay for the second run.
            other = bobyqa(deviance, start, lower, rhoend, maxeval, step="nlopt")
            if other.deviance < result.deviance - 1e-6:
                result, restarted = other, True
    theta, value = _snap_to_boundary(deviance, result.theta, result.deviance, lower)
    return OptResult(theta=theta, deviance=value, converged=result.converged,
                     message=result.message, evaluations=result.evaluations, restarted=restarted)


def _snap_to_boundary(deviance, theta, value, lower):
    """lme4's ``check_boundary``: put components within BOUNDARY_TOL of a bound on it when
    that does not raise the deviance (an optimizer stops a hair inside a zero variance)."""
    near = np.isfinite(lower) & (theta > lower) & (theta - lower < BOUNDARY_TOL)
    if not np.any(near):
        return theta, value
    trial = theta.copy()
    trial[near] = lower[near]
    # At a zero variance the two values agree to rounding (the criterion is even in a scalar
    # θ); a deviance with a fast path decides on its general path (``deviance.reference``),
    # so the choice does not depend on which summation order was used.
    reference = getattr(deviance, "reference", None)
    if reference is not None:
        value, trial_value = float(reference(theta)), float(reference(trial))
    else:
        trial_value = float(deviance(trial))
    return (trial, trial_value) if trial_value <= value else (theta, value)


def bobyqa(deviance, start: np.ndarray, lower: np.ndarray, rhoend: float = RHOEND,
           maxeval: int = MAXEVAL, step: float | str | None = None) -> OptResult:
    """One BOBYQA run from ``start`` (no boundary restart or snapping; glmer's first stage).

    Examples
    --------
    >>> res = bobyqa(lambda x: float((x[0] - 0.3) ** 2 + 1), np.array([1.0]), np.array([0.0]))
    >>> round(float(res.theta[0]), 6), res.converged
    (0.3, True)
    """
    import nlopt

    start = np.asarray(start, dtype=float)
    best = {"x": start, "f": np.inf, "count": 0}

    raised: list[BaseException] = []

    def objective(x, grad):
        # An exception must not cross nlopt's C frames: one raised there (a Ctrl-C's
        # KeyboardInterrupt at an unlucky moment) can come back as a SystemError. It is kept,
        # nlopt is told to stop, and it is raised again once nlopt has returned.
        try:
            best["count"] += 1
            value = float(deviance(x))
            if value < best["f"]:  # kept here: nlopt's exceptions do not return the best point
                best["x"], best["f"] = x.copy(), value
            return value
        except BaseException as exc:
            raised.append(exc)
            opt.force_stop()
            return np.inf

    opt = nlopt.opt(nlopt.LN_BOBYQA, start.size)
    opt.set_min_objective(objective)
    opt.set_lower_bounds(np.where(np.isfinite(lower), lower, -np.inf))
    # tighter than lme4's nloptwrap (xtol_abs 1e-8, ftol_abs 1e-8): the references are optima
    opt.set_xtol_abs(rhoend)
    opt.set_ftol_abs(1e-12)
    opt.set_maxeval(int(maxeval))
    if step is None:
        step = 0.2 * max(1.0, float(np.max(np.abs(start))))
    if step != "nlopt":     # "nlopt": NLopt's default initial steps (lme4's nloptwrap)
        opt.set_initial_step(np.full(start.size, step))
    try:
        try:
            opt.optimize(np.maximum(start, np.where(np.isfinite(lower), lower, -np.inf)))
        except SystemError as exc:   # one that crossed nlopt's frames after all (a signal
            if not raised:            # handled in the objective's last bytecodes)
                if exc.__cause__ is None:
                    raise
                raised.append(exc.__cause__)
        except BaseException:   # nlopt.ForcedStop after the objective kept an exception
            if not raised:
                raise
        if raised:
            raise raised[0]
        code = opt.last_optimize_result()
        message = _NLOPT_MESSAGES.get(code, f"nlopt result code {code}")
        converged = code > 0 and code != nlopt.MAXEVAL_REACHED
    except nlopt.RoundoffLimited:
        # no further progress possible in floating point: the optimum to machine precision
        message, converged = "roundoff-limited (optimum reached to numerical precision)", True
    except (RuntimeError, ValueError) as exc:  # nlopt's failure / invalid-argument exits
        message, converged = f"nlopt BOBYQA failed: {exc}", False
    theta = np.where(np.isfinite(lower), np.maximum(best["x"], lower), best["x"])
    return OptResult(theta=theta, deviance=float(deviance(theta)), converged=converged,
                     message=message, evaluations=best["count"], restarted=False)


_NLOPT_MESSAGES = {1: "converged", 2: "stopval reached", 3: "ftol reached", 4: "xtol reached",
                   5: "maximum number of evaluations reached", 6: "maximum time reached"}


def optimizer_settings(rhoend: float | None, maxeval: int | None) -> dict:
    """Keyword arguments of :func:`minimize_theta` from the user's options."""
    out = {}
    if rhoend is not None:
        out["rhoend"] = float(rhoend)
    if maxeval is not None:
        out["maxeval"] = int(maxeval)
    return out


def moment_start(design) -> np.ndarray | None:
    """A start near θ̂ for large designs whose terms are all scalar, or None (lme4's start).

    Each term's θ from a one-way analysis of variance of the least-squares residuals on its
    grouping factor (the between-level variance of the level means over the within-level
    variance), ignoring the other terms: crude for crossed factors, but on InstEval
    (θ̂ = 0.28, 0.44, 0.07) it gives 0.24, 0.42, 0.08 and BOBYQA needs 64 evaluations of
    ~20 ms instead of 130 from θ = 1. Small designs keep lme4's start: their evaluations
    cost microseconds, and their optimizer path stays lme4's.
    """
    terms = design.reterms
    # one θ per scalar term (a term with its own θ → Λ mapping keeps lme4's start)
    if not terms or any(t.q != 1 for t in terms) or len(design.theta_lower()) != len(terms) or \
            sum(t.n_levels for t in terms) + design.p + 1 <= MOMENT_START_MIN:
        return None
    if design.weights is not None:
        return None
    X, y = design.X, np.asarray(design.y, dtype=float) - design.offset_or_zero
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    out = []
    for term in terms:
        w = term.X[:, 0]
        counts = np.bincount(term.codes, minlength=term.n_levels).astype(float)
        seen = counts > 0
        dof = len(resid) - int(seen.sum())
        if dof <= 0 or not np.all(w == 1.0) or seen.sum() < 2:
            return None  # no replication within levels, or a slope term: keep lme4's start
        means = np.bincount(term.codes, weights=resid, minlength=term.n_levels)[seen] / counts[seen]
        within = (resid @ resid - counts[seen] @ means ** 2) / dof
        between = np.var(means, ddof=1) - within * np.mean(1.0 / counts[seen])
        if not within > 0:
            return None
        out.append(np.sqrt(max(between, 0.0) / within))
    return np.clip(np.array(out), MOMENT_START_FLOOR, None)


def optimize_design(design, reml: bool = True, solver: str = "auto", rhoend: float | None = None,
                    maxeval: int | None = None):
    """θ̂ (:class:`OptResult`) and the PLS solution at θ̂ of a linear mixed model's design:
    the stages deviance(θ) → optimize of :func:`multilevel.freq.fit.fit_design` (and of
    ``FreqFit.refit_ml``)."""
    from multilevel.freq.structures import structure_map

    deviance = make_deviance(design, reml=reml, solver=solver)
    kwargs = optimizer_settings(rhoend, maxeval)
    mapping = structure_map(design)   # structured terms: optimize their parameters φ, θ = θ(φ)
    # The dense pieces (Schur complement ~10³) gain nothing from BLAS threads and lose
    # badly when cores are shared (bench/bench_freq.py).
    with single_blas_thread():
        if mapping is None:
            start = moment_start(design)
            if start is None:
                start = design.theta_start()
            else:
                kwargs["step"] = MOMENT_START_STEP
            opt = minimize_theta(deviance, start, design.theta_lower(), nlopt_start=True, **kwargs)
        else:
            opt = minimize_theta(lambda phi: deviance(mapping.theta(phi)), mapping.start(),
                                 mapping.lower(), **kwargs)
            opt = replace(opt, theta=mapping.theta(opt.theta), phi=opt.theta)
        pls = deviance.solution(opt.theta)
    return opt, pls
