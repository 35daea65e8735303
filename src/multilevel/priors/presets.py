"""Ridge, lasso, elastic net and (regularized) horseshoe priors on the slopes.

All act on standardized coefficients γ_j = β_j · sd(x_j) in units of the response.
``scale=None`` learns the penalty through a hyperprior shared by the coefficients
(Bayesian ridge / Bayesian lasso, Park & Casella 2008); a number fixes it, and then
the posterior mode with σ fixed is the penalized least-squares solution:

* ridge, γ ~ N(0, τ):  scikit-learn ``Ridge(alpha = σ²/τ²)`` on standardized X;
* lasso, γ ~ Laplace(0, b):  ``Lasso(alpha = σ²/(n b))``;
* elastic net, p(γ) ∝ exp(−l1|γ| − l2 γ²/2):  ``ElasticNet(alpha, l1_ratio)`` with
  l1 = n·alpha·l1_ratio/σ², l2 = n·alpha·(1 − l1_ratio)/σ².

Each preset has ``from_sklearn(...)`` to build it from scikit-learn's penalty.
"""

from __future__ import annotations

import numpy as np

from multilevel.errors import PriorError
from multilevel.priors.base import CoefficientPrior

LEARNED_DF = 3  # Student-t df of the half-t hyperprior on learned scales


def _f64(value):
    """A prior parameter as ``np.float64``: PyTensor stores a Python float that float32
    represents exactly (3.0, 0.5) as a float32 constant and others (0.1) as float64, so a
    grid mixing both kinds would be two model structures (two compilations)."""
    return np.float64(value)


def _positive(value, name):
    # a string ("2") or a bool is not a number here, and inf/NaN are no scale
    if value is not None and (isinstance(value, (str, bytes, bool, np.bool_)) or not np.isscalar(value)
                              or not np.isfinite(float(value)) or not float(value) > 0):
        raise PriorError(f"{name} must be a positive finite number or None (learned), got {value!r}.")
    return None if value is None else float(value)


class Ridge(CoefficientPrior):
    """γ_j ~ Normal(0, τ); τ fixed (``scale``) or τ ~ half-t(3, sd(y))."""

    name = "ridge"

    def __init__(self, scale: float | None = None):
        self.scale = _positive(scale, "ridge scale")

    @classmethod
    def from_sklearn(cls, alpha: float, sigma: float) -> Ridge:
        """The ridge prior whose posterior mode (σ fixed) is ``Ridge(alpha)``: τ = σ/√alpha."""
        return cls(scale=float(sigma) / np.sqrt(alpha))

    def standardized(self, p, *, sigma, y_scale, n):
        import pymc as pm

        if self.scale is not None:
            return pm.Normal("ridge_coef", 0.0, _f64(self.scale), shape=p)
        tau = pm.HalfStudentT("ridge_tau", nu=LEARNED_DF, sigma=y_scale)
        z = pm.Normal("ridge_z", 0.0, 1.0, shape=p)
        return z * tau

    def penalty(self, sigma, n):
        if self.scale is None:
            return super().penalty(sigma, n)
        return 0.0, 1.0 / self.scale ** 2


class Lasso(CoefficientPrior):
    """γ_j ~ Laplace(0, b); b fixed (``scale``) or b ~ half-t(3, sd(y)) (Bayesian lasso)."""

    name = "lasso"

    @property
    def target_accept(self) -> float:
        """A learned scale is a normal scale mixture with a funnel: smaller steps."""
        return 0.9 if self.scale is not None else 0.99

    def __init__(self, scale: float | None = None):
        self.scale = _positive(scale, "lasso scale")

    @classmethod
    def from_sklearn(cls, alpha: float, sigma: float, n: int) -> Lasso:
        """The Laplace prior whose posterior mode (σ fixed) is ``Lasso(alpha)``: b = σ²/(n·alpha)."""
        return cls(scale=float(sigma) ** 2 / (n * alpha))

    def standardized(self, p, *, sigma, y_scale, n):
        import pymc as pm

        if self.scale is not None:
            return pm.Laplace("lasso_coef", 0.0, _f64(self.scale), shape=p)
        b = pm.HalfStudentT("lasso_scale", nu=LEARNED_DF, sigma=y_scale)
        # Laplace(0, b) as a normal scale mixture, non-centred: b·sqrt(2E)·z, E ~ Exp(1)
        e = pm.Exponential("lasso_mix", 1.0, shape=p)
        z = pm.Normal("lasso_z", 0.0, 1.0, shape=p)
        return b * pm.math.sqrt(2.0 * e) * z

    def penalty(self, sigma, n):
        if self.scale is None:
            return super().penalty(sigma, n)
        return 1.0 / self.scale, 0.0


class ElasticNet(CoefficientPrior):
    """p(γ_j) ∝ exp(−l1·|γ_j| − l2·γ_j²/2): the elastic-net penalty as a prior."""

    name = "elastic_net"

    def __init__(self, l1: float, l2: float):
        self.l1 = _positive(l1, "elastic_net l1")
        self.l2 = _positive(l2, "elastic_net l2")
        if self.l1 is None or self.l2 is None:
            raise PriorError("elastic_net needs both penalties l1 and l2 (numbers > 0).")

    @classmethod
    def from_sklearn(cls, alpha: float, l1_ratio: float, sigma: float, n: int) -> ElasticNet:
        """The prior whose posterior mode (σ fixed) is ``ElasticNet(alpha, l1_ratio)``."""
        if not 0 < l1_ratio < 1:
            raise PriorError(f"l1_ratio must lie in (0, 1), got {l1_ratio!r}; use ridge or lasso.")
        k = n * alpha / float(sigma) ** 2
        return cls(l1=k * l1_ratio, l2=k * (1 - l1_ratio))

    def standardized(self, p, *, sigma, y_scale, n):
        import pymc as pm

        # The normalising constant does not depend on γ, so a potential on a flat base is exact.
        gamma = pm.Flat("elastic_net_coef", shape=p)
        pm.Potential("elastic_net_penalty",
                     -_f64(self.l1) * pm.math.sum(pm.math.abs(gamma))
                     - 0.5 * _f64(self.l2) * pm.math.sum(gamma ** 2))
        return gamma

    def penalty(self, sigma, n):
        return self.l1, self.l2


class Horseshoe(CoefficientPrior):
    """γ_j = z_j λ_j τ, λ_j ~ half-Cauchy(1), τ ~ half-Cauchy(τ0) (Carvalho et al. 2010).

    ``expected_nonzero`` (p0) sets τ0 = p0/(p − p0) · σ/√n (Piironen & Vehtari 2017).
    """

    name = "horseshoe"
    # the funnel between the global and local scales (diabetes, 6 slopes, 4 x 1000: 69
    # divergent transitions at 0.9, 0-7 at 0.99, 1-2 at 0.999 by seed; writing the
    # half-Cauchy scales as |N|·√InvGamma(½, ½) did not remove them)
    target_accept = 0.99

    def __init__(self, expected_nonzero: int | None = None):
        self.expected_nonzero = expected_nonzero

    def _tau0(self, p, sigma, y_scale, n):
        scale = (sigma if sigma is not None else y_scale) / np.sqrt(n)
        if self.expected_nonzero is None:
            p0 = max(1, p // 4)
            return scale * (p0 / (p - p0) if p0 < p else 1.0)
        if not 0 < self.expected_nonzero < p:
            raise PriorError(f"expected_nonzero must lie between 1 and {p - 1}, got "
                             f"{self.expected_nonzero}.")
        return scale * self.expected_nonzero / (p - self.expected_nonzero)

    def _local(self, p):
        import pymc as pm

        return pm.HalfCauchy(f"{self.name}_lambda", 1.0, shape=p)

    def standardized(self, p, *, sigma, y_scale, n):
        import pymc as pm

        tau = pm.HalfCauchy(f"{self.name}_tau", 1.0) * self._tau0(p, sigma, y_scale, n)
        lam = self._local(p)
        z = pm.Normal(f"{self.name}_z", 0.0, 1.0, shape=p)
        return z * self._shrink(lam, tau, y_scale) * tau

    def _shrink(self, lam, tau, y_scale):
        return lam


class RegularizedHorseshoe(Horseshoe):
    """The horseshoe with a slab: large coefficients are shrunk like a N(0, c) prior.

    λ̃_j = sqrt(c² λ_j² / (c² + τ² λ_j²)), c² ~ InvGamma(ν/2, ν s²/2) (Piironen & Vehtari
    2017), with slab scale ``slab_scale`` (default 2·sd(y)) and ``slab_df`` ν.
    """

    name = "regularized_horseshoe"

    def __init__(self, expected_nonzero: int | None = None, slab_scale: float | None = None,
                 slab_df: float = 4.0):
        super().__init__(expected_nonzero)
        self.slab_scale = _positive(slab_scale, "slab_scale")
        self.slab_df = float(slab_df)

    def _shrink(self, lam, tau, y_scale):
        import pymc as pm

        s = _f64(self.slab_scale if self.slab_scale is not None else 2.0 * y_scale)
        c2 = pm.InverseGamma(f"{self.name}_c2", _f64(self.slab_df / 2), self.slab_df * s ** 2 / 2)
        return pm.math.sqrt(c2 * lam ** 2 / (c2 + tau ** 2 * lam ** 2))


def ridge(scale: float | None = None) -> Ridge:
    """Ridge (Normal) prior on standardized slopes; ``scale=None`` learns τ.

    Examples
    --------
    >>> import multilevel as ml
    >>> ml.priors.ridge(2.0)
    ridge(scale=2.0)
    """
    return Ridge(scale)


def lasso(scale: float | None = None) -> Lasso:
    """Lasso (Laplace) prior on standardized slopes; ``scale=None`` learns b (Bayesian lasso)."""
    return Lasso(scale)


def elastic_net(l1: float, l2: float) -> ElasticNet:
    """Elastic-net prior with log-density penalties l1 (absolute) and l2 (squared)."""
    return ElasticNet(l1, l2)


def horseshoe(expected_nonzero: int | None = None) -> Horseshoe:
    """Horseshoe prior; ``expected_nonzero`` sets the global scale (Piironen & Vehtari)."""
    return Horseshoe(expected_nonzero)


def regularized_horseshoe(expected_nonzero: int | None = None, slab_scale: float | None = None,
                          slab_df: float = 4.0) -> RegularizedHorseshoe:
    """Regularized horseshoe (Piironen & Vehtari 2017)."""
    return RegularizedHorseshoe(expected_nonzero, slab_scale, slab_df)


ridge.from_sklearn = Ridge.from_sklearn
lasso.from_sklearn = Lasso.from_sklearn
elastic_net.from_sklearn = ElasticNet.from_sklearn
PRESETS = {"ridge": ridge, "lasso": lasso, "elastic_net": elastic_net, "horseshoe": horseshoe,
           "regularized_horseshoe": regularized_horseshoe}
