"""Variance inflation factors, generalized for factors (Fox & Monette 1992), as R's ``car::vif``.

For the coefficients of a model with covariance ``V`` (without the intercept), let
``R = cov2cor(V)``. The generalized VIF of a term whose coefficients are the set ``j``
is ``det(R_jj) · det(R_-j-j) / det(R)``; for a one-column term it is the ordinary VIF
``1 / (1 - R²_j)``. For least squares ``V ∝ (X'X)⁻¹``, so the GVIF depends on the model
matrix only; for a fitted mixed model car uses the fit's ``vcov`` and so do we.
``GVIF^(1/(2 Df))`` makes factors with ``Df`` columns comparable with one-column terms
(it is on the scale of a standard-error inflation).

Only numpy, pandas and formulae are used: no PyMC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import DataError, DataWarning, FitError, FormulaError, warn
from multilevel.formula import build_design, model_frame, parse_formula

VIF_HIGH = 10.0      # the usual "serious collinearity" rule of thumb
VIF_MODERATE = 5.0


def vif(data_or_fit, formula: str | None = None, *, na: str = "drop") -> pd.DataFrame:
    """Variance inflation factor and tolerance per term (generalized VIF for factors).

    Parameters
    ----------
    data_or_fit : DataFrame or fitted model
        The data, with ``formula``; or a REML/ML fit from :func:`multilevel.fit` (its
        covariance of the fixed effects is used, as ``car::vif`` does for ``lmer``).
    formula : str
        Needed with data: ``"y ~ x1 + x2 + C(f)"``. Random-effect bars are ignored
        (the VIF concerns the fixed effects).
    na : {"drop", "error"}
        Rows with missing values in used columns: dropped with a warning, or refused.

    Returns
    -------
    DataFrame
        One row per term: ``term``, ``VIF``, ``tolerance`` (``1/VIF``) and, when some term
        has more than one column (a factor), car's ``GVIF`` (equal to ``VIF``), ``Df``
        (columns of the term) and ``GVIF^(1/(2Df))``. ``attrs["notes"]`` lists caveats
        (interactions, terms above 5 or 10).

    Raises
    ------
    FormulaError
        Fewer than two terms besides the intercept.
    DataError
        Aliased (perfectly collinear) columns: their VIF is infinite.

    Examples
    --------
    >>> import multilevel as ml
    >>> ml.vif(ml.datasets.load("mtcars"), "mpg ~ disp + hp + wt + drat").round(3)
       term    VIF  tolerance
    0  disp  8.209      0.122
    1    hp  2.894      0.345
    2    wt  5.097      0.196
    3  drat  2.280      0.439
    """
    if isinstance(data_or_fit, pd.DataFrame):
        if not isinstance(formula, str):
            raise FormulaError("vif(data, formula) needs a formula such as 'y ~ x1 + x2 + x3'.")
        V, names, slices, intercept = _from_data(data_or_fit, formula, na)
    elif hasattr(data_or_fit, "design") and hasattr(data_or_fit, "fixef"):
        if formula is not None:
            raise FormulaError("Pass either (data, formula) or a fitted model, not both.")
        V, names, slices, intercept = _from_fit(data_or_fit)
    else:
        raise DataError(
            f"vif needs a DataFrame and a formula, or a fitted model; got {type(data_or_fit).__name__}."
        )
    return _gvif_table(V, names, slices, intercept)


def _from_data(data: pd.DataFrame, formula: str, na: str):
    parsed = parse_formula(formula)
    design = build_design(parsed, model_frame(parsed, data, na=na), drop_rank_deficient=False)
    X = design.X
    rank = np.linalg.matrix_rank(X)
    if rank < X.shape[1]:
        aliased = _aliased(X, design.x_names)
        raise DataError(
            f"The model matrix of {formula!r} has aliased columns ({', '.join(aliased)}): they are "
            "perfectly collinear with the others, so their VIF is infinite. Remove them."
        )
    # (X'X)⁻¹ via the QR factor: cov2cor makes σ² irrelevant
    R = np.linalg.qr(X, mode="r")
    Rinv = np.linalg.solve(R, np.eye(R.shape[0]))
    V = Rinv @ Rinv.T
    return V, design.x_names, _term_slices(design.spec.fixed_matrix), "(Intercept)" in design.x_names


def _from_fit(fit):
    design = fit.design
    if not hasattr(fit, "vcov"):
        raise FitError(
            f"{type(fit).__name__} has no covariance of the fixed effects; for a Bayesian fit "
            "call vif(data, formula) (the VIF of least squares depends on the design only)."
        )
    V = np.atleast_2d(np.asarray(fit.vcov, dtype=float))
    slices = _term_slices(design.spec.fixed_matrix)
    if design.spec.kept_columns is not None:   # rank-deficient columns were dropped by the fit
        raise DataError(
            f"The fit dropped aliased columns ({', '.join(design.dropped_columns)}); their VIF is "
            "infinite. Refit without them."
        )
    return V, design.x_names, slices, "(Intercept)" in design.x_names


def _term_slices(fixed_matrix) -> dict[str, slice]:
    return {name: sl for name, sl in fixed_matrix.slices.items() if name != "Intercept"}


def _aliased(X: np.ndarray, names: list[str]) -> list[str]:
    kept: list[int] = []
    for j in range(X.shape[1]):
        if np.linalg.matrix_rank(X[:, kept + [j]]) == len(kept) + 1:
            kept.append(j)
    return [names[j] for j in range(X.shape[1]) if j not in kept]


def _gvif_table(V: np.ndarray, names: list[str], slices: dict[str, slice], intercept: bool) -> pd.DataFrame:
    keep = [i for i, n in enumerate(names) if n != "(Intercept)"]
    terms = list(slices)
    if len(terms) < 2:
        raise FormulaError(
            f"VIF needs at least two terms besides the intercept; the model has {terms or 'none'}."
        )
    offset = 1 if intercept else 0  # slices count the intercept column; V without it
    V = V[np.ix_(keep, keep)]
    sd = np.sqrt(np.diag(V))
    Rm = V / np.outer(sd, sd)
    logdet_all = _logdet(Rm)
    rows, caveats = [], []
    for term in terms:
        sl = slices[term]
        idx = np.arange(sl.start - offset, sl.stop - offset)
        rest = np.setdiff1d(np.arange(Rm.shape[0]), idx)
        log_gvif = _logdet(Rm[np.ix_(idx, idx)]) + _logdet(Rm[np.ix_(rest, rest)]) - logdet_all
        g = float(np.exp(log_gvif))
        rows.append((term, g, 1.0 / g, len(idx), g ** (1.0 / (2 * len(idx)))))
    table = pd.DataFrame(rows, columns=["term", "VIF", "tolerance", "Df", "GVIF^(1/(2Df))"])
    if not intercept:
        caveats.append("no intercept: VIFs are computed from uncentred cross-products and may not be sensible")
    interactions = [t for t in terms if ":" in t]
    if interactions:
        caveats.append(
            f"the model has interactions ({', '.join(interactions)}): VIFs of their main effects "
            "depend on where the variables are centred; centre them before reading the VIFs"
        )
    if caveats:
        warn("; ".join(caveats) + ".", DataWarning)
    notes = list(caveats)
    high = table.loc[table["VIF"] > VIF_HIGH, "term"].tolist()
    moderate = table.loc[(table["VIF"] > VIF_MODERATE) & (table["VIF"] <= VIF_HIGH), "term"].tolist()
    if high:
        notes.append(f"VIF above {VIF_HIGH:g} (serious collinearity): {', '.join(high)}")
    if moderate:
        notes.append(f"VIF between {VIF_MODERATE:g} and {VIF_HIGH:g} (moderate): {', '.join(moderate)}")
    table["GVIF"] = table["VIF"]
    if (table["Df"] > 1).any():   # car's layout: GVIF, Df, GVIF^(1/(2Df)) beside VIF and tolerance
        table = table[["term", "VIF", "tolerance", "GVIF", "Df", "GVIF^(1/(2Df))"]]
    else:
        table = table[["term", "VIF", "tolerance"]]
    table.attrs["notes"] = notes
    return table


def _logdet(M: np.ndarray) -> float:
    sign, logdet = np.linalg.slogdet(M)
    if sign <= 0:
        raise DataError("The covariance of the coefficients is singular: some terms are aliased.")
    return float(logdet)
