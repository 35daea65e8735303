"""Model comparison: LOO and WAIC beside AIC, BIC and likelihood-ratio tests.

:func:`compare` builds one table for fits of the same data; :func:`loo` is
PSIS-LOO with an explicit fix for high Pareto k (exact refits, moment matching or
K-fold with whole groups per fold); :func:`waic` is WAIC from the log-likelihood; :func:`bridge_sampler`, :func:`bayes_factor`
and :func:`post_prob` are marginal likelihoods, Bayes factors and posterior model
probabilities by bridge sampling.
Refits are independent jobs run by :func:`run_jobs`.

``ml.compare`` is :func:`compare`. Importing this subpackage directly would make
``multilevel.compare`` the module rather than the function, so the module itself
is callable and forwards to :func:`compare`.
"""

from __future__ import annotations

import sys
import types

from multilevel.compare.errors import ComparisonError, ParetoKWarning
from multilevel.compare.bridge import BayesFactor, BridgeResult, bayes_factor, bridge_sampler, post_prob
from multilevel.compare.crossval import LooResult, kfold, loo
from multilevel.compare.refit import FitJob, JobResult, make_folds, run_job, run_jobs
from multilevel.compare.table import Comparison, compare
from multilevel.compare.infocrit import WaicResult, waic, waic_from_array

__all__ = ["BayesFactor", "BridgeResult", "Comparison", "ComparisonError", "FitJob", "JobResult",
           "LooResult", "ParetoKWarning", "WaicResult", "bayes_factor", "bridge_sampler", "compare",
           "kfold", "loo", "make_folds", "post_prob", "run_job", "run_jobs", "waic", "waic_from_array"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return compare(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
