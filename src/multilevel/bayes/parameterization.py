"""Centred or non-centred, per group term: decided by how much the data say about each level.

A group effect ``b_j ~ Normal(0, τ)`` can be sampled as itself (centred) or as
``τ·z_j`` with ``z_j ~ Normal(0, 1)`` (non-centred). Both are the same model; they
differ in geometry. When the likelihood pins each ``b_j`` down (many informative rows
per level: its conditional posterior SD is small against τ), the centred form is nearly
independent of τ and the non-centred form couples ``z_j`` to τ and to the intercept;
when the data are weak, the centred form is a funnel (Papaspiliopoulos, Roberts &
Sköld 2007; Betancourt & Girolami 2015). Stan's users are told to pick per term; brms
always non-centres. Nested terms (``(1 | batch/cask)``) stay non-centred.

The rule here: the data's information about one level, ``I_j = Σ_i 1/v_i`` over its
rows (``v_i`` the sampling variance of row i on the link scale), against the prior's,
``1/τ²``: a term is centred when the typical level has ``κ = τ̂²·median_j I_j`` of at
least :data:`CENTRE_MIN_KAPPA` (its effects' posteriors are then at least ~3 times
narrower than the prior). τ̂ is a moment estimate from one weighted least-squares pass
— the decision is about the sampler's geometry only, never the posterior.

Measured with nutpie, 4 x 1000 draws, default settings (``bench/bench_mixing.py``,
bench/README.md): Penicillin ``(1|plate) + (1|sample)`` min ESS_bulk 174 → 2,475 and
epilepsy's Poisson ``(1|patient)`` 275 → 2,826, with the low-rank mass matrix of
:mod:`multilevel.bayes.sampling`.
"""

from __future__ import annotations

import numpy as np

from multilevel.formula import Design
from multilevel.formula.links import default_link

# κ = τ̂² · (information per level) at which a term is centred: the posterior of b_j is
# then ~√(1 + κ) > 2 times narrower than its prior. Measured (4 x 1000, min ESS_bulk,
# non-centred+diagonal → centred+low-rank): sleepstudy (1|Subject) κ 14: 464 → 3,333;
# Penicillin κ 14/296: 174 → 2,475; epilepsy κ 4.9: 275 → 2,826; Dyestuff κ 3.6:
# 524 → 1,387 but 8 divergences (so not centred); a simulated weak term κ 0.1: 1,161 → 101.
CENTRE_MIN_KAPPA = 4.0
# Poisson counts, and zero-inflated ones: their extra zeros lower every level's pooled
# rate alike (a constant ψ), so the levels' spread, the κ that matters, is read as for a
# Poisson. Not hurdle counts: their zeros say nothing of the count part's group effects
# (read as Poisson, Salamanders' small site SD was centred and mixed worse: R-hat 1.011)
POISSON_COUNTS = ("poisson", "zero_inflated_poisson")
# continuous families read as Gaussian on the link scale (:func:`link_scale`): the
# response's transform, per (family, link)
CONSTANT_VARIANCE = {
    ("gamma", "log"): np.log, ("exponential", "log"): np.log, ("weibull", "log"): np.log,
    ("lognormal", "identity"): np.log, ("laplace", "identity"): lambda y: y,
    ("beta", "logit"): lambda y: np.log(y / (1 - y)),
}
# the joint least-squares pass (X and every term's indicator columns) is dense; above
# this many cells each term is judged on its own one-way layout
JOINT_MAX_CELLS = 4_000_000


def link_scale(design: Design, family: str, link: str | None):
    """Rows on the link scale with their sampling variances, or ``None`` when the family or
    link has no cheap moment form (those terms stay non-centred).

    Continuous families whose response has a transform with constant variance on the
    link scale are read as Gaussian there: log(y) for gamma, exponential and weibull with
    the log link (Var log y is trigamma(α), π²/6, π²/(6α²): no μ in it), log(y) for
    lognormal, y for laplace, and logit(y) for beta (Var ≈ 1/(μ(1 − μ)(1 + κ)), near
    constant where μ stays away from 0 and 1).

    Returns
    -------
    (z, v) : (ndarray, ndarray or None)
        ``v`` is ``None`` for the Gaussian family and those read as Gaussian (a common σ²,
        estimated by the caller).
    """
    y = np.asarray(design.y, dtype=float)
    offset = design.offset_or_zero
    if family == "gaussian" and link in (None, "identity"):
        return y - offset, None
    transform = CONSTANT_VARIANCE.get((family, link or default_link(family)))
    if transform is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            z = transform(y)
        return (z - offset, None) if np.all(np.isfinite(z)) else None
    if family in POISSON_COUNTS and link in (None, "log"):
        return np.log(y + 0.5) - offset, 1.0 / (y + 0.5)
    if (family == "binomial" and link in (None, "logit") and design.frame.trials is not None) or \
            (family == "bernoulli" and link in (None, "logit")):
        trials = _trials(design)
        s, f = y + 0.5, trials - y + 0.5    # empirical logit (Cox 1970)
        return np.log(s / f) - offset, 1.0 / s + 1.0 / f
    return None


def centred_terms(design: Design, family: str, link: str | None = None) -> set[str]:
    """The lme4 names of the group terms to sample centred: all of them or none.

    All, when every term is a random intercept, no two are nested, and each has
    ``κ >= CENTRE_MIN_KAPPA``. The decision is for the whole model because a centred
    term's effects are correlated with the intercept (each level's mean is μ + b_j),
    which nutpie's low-rank mass matrix adapts to (:mod:`multilevel.bayes.sampling`
    turns it on for such models) but which a model that is also non-centred elsewhere
    pays for in funnels (measured: the low-rank adaptation on a non-centred model, or a
    centred one with a diagonal mass matrix, mixes worse than the old default).

    Parameters
    ----------
    design : Design
    family : str
    link : str, optional
        R's link name; a non-default link keeps every term non-centred.

    Returns
    -------
    set of str
        ``ReTerm.name`` of the terms (:func:`kappas`), or empty: models with correlated
        blocks, slopes or nested terms are non-centred.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.formula import build_design, model_frame, parse_formula
    >>> parsed = parse_formula("diameter ~ 1 + (1 | plate) + (1 | sample)")
    >>> design = build_design(parsed, model_frame(parsed, ml.datasets.load("Penicillin")))
    >>> sorted(centred_terms(design, "gaussian"))
    ['plate', 'sample']
    """
    values = kappas(design, family, link)
    return set(values) if values and min(values.values()) >= CENTRE_MIN_KAPPA else set()


def kappas(design: Design, family: str, link: str | None = None) -> dict[str, float]:
    """κ = τ̂² · median_j I_j of each random-intercept term (lme4's term name → κ).

    Empty when a term is not a plain random intercept or two are nested, when the family
    or link has no moment form, or with prior weights of another family than the Gaussian.

    Examples
    --------
    >>> import multilevel as ml
    >>> from multilevel.formula import build_design, model_frame, parse_formula
    >>> parsed = parse_formula("Yield ~ 1 + (1 | Batch)")
    >>> design = build_design(parsed, model_frame(parsed, ml.datasets.load("Dyestuff")))
    >>> round(kappas(design, "gaussian")["Batch"], 2)
    3.6
    """
    scalar = [t for t in design.reterms if t.q == 1 and list(t.cnms) == ["(Intercept)"]
              and not any(_nested(t, other) or _nested(other, t)
                          for other in design.reterms if other is not t)]
    prior = design.frame.weights   # Gaussian prior weights: row i's variance is σ²/wᵢ
    if not scalar or len(scalar) < len(design.reterms) or (prior is not None and family != "gaussian"):
        return {}
    scaled = link_scale(design, family, link)
    if scaled is None:
        return {}
    z, v = scaled
    pooled = v is not None   # counts: per-row variances, κ from each level's pooled counts
    n = len(z)
    indicators = sum(t.n_levels for t in design.reterms)
    joint = n * (design.p + indicators) <= JOINT_MAX_CELLS
    if prior is not None and not joint:
        return {}
    if v is None:   # Gaussian: σ² from the residuals of X and every term's indicators
        w = np.ones(n) if prior is None else np.asarray(prior, dtype=float)
        sigma2 = _residual_variance(design, z, w) if joint else None
        v = sigma2 / w if sigma2 is not None else None
    weights = None if v is None else 1.0 / v
    beta = _wls(design.X, z, weights)
    resid = z - design.X @ beta
    out = {}
    for term in scalar:
        codes = np.asarray(term.codes)
        if pooled:   # counts pooled per level: the row transform is biased
            out[term.name] = _kappa_pooled(design, family, codes, term.n_levels, z - resid)
            continue
        w = weights if v is not None else _one_way_weights(codes, resid, term.n_levels)
        out[term.name] = 0.0 if w is None else _kappa(codes, resid, w, term.n_levels)
    return out


def _kappa_pooled(design: Design, family: str, codes, n_levels: int, fixed) -> float:
    """κ from each level's pooled counts: its log rate (Poisson) or logit (binomial) less
    the fixed part's, with the sampling variance of that pooled estimate. The per-row
    transforms (log(y + ½) of small counts) shrink the between-level spread by half where
    the counts are ~3 (tests/test_mixing.py), the pooled ones do not."""
    eta = fixed + design.offset_or_zero
    y = np.asarray(design.y, dtype=float)
    count = lambda values: np.bincount(codes, weights=values, minlength=n_levels)
    rows = count(np.ones(len(y))) > 0
    if family in POISSON_COUNTS:
        events = count(y)[rows] + 0.5
        means = np.log(events) - np.log(count(np.exp(eta))[rows])
        variance = 1.0 / events
    else:
        trials = _trials(design)
        s, total = count(y)[rows] + 0.5, count(trials)[rows] + 1.0
        means = np.log(s / (total - s)) - count(trials * eta)[rows] / np.maximum(count(trials)[rows], 1)
        variance = 1.0 / s + 1.0 / (total - s)
    if len(means) < 2:
        return 0.0
    tau2 = float(np.var(means, ddof=1) - np.mean(variance))
    return max(tau2, 0.0) * float(np.median(1.0 / variance))


def _trials(design: Design) -> np.ndarray:
    """Binomial trials per row (1 for a Bernoulli response)."""
    trials = design.frame.trials
    return np.ones(len(design.y)) if trials is None else np.asarray(trials, dtype=float)


def _nested(inner, outer) -> bool:
    """Whether every level of ``inner`` lies within one level of ``outer`` (``batch/cask``).
    Such pairs stay non-centred: the outer effect and the mean of its inner effects are
    not told apart by the rows, and centring either couples them (Pastes measured)."""
    pairs = np.unique(np.column_stack([inner.codes, outer.codes]), axis=0)
    return len(pairs) == len(np.unique(inner.codes)) and inner.n_levels > outer.n_levels


def _kappa(codes, resid, w, n_levels) -> float:
    """τ̂² (between-level variance of the weighted level means less their sampling
    variance) times the median information of a level."""
    info = np.bincount(codes, weights=w, minlength=n_levels)
    used = info > 0
    if used.sum() < 2:
        return 0.0
    means = _level_means(codes, resid, w, n_levels)[used]
    tau2 = float(np.var(means, ddof=1) - np.mean(1.0 / info[used]))
    return max(tau2, 0.0) * float(np.median(info[used]))


def _one_way_weights(codes, resid, n_levels):
    """1/σ̂² from this term's own within-level variance (large Gaussian designs)."""
    n = len(resid)
    means = _level_means(codes, resid, np.ones(n), n_levels)
    within = resid - means[codes]
    dof, ss = n - n_levels, float(within @ within)
    return np.full(n, dof / ss) if dof > 0 and ss > 0 else None


def _level_means(codes, values, weights, n_levels):
    total = np.bincount(codes, weights=weights, minlength=n_levels)
    sums = np.bincount(codes, weights=values * weights, minlength=n_levels)
    return np.divide(sums, total, out=np.zeros(n_levels), where=total > 0)


def _wls(X, z, weights):
    if X.shape[1] == 0:
        return np.zeros(0)
    root = np.ones(len(z)) if weights is None else np.sqrt(weights)
    beta, *_ = np.linalg.lstsq(X * root[:, None], z * root, rcond=None)
    return beta


def _residual_variance(design: Design, z, w) -> float | None:
    """σ̂² of the fixed effects plus every group term's columns as free coefficients, by
    least squares weighted by the prior weights ``w`` (ones without them)."""
    columns = [design.X] + [t.Z().toarray() for t in design.reterms]
    root = np.sqrt(w)
    full = np.column_stack(columns) * root[:, None]
    beta, _, rank, _ = np.linalg.lstsq(full, z * root, rcond=None)
    dof = len(z) - rank
    if dof <= 0:
        return None
    resid = z * root - full @ beta
    value = float(resid @ resid) / dof
    return value if value > 0 else None
