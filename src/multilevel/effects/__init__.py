"""Interpreting a fit: predictions, comparisons and slopes (marginaleffects), estimated
marginal means, trends and contrasts (emmeans), hypotheses (brms), posterior descriptions
(bayestestR) and the Bayesian R² (brms), for FreqFit and BayesFit alike."""

from multilevel.effects.describe import describe_posterior
from multilevel.effects.emm import emmeans
from multilevel.effects.grid import datagrid
from multilevel.effects.hypothesis import hypothesis
from multilevel.effects.marginal import comparisons, predictions, slopes
from multilevel.effects.posterior import eti, hdi, p_direction, rope_share, savage_dickey
from multilevel.effects.r2 import loo_r2, r2_bayes
from multilevel.effects.trends import emtrends

__all__ = ["comparisons", "datagrid", "describe_posterior", "emmeans", "emtrends", "eti", "hdi",
           "hypothesis", "loo_r2", "p_direction", "predictions", "r2_bayes", "rope_share", "savage_dickey", "slopes"]
