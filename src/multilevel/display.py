"""Plain-text and HTML renderings shared by the result objects' ``__repr__`` and
``_repr_html_`` (fits, comparisons, regularization paths, prior comparisons).

Plain text: numbers with a fixed count of significant digits, no wider than the
terminal (pandas wraps the columns into blocks). HTML: small tables for notebooks
and the documentation site, every text escaped.
"""

from __future__ import annotations

import html
import shutil

import pandas as pd

__all__ = ["bullets", "html_pre", "html_section", "html_table", "text_table"]

DEFAULT_WIDTH = 100


def _number(digits: int):
    return lambda v: f"{v:.{digits}g}"


def _blank_missing_text(table: pd.DataFrame) -> pd.DataFrame:
    """Missing cells of text columns (``var2`` of a variance row) print as blanks."""
    text = [c for c in table.columns if not pd.api.types.is_numeric_dtype(table[c])]
    if not text:
        return table
    table = table.copy()
    for column in text:
        table[column] = table[column].astype(object).where(table[column].notna(), "")
    return table


def text_table(table: pd.DataFrame, digits: int = 4, index: bool = True,
               width: int | None = None) -> str:
    """``table`` as plain text, numbers to ``digits`` significant digits, no wider than
    ``width`` (default: the terminal's, or 100) unless a single column is.

    Examples
    --------
    >>> print(text_table(pd.DataFrame({"estimate": [251.4053]}, index=["(Intercept)"])))
                 estimate
    (Intercept)     251.4
    """
    width = width or shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    with pd.option_context("display.max_colwidth", None):
        return _blank_missing_text(table).to_string(index=index, float_format=_number(digits), line_width=width,
                               na_rep="")


def bullets(items: list[str], width: int | None = None) -> str:
    r"""``- item`` lines wrapped to ``width`` (default: the terminal's), continued indented;
    an item's own indented ``- `` lines (a convergence report's problems) keep their
    indentation and hang their continuations under their text.

    Examples
    --------
    >>> print(bullets(["one two three four", "five"], width=12))
    - one two
      three four
    - five
    >>> print(bullets(["fold 1: problems:\n  - R-hat too high for b"], width=20))
    - fold 1: problems:
        - R-hat too high
          for b
    """
    import textwrap

    width = width or shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns
    out = []
    for item in items:
        for i, line in enumerate(item.splitlines()):
            body = line.lstrip(" ")
            first = ("- " if i == 0 else "  ") + " " * (len(line) - len(body))
            hang = " " * len(first) + ("  " if i > 0 and body.startswith("- ") else "")
            out.append(textwrap.fill(body, width, initial_indent=first, subsequent_indent=hang,
                                     break_long_words=False, break_on_hyphens=False))
    return "\n".join(out)


def html_table(table: pd.DataFrame, digits: int = 4, index: bool = True) -> str:
    """``table`` as an HTML table (cells escaped, numbers to ``digits`` significant digits).

    Examples
    --------
    >>> html_table(pd.DataFrame({"a": [1.23456]}, index=["x<y"])).count("<td>")
    1
    """
    return _blank_missing_text(table).to_html(index=index, float_format=_number(digits), escape=True, border=0,
                         na_rep="", classes="multilevel-table")


def html_pre(text: str) -> str:
    """Preformatted, escaped text (a convergence report, notes)."""
    return f"<pre>{html.escape(text)}</pre>"


def html_section(title: str, parts: list[tuple[str | None, str]]) -> str:
    """A titled block of (heading, HTML fragment) parts; headings are escaped."""
    body = [f"<p><strong>{html.escape(title)}</strong></p>"]
    for heading, fragment in parts:
        if heading:
            body.append(f"<p><em>{html.escape(heading)}</em></p>")
        body.append(fragment)
    return "<div class=\"multilevel-result\">" + "\n".join(body) + "</div>"
