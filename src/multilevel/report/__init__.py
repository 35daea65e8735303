"""Reports of fitted models: interval tables, figures, markdown and HTML, run folders.

The names are loaded on first use (PEP 562): the run-folder rules (:mod:`multilevel.report.runs`)
are read by the CLI before a fit without importing the figures' stack (matplotlib, scipy.stats).
"""

from multilevel.lazy import lazy_names

_NAMES = {
    **dict.fromkeys(("ReportContent", "interval_table", "prior_table", "report_content"),
                    "multilevel.report.content"),
    **dict.fromkeys(("ReportFigure", "forest_plot", "ppc_plot", "rank_plot", "report_figures"),
                    "multilevel.report.figures"),
    **dict.fromkeys(("fit_html", "render_html", "write_report"), "multilevel.report.html"),
    **dict.fromkeys(("fit_markdown", "markdown_table", "render_markdown"), "multilevel.report.markdown"),
    "atomic_folder": "multilevel.report.runs",
}

__all__ = ["ReportContent", "ReportFigure", "atomic_folder", "fit_html", "fit_markdown", "forest_plot",
           "interval_table", "markdown_table", "ppc_plot", "prior_table", "rank_plot", "render_html",
           "render_markdown", "report_content", "report_figures", "write_report"]

__getattr__, __dir__ = lazy_names(__name__, _NAMES)
