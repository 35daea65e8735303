"""The markdown report of a fit (the same sections as the HTML report)."""

from __future__ import annotations

import pandas as pd

from multilevel.report.content import ReportContent, interval_table, report_content

__all__ = ["fit_markdown", "interval_table", "markdown_table", "render_markdown"]


def markdown_table(table: pd.DataFrame, digits: int = 4, index: bool = True) -> str:
    """A DataFrame as a GitHub-flavoured markdown table (``|`` in cells escaped)."""
    cols = ([table.index.name or "parameter"] if index else []) + [str(c) for c in table.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name, row in table.iterrows():
        cells = [_cell(v, digits) for v in row]
        if index:
            cells = [str(name), *cells]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def _cell(value, digits: int) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def render_markdown(content: ReportContent, figures: list[tuple[str, str]] = (),
                    not_drawn: list[str] = ()) -> str:
    """Lay out a report's sections as markdown.

    Parameters
    ----------
    content : ReportContent
    figures : list of (caption, relative path)
        Images linked (not embedded) at the end.
    not_drawn : list of str
        Plots that do not apply to this model, with the reason.
    """
    parts = [f"# {content.title}", "", "## Model", ""]
    parts += [f"- {label}: {_inline(label, value)}" for label, value in content.model]
    if content.priors is not None:
        parts += ["", "## Priors", "", markdown_table(content.priors, index=False)]
    parts += ["", "## Data", ""] + [f"- {label}: {value}" for label, value in content.data]
    if len(content.groups):
        parts += ["", markdown_table(content.groups, index=False)]
    parts += ["", f"## Parameters ({content.table_heading})", "", f"{content.table_label}.", "",
              markdown_table(content.table)]
    if content.variance is not None:
        parts += ["", "## Variance components", "", markdown_table(content.variance, index=False)]
    if content.practical is not None:
        parts += ["", "## Practical significance", "", f"{content.practical_label}.", "",
                  markdown_table(content.practical)]
    parts += ["", "## Convergence", "", content.convergence_text]
    if content.convergence_table is not None:
        parts += ["", markdown_table(content.convergence_table)]
    if figures or not_drawn:
        parts += ["", "## Plots"]
        if not_drawn:
            parts += ["", "Not drawn:", ""] + [f"- {n}" for n in not_drawn]
        for caption, path in figures:
            parts += ["", f"![{caption}]({path})", "", f"*{caption}*"]
    return "\n".join(parts) + "\n"


def _inline(label: str, value: str) -> str:
    return f"`{value}`" if label.startswith("formula") else value


def fit_markdown(fit, spec=None, ci: float = 0.95, kind: str = "eti",
                 figures: list[tuple[str, str]] = ()) -> str:
    """A markdown report: model, priors, data, interval table, convergence (and plot links).

    Parameters
    ----------
    fit : BayesFit, FreqFit or OLSFit
    spec : ModelSpec, optional
        Names the report and its data source.
    ci : float
        Level of the intervals.
    kind : {"eti", "hdi"}
        Credible-interval kind (Bayesian fits; ML/REML fits get Wald intervals).
    figures : list of (caption, relative path)

    Examples
    --------
    >>> import multilevel as ml
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> print(fit_markdown(m).splitlines()[0])
    # Reaction ~ Days + (Days | Subject)
    """
    return render_markdown(report_content(fit, spec=spec, ci=ci, kind=kind), figures)
