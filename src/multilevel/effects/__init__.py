"""Interpreting a fit: predictions, comparisons and slopes (marginaleffects), estimated
marginal means and contrasts (emmeans), hypotheses, posterior descriptions (bayestestR)
and the Bayesian R² (brms), for FreqFit and BayesFit alike."""

from multilevel.effects.grid import datagrid
from multilevel.effects.marginal import comparisons, predictions, slopes

__all__ = ["comparisons", "datagrid", "predictions", "slopes"]
