"""``FreqFit``: an ML/REML fit with lme4's accessors (fixef, vcov, VarCorr, ranef, ...)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from multilevel.errors import DataError
from multilevel.formula import Design
from multilevel.formula.design import level_codes, term_matrix
from multilevel.formula.reform import group_effect_masks
from multilevel.freq.deviance import PLSSolution
from multilevel.freq.factor import term_factor
from multilevel.freq.optimize import OptResult
from multilevel.freq.tables import wald_table  # noqa: F401 (its home before printing needed it)

SINGULAR_TOL = 1e-4  # lme4's isSingular(tol = 1e-4)
NEW_GROUPS = ("population", "error")
PREDICT_TYPES = ("link", "response")
VARCORR_COLUMNS = ["grp", "var1", "var2", "vcov", "sdcor"]


def varcorr_frame(rows: list[tuple]) -> pd.DataFrame:
    """The VarCorr table; object columns keep ``None`` (R's NA) for var1/var2 under pandas 3."""
    frame = pd.DataFrame(rows, columns=VARCORR_COLUMNS, dtype=object)
    return frame.astype({"vcov": float, "sdcor": float})


def check_predict_args(new_groups: str, type: str) -> None:
    if new_groups not in NEW_GROUPS:
        raise DataError(f"new_groups={new_groups!r} is not valid; use one of {NEW_GROUPS}.")
    if type not in PREDICT_TYPES:
        raise DataError(f"type={type!r} is not valid; use one of {PREDICT_TYPES}.")


def predict_rows(fit, newdata, group_effects, new_groups: str, type: str,
                 na_action: str, se_fit: bool = False) -> pd.DataFrame:
    """The ``estimate`` (and ``std_error``) table of ``fit.predict``: the fitted rows, or the
    rows of ``newdata`` with lme4's ``na.action`` for rows with a missing predictor."""
    from multilevel.formula.newdata import pad_rows, predictable_rows

    if newdata is None:
        rows, keep = fit.design.frame.data, None
    else:
        keep = predictable_rows(fit.design, newdata, new_groups, na_action)
        rows = newdata if keep is None else newdata[keep]
    if not isinstance(se_fit, (bool, np.bool_)):
        raise DataError(f"se_fit must be True or False, got {se_fit!r}.")
    eta = (fit.linear_predictor(None if newdata is None else rows, group_effects, new_groups)
           if len(rows) else np.empty(0))
    columns = {"estimate": fit._inverse_link(eta) if type == "response" else eta}
    if se_fit:
        from multilevel.freq.predict_se import link_standard_errors

        se = (link_standard_errors(fit, None if newdata is None else rows, group_effects)
              if len(rows) else np.empty(0))
        family = getattr(fit, "family_object", None)
        if type == "response" and family is not None:   # the delta method: |dμ/dη| SE
            se = np.abs(family.mu_eta(eta)) * se
        columns["std_error"] = se
    table = pd.DataFrame(columns, index=rows.index)
    return table if newdata is None else pad_rows(table, newdata.index, keep, na_action)


class InformationCriteria:
    """AIC and BIC from ``loglik``, ``df`` and ``nobs`` (R's ``AIC``/``BIC``)."""

    @property
    def aic(self) -> float:
        return float(-2.0 * self.loglik + 2.0 * self.df)

    @property
    def bic(self) -> float:
        return float(-2.0 * self.loglik + np.log(self.nobs) * self.df)

    def _repr_html_(self) -> str:
        """The printed summary as HTML tables (notebooks)."""
        from multilevel.freq.printing import format_fit_html

        return format_fit_html(self)


@dataclass
class FreqFit(InformationCriteria):
    """A linear mixed model fitted by REML or ML, as lme4's ``lmer``.

    Attributes
    ----------
    formula : str
    design : Design
        The design matrices (:func:`multilevel.formula.build_design`).
    method : {"reml", "ml"}
    opt : OptResult
        θ̂, the optimizer's convergence flag and message, evaluations, restarts.
    messages : list of str
        Notes such as dropped rank-deficient columns.
    solver : str
        The factorization backend (:mod:`multilevel.freq.factor`).

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> round(m.reml_criterion, 3), m.fixef.round(3).tolist()
    (1743.628, [251.405, 10.467])
    >>> m.varcorr.round(3)
            grp         var1  var2     vcov   sdcor
    0   Subject  (Intercept)  None  612.090  24.740
    1   Subject         Days  None   35.072   5.922
    2   Subject  (Intercept)  Days    9.604   0.066
    3  Residual         None  None  654.941  25.592
    """

    formula: str
    design: Design = field(repr=False)
    method: str
    opt: OptResult = field(repr=False)
    pls: PLSSolution = field(repr=False)
    family: str = "gaussian"
    messages: list[str] = field(default_factory=list)
    solver: str = "auto"

    # ------------------------------------------------------------ sizes
    @property
    def reml(self) -> bool:
        return self.method == "reml"

    @property
    def nobs(self) -> int:
        return self.design.n

    @property
    def df(self) -> int:
        """Parameters counted by lme4's logLik: fixed effects, θ (a structured term's own
        parameters, :mod:`multilevel.freq.structures`), and σ."""
        from multilevel.freq.structures import n_covariance_parameters

        return self.design.p + n_covariance_parameters(self.design) + 1

    @property
    def df_resid(self) -> int:
        return self.nobs - self.df

    @property
    def converged(self) -> bool:
        return self.opt.converged

    @property
    def optimizer_message(self) -> str:
        """The optimizer's stopping reason (and restarts at the boundary)."""
        extra = " (restarted from the boundary)" if self.opt.restarted else ""
        return f"{self.opt.message} after {self.opt.evaluations} evaluations{extra}"

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
        """Random-effect covariance per term (lme4 name → q×q in ``cnms`` order), σ² T T'."""
        s2 = self.sigma ** 2
        return {term.name: s2 * T @ T.T for term, T in zip(self.design.reterms, self._term_factors())}

    @property
    def structures(self) -> pd.DataFrame:
        """The structured terms' estimated parameters (``cs(x | g)``: SDs and ρ; see
        :func:`multilevel.freq.structures.structure_table`); empty without such terms."""
        from multilevel.freq.structures import structure_table

        phi = self.opt.phi if self.opt.phi is not None else self.pls.theta
        return structure_table(self.design, phi, self.sigma)

    @property
    def varcorr(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(VarCorr(m))``: grp, var1, var2, vcov, sdcor (a structured
        term, as lme4 2.0, with its whole implied covariance matrix)."""
        rows = []
        for term, cov in zip(self.design.reterms, self.covariance().values()):
            sd = np.sqrt(np.diag(cov))
            for i, cnm in enumerate(term.cnms):
                rows.append((term.name, cnm, None, cov[i, i], sd[i]))
            for i in range(term.q):
                for j in range(i + 1, term.q):
                    corr = cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan
                    rows.append((term.name, term.cnms[i], term.cnms[j], cov[i, j], corr))
        if self.family in ("gaussian", "gamma", "wald"):   # families with a scale (lme4's useSc)
            rows.append(("Residual", None, None, self.sigma ** 2, self.sigma))
        return varcorr_frame(rows)

    @cached_property
    def _modes(self) -> list[np.ndarray]:
        """b = Λu per term, shape (levels, q)."""
        out, start = [], 0
        for term, T in zip(self.design.reterms, self._term_factors()):
            width = term.q * term.n_levels
            u = self.pls.u[start:start + width].reshape(term.n_levels, term.q)
            out.append(u @ T.T if term.known is None else term.known.effects(u, T[0, 0]))
            start += width
        return out

    @property
    def ranef(self) -> dict[str, pd.DataFrame]:
        """Conditional modes per grouping factor (levels × columns), lme4's ``ranef``.

        Terms on the same factor (``(Days || Subject)``) share one table, as in lme4.
        """
        tables: dict[str, pd.DataFrame] = {}
        for term, modes in zip(self.design.reterms, self._modes):
            table = pd.DataFrame(modes, index=pd.Index(term.levels, name=term.group), columns=term.cnms)
            tables[term.group] = pd.concat([tables[term.group], table], axis=1) \
                if term.group in tables else table
        return tables

    def coef(self) -> dict[str, pd.DataFrame]:
        """Coefficients per level of each grouping factor: the fixed effects plus the
        level's group effects (lme4's ``coef``; :mod:`multilevel.freq.accessors`)."""
        from multilevel.freq.accessors import group_coefficients

        return group_coefficients(self)

    def fitted(self) -> pd.Series:
        """Fitted values with the group effects, on the response scale (lme4's ``fitted``)."""
        from multilevel.freq.accessors import fitted_values

        return fitted_values(self)

    def residuals(self, type: str | None = None, scaled: bool = False) -> pd.Series:
        """lme4's ``residuals``: ``type`` ``"response"`` (linear mixed models' default),
        ``"pearson"``, ``"working"`` or ``"deviance"`` (GLMMs' default); ``scaled``
        divides by σ (:mod:`multilevel.freq.accessors`)."""
        from multilevel.freq.accessors import residual_values

        return residual_values(self, type, scaled)

    def hatvalues(self) -> pd.Series:
        """The hat matrix's diagonal per fitted row (lme4's ``hatvalues``; gaussian models;
        :mod:`multilevel.freq.leverage`)."""
        from multilevel.freq.leverage import hat_values

        return hat_values(self)

    def cooks_distance(self) -> pd.Series:
        """Cook's distance per fitted row (lme4's ``cooks.distance``; gaussian models)."""
        from multilevel.freq.leverage import cooks_distances

        return cooks_distances(self)

    def ranef_condvar(self) -> dict[str, np.ndarray]:
        """Conditional variances of the modes per term: name → (levels, q, q), lme4's
        ``attr(ranef(m, condVar = TRUE)[[g]], "postVar")``."""
        s2 = self.sigma ** 2
        blocks = self.pls.factor.inverse_diagonal_blocks()
        return {term.name: s2 * T[None] @ blk @ T.T[None]
                for term, T, blk in zip(self.design.reterms, self._term_factors(), blocks)}

    # ---------------------------------------------------- fit statistics
    @property
    def reml_criterion(self) -> float | None:
        """lme4's ``REMLcrit``; None for ML fits."""
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
    def singular(self) -> bool:
        """lme4's ``isSingular``: a diagonal of a relative factor below 1e-4."""
        return bool(self.singular_terms())

    def singular_terms(self) -> list[str]:
        """``"group: column"`` for each random-effect variance estimated at (near) zero."""
        if self.opt.phi is not None:   # structured terms: SDs at 0 or correlations at a bound
            from multilevel.freq.structures import singular_parameters

            return singular_parameters(self.design, self.opt.phi, SINGULAR_TOL)
        out = []
        for term, T in zip(self.design.reterms, self._term_factors()):
            out += [f"{term.name}: {term.cnms[i]}" for i in range(term.q) if abs(T[i, i]) < SINGULAR_TOL]
        return out

    # -------------------------------------------------------- methods
    def refit_ml(self) -> FreqFit:
        """The ML fit of the same model (lme4's ``refitML``); ML fits return themselves.

        Computed once per fit (``ml.lrt`` and ``ml.compare`` ask for it repeatedly).
        """
        return self._ml_refit if self.reml else self

    @cached_property
    def _ml_refit(self) -> FreqFit:
        # fit_design's stages, here so that the result does not import the fit module
        from multilevel.freq.messages import rank_message, warn_fit
        from multilevel.freq.optimize import optimize_design

        opt, pls = optimize_design(self.design, reml=False, solver=self.solver)
        fit = FreqFit(formula=self.formula, design=self.design, method="ml", opt=opt, pls=pls,
                      messages=rank_message(self.design), solver=self.solver)
        warn_fit(fit)
        return fit

    def deviance_function(self):
        """The profiled deviance of this model as a pure function of θ (REML criterion for
        REML fits), for profiling: see :func:`multilevel.freq.make_deviance`."""
        from multilevel.freq.deviance import make_deviance

        return make_deviance(self.design, reml=self.reml, solver=self.solver)

    def linear_predictor(self, newdata: pd.DataFrame | None = None, group_effects: bool | str = True,
                         new_groups: str = "population") -> np.ndarray:
        """Xβ (+ Zb) for the fitted rows or new rows; ``group_effects`` as :meth:`predict`."""
        if newdata is not None:   # no missing predictor; a missing group per new_groups
            from multilevel.formula.newdata import predictable_rows

            predictable_rows(self.design, newdata, new_groups, "fail")
        data = self.design.frame.data if newdata is None else newdata
        X = self.design.X if newdata is None else self.design.spec.fixed_X(newdata)
        eta = X @ self.pls.beta
        offset = self.design.offset if newdata is None else self.design.spec.offset(newdata)
        if offset is not None:   # offset() terms, coefficient 1 (lme4's predict includes them)
            eta = eta + offset
        masks = group_effect_masks(self.design.reterms, group_effects, self.design.frame.data)
        for term, modes, mask in zip(self.design.reterms, self._modes, masks):
            if term.smooth is not None:   # a smooth is part of the population-level curve
                Zs = term.smooth_Z if newdata is None else term.smooth.random_matrix(data)
                eta = eta + Zs @ modes[:, 0]
                continue
            if mask is not None:   # the term's columns that group_effects (re.form) keeps
                if newdata is None:
                    codes, Xt = term.codes, term.X
                else:
                    codes, Xt = level_codes(term, data, new_groups), term_matrix(term, data)
                effects = np.where(codes[:, None] >= 0, modes[np.maximum(codes, 0)], 0.0)
                eta = eta + np.sum((Xt * effects)[:, mask], axis=1)
        return eta

    def predict(self, newdata: pd.DataFrame | None = None, group_effects: bool | str = True,
                new_groups: str = "population", type: str = "link",
                na_action: str = "pass", se_fit: bool = False) -> pd.DataFrame:
        """Predictions with or without group effects (lme4's ``predict.merMod``).

        Parameters
        ----------
        newdata : DataFrame or None
            Rows to predict; None predicts the fitted rows.
        group_effects : bool or str
            True: all group effects (lme4's ``re.form = NULL``); False: none, fixed
            effects only (``re.form = NA``); a formula of group-effect terms such as
            ``"~ (1 | Subject)"``: only those (``re.form = ~ (1 | Subject)``; see
            :mod:`multilevel.formula.reform`).
        new_groups : {"population", "error"}
            Levels not seen in the fit: predict at the population mean (their group
            effect is 0, lme4's ``allow.new.levels = TRUE``) or raise a DataError.
        type : {"link", "response"}
            Scale of the prediction (the same for gaussian models).
        na_action : {"pass", "exclude", "omit", "fail"}
            Rows of ``newdata`` with a missing predictor value (lme4's ``na.action``):
            NaN ("pass", lme4's default, or "exclude"), left out ("omit"), or a DataError
            ("fail"). A :class:`~multilevel.errors.DataWarning` says how many rows. A missing
            grouping value is a new level (see ``new_groups``).
        se_fit : bool
            Adds ``std_error``: with ``group_effects=False`` the fixed effects' SE √(x V x')
            (glmmTMB's and lme4 1.1-35's ``se.fit``); with the group effects of a linear
            mixed model the SE conditional on θ̂ (:mod:`multilevel.freq.predict_se`); on the
            response scale by the delta method.

        Returns
        -------
        DataFrame with column ``estimate`` (and ``std_error``), indexed like ``newdata``.

        Examples
        --------
        >>> import pandas as pd, multilevel as ml
        >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
        >>> new = pd.DataFrame({"Days": [0, 5], "Subject": ["308", "new"]})
        >>> m.predict(new)["estimate"].round(3).tolist()
        [253.664, 303.742]
        """
        check_predict_args(new_groups, type)
        return predict_rows(self, newdata, group_effects, new_groups, type, na_action, se_fit)

    def _inverse_link(self, eta: np.ndarray) -> np.ndarray:
        return eta

    def summary(self, ci: float | None = None) -> pd.DataFrame:
        """Fixed-effects table as lme4's ``summary``: estimate, standard error, t value.

        The printed form of the fit (``print(fit)``) adds the random effects and the
        fit statistics, laid out as lme4 prints them.

        Parameters
        ----------
        ci : float, optional
            Adds Wald intervals (``lower``, ``upper``) at this level.
        """
        return wald_table(self.fixef, self.se, "t_value", ci)

    # report() writes through multilevel.report: attached in multilevel/api.py (entry layer).

    def __repr__(self) -> str:
        from multilevel.freq.printing import format_fit

        return format_fit(self)
