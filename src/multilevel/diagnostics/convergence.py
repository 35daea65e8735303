"""Did the fit converge? One report for both engines.

Bayesian fits already carry theirs (:mod:`multilevel.bayes.convergence`: R-hat, ESS,
divergences, E-BFMI, tree depth); :func:`check_convergence` returns it unchanged.
:func:`idata_convergence` builds the same report from any ArviZ ``DataTree`` (a
posterior sampled elsewhere, by PyMC, nutpie or Stan through ArviZ).

For REML/ML fits the checks follow lme4's ``checkConv`` (``lmerControl``):

* the optimizer's own exit status;
* singularity (``isSingular``: a diagonal of a relative factor below 1e-4);
* the gradient of the profiled deviance at θ̂ by central finite differences (step
  1e-4, lme4's ``deriv12``), scaled by the Hessian: ``max |min(|H^{-1/2} g|, |g|)|``
  must stay below 2e-3. A θ on its bound (a variance of 0) is a constrained optimum:
  there only a one-sided derivative that points back into the interior is allowed
  (the deviance must not fall when moving off the bound);
* the Hessian of the interior parameters: negative eigenvalues (not a minimum) or an
  eigenvalue ratio above 1e6 (nearly unidentifiable; rescale the predictors).

Deviance evaluations are cheap (one sparse factorization each); the check costs
about 2p² of them for p parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.bayes.convergence import ConvergenceReport
from multilevel.errors import FitError

STEP = 1e-4              # lme4's deriv12 delta
GRAD_TOL = 2e-3          # lme4's check.conv.grad tol
HESS_NEG_TOL = 1e-6      # lme4's check.conv.hess tol
EIGEN_RATIO_MAX = 1e6    # lme4's "very large eigenvalue ratio"
BOUNDARY_TOL = 1e-10


@dataclass(frozen=True, repr=False)   # keeps the base's verdict-and-checks __repr__
class FreqConvergenceReport(ConvergenceReport):
    """Convergence checks of a REML/ML fit, with the fix for each problem.

    Its text and HTML forms are the Bayesian report's.

    Attributes
    ----------
    ok : bool
    problems : list of str
        One sentence per problem, each with what to do.
    table : DataFrame
        One row per check: ``value``, ``threshold``, ``passed`` (the layout of the
        Bayesian report).
    gradient : Series
        Finite-difference gradient of the deviance per θ (one-sided on the boundary).
    hessian : DataFrame
        Finite-difference Hessian of the interior θ.
    """

    gradient: pd.Series = field(default_factory=pd.Series)
    hessian: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __str__(self) -> str:
        if self.ok:
            return "Convergence: no problems (optimizer, singularity, gradient, Hessian)."
        return super().__str__()


def check_convergence(fit, *, step: float = STEP, tol: float = GRAD_TOL):
    """Convergence report of a fit: lme4's checks for REML/ML, the sampler's for Bayesian fits.

    Parameters
    ----------
    fit : FreqFit, OLSFit, BayesFit or an ArviZ DataTree
        A DataTree goes to :func:`idata_convergence`.
    step : float
        Finite-difference step on θ.
    tol : float
        Threshold of the scaled gradient.

    Returns
    -------
    FreqConvergenceReport, or the BayesFit's :class:`~multilevel.bayes.convergence.ConvergenceReport`

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> report = ml.diagnostics.check_convergence(m)
    >>> report.ok, bool(report.table.loc["max scaled gradient", "passed"])
    (True, True)
    """
    if hasattr(fit, "idata") and hasattr(fit, "convergence"):
        return fit.convergence
    if _is_datatree(fit):
        return idata_convergence(fit)
    if not hasattr(fit, "design"):
        raise FitError(f"check_convergence needs a fit from ml.fit, got {type(fit).__name__}.")
    reterms = getattr(fit.design, "reterms", [])
    if not reterms or not hasattr(fit, "opt"):
        table = pd.DataFrame([("closed-form least squares", np.nan, "", True)],
                             columns=["check", "value", "threshold", "passed"]).set_index("check")
        return FreqConvergenceReport(ok=True, table=table)
    rows, problems = [], []
    rows.append(("optimizer converged (evaluations)", float(fit.opt.evaluations), "exit status", bool(fit.opt.converged)))
    if not fit.opt.converged:
        problems.append(f"the optimizer stopped without converging ({fit.opt.message}); refit with "
                        "rhoend=1e-12, rescale predictors, or simplify the random effects")
    singular = fit.singular_terms()
    rows.append(("singular (variance at 0)", float(len(singular)), "0 terms", not singular))
    if singular:
        problems.append(f"singular fit: the variance of {', '.join(singular)} is estimated as 0; "
                        "drop that term (or its correlation with ||) or use a Bayesian fit with a "
                        "prior that keeps it off the boundary")
    if getattr(fit, "family", "gaussian") != "gaussian":
        rows.append(("gradient check", np.nan, "LMMs only", True))
        table = pd.DataFrame(rows, columns=["check", "value", "threshold", "passed"]).set_index("check")
        return FreqConvergenceReport(ok=not problems, problems=problems, table=table)
    from multilevel.freq import make_deviance

    deviance = make_deviance(fit.design, reml=fit.method == "reml")
    theta = np.asarray(fit.opt.theta, dtype=float)
    names = list(fit.design.theta_names())
    lower = np.asarray(fit.design.theta_lower(), dtype=float)
    if getattr(fit.opt, "phi", None) is not None:   # structured terms: the optimizer's own φ
        from multilevel.freq.structures import StructuredTheta, structured_deviance

        mapping = StructuredTheta(fit.design)
        deviance = structured_deviance(deviance, mapping)
        theta, names, lower = np.asarray(fit.opt.phi, dtype=float), mapping.names(), mapping.lower()
    boundary = np.isfinite(lower) & (theta <= lower + BOUNDARY_TOL)
    grad, hess = _derivatives(deviance, theta, boundary, step)
    interior = ~boundary
    # boundary: the one-sided slope into the interior must not be negative
    inward = grad[boundary]
    bad_boundary = [n for n, g in zip(np.array(names)[boundary], inward) if g < -tol]
    rows.append(("boundary slopes into the interior", float(inward.min()) if inward.size else np.nan,
                 f">= -{tol:g}", not bad_boundary))
    if bad_boundary:
        problems.append(f"the deviance decreases when moving {', '.join(bad_boundary)} off zero: the "
                        "boundary is not the optimum; refit (the optimizer stopped too early)")
    H = hess[np.ix_(interior, interior)]
    g = grad[interior]
    scaled = _scaled_gradient(H, g)
    if g.size:
        value = np.nan if scaled is None else float(np.max(np.minimum(np.abs(scaled), np.abs(g))))
        passed = scaled is not None and value < tol
        rows.append(("max scaled gradient", value, f"< {tol:g}", passed))
        if scaled is None:
            problems.append("the Hessian of the deviance is not positive definite, so the gradient "
                            "cannot be scaled: the fit is not at a minimum; refit from other starting "
                            "values or simplify the model")
        elif not passed:
            problems.append(f"max|scaled gradient| = {value:.3g} > {tol:g}: the optimizer stopped away "
                            "from the optimum; refit with rhoend=1e-12 or rescale predictors")
        eig = np.linalg.eigvalsh(H)
        negative = int(np.sum(eig < -HESS_NEG_TOL))
        rows.append(("negative Hessian eigenvalues", float(negative), "0", negative == 0))
        if negative:
            problems.append(f"degenerate Hessian with {negative} negative eigenvalue(s): not a minimum")
        ratio = float(eig.max() / eig.min()) if eig.min() > 0 else np.inf
        rows.append(("Hessian eigenvalue ratio", ratio, f"<= {EIGEN_RATIO_MAX:g}", ratio <= EIGEN_RATIO_MAX))
        if negative == 0 and ratio > EIGEN_RATIO_MAX:
            problems.append(f"the model is nearly unidentifiable (Hessian eigenvalue ratio {ratio:.3g}); "
                            "rescale the predictors or simplify the random effects")
    table = pd.DataFrame(rows, columns=["check", "value", "threshold", "passed"]).set_index("check")
    inner = [n for n, keep in zip(names, interior) if keep]
    return FreqConvergenceReport(ok=not problems, problems=problems, table=table,
                                 gradient=pd.Series(grad, index=names, name="gradient"),
                                 hessian=pd.DataFrame(H, index=inner, columns=inner))


def idata_convergence(idata, *, var_names=None, max_treedepth: int = 10):
    """The Bayesian convergence report of any ArviZ posterior, with the fix for each problem.

    Per parameter (every element of every posterior variable): rank-normalized split
    R-hat above 1.01, bulk or tail ESS below 100 per chain (400 for 4 chains); from
    ``sample_stats`` when present: divergent transitions, E-BFMI below 0.3 in any chain,
    and more than 1 % of draws at the maximum tree depth. The checks and advice are
    those of a :class:`~multilevel.bayes.BayesFit` (``fit.convergence``).

    Parameters
    ----------
    idata : DataTree
        With a ``posterior`` group (dims ``chain``, ``draw``) and optionally
        ``sample_stats`` (``diverging``, ``energy``, ``tree_depth`` or ``depth``).
    var_names : list of str, optional
        Posterior variables to check (default: all).
    max_treedepth : int
        The sampler's maximum tree depth (10 for PyMC, nutpie and Stan).

    Returns
    -------
    ConvergenceReport
        ``.ok``, ``.problems`` (one sentence each, with the fix) and ``.table``
        (``value``, ``threshold``, ``passed`` per check); ``table.attrs["parameters"]``
        holds R-hat and ESS per parameter.

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> import multilevel as ml
    >>> rng = np.random.default_rng(1)
    >>> idata = az.from_dict({"posterior": {"mu": rng.normal(size=(4, 500))},
    ...                       "sample_stats": {"diverging": np.zeros((4, 500), bool)}})
    >>> report = ml.diagnostics.idata_convergence(idata)
    >>> report.ok, list(report.table.index)
    (True, ['max R-hat', 'min ESS (bulk, tail)', 'divergent transitions'])
    """
    import arviz as az

    from multilevel.bayes.convergence import convergence_report

    if not _is_datatree(idata) or "posterior" not in idata.children:
        raise FitError(f"idata_convergence needs an ArviZ DataTree with a posterior group, got "
                       f"{type(idata).__name__}.")
    posterior = idata["posterior"]
    missing_dims = [d for d in ("chain", "draw") if d not in posterior.dims]
    if missing_dims:
        raise FitError(f"The posterior has no {' or '.join(missing_dims)} dimension; build the "
                       "DataTree with arviz.from_dict or from_pymc so draws are (chain, draw, ...).")
    names = list(posterior.data_vars)
    if var_names is not None:
        unknown = [v for v in var_names if v not in names]
        if unknown:
            raise FitError(f"var_names {unknown} are not posterior variables; choose from {names}.")
        names = list(var_names)
    if not names:
        raise FitError("The posterior group has no variables to check.")
    summary = az.summary(idata, var_names=names, kind="diagnostics", round_to="none")
    report = convergence_report(idata, summary, max_treedepth=max_treedepth)
    report.table.attrs["parameters"] = summary[["r_hat", "ess_bulk", "ess_tail"]]
    return report


def _is_datatree(obj) -> bool:
    return type(obj).__name__ == "DataTree" and hasattr(obj, "children")


def _derivatives(f, x: np.ndarray, boundary: np.ndarray, h: float):
    """Gradient (central; forward on the boundary) and Hessian (central) by finite differences."""
    p = x.size
    f0 = f(x)
    grad, hess = np.zeros(p), np.zeros((p, p))
    e = np.eye(p) * h
    plus = np.array([f(x + e[i]) for i in range(p)])
    minus = np.array([np.nan if boundary[i] else f(x - e[i]) for i in range(p)])
    for i in range(p):
        if boundary[i]:
            grad[i] = (plus[i] - f0) / h
        else:
            grad[i] = (plus[i] - minus[i]) / (2 * h)
            hess[i, i] = (plus[i] - 2 * f0 + minus[i]) / h ** 2
    for i in range(p):
        for j in range(i + 1, p):
            if boundary[i] or boundary[j]:
                continue
            fpp = f(x + e[i] + e[j])
            fpm = f(x + e[i] - e[j])
            fmp = f(x - e[i] + e[j])
            fmm = f(x - e[i] - e[j])
            hess[i, j] = hess[j, i] = (fpp - fpm - fmp + fmm) / (4 * h ** 2)
    return grad, hess


def _scaled_gradient(H: np.ndarray, g: np.ndarray):
    """lme4's ``solve(chol(H), g)``; None when H is not positive definite."""
    if not g.size:
        return g
    try:
        L = np.linalg.cholesky(H)
    except np.linalg.LinAlgError:
        return None
    return np.linalg.solve(L.T, g)
