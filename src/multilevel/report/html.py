"""A self-contained HTML report (images embedded as base64 PNG) and the report folder.

:func:`write_report` writes ``report.html``, ``report.md`` and one PNG per figure
into a folder, atomically (all or nothing). The HTML needs no other file: styles
are inline and images are ``data:`` URIs, so it can be mailed or opened anywhere.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from multilevel.report.content import ReportContent, report_content
from multilevel.report.figures import ReportFigure, report_figures, report_x
from multilevel.report.markdown import render_markdown
from multilevel.report.runs import atomic_folder

CSS = """body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child,table.priors td,table.priors th{text-align:left}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}dt{font-weight:600}dd{margin:0}
figure{margin:1.5em 0}img{max-width:100%}figcaption{font-size:13px;color:#555}
.warn{background:#fff3cd;padding:.6em}.ok{background:#e7f5e7;padding:.6em}pre{white-space:pre-wrap}"""


def _table(table: pd.DataFrame, index: bool = True, cls: str = "") -> str:
    return table.to_html(index=index, border=0, classes=cls or None, na_rep="",
                         float_format=lambda v: f"{v:.4g}")


def _pairs(rows: list[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{_value(k, v)}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def _value(label: str, value: str) -> str:
    return f"<code>{html.escape(value)}</code>" if label.startswith("formula") else html.escape(value)


def render_html(content: ReportContent, figures: list[ReportFigure] = (), not_drawn: list[str] = ()) -> str:
    """Lay out a report's sections as one HTML page with the figures embedded."""
    title = html.escape(content.title)
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
             f"<style>{CSS}</style></head><body>", f"<h1>{title}</h1>",
             "<section id='model'><h2>Model</h2>", _pairs(content.model), "</section>"]
    if content.priors is not None:
        parts += ["<section id='priors'><h2>Priors</h2>", _table(content.priors, False, "priors"),
                  "</section>"]
    parts += ["<section id='data'><h2>Data</h2>", _pairs(content.data)]
    if len(content.groups):
        parts.append(_table(content.groups, False, "groups"))
    parts += ["</section>", f"<section id='parameters'><h2>Parameters ({content.table_heading})</h2>",
              f"<p>{html.escape(content.table_label)}.</p>", _table(content.table, True, "intervals"),
              "</section>"]
    if content.variance is not None:
        parts += ["<section id='variance'><h2>Variance components</h2>",
                  _table(content.variance, False, "variance"), "</section>"]
    if content.practical is not None:
        parts += ["<section id='practical'><h2>Practical significance</h2>",
                  f"<p>{html.escape(content.practical_label)}.</p>",
                  _table(content.practical, True, "practical"), "</section>"]
    css = "ok" if content.convergence_ok else "warn"
    parts += ["<section id='convergence'><h2>Convergence</h2>",
              f"<pre class='{css}'>{html.escape(content.convergence_text)}</pre>"]
    if content.convergence_table is not None:
        parts.append(_table(content.convergence_table, True, "convergence"))
    parts.append("</section>")
    if figures or not_drawn:
        parts.append("<section id='plots'><h2>Plots</h2>")
        if not_drawn:
            parts.append("<p>Not drawn:</p><ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in not_drawn)
                         + "</ul>")
        for fig in figures:
            data = base64.b64encode(fig.png).decode("ascii")
            parts.append(f"<figure id='fig-{html.escape(fig.name)}'><img alt='{html.escape(fig.name)}' "
                         f"src='data:image/png;base64,{data}'><figcaption>{html.escape(fig.caption)}"
                         "</figcaption></figure>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def fit_html(fit, spec=None, ci: float = 0.95, kind: str = "eti", plots: bool = True) -> str:
    """The HTML report of a fit as a string (see :func:`write_report`)."""
    content = report_content(fit, spec=spec, ci=ci, kind=kind)
    x = report_x(fit, spec)
    figures, not_drawn = report_figures(fit, content.table, x=x) if plots else ([], [])
    return render_html(content, figures, not_drawn)


def write_report(fit, path: str | Path, ci: float = 0.95, kind: str = "eti", spec=None,
                 plots: bool = True, extra=None, content: ReportContent | None = None,
                 protect=()) -> Path:
    """Write ``report.html``, ``report.md`` and the figures as PNGs into the folder ``path``.

    Parameters
    ----------
    fit : BayesFit, FreqFit or OLSFit
    path : str or Path
        The report folder: new, or a run folder this package wrote, which is replaced
        when the new one is complete (:func:`multilevel.report.runs.check_target`).
    ci : float
        Level of the intervals (0.95).
    kind : {"eti", "hdi"}
        Equal-tailed or highest-density credible intervals (Bayesian fits; ML/REML fits
        get Wald intervals of the fixed effects).
    spec : ModelSpec, optional
        Names the report and its data source; its ``[report] x`` is the group panels'
        x variable (a SpecError before anything is written when it is not a numeric
        predictor of the model).
    plots : bool
        Draw the figures (:func:`multilevel.report.report_figures`).
    extra : callable, optional
        ``extra(folder)`` writes more files into the temporary folder before it is
        moved into place (the CLI adds the spec, the summary CSV and the posterior).
        With ``plots`` it runs in one of the processes that render the figures, so
        only the files it writes persist.
    content : ReportContent, optional
        Already computed by :func:`multilevel.report.report_content` (with the same
        ``spec``, ``ci`` and ``kind``); computed here otherwise.
    protect : iterable of paths
        Files the folder must not replace or hold (the CLI passes the spec and its data).

    Returns
    -------
    Path
        ``path / "report.html"``.

    Examples
    --------
    >>> import multilevel as ml, tempfile, pathlib
    >>> m = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", method="reml")
    >>> page = write_report(m, pathlib.Path(tempfile.mkdtemp()) / "report")
    >>> sorted(p.name for p in page.parent.iterdir())
    ['.multilevel-run', 'caterpillar.png', 'forest.png', 'groups.png', 'report.html', 'report.md', 'residuals.png']
    """
    if content is None:
        content = report_content(fit, spec=spec, ci=ci, kind=kind)
    x = report_x(fit, spec)
    target = Path(path)
    with atomic_folder(target, protect=protect) as folder:
        alongside = [] if extra is None else [lambda: extra(folder)]
        if plots:   # the extra files are written by the figures' worker processes meanwhile
            figures, not_drawn = report_figures(fit, content.table, alongside=alongside, x=x)
        else:
            figures, not_drawn = [], []
            for job in alongside:
                job()
        page = render_html(content, figures, not_drawn)
        markdown = render_markdown(content, [(f.caption, f"{f.name}.png") for f in figures], not_drawn)
        (folder / "report.html").write_text(page, encoding="utf-8")
        (folder / "report.md").write_text(markdown, encoding="utf-8")
        for fig in figures:
            (folder / f"{fig.name}.png").write_bytes(fig.png)
    return target / "report.html"
