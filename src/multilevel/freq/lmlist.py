"""lme4's ``lmList``: a separate linear model per level of a grouping factor.

``lmlist("Reaction ~ Days | Subject", data)`` fits ``Reaction ~ Days`` by least squares
to each subject's rows (R's ``lm`` per group, the formula evaluated on that group's
rows), the no-pooling estimates a mixed model shrinks. As lme4:

- the coefficient table has a row per level and a column per coefficient, NaN where a
  group's design cannot estimate one (too few rows, a factor level absent);
- the residual SD is pooled over the groups, √(Σ RSS / Σ residual df);
- ``confint()`` gives each group's own ``lm`` interval, as lme4 1.1-31 computes it
  (``pool=True``: with the pooled SD and df instead).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.errors import DataError, DataWarning, FormulaError, check_level, warn


@dataclass(frozen=True)
class GroupLM:
    """One group's least-squares fit: coefficients (NaN where aliased), the weighted
    residual sum of squares, the residual df and (X'WX)⁻¹ of the estimated ones."""

    coef: pd.Series
    rss: float
    df_resid: int
    cov_unscaled: pd.DataFrame


@dataclass
class LMList:
    """Per-group least-squares fits (lme4's ``lmList4``).

    Attributes
    ----------
    formula : str
    group : str
        The grouping column.
    fits : dict
        Level → :class:`GroupLM`.
    """

    formula: str
    group: str
    fits: dict = field(repr=False)

    @property
    def coef(self) -> pd.DataFrame:
        """Levels × coefficients (lme4's ``coef(lmList)``), NaN where a group's design does
        not identify one."""
        names = list(dict.fromkeys(n for f in self.fits.values() for n in f.coef.index))
        rows = {level: f.coef.reindex(names) for level, f in self.fits.items()}
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis(self.group)

    @property
    def df_resid(self) -> int:
        """The pooled residual degrees of freedom."""
        return int(sum(f.df_resid for f in self.fits.values()))

    @property
    def sigma(self) -> float:
        """The pooled residual SD, √(Σ RSS / Σ residual df) (lme4's ``sigma(lmList)``)."""
        if self.df_resid == 0:
            raise DataError("No residual degrees of freedom in any group: the pooled SD cannot "
                            "be estimated (each group has as many rows as coefficients).")
        return float(np.sqrt(sum(f.rss for f in self.fits.values()) / self.df_resid))

    def confint(self, level: float = 0.95, pool: bool = False) -> pd.DataFrame:
        """t intervals per level and coefficient: columns (coefficient, ``lower``/``upper``).

        ``pool=False`` (what lme4 1.1-31's ``confint(lmList)`` computes: its ``pool``
        default is not found on the object, so each group's ``lm`` interval, with the
        group's own SD and residual df; NaN where a group has no residual df);
        ``pool=True``: the pooled SD and df (:attr:`sigma`, :attr:`df_resid`).
        """
        from scipy import stats

        level = check_level(level, "level")
        table = self.coef
        lower, upper = table.copy(), table.copy()
        for lvl, f in self.fits.items():
            if pool:
                half = stats.t.ppf((1 + level) / 2, self.df_resid) * self.sigma
            elif f.df_resid > 0:
                half = stats.t.ppf((1 + level) / 2, f.df_resid) * np.sqrt(f.rss / f.df_resid)
            else:
                half = np.nan
            se = np.sqrt(np.diag(f.cov_unscaled.to_numpy()))
            names = list(f.cov_unscaled.index)
            lower.loc[lvl, names] = f.coef[names].to_numpy() - half * se
            upper.loc[lvl, names] = f.coef[names].to_numpy() + half * se
        out = pd.concat({"lower": lower, "upper": upper}, axis=1).swaplevel(axis=1)
        return out[[(c, b) for c in table.columns for b in ("lower", "upper")]]

    def __repr__(self) -> str:
        pooled = (f"pooled residual SD {self.sigma:.4g} on {self.df_resid} df" if self.df_resid
                  else "no residual df")
        return (f"lmList of {self.formula!r} by {self.group!r}: {len(self.fits)} groups, {pooled}\n"
                f"{self.coef.to_string()}")


def _least_squares(parsed, rows: pd.DataFrame, weights: str | None) -> GroupLM:
    from multilevel.formula.design import least_squares_design
    from multilevel.formula.frame import model_frame

    frame = model_frame(parsed, rows, na="error", weights=weights)
    X, y, names, dropped, offset = least_squares_design(parsed, frame)
    w = np.ones(len(y)) if frame.weights is None else np.asarray(frame.weights, dtype=float)
    y = y - (0.0 if offset is None else offset)
    sw = np.sqrt(w)
    beta, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
    resid = (y - X @ beta) * sw
    cov = np.linalg.inv((X * w[:, None]).T @ X) if X.shape[1] else np.zeros((0, 0))
    coef = pd.Series(beta, index=names).reindex([*names, *dropped])
    return GroupLM(coef=coef, rss=float(resid @ resid), df_resid=len(y) - X.shape[1],
                   cov_unscaled=pd.DataFrame(cov, index=names, columns=names))


def lmlist(formula: str, data, weights: str | None = None) -> LMList:
    """Fit ``y ~ x | g`` as one linear model per level of ``g`` (lme4's ``lmList``).

    Parameters
    ----------
    formula : str
        A model formula, a bar and one grouping column: ``"Reaction ~ Days | Subject"``.
    data : DataFrame or str
        The data, or the name of a shipped data set.
    weights : str, optional
        A column of prior weights (R's ``lm(weights = )``).

    Returns
    -------
    LMList

    Raises
    ------
    FormulaError
        Without exactly one grouping column after the bar.

    Examples
    --------
    >>> fits = lmlist("Reaction ~ Days | Subject", "sleepstudy")
    >>> fits.coef.loc["308"].round(3).tolist(), round(fits.sigma, 3)
    ([244.193, 21.765], 25.592)
    """
    from multilevel.formula.parse import _find_top, column_names, parse_formula

    if not isinstance(formula, str) or _find_top(formula, "|") < 0:
        # a fit's repr is its whole summary table: name its type instead
        got = repr(formula) if isinstance(formula, str) else f"a {type(formula).__name__}"
        raise FormulaError(f"lmlist needs a formula with a bar and a grouping column, as "
                           f"'Reaction ~ Days | Subject'; got {got}.")
    bar = _find_top(formula, "|")
    model, group = formula[:bar].strip(), formula[bar + 1:].strip()
    if not re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*|`[^`]+`", group):   # one (R) name
        raise FormulaError(f"lmlist groups by one column (lme4's lmList: no * or /); got {group!r}. "
                           "Make the combined grouping a column first.")
    group = group.strip("`")
    if isinstance(data, str):
        from multilevel import datasets

        data = datasets.load(data)
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame or a shipped dataset name, got "
                        f"{type(data).__name__}.")
    if group not in data.columns:
        raise DataError(f"The grouping column {group!r} is not in the data. Available columns: "
                        f"{', '.join(map(str, data.columns))}.")
    parsed = parse_formula(model)
    if parsed.bars:
        raise FormulaError(f"lmlist fits fixed effects per group; {model!r} has group-effect terms.")
    used = [c for c in column_names(parsed.text) if c in data.columns] + [group]
    used += [weights] if weights is not None and weights in data.columns else []
    incomplete = data[used].isna().any(axis=1).to_numpy()
    if incomplete.all():
        raise DataError(f"No row of the data is complete in the columns of {formula!r} ({used}): "
                        "there is nothing to fit; check those columns for missing values.")
    if incomplete.any():
        warn(f"Removed {int(incomplete.sum())} of {len(data)} rows with missing values in column(s) "
             f"{[c for c in used if data[c].isna().any()]} (R's na.omit).", DataWarning)
        data = data.loc[~incomplete]
    from multilevel.formula.frame import group_codes

    codes, levels = group_codes(data, (group,))
    fits = {level: _least_squares(parsed, data.loc[codes == i], weights)
            for i, level in enumerate(levels)}
    return LMList(formula=formula, group=group, fits=fits)
