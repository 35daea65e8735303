"""Predictions: population vs group level, new groups, predictive intervals.

Frequentist fits predict through :meth:`multilevel.freq.FreqFit.predict`; Bayesian fits
through :func:`predict_bayes` (``BayesFit.predict``).
"""

from multilevel.predict.bayes import category_probabilities, linear_predictor_draws, predict_bayes
from multilevel.predict.categorical import category_draws

__all__ = ["category_draws", "category_probabilities", "linear_predictor_draws", "predict_bayes"]
