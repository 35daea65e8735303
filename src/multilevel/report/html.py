"""A self-contained HTML report (images embedded as base64 PNG) and its files.

:func:`write_report` writes ``report.html``, ``report.md`` and one PNG per figure
into a folder, atomically (all or nothing).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from multilevel.report.figures import report_figures
from multilevel.report.markdown import fit_markdown, interval_table
from multilevel.report.runs import atomic_folder

CSS = """body{font-family:system-ui,sans-serif;max-width:980px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}img{max-width:100%;margin:1em 0}
.warn{background:#fff3cd;padding:.6em}.ok{background:#e7f5e7;padding:.6em}
pre{white-space:pre-wrap}"""


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def _data_summary(fit) -> list[str]:
    frame = fit.design.frame
    items = [f"{fit.nobs} rows used"]
    if frame.n_dropped:
        items.append(f"{frame.n_dropped} rows removed for missing values")
    for term in fit.design.reterms:
        items.append(f"{term.n_levels} levels of {term.group}")
    return items


def render_html(fit, ci: float = 0.95, kind: str = "eti", title: str | None = None,
                images: dict[str, bytes] | None = None) -> str:
    """The report as one HTML string; ``images`` are PNG bytes by figure name."""
    table = interval_table(fit, ci=ci, kind=kind)
    bayes = hasattr(fit, "idata")
    label = f"{kind.upper()} {ci:.0%} credible intervals" if bayes else "estimates"
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title or fit.formula)}"
             f"</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(title or fit.formula)}</h1>",
             "<h2>Model</h2><ul>",
             f"<li>formula: <code>{html.escape(fit.formula)}</code></li>",
             f"<li>family: {html.escape(fit.family)}</li>"]
    if bayes:
        s = fit.settings
        parts.append(f"<li>sampler: {s.sampler}, {s.chains} chains × {s.draws} draws (tune {s.tune}), "
                     f"seed {s.seed}</li>")
        from multilevel.report.markdown import _describe_priors

        parts.append(f"<li>priors: {html.escape(_describe_priors(fit))}</li>")
    else:
        parts.append(f"<li>method: {getattr(fit, 'method', 'ml').upper()}</li>")
    parts.append("</ul><h2>Data</h2><ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in _data_summary(fit))
                 + "</ul>")
    parts.append(f"<h2>Parameters ({label})</h2>")
    parts.append(table.to_html(float_format=lambda v: f"{v:.4g}", classes="intervals", border=0))
    if bayes:
        report = fit.convergence
        css = "ok" if report.ok else "warn"
        parts.append(f"<h2>Convergence</h2><pre class='{css}'>{html.escape(str(report))}</pre>")
        parts.append(report.table.to_html(border=0))
    for name, png in (images or {}).items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{html.escape(name)}</h2><img alt='{html.escape(name)}' "
                     f"src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(fit, path: str | Path, ci: float = 0.95, kind: str = "eti", spec=None,
                 extra=None) -> Path:
    """Write report.html, report.md and the figures as PNGs into the folder ``path``.

    The folder is replaced atomically: either the whole report is there or nothing
    changed. ``extra(folder)`` may write more files into the temporary folder (the CLI
    adds the spec, the summary CSV and the posterior).

    Returns
    -------
    Path of report.html.
    """
    images = {name: _png(fig) for name, fig in report_figures(fit, ci=ci, kind=kind).items()}
    title = spec.name if spec is not None else None
    page = render_html(fit, ci=ci, kind=kind, title=title, images=images)
    markdown = fit_markdown(fit, spec=spec, ci=ci, kind=kind)
    markdown += "\n" + "\n".join(f"![{name}]({name}.png)" for name in images) + "\n"
    target = Path(path)
    with atomic_folder(target) as folder:
        (folder / "report.html").write_text(page, encoding="utf-8")
        (folder / "report.md").write_text(markdown, encoding="utf-8")
        for name, png in images.items():
            (folder / f"{name}.png").write_bytes(png)
        if extra is not None:
            extra(folder)
    return target / "report.html"

