"""Predictions: population vs group level, new groups, predictive intervals.

Frequentist fits predict through :meth:`multilevel.freq.FreqFit.predict`; Bayesian fits
through :func:`predict_bayes` (``BayesFit.predict``); brms' draw arrays are
:func:`posterior_linpred`, :func:`posterior_epred` and :func:`posterior_predict`.
"""

from multilevel.predict.bayes import category_probabilities, linear_predictor_draws, predict_bayes
from multilevel.predict.categorical import category_draws
from multilevel.predict.draws import posterior_epred, posterior_linpred, posterior_predict

__all__ = ["category_draws", "category_probabilities", "linear_predictor_draws", "posterior_epred",
           "posterior_linpred", "posterior_predict", "predict_bayes"]
