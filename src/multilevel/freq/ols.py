"""Least squares for formulas without random effects (R's ``lm`` and its ``logLik``).

The coefficients come from a QR-based least-squares solve (numpy's ``lstsq``), never
from an explicit inverse of X'X; standard errors from the triangular factor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.linalg as sla

from multilevel.errors import FamilyError
from multilevel.formula import Design


@dataclass
class OLSFit:
    """An ordinary least-squares fit with lm's accessors and ML log-likelihood.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("mpg ~ wt", "mtcars", method="ml")
    >>> round(m.loglik, 4)
    -80.0147
    """

    formula: str
    design: Design = field(repr=False)
    beta: np.ndarray = field(repr=False)
    R: np.ndarray = field(repr=False)
    rss: float = 0.0
    family: str = "gaussian"
    method: str = "ml"
    messages: list[str] = field(default_factory=list)

    reml_criterion = None
    singular = False
    converged = True

    @property
    def nobs(self) -> int:
        return self.design.n

    @property
    def df(self) -> int:
        """Coefficients plus σ, as R's ``logLik(lm)``."""
        return self.design.p + 1

    @property
    def fixef(self) -> pd.Series:
        return pd.Series(self.beta, index=self.design.x_names, name="fixef")

    @property
    def sigma(self) -> float:
        """Residual SD with n - p degrees of freedom (lm's ``sigma``)."""
        return float(np.sqrt(self.rss / (self.nobs - self.design.p)))

    @property
    def vcov(self) -> pd.DataFrame:
        Rinv = sla.solve_triangular(self.R, np.eye(self.R.shape[0]))
        cov = self.sigma ** 2 * Rinv @ Rinv.T
        return pd.DataFrame(cov, index=self.design.x_names, columns=self.design.x_names)

    @property
    def se(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.design.x_names, name="se")

    @property
    def varcorr(self) -> pd.DataFrame:
        return pd.DataFrame([("Residual", None, None, self.sigma ** 2, self.sigma)],
                            columns=["grp", "var1", "var2", "vcov", "sdcor"])

    @property
    def ranef(self) -> dict:
        return {}

    def covariance(self) -> dict:
        return {}

    @property
    def loglik(self) -> float:
        n = self.nobs
        return -0.5 * n * (np.log(2 * np.pi * self.rss / n) + 1)

    @property
    def deviance(self) -> float:
        return -2.0 * self.loglik

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.df

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + np.log(self.nobs) * self.df

    def refit_ml(self) -> OLSFit:
        return self

    def predict(self, newdata: pd.DataFrame | None = None, group_effects: bool = True,
                new_groups: str = "population") -> pd.DataFrame:
        """Fitted values for new rows (there are no group effects to include)."""
        data = self.design.frame.data if newdata is None else newdata
        X = self.design.X if newdata is None else self.design.spec.fixed_X(newdata)
        return pd.DataFrame({"estimate": X @ self.beta}, index=data.index)

    def summary(self) -> pd.DataFrame:
        est, se = self.fixef, self.se
        return pd.DataFrame({"estimate": est, "std_error": se, "t_value": est / se})

    def __repr__(self) -> str:
        return (f"Least-squares fit: {self.formula}\nlogLik {self.loglik:.4f}  AIC {self.aic:.4f}  "
                f"BIC {self.bic:.4f}  sigma {self.sigma:.4f}\n{self.summary().to_string()}")


def fit_linear(formula: str, design: Design, reml: bool = False) -> OLSFit:
    """Least squares for a design without random-effects terms (gaussian only)."""
    if design.frame.family != "gaussian":
        raise FamilyError(
            f"A {design.frame.family} model without random effects is a GLM, which the frequentist "
            "engine does not fit yet; add a random effect, or use method='bayes'."
        )
    X, y = design.X, design.y
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    R = np.linalg.qr(X, mode="r")
    resid = y - X @ beta
    messages = []
    if design.dropped_columns:
        messages.append(f"rank deficient: dropped {', '.join(design.dropped_columns)}")
    return OLSFit(formula=formula, design=design, beta=beta, R=R, rss=float(resid @ resid),
                  messages=messages)
