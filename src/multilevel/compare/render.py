"""Markdown and CSV renderings of a :class:`~multilevel.compare.table.Comparison`."""

from __future__ import annotations

import math

import pandas as pd

# Decimals per column: information criteria as lme4 prints them (3), elpd as loo (1-2).
DIGITS = {"elpd_loo": 2, "se": 2, "p_loo": 2, "elpd_diff": 2, "dse": 2, "weight": 3,
          "elpd_waic": 2, "se_waic": 2, "p_waic": 2, "AIC": 3, "BIC": 3, "logLik": 3,
          "deviance": 3, "Chisq": 4}


def format_cell(column: str, value) -> str:
    """One table cell as text: blanks for missing values, fixed decimals per column."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if column == "Pr(>Chisq)":
        return f"{value:.4g}"
    if isinstance(value, float) and column in DIGITS:
        return f"{value:.{DIGITS[column]}f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def markdown_table(table: pd.DataFrame) -> str:
    """A pipe table of a DataFrame (index first), cells formatted by :func:`format_cell`."""
    columns = [table.index.name or "", *map(str, table.columns)]
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"]
    for name, row in table.iterrows():
        cells = [str(name), *(format_cell(str(c), row[c]) for c in table.columns)]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def comparison_markdown(comparison) -> str:
    """The comparison table and its notes as markdown."""
    parts = ["## Model comparison", "", markdown_table(comparison.table)]
    if comparison.notes:
        parts += ["", "Notes:", ""] + [f"- {note}".replace("\n", "\n  ") for note in comparison.notes]
    return "\n".join(parts) + "\n"
