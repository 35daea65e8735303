"""Reports of fitted models: credible-interval tables, figures, markdown and HTML, run folders."""

from multilevel.report.figures import forest_plot, ppc_plot, rank_plot, report_figures
from multilevel.report.html import render_html, write_report
from multilevel.report.markdown import fit_markdown, interval_table
from multilevel.report.runs import atomic_folder

__all__ = ["atomic_folder", "fit_markdown", "forest_plot", "interval_table", "ppc_plot", "rank_plot",
           "render_html", "report_figures", "write_report"]
