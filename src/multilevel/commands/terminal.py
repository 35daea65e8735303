"""Plain-text tables sized to the terminal (the full report goes to the run folder's files)."""

from __future__ import annotations

import shutil

import pandas as pd

DEFAULT_WIDTH = 100   # when the output is not a terminal (a pipe, a file)
# columns of the interval table left out, in this order, when the terminal is too narrow
OPTIONAL_COLUMNS = ("mcse_mean", "ess_tail", "ess_bulk")


def terminal_width() -> int:
    """Columns of the terminal (``COLUMNS`` wins), or :data:`DEFAULT_WIDTH`; at least 40."""
    return max(40, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def format_table(table: pd.DataFrame, width: int | None = None, digits: int = 4,
                 index: bool = True, shrink: tuple[str, ...] = ()) -> str:
    """``table`` as plain text no wider than ``width`` columns.

    Numbers get ``digits`` significant digits. Text columns named in ``shrink`` are cut
    (with ``…``) until the table fits; a table still too wide continues below in blocks
    of columns (pandas' ``line_width``), so no line is wider than the terminal unless a
    single column is.

    Examples
    --------
    >>> t = pd.DataFrame({"estimate": [251.405], "note": ["a long text " * 5]}, index=["a"])
    >>> print(format_table(t, width=40, shrink=("note",)))
       estimate  note
    a     251.4  a long text a long text…
    """
    width = width or terminal_width()
    table = table.copy()
    text_columns = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    for column in text_columns:   # text reads left-aligned
        table[column] = table[column].astype(object).where(table[column].notna(), "").astype(str)

    def render(line_width) -> str:
        shown = table.copy()
        for column in text_columns:   # header and cells left-aligned to one width
            size = max(len(str(column)), int(shown[column].str.len().max()))
            shown[column] = shown[column].str.ljust(size)
        shown.columns = [str(c).ljust(max(len(str(c)), int(shown[c].str.len().max())))
                         if c in text_columns else c for c in table.columns]
        with pd.option_context("display.float_format", lambda v: f"{v:.{digits}g}",
                               "display.max_colwidth", None):
            text = shown.to_string(index=index, line_width=line_width)
        return "\n".join(line.rstrip() for line in text.splitlines())

    for column in shrink:
        excess = max(map(len, render(None).splitlines())) - (width - 3)   # pandas' wrap margin
        if excess <= 0 or column not in table.columns:
            continue
        cells = table[column].astype(str).str.rstrip()
        keep = max(20, int(cells.str.len().max()) - excess)
        table[column] = [c if len(c) <= keep else c[:keep - 1] + "…" for c in cells]
    return render(width)


def fit_text(content, width: int | None = None) -> str:
    """What ``multilevel fit`` / ``show`` print: the model, the interval table (and the
    variance components of a REML/ML fit) and the convergence verdict, sized to the
    terminal; priors, data and figures are in the run folder's report."""
    import textwrap

    width = width or terminal_width()
    label = max(len(k) for k, _ in content.model)
    lines = [content.title, ""] + [
        textwrap.fill(f"  {k.ljust(label)}  {v}", width, subsequent_indent=" " * (label + 4),
                      break_long_words=False, break_on_hyphens=False)
        for k, v in content.model]
    table, dropped = content.table, []
    for column in OPTIONAL_COLUMNS:   # a narrow terminal keeps the interval and R-hat in one block
        if max(map(len, format_table(table, width=10_000).splitlines())) <= width:
            break
        if column in table.columns:
            table = table.drop(columns=column)
            dropped.append(column)
    lines += ["", textwrap.fill(f"Parameters: {content.table_label}", width), "", format_table(table, width=width)]
    if dropped:
        lines.append(f"({', '.join(reversed(dropped))}: in summary.csv and the report)")
    if content.variance is not None:
        lines += ["", "Variance components", "", format_table(content.variance, width=width, index=False)]
    verdict = content.convergence_text.strip() or ("ok" if content.convergence_ok else "problems")
    verdict = "\n".join(textwrap.fill(line, width, subsequent_indent=" " * (len(line) - len(line.lstrip(" -")) ))
                         for line in verdict.splitlines())
    lines += ["", verdict if verdict.lower().startswith("convergence") else f"Convergence: {verdict}"]
    return "\n".join(lines)


def print_fit(content) -> None:
    """Print :func:`fit_text` to stdout."""
    print(fit_text(content))


def warning_text(message: str, width: int | None = None) -> str:
    r"""``warning: MESSAGE`` wrapped to the terminal, a multi-line message's own lines
    (a convergence report's problems) indented under it.

    Examples
    --------
    >>> print(warning_text("m: Convergence problems:\n  - R-hat above 1.01 for b", width=24))
    warning: m:
      Convergence problems:
        - R-hat above 1.01
          for b
    """
    from multilevel.display import bullets

    return bullets([f"warning: {message}"], width or terminal_width())[2:]
