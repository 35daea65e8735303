"""Reports of fitted models: interval tables, figures, markdown and HTML, run folders."""

from multilevel.report.content import ReportContent, interval_table, prior_table, report_content
from multilevel.report.figures import ReportFigure, forest_plot, ppc_plot, rank_plot, report_figures
from multilevel.report.html import fit_html, render_html, write_report
from multilevel.report.markdown import fit_markdown, markdown_table, render_markdown
from multilevel.report.runs import atomic_folder

__all__ = ["ReportContent", "ReportFigure", "atomic_folder", "fit_html", "fit_markdown", "forest_plot",
           "interval_table", "markdown_table", "ppc_plot", "prior_table", "rank_plot", "render_html",
           "render_markdown", "report_content", "report_figures", "write_report"]
