"""Intraclass correlation: the share of variance between groups (Nakagawa et al. 2017).

For a random-intercept-only model ``ICC = σ²_u / (σ²_u + σ²_e)``. With random slopes
the between-group variance depends on the predictors; as R's ``performance::icc``
(through ``insight::get_variance``) we average it over the rows:

* random-effect variance ``σ²_r = Σ_terms mean_i(z_i' Σ z_i)``, with ``z_i`` the row of
  the term's model matrix and ``Σ`` its covariance (for a null model, ``σ²_u``);
* fixed-effect variance ``σ²_f = var(X β)`` (sample variance, ``n - 1``);
* residual variance ``σ²_e``: ``σ²`` for gaussian models; on the latent scale of a
  binomial or bernoulli model the variance of the link's distribution (``π²/3`` logit,
  ``1`` probit, ``π²/6`` cloglog); for a Poisson REML/ML fit the lognormal
  approximation ``log(1 + 1/λ)`` of insight 0.19
  (:func:`multilevel.inference.r2.residual_variance`).

adjusted ICC = ``σ²_r / (σ²_r + σ²_e)``; conditional ICC = ``σ²_r / (σ²_f + σ²_r + σ²_e)``.

For a Bayesian fit the same quantities are computed per posterior draw, which gives a
posterior distribution of each ICC (mean and equal-tailed interval).

Deliberate differences from ``performance`` 0.10.2 / ``insight`` 0.19, where every
term counts here, as in Nakagawa's definition: for an uncorrelated term ``(x || g)``
(or any second term of the same grouping factor, lme4's ``g.1``) insight leaves its
variance out of ``σ²_r``; a random slope that is not also a fixed effect is left out by
insight (it warns); and where a variance is 0 performance returns NA, here the term
adds 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.errors import FamilyError, FitError, check_level

FAMILIES = ("gaussian", "binomial", "bernoulli")
FREQ_FAMILIES = FAMILIES + ("poisson", "negativebinomial")   # REML/ML: the lognormal approximation


@dataclass(frozen=True)
class ICCResult:
    """Adjusted and conditional ICC, with the variance components they come from.

    Attributes
    ----------
    adjusted, conditional : float
        Point estimates (posterior means for Bayesian fits).
    components : Series
        ``random`` (σ²_r), one entry per random-effect term (``random: <term>``),
        ``fixed`` (σ²_f) and ``residual`` (σ²_e); posterior means for Bayesian fits.
    draws : DataFrame or None
        Bayesian fits: ``adjusted`` and ``conditional`` per posterior draw.
    ci : float or None
        Probability mass of the intervals in :attr:`table` (Bayesian fits).
    notes : list of str
    """

    adjusted: float
    conditional: float
    components: pd.Series
    draws: pd.DataFrame | None = field(default=None, repr=False)
    ci: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def table(self) -> pd.DataFrame:
        """One row per ICC: ``estimate`` and, for Bayesian fits, ``sd``, ``lower``, ``upper``."""
        out = pd.DataFrame({"estimate": [self.adjusted, self.conditional]},
                           index=pd.Index(["adjusted", "conditional"], name="icc"))
        if self.draws is not None:
            lo, hi = (1 - self.ci) / 2, (1 + self.ci) / 2
            out["sd"] = self.draws.std(ddof=1).to_numpy()
            out["lower"] = self.draws.quantile(lo).to_numpy()
            out["upper"] = self.draws.quantile(hi).to_numpy()
        return out

    def __str__(self) -> str:
        head = "Intraclass correlation (Nakagawa)"
        if self.draws is not None:
            head += f", posterior mean and {self.ci:.0%} interval"
        lines = [head, self.table.to_string(float_format="{:.4f}".format)]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def icc(fit, ci: float = 0.95) -> ICCResult:
    """Adjusted and conditional intraclass correlation of a mixed model.

    Parameters
    ----------
    fit : FreqFit, GLMMFit or BayesFit
        A model with random effects; gaussian, binomial/bernoulli (logit, probit or
        cloglog link) or, for REML/ML fits, Poisson with the log link.
    ci : float
        Interval mass for Bayesian fits (equal-tailed).

    Returns
    -------
    ICCResult
        ``.adjusted``, ``.conditional``, ``.components``, ``.table``; for Bayesian
        fits also ``.draws`` (one row per posterior draw).

    Raises
    ------
    FitError
        The model has no random effects.
    FamilyError
        Families without a defined latent residual variance here (poisson, t, ...).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ 1 + (1 | Subject)", "sleepstudy", method="reml")
    >>> round(ml.icc(m).adjusted, 4)
    0.3949
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> r = ml.icc(m)
    >>> round(r.adjusted, 4), round(r.conditional, 4)
    (0.7217, 0.5206)
    """
    design = getattr(fit, "design", None)
    if design is None and not hasattr(fit, "formula"):
        raise FitError(f"icc() needs a fit from ml.fit() (a mixed model such as 'y ~ x + (1 | g)'), "
                       f"got {type(fit).__name__}.")
    if design is None or not getattr(design, "reterms", None):
        raise FitError(
            "The ICC needs a model with random effects, e.g. 'y ~ x + (1 | g)'; "
            f"this fit ({getattr(fit, 'formula', type(fit).__name__)!r}) has none."
        )
    family = getattr(fit, "family", "gaussian")
    if family == "categorical":
        raise FamilyError(
            "The ICC is not defined for a categorical model: Nakagawa et al.'s ICC needs one latent "
            "scale with one residual variance, while an unordered response has one linear predictor "
            "per non-reference category (each with its own group SD; see the summary's "
            "sd__<column>|<group>[<category>] rows). Compare those SDs with π²/3 per category "
            "against the reference, or fit family='bernoulli' to one category vs the rest.")
    bayes = hasattr(fit, "covariance_draws")
    families = FAMILIES if bayes else FREQ_FAMILIES
    if family not in families:
        raise FamilyError(
            f"The ICC is defined here for {', '.join(families)} models; a {family} model needs a "
            "distribution-specific residual variance that is not implemented."
        )
    from multilevel.inference.r2 import LATENT_VARIANCE  # the links' latent variances

    if bayes and family != "gaussian" and (fit.link or "logit") not in LATENT_VARIANCE:
        raise FamilyError(f"The ICC of a Bayesian {family} model is implemented for the "
                          f"{', '.join(LATENT_VARIANCE)} links (their latent variances), not {fit.link!r}.")
    ci = check_level(ci, "ci", FitError)
    if bayes:
        latent = None if family == "gaussian" else LATENT_VARIANCE[fit.link or "logit"]
        return _icc_bayes(fit, design, family, ci, latent)
    covs = fit.covariance()
    random = {t.name: _term_variance(t.X, covs[t.name][None])[0] for t in design.reterms}
    fixed = float(np.var(design.X @ fit.fixef.to_numpy(), ddof=1))
    residual = _freq_residual(fit)
    adj, cond = _ratios(np.array(sum(random.values())), np.array(fixed), np.array(residual))
    return ICCResult(adjusted=float(adj), conditional=float(cond),
                     components=_components(random, fixed, residual),
                     notes=_notes(design, family, getattr(fit, "link", None)))


def _freq_residual(fit) -> float:
    """σ²_e of a REML/ML fit: σ², the link's latent variance, or Poisson's lognormal
    approximation (shared with Nakagawa's R², so that ICC and R² agree)."""
    from multilevel.errors import SpecError
    from multilevel.inference.r2 import residual_variance

    try:
        return residual_variance(fit)
    except SpecError as err:   # an unsupported link: the ICC's own error type
        raise FamilyError(str(err).replace("r2_nakagawa", "The ICC")) from None


def _icc_bayes(fit, design, family: str, ci: float, latent: float | None) -> ICCResult:
    covs = fit.covariance_draws()
    missing = [t.name for t in design.reterms if t.name not in covs]
    if missing:
        raise FitError(f"The posterior has no covariance draws for term(s) {missing}.")
    random = {t.name: _term_variance(t.X, covs[t.name]) for t in design.reterms}
    beta = fit.fixef_draws().to_numpy()                       # (S, p)
    fixed = np.var(beta @ design.X.T, axis=1, ddof=1)          # (S,)
    residual = _residual_variance_draws(fit) if latent is None else np.full(len(beta), latent)
    total_random = np.sum(list(random.values()), axis=0)
    adj, cond = _ratios(total_random, fixed, residual)
    draws = pd.DataFrame({"adjusted": adj, "conditional": cond})
    components = _components({k: float(v.mean()) for k, v in random.items()}, float(fixed.mean()),
                             float(residual.mean()))
    return ICCResult(adjusted=float(adj.mean()), conditional=float(cond.mean()),
                     components=components, draws=draws, ci=float(ci),
                     notes=_notes(design, family, fit.link))


def _residual_variance_draws(fit) -> np.ndarray:
    """Variance of one residual per draw: σ², or σ²/(1 − φ²) for ar1 errors, whose σ is
    the innovation SD (:func:`multilevel.bayes.residuals.marginal_sd`)."""
    sigma = fit.sigma_draws()
    residuals = fit.design.spec.parsed.residuals
    if residuals is None:
        return sigma ** 2
    from multilevel.bayes.residuals import PARAMS, marginal_sd

    param = np.asarray(fit.posterior[PARAMS[residuals.kind]].values, dtype=float).reshape(-1)
    return marginal_sd(residuals.kind, sigma, param) ** 2


def _term_variance(Z: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """mean_i z_i' Σ z_i per covariance draw: Z (n, q), cov (S, q, q) → (S,)."""
    second_moment = Z.T @ Z / Z.shape[0]                      # mean_i z_i z_i'
    return np.einsum("ij,sij->s", second_moment, cov)


def _ratios(random: np.ndarray, fixed: np.ndarray, residual: np.ndarray):
    return random / (random + residual), random / (fixed + random + residual)


def _components(random: dict, fixed: float, residual: float) -> pd.Series:
    values = {"random": float(sum(random.values()))}
    values.update({f"random: {k}": float(v) for k, v in random.items()})
    values.update(fixed=float(fixed), residual=float(residual))
    return pd.Series(values, name="variance")


def _notes(design, family: str, link: str | None = None) -> list[str]:
    notes = []
    if family == "poisson":
        notes.append("residual variance: the lognormal approximation log(1 + 1/λ), λ from the null model")
    elif family == "negativebinomial":
        notes.append("residual variance: the lognormal approximation log(1 + 1/λ + 1/θ), λ from the "
                     "null model with the fit's θ")
    elif family != "gaussian":
        link = link or "logit"
        scale = {"logit": "π²/3", "probit": "1", "cloglog": "π²/6"}.get(link, "")
        notes.append(f"residual variance on the latent {link} scale: {scale}")
    if any(t.q > 1 or t.cnms != ["(Intercept)"] for t in design.reterms):
        notes.append("random slopes: the group-level variance is averaged over the rows of the data")
    return notes
