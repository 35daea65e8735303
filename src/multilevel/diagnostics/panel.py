"""Pooled least squares versus group fixed effects: the F test of panel data (R's ``plm::pFtest``).

Pooled OLS fits one intercept for all groups; the within (fixed-effects) model gives
every group its own intercept, estimated by demeaning the response and the
predictors within groups. With ``N`` groups, ``n`` rows and ``k`` slopes that vary
within groups,

    F = ((RSS_pooled − RSS_within) / (df_pooled − df_within)) / (RSS_within / df_within),
    df_pooled = n − rank(X),  df_within = n − N − k,

on ``(df_pooled − df_within, df_within)`` degrees of freedom. A small p says the
groups' intercepts differ: pooling is wrong, and a model with group effects (fixed,
or random as ``(1 | g)``) is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from multilevel.errors import DataError, FormulaError
from multilevel.formula import build_design, model_frame, parse_formula

CONSTANT_TOL = 1e-10   # relative norm below which a demeaned column is constant within groups


@dataclass(frozen=True)
class PanelFTest:
    """Result of :func:`panel_f_test`.

    Attributes
    ----------
    F, p : float
    df1, df2 : int
        Numerator and denominator degrees of freedom.
    rss_pooled, rss_within : float
        Residual sums of squares of the two models.
    n, groups : int
    dropped : list of str
        Predictors constant within every group: absorbed by the group intercepts, so
        left out of the within model (as plm does).
    """

    F: float
    df1: int
    df2: int
    p: float
    rss_pooled: float
    rss_within: float
    n: int
    groups: int
    dropped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        verdict = ("the group intercepts differ: do not pool" if self.p < 0.05
                   else "no evidence that the group intercepts differ")
        text = (f"F test for individual effects (pooled vs within): F = {self.F:.4f}, "
                f"df1 = {self.df1}, df2 = {self.df2}, p = {self.p:.4g} ({verdict})")
        if self.dropped:
            text += f"\nconstant within groups, absorbed by the group effects: {', '.join(self.dropped)}"
        return text


def panel_f_test(formula: str, data, group: str, *, na: str = "drop") -> PanelFTest:
    """F test of pooled least squares against group fixed effects (``plm::pFtest``).

    Parameters
    ----------
    formula : str
        The pooled model without random effects, e.g. ``"Reaction ~ Days"``.
    data : DataFrame or str
        The data or a shipped data set's name.
    group : str
        The column that identifies the panel units (individuals).
    na : {"drop", "error"}
        Rows with missing values in the used columns or in ``group``.

    Returns
    -------
    PanelFTest

    Examples
    --------
    >>> import multilevel as ml
    >>> test = ml.diagnostics.panel_f_test("Reaction ~ Days", "sleepstudy", group="Subject")
    >>> round(test.F, 4), test.df1, test.df2
    (15.3492, 17, 161)
    """
    from multilevel import datasets

    if isinstance(data, str):
        data = datasets.load(data)
    parsed = parse_formula(formula)
    if parsed.has_bars:
        raise FormulaError(
            f"panel_f_test compares pooled least squares with group fixed effects; write {formula!r} "
            f"without random-effect terms and name the groups with group=."
        )
    if not isinstance(group, str) or group not in getattr(data, "columns", []):
        raise DataError(f"group={group!r} is not a column of the data; name the column of the panel units.")
    if data[group].nunique() < 2:
        raise DataError(f"group {group!r} has one level; the F test needs at least two groups.")
    # the bar makes the model frame treat the group column like any used column (missing values)
    with_group = parse_formula(f"{formula} + (1 | {group})")
    design = build_design(with_group, model_frame(with_group, data, na=na))
    X, y = design.X, design.y
    codes = design.reterms[0].codes
    n_groups = design.reterms[0].n_levels
    n = len(y)
    rss_pooled, rank_pooled = _rss(X, y)
    slopes = [j for j, name in enumerate(design.x_names) if name != "(Intercept)"]
    Xw, yw = _demean(X[:, slopes], codes, n_groups), _demean(y[:, None], codes, n_groups)[:, 0]
    scale = np.maximum(np.linalg.norm(X[:, slopes], axis=0), 1.0)
    varying = np.linalg.norm(Xw, axis=0) > CONSTANT_TOL * scale
    dropped = [design.x_names[j] for j, keep in zip(slopes, varying) if not keep]
    rss_within, rank_within = _rss(Xw[:, varying], yw)
    df_pooled, df_within = n - rank_pooled, n - n_groups - rank_within
    if df_within <= 0:
        raise DataError(
            f"{n} rows in {n_groups} groups leave no residual degrees of freedom for the within model."
        )
    df1 = df_pooled - df_within
    F = ((rss_pooled - rss_within) / df1) / (rss_within / df_within)
    return PanelFTest(F=float(F), df1=int(df1), df2=int(df_within), p=float(stats.f.sf(F, df1, df_within)),
                      rss_pooled=rss_pooled, rss_within=rss_within, n=n, groups=n_groups,
                      dropped=dropped)


def _rss(X: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    if X.shape[1] == 0:
        return float(y @ y), 0
    beta, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    return float(resid @ resid), int(rank)


def _demean(M: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    counts = np.bincount(codes, minlength=n_groups).astype(float)
    means = np.zeros((n_groups, M.shape[1]))
    np.add.at(means, codes, M)
    return M - (means / counts[:, None])[codes]
