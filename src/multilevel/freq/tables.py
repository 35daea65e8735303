"""The Wald coefficient table shared by the result classes and their printing."""

from __future__ import annotations

import numpy as np
import pandas as pd

from multilevel.errors import check_level


def wald_table(est: pd.Series, se: pd.Series, stat: str, ci: float | None,
               df_resid: float | None = None, p_values: bool = False) -> pd.DataFrame:
    """Estimate, SE, t or z statistic, optional p-value and Wald interval (normal or t)."""
    from scipy import stats  # imported here: scipy.stats costs ~0.5 s of start-up

    table = pd.DataFrame({"estimate": est, "std_error": se, stat: est / se})
    dist = stats.norm if df_resid is None else stats.t(df_resid)
    if p_values:
        table["p_value"] = 2 * dist.sf(np.abs(table[stat]))
    if ci is not None:
        ci = check_level(ci)
        half = dist.ppf(0.5 + float(ci) / 2) * se
        table["lower"], table["upper"] = est - half, est + half
        table.attrs.update(ci=float(ci), kind="wald")
    return table
