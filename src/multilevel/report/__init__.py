"""Reports of fitted models: credible-interval tables, markdown, run folders."""

from multilevel.report.markdown import fit_markdown, interval_table
from multilevel.report.runs import atomic_folder

__all__ = ["atomic_folder", "fit_markdown", "interval_table"]
