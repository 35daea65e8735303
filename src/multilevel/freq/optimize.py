"""Minimize the profiled deviance over θ with bounds: BOBYQA, restarted at the edge.

lme4 (``optimizeLmer``) uses a derivative-free bounded optimizer (BOBYQA) started
at identity relative factors, and when a diagonal element of θ ends on its bound
of zero it checks whether moving off the boundary lowers the deviance and, if so,
restarts (``restart_edge``). We do the same with NLopt's BOBYQA, lme4's default
``nloptwrap`` optimizer, with its tolerances.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RHOEND = 1e-10      # absolute θ tolerance (lme4 uses 1e-8; tighter costs a few evaluations)
BOUNDARY_STEP = 1e-4


@dataclass(frozen=True)
class OptResult:
    """θ̂ and how the optimizer got there."""

    theta: np.ndarray
    deviance: float
    converged: bool
    message: str
    evaluations: int
    restarted: bool


def minimize_theta(deviance, start: np.ndarray, lower: np.ndarray, rhoend: float = RHOEND) -> OptResult:
    """Minimize ``deviance(θ)`` subject to ``θ >= lower`` (``-inf`` = unbounded).

    Parameters
    ----------
    deviance : callable
        Pure function of θ.
    start, lower : ndarray
    rhoend : float
        Absolute tolerance on θ (NLopt's ``xtol_abs``).
    """
    result = _bobyqa(deviance, start, lower, rhoend)
    restarted = False
    on_edge = np.isfinite(lower) & (result.theta <= lower + 1e-10)
    if np.any(on_edge):
        # lme4's restart_edge: step off each boundary component; restart if it helps.
        trial = result.theta.copy()
        trial[on_edge] = BOUNDARY_STEP
        if deviance(trial) < result.deviance:
            again = _bobyqa(deviance, trial, lower, rhoend)
            if again.deviance < result.deviance:
                result, restarted = again, True
    return OptResult(theta=result.theta, deviance=result.deviance, converged=result.converged,
                     message=result.message, evaluations=result.evaluations, restarted=restarted)


def _bobyqa(deviance, start, lower, rhoend) -> OptResult:
    import nlopt

    start = np.asarray(start, dtype=float)
    count = [0]

    def objective(x, grad):
        count[0] += 1
        return float(deviance(x))

    opt = nlopt.opt(nlopt.LN_BOBYQA, start.size)
    opt.set_min_objective(objective)
    opt.set_lower_bounds(np.where(np.isfinite(lower), lower, -np.inf))
    # lme4's nloptwrap settings: xtol_abs 1e-8, ftol_abs 1e-8, maxeval 1e5
    opt.set_xtol_abs(rhoend)
    opt.set_ftol_abs(1e-12)
    opt.set_maxeval(100_000)
    opt.set_initial_step(np.full(start.size, 0.2 * max(1.0, float(np.max(np.abs(start))))))
    try:
        x = opt.optimize(np.maximum(start, np.where(np.isfinite(lower), lower, -np.inf)))
        code = opt.last_optimize_result()
    except (RuntimeError, ValueError) as exc:  # nlopt's roundoff-limited or invalid-argument exits
        x, code = start, -1
        message = f"nlopt BOBYQA stopped: {exc}"
    else:
        message = _NLOPT_MESSAGES.get(code, f"nlopt result code {code}")
    theta = np.where(np.isfinite(lower), np.maximum(x, lower), x)
    return OptResult(theta=theta, deviance=float(deviance(theta)), converged=code > 0 and code != 5,
                     message=message, evaluations=count[0], restarted=False)


_NLOPT_MESSAGES = {1: "converged", 2: "stopval reached", 3: "ftol reached", 4: "xtol reached",
                   5: "maximum number of evaluations reached", 6: "maximum time reached"}
