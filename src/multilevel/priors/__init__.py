"""Priors: per-term distributions and presets on the fixed-effect slopes.

``ml.fit(..., priors=None)`` uses Bambi's weakly-informative, data-scaled defaults.
A preset (ridge, lasso, elastic net, horseshoe, regularized horseshoe) replaces the
priors of all slopes; a dict gives per-term priors (``{"Days": Prior("Normal", mu=0,
sigma=10)}``) and, under the key ``"common"``, a preset. Importing this module does
not import PyMC.
"""

from multilevel.priors.base import CoefficientPrior, Prior, standardize
from multilevel.priors.map import map_estimate, penalized_mode
from multilevel.priors.presets import (
    PRESETS, elastic_net, horseshoe, lasso, regularized_horseshoe, ridge,
)
from multilevel.priors.spec import from_spec

__all__ = ["PRESETS", "CoefficientPrior", "Prior", "elastic_net", "from_spec", "horseshoe", "lasso",
           "map_estimate", "penalized_mode", "regularized_horseshoe", "ridge", "standardize"]
