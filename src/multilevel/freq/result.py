"""``FreqFit``: an ML/REML fit with lme4's accessors (fixef, vcov, VarCorr, ranef, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from multilevel.errors import DataError
from multilevel.formula import Design
from multilevel.formula.design import level_codes, term_matrix
from multilevel.freq.deviance import PLSSolution, term_factor
from multilevel.freq.optimize import OptResult

SINGULAR_TOL = 1e-4  # lme4's isSingular(tol = 1e-4)
NEW_GROUPS = ("population", "error")


@dataclass
class FreqFit:
    """A linear mixed model fitted by REML or ML, as lme4's ``lmer``.

    Attributes
    ----------
    formula : str
    design : Design
    method : {"reml", "ml"}
    opt : OptResult
        θ̂, the optimizer's convergence flag and message, evaluations, restarts.
    messages : list of str
        Notes such as dropped rank-deficient columns.

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> round(m.reml_criterion, 3), m.fixef.round(3).tolist()
    (1743.628, [251.405, 10.467])
    """

    formula: str
    design: Design = field(repr=False)
    method: str
    opt: OptResult = field(repr=False)
    pls: PLSSolution = field(repr=False)
    family: str = "gaussian"
    messages: list[str] = field(default_factory=list)

    # ------------------------------------------------------------ sizes
    @property
    def reml(self) -> bool:
        return self.method == "reml"

    @property
    def nobs(self) -> int:
        return self.design.n

    @property
    def df(self) -> int:
        """Parameters counted by lme4's logLik: fixed effects, θ, and σ."""
        return self.design.p + len(self.pls.theta) + 1

    @property
    def converged(self) -> bool:
        return self.opt.converged

    # ------------------------------------------------------- estimates
    @property
    def sigma(self) -> float:
        denom = self.nobs - self.design.p if self.reml else self.nobs
        return float(np.sqrt(self.pls.r2 / denom))

    @property
    def fixef(self) -> pd.Series:
        return pd.Series(self.pls.beta, index=self.design.x_names, name="fixef")

    @property
    def vcov(self) -> pd.DataFrame:
        """σ² (R_X'R_X)⁻¹, lme4's ``vcov``."""
        cov = self.sigma ** 2 * np.linalg.inv(self.pls.RXtRX)
        return pd.DataFrame(cov, index=self.design.x_names, columns=self.design.x_names)

    @property
    def se(self) -> pd.Series:
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.design.x_names, name="se")

    @property
    def theta(self) -> pd.Series:
        return pd.Series(self.pls.theta, index=self.design.theta_names(), name="theta")

    def _term_factors(self) -> list[np.ndarray]:
        out, start = [], 0
        for term in self.design.reterms:
            out.append(term_factor(self.pls.theta[start:start + term.n_theta], term.q))
            start += term.n_theta
        return out

    def covariance(self) -> dict[str, np.ndarray]:
        """Random-effect covariance per term (lme4 name → q×q), σ² T T'."""
        s2 = self.sigma ** 2
        return {term.name: s2 * T @ T.T for term, T in zip(self.design.reterms, self._term_factors())}

    @property
    def varcorr(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(VarCorr(m))``: grp, var1, var2, vcov, sdcor."""
        rows = []
        for term, cov in zip(self.design.reterms, self.covariance().values()):
            sd = np.sqrt(np.diag(cov))
            for i, cnm in enumerate(term.cnms):
                rows.append((term.name, cnm, None, cov[i, i], sd[i]))
            for i in range(term.q):
                for j in range(i + 1, term.q):
                    corr = cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan
                    rows.append((term.name, term.cnms[i], term.cnms[j], cov[i, j], corr))
        rows.append(("Residual", None, None, self.sigma ** 2, self.sigma))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    @cached_property
    def _modes(self) -> list[np.ndarray]:
        """b = Λu per term, shape (levels, q)."""
        out, start = [], 0
        for term, T in zip(self.design.reterms, self._term_factors()):
            width = term.q * term.n_levels
            u = self.pls.u[start:start + width].reshape(term.n_levels, term.q)
            out.append(u @ T.T)
            start += width
        return out

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes per grouping factor (levels × columns), lme4's ``ranef``."""
        tables: dict[str, pd.DataFrame] = {}
        for term, modes in zip(self.design.reterms, self._modes):
            table = pd.DataFrame(modes, index=pd.Index(term.levels, name=term.group), columns=term.cnms)
            tables[term.group] = pd.concat([tables[term.group], table], axis=1) \
                if term.group in tables else table
        return tables

    def ranef_condvar(self) -> dict[str, np.ndarray]:
        """Conditional variances of the modes per term: name → (levels, q, q) (lme4's condVar)."""
        s2 = self.sigma ** 2
        blocks = self.pls.solver.inverse_diagonal_blocks(self.design)
        return {term.name: s2 * T @ blk @ T.T
                for term, T, blk in zip(self.design.reterms, self._term_factors(), blocks)}

    # ---------------------------------------------------- fit statistics
    @property
    def reml_criterion(self) -> float | None:
        return self.pls.deviance(self.nobs, self.design.p, reml=True) if self.reml else None

    @property
    def deviance(self) -> float:
        """The ML deviance at the estimates (−2 logLik for ML fits; lme4's
        ``deviance(m, REML = FALSE)`` for REML fits)."""
        return self.pls.deviance(self.nobs, self.design.p, reml=False)

    @property
    def loglik(self) -> float:
        """lme4's ``logLik``: −REML criterion/2 for REML fits, −deviance/2 for ML fits."""
        return -0.5 * (self.reml_criterion if self.reml else self.deviance)

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.df

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + np.log(self.nobs) * self.df

    @property
    def singular(self) -> bool:
        """lme4's ``isSingular``: a diagonal of a relative factor below 1e-4."""
        return bool(self.singular_terms())

    def singular_terms(self) -> list[str]:
        out = []
        for term, T in zip(self.design.reterms, self._term_factors()):
            small = [term.cnms[i] for i in range(term.q) if abs(T[i, i]) < SINGULAR_TOL]
            out += [f"{term.name}: {c}" for c in small]
        return out

    # -------------------------------------------------------- methods
    def refit_ml(self) -> FreqFit:
        """The ML fit of the same model (lme4's ``refitML``); ML fits return themselves."""
        if not self.reml:
            return self
        from multilevel.freq.fit import fit_design

        return fit_design(self.formula, self.design, reml=False)

    def predict(self, newdata: pd.DataFrame | None = None, group_effects: bool = True,
                new_groups: str = "population") -> pd.DataFrame:
        """Predictions with or without group effects (lme4's ``predict``).

        Parameters
        ----------
        newdata : DataFrame or None
            Rows to predict; None predicts the fitted rows.
        group_effects : bool
            False is lme4's ``re.form = NA`` (fixed effects only).
        new_groups : {"population", "error"}
            Levels not seen in the fit: predict at the population mean (their group
            effect is 0, lme4's ``allow.new.levels = TRUE``) or raise a DataError.

        Returns
        -------
        DataFrame with column ``estimate``, indexed like ``newdata``.
        """
        if new_groups not in NEW_GROUPS:
            raise DataError(f"new_groups={new_groups!r}; use one of {NEW_GROUPS}.")
        data = self.design.frame.data if newdata is None else newdata
        X = self.design.X if newdata is None else self.design.spec.fixed_X(newdata)
        eta = X @ self.pls.beta
        if group_effects:
            for term, modes in zip(self.design.reterms, self._modes):
                eta = eta + _group_contribution(term, modes, data, new_groups)
        return pd.DataFrame({"estimate": eta}, index=data.index)

    def summary(self) -> pd.DataFrame:
        """Fixed-effects table: estimate, standard error, t value."""
        est, se = self.fixef, self.se
        return pd.DataFrame({"estimate": est, "std_error": se, "t_value": est / se})

    def __repr__(self) -> str:
        crit = (f"REML criterion at convergence: {self.reml_criterion:.4f}" if self.reml
                else f"logLik {self.loglik:.4f}  AIC {self.aic:.4f}  BIC {self.bic:.4f}")
        lines = [f"Linear mixed model fit by {'REML' if self.reml else 'maximum likelihood'}",
                 f"Formula: {self.formula}", crit, "", "Random effects:",
                 self.varcorr.to_string(index=False), f"Number of obs: {self.nobs}", "",
                 "Fixed effects:", self.summary().to_string()]
        if self.singular:
            lines.append(f"boundary (singular) fit: {', '.join(self.singular_terms())}")
        if not self.converged:
            lines.append(f"optimizer did not converge: {self.opt.message}")
        lines += self.messages
        return "\n".join(lines)


def _group_contribution(term, modes: np.ndarray, data: pd.DataFrame, new_groups: str) -> np.ndarray:
    codes = level_codes(term, data, new_groups)
    Xt = term_matrix(term, data)
    effects = np.where(codes[:, None] >= 0, modes[np.maximum(codes, 0)], 0.0)
    return np.sum(Xt * effects, axis=1)
