"""Bayesian multilevel models through Bambi and PyMC, with lme4's formula semantics.

Importing this package imports PyMC and Bambi; :func:`multilevel.fit` does so only
for ``method="bayes"``.
"""

from multilevel.bayes.fit import fit_bayes
from multilevel.bayes.model import BuiltModel, build_model
from multilevel.bayes.result import BayesFit

__all__ = ["BayesFit", "BuiltModel", "build_model", "fit_bayes"]
