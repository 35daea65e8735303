"""What a preparation step returns: the new data and a report of what changed."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


@dataclass(frozen=True)
class PrepReport:
    """What a step did, in a table a reader can check.

    Attributes
    ----------
    step : str
        The function that made it (``"impute"``, ``"target_encode"``, ...).
    table : DataFrame
        One row per column (or category, or level) the step touched.
    notes : list of str
        Caveats worth reading (values left missing, new columns, ...).
    encoder : object or None
        Encoders only: the fitted mapping, with ``transform(newdata)`` for new rows.
    """

    step: str
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    encoder: object = None

    def __str__(self) -> str:
        lines = [f"{self.step}:", self.table.to_string()]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


@dataclass(frozen=True)
class PrepResult:
    """The prepared data and the report; unpacks as ``data, report = ...``."""

    data: pd.DataFrame
    report: PrepReport

    def __iter__(self):
        return iter((self.data, self.report))
