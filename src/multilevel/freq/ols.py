"""Least squares for formulas without random effects (R's ``lm`` and its ``logLik``).

The coefficients come from a QR-based least-squares solve (numpy's ``lstsq``), never
from an explicit inverse of X'X; standard errors from the triangular factor R.
``method="reml"`` gives R's ``logLik(m, REML = TRUE)`` (which is lme4's REML
criterion of a model without random effects); ``method="ml"`` R's ``logLik(m)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.linalg as sla

from multilevel.formula import Design
from multilevel.formula.reform import group_effect_masks
from multilevel.freq.result import (
    InformationCriteria, check_predict_args, predict_rows, varcorr_frame, wald_table,
)


class NoRandomEffects(InformationCriteria):
    """Accessors a model without ``( | )`` terms shares with the mixed-model fits."""

    singular = False
    converged = True
    optimizer_message = "closed form / IRLS, no θ to optimize"

    @property
    def nobs(self) -> int:
        return self.design.n

    @property
    def df_resid(self) -> int:
        return self.nobs - self.design.p

    @property
    def fixef(self) -> pd.Series:
        return pd.Series(self.beta, index=self.design.x_names, name="fixef")

    @property
    def se(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.design.x_names, name="se")

    @property
    def theta(self) -> pd.Series:
        return pd.Series([], dtype=float, name="theta")

    @property
    def ranef(self) -> dict:
        return {}

    def ranef_condvar(self) -> dict:
        return {}

    def covariance(self) -> dict:
        return {}

    def singular_terms(self) -> list[str]:
        return []

    def _vcov_unscaled(self) -> np.ndarray:
        """(X'WX)⁻¹ = R⁻¹R⁻ᵀ from the triangular factor (no inverse of X'X)."""
        Rinv = sla.solve_triangular(self.R, np.eye(self.R.shape[0]))
        return Rinv @ Rinv.T

    def linear_predictor(self, newdata: pd.DataFrame | None = None, group_effects: bool | str = True,
                         new_groups: str = "population") -> np.ndarray:
        group_effect_masks([], group_effects, self.design.frame.data)   # refuses a formula's groups
        X = self.design.X if newdata is None else self.design.spec.fixed_X(newdata)
        offset = self.design.offset if newdata is None else self.design.spec.offset(newdata)
        return X @ self.beta + (0.0 if offset is None else offset)   # offset(): coefficient 1

    def predict(self, newdata: pd.DataFrame | None = None, group_effects: bool | str = True,
                new_groups: str = "population", type: str = "link",
                na_action: str = "pass", se_fit: bool = False) -> pd.DataFrame:
        """Fitted values for the fitted or new rows (there are no group effects to add).

        Parameters as :meth:`multilevel.freq.FreqFit.predict` (R's ``predict.lm`` also
        gives NA for a row with a missing predictor).
        """
        check_predict_args(new_groups, type)
        return predict_rows(self, newdata, group_effects, new_groups, type, na_action, se_fit)

    def hatvalues(self) -> pd.Series:
        """The hat matrix's diagonal per row (R's ``hatvalues(lm)``; gaussian models)."""
        from multilevel.freq.leverage import hat_values

        return hat_values(self)

    def cooks_distance(self) -> pd.Series:
        """Cook's distance per row (R's ``cooks.distance(lm)``; gaussian models)."""
        from multilevel.freq.leverage import cooks_distances

        return cooks_distances(self)

    def coef(self) -> pd.Series:
        """The coefficients (R's ``coef`` of an ``lm``/``glm``: there are no groups)."""
        return self.fixef

    def fitted(self) -> pd.Series:
        """Fitted values on the response scale (R's ``fitted``)."""
        from multilevel.freq.accessors import fitted_values

        return fitted_values(self)

    def residuals(self, type: str | None = None, scaled: bool = False) -> pd.Series:
        """Residuals by lme4's types (:meth:`multilevel.freq.FreqFit.residuals`)."""
        from multilevel.freq.accessors import residual_values

        return residual_values(self, type, scaled)

    def _inverse_link(self, eta: np.ndarray) -> np.ndarray:
        return eta


@dataclass
class OLSFit(NoRandomEffects):
    """An ordinary least-squares fit with lm's accessors and log-likelihood.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("mpg ~ wt", "mtcars", method="ml")
    >>> round(m.loglik, 4), round(m.aic, 4)
    (-80.0147, 166.0294)
    """

    formula: str
    design: Design = field(repr=False)
    beta: np.ndarray = field(repr=False)
    R: np.ndarray = field(repr=False)
    rss: float = 0.0
    family: str = "gaussian"
    method: str = "ml"
    messages: list[str] = field(default_factory=list)
    logdet_w: float = 0.0   # Σ log wᵢ of prior weights (R's lm with weights=), 0 without

    @property
    def reml(self) -> bool:
        return self.method == "reml"

    @property
    def df(self) -> int:
        """Coefficients plus σ, as R's ``logLik(lm)``."""
        return self.design.p + 1

    @property
    def sigma(self) -> float:
        """Residual SD with n - p degrees of freedom (lm's ``sigma``)."""
        return float(np.sqrt(self.rss / (self.nobs - self.design.p)))

    @property
    def vcov(self) -> pd.DataFrame:
        cov = self.sigma ** 2 * self._vcov_unscaled()
        return pd.DataFrame(cov, index=self.design.x_names, columns=self.design.x_names)

    @property
    def varcorr(self) -> pd.DataFrame:
        return varcorr_frame([("Residual", None, None, self.sigma ** 2, self.sigma)])

    @property
    def ml_deviance(self) -> float:
        n = self.nobs
        return float(n * (np.log(2 * np.pi * self.rss / n) + 1) - self.logdet_w)

    @property
    def reml_criterion(self) -> float | None:
        """−2 × R's ``logLik(m, REML = TRUE)``; None for ML fits."""
        if not self.reml:
            return None
        nmp = self.nobs - self.design.p
        logdet_R = 2.0 * float(np.sum(np.log(np.abs(np.diag(self.R)))))
        return float(nmp * (np.log(2 * np.pi * self.rss / nmp) + 1) + logdet_R - self.logdet_w)

    @property
    def loglik(self) -> float:
        return -0.5 * (self.reml_criterion if self.reml else self.ml_deviance)

    @property
    def deviance(self) -> float:
        """−2 logLik at the ML estimates (as for the mixed models; R's ``deviance(lm)``,
        the residual sum of squares, is ``rss``)."""
        return self.ml_deviance

    def refit_ml(self) -> OLSFit:
        """The ML version (same coefficients; ML log-likelihood)."""
        if not self.reml:
            return self
        return OLSFit(formula=self.formula, design=self.design, beta=self.beta, R=self.R, rss=self.rss,
                      method="ml", messages=list(self.messages), logdet_w=self.logdet_w)

    def summary(self, ci: float | None = None) -> pd.DataFrame:
        """As R's ``summary(lm)``: estimate, SE, t value, Pr(>|t|) (+ ``confint`` interval)."""
        return wald_table(self.fixef, self.se, "t_value", ci, df_resid=self.df_resid, p_values=True)

    def __repr__(self) -> str:
        crit = (f"REML criterion {self.reml_criterion:.4f}" if self.reml
                else f"logLik {self.loglik:.4f}  AIC {self.aic:.4f}  BIC {self.bic:.4f}")
        return "\n".join([f"Linear model fit by least squares: {self.formula}",
                          f"{crit}  sigma {self.sigma:.4f} on {self.df_resid} df", "",
                          self.summary().to_string(float_format=lambda v: f"{v:.5g}"), *self.messages])


def fit_linear(formula: str, design: Design, reml: bool = False) -> OLSFit:
    """Least squares for a gaussian design without random-effects terms."""
    from multilevel.errors import DataWarning, warn
    from multilevel.freq.messages import rank_message

    X, y = design.X, design.y - design.offset_or_zero      # offset(): coefficient 1
    w = np.ones_like(y) if design.weights is None else design.weights
    sw = np.sqrt(w)                                         # weights: variance σ²/w (R's lm)
    beta, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
    R = np.linalg.qr(X * sw[:, None], mode="r")
    resid = (y - X @ beta) * sw
    messages = rank_message(design)
    for message in messages:
        warn(message, DataWarning)
    return OLSFit(formula=formula, design=design, beta=beta, R=R, rss=float(resid @ resid),
                  method="reml" if reml else "ml", messages=messages,
                  logdet_w=float(np.sum(np.log(w))) if design.weights is not None else 0.0)
