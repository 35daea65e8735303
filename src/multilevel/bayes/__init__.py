"""Bayesian multilevel models through Bambi and PyMC, with lme4's formula semantics.

:func:`multilevel.fit` imports this package only for ``method="bayes"``. Its names are
loaded on first use (PEP 562), so that a module of the package (the compiled kernel of
:mod:`multilevel.bayes.generic`, read in a sampler's child process) can be imported
without the fitting stack.
"""

from multilevel.lazy import lazy_names

_NAMES = {"fit_bayes": "multilevel.bayes.fit", "BuiltModel": "multilevel.bayes.model",
          "build_model": "multilevel.bayes.model", "BayesFit": "multilevel.bayes.result"}

__all__ = ["BayesFit", "BuiltModel", "build_model", "fit_bayes"]

__getattr__, __dir__ = lazy_names(__name__, _NAMES)
