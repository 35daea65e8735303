"""Overdispersion and zero-inflation checks of count and binomial models, as R's
``performance::check_overdispersion`` and ``performance::check_zeroinflation`` compute
them for ``glmer``, ``glmer.nb`` and ``glm`` fits.

- Overdispersion: Pearson's χ² = Σ rᵢ² (Pearson residuals, group effects included)
  against χ² on the residual df (rows − parameters, θ included for mixed models); the
  dispersion ratio χ²/df is about 1 for a model whose variance fits the data.
- Zero-inflation: the observed number of zeros against the number the fitted model
  predicts, Σ P(yᵢ = 0 | μᵢ) rounded, as performance rounds it; their ratio outside
  1 ± ``tolerance`` says the model under- or overfits zeros.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multilevel.errors import FamilyError

COUNT_FAMILIES = ("poisson", "negativebinomial")


@dataclass(frozen=True)
class OverdispersionCheck:
    """performance's ``check_overdispersion`` result."""

    chisq: float
    ratio: float
    df_resid: int
    p_value: float

    @property
    def overdispersed(self) -> bool:
        """performance's verdict: p < 0.05."""
        return self.p_value < 0.05

    def __repr__(self) -> str:
        p = "< 0.001" if self.p_value < 0.001 else f"{self.p_value:.3f}"
        return ("# Overdispersion test\n\n"
                f"       dispersion ratio = {self.ratio:8.3f}\n"
                f"  Pearson's Chi-Squared = {self.chisq:8.3f}\n"
                f"                p-value = {p:>8}\n\n"
                + ("Overdispersion detected." if self.overdispersed else "No overdispersion detected."))


@dataclass(frozen=True)
class ZeroInflationCheck:
    """performance's ``check_zeroinflation`` result."""

    observed: int
    predicted: int
    ratio: float
    tolerance: float

    @property
    def verdict(self) -> str:
        if self.ratio < 1 - self.tolerance:
            return "Model is underfitting zeros (probable zero-inflation)."
        if self.ratio > 1 + self.tolerance:
            return "Model is overfitting zeros."
        return "Model seems ok, ratio of observed and predicted zeros is within the tolerance range."

    def __repr__(self) -> str:
        return ("# Check for zero-inflation\n\n"
                f"   Observed zeros: {self.observed}\n"
                f"  Predicted zeros: {self.predicted}\n"
                f"            Ratio: {self.ratio:.2f}\n\n" + self.verdict)


def check_overdispersion(fit) -> OverdispersionCheck:
    """Pearson's χ² test of overdispersion (performance's ``check_overdispersion``).

    Parameters
    ----------
    fit : GLMMFit or GLMFit
        A Poisson, negative binomial or binomial (trials > 1) model fitted with
        ``method="ml"``.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", "grouseticks", family="poisson",
    ...            method="ml")
    >>> round(check_overdispersion(m).ratio, 3)
    2.719
    """
    _check(fit, "check_overdispersion", ("poisson", "negativebinomial", "binomial", "bernoulli"))
    trials = fit.design.frame.trials
    if fit.family == "bernoulli" or (fit.family == "binomial" and np.all(np.asarray(trials) == 1)):
        raise FamilyError("check_overdispersion() needs binomial trials > 1 (a 0/1 response "
                          "cannot be overdispersed), as performance says.")
    from scipy import stats

    chisq = float(np.sum(fit.residuals(type="pearson").to_numpy() ** 2))
    rdf = int(fit.df_resid)
    return OverdispersionCheck(chisq=chisq, ratio=chisq / rdf, df_resid=rdf,
                               p_value=float(stats.chi2.sf(chisq, rdf)))


def check_zeroinflation(fit, tolerance: float = 0.05) -> ZeroInflationCheck:
    """Observed against predicted zeros of a count model (performance's
    ``check_zeroinflation``).

    Parameters
    ----------
    fit : GLMMFit or GLMFit
        A Poisson or negative binomial model fitted with ``method="ml"``.
    tolerance : float
        The ratio's distance from 1 still taken as fitting the zeros.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", "grouseticks", family="poisson",
    ...            method="ml")
    >>> check_zeroinflation(m).predicted, check_zeroinflation(m).observed
    (107, 126)
    """
    _check(fit, "check_zeroinflation", COUNT_FAMILIES)
    if not (isinstance(tolerance, (int, float)) and 0 <= tolerance < 1):
        raise FamilyError(f"tolerance must be a number in [0, 1), got {tolerance!r}.")
    observed = int(np.sum(np.asarray(fit.design.y) == 0))
    if observed == 0:
        raise FamilyError("The response has no zeros: there is no zero-inflation to check.")
    mu = fit.fitted().to_numpy()
    theta = getattr(fit, "nb_theta", None)
    p0 = np.exp(-mu) if fit.family == "poisson" else (theta / (theta + mu)) ** theta
    predicted = int(np.round(np.sum(p0)))   # R's round(): half to even, as numpy's
    return ZeroInflationCheck(observed=observed, predicted=predicted, ratio=predicted / observed,
                              tolerance=float(tolerance))


def _check(fit, verb: str, families: tuple[str, ...]) -> None:
    from multilevel.freq import FreqFit

    if not isinstance(fit, FreqFit) and not hasattr(fit, "df_resid"):
        raise FamilyError(f"{verb}() checks models fitted with method='ml' (glmer, glm); for a "
                          f"Bayesian fit use its posterior predictive check (ml.plots.ppc).")
    if fit.family not in families:
        raise FamilyError(f"{verb}() is for {', '.join(families)} models; this fit's family is "
                          f"{fit.family!r}.")
