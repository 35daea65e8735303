"""multilevel: Bayesian multilevel models with lme4 formula semantics.

Fit with :func:`fit` (Bayesian through Bambi/PyMC, or REML/ML with lme4's numbers),
compare with :func:`compare` and :func:`lrt`. Heavy libraries (PyMC, Bambi, ArviZ)
are imported only when a Bayesian fit needs them.
"""

from __future__ import annotations

import importlib

from multilevel import errors
from multilevel.api import fit
from multilevel.errors import MultilevelError
from multilevel.version import __version__ as __version__

# Public names served lazily so that `import multilevel` stays light (not even pandas:
# the CLI imports the rest with the garbage collector paused, multilevel.cli).
_LAZY = {
    "datasets": ("multilevel.datasets", None),
    "lrt": ("multilevel.api", "lrt"),   # freq's LRT plus inference's bootstrap=
    "anova": ("multilevel.inference", "anova"),
    "ranova": ("multilevel.inference", "ranova"),
    "drop1": ("multilevel.inference", "drop1"),
    "step": ("multilevel.inference", "step"),
    "lmlist": ("multilevel.freq", "lmlist"),
    "contest": ("multilevel.inference", "contest"),
    "confint": ("multilevel.inference", "confint"),
    "r2": ("multilevel.api", "r2"),
    "model_performance": ("multilevel.api", "model_performance"),     # Nakagawa for REML/ML, Bayesian R² for draws
    "compare_performance": ("multilevel.api", "compare_performance"),   # performance's, with IC weights
    "simulate": ("multilevel.inference", "simulate"),
    "bootmer": ("multilevel.inference", "bootmer"),
    "influence": ("multilevel.inference.influence", "influence"),   # lme4's influence.merMod
    "inference": ("multilevel.inference", None),
    # the subpackage itself: callable as ml.compare({...}), with ml.compare.loo/.waic
    "compare": ("multilevel.compare", None),
    # bridgesampling's (brms') marginal likelihood, Bayes factor and model probabilities
    "bridge_sampler": ("multilevel.compare.bridge", "bridge_sampler"),
    "bayes_factor": ("multilevel.compare.bridge", "bayes_factor"),
    "post_prob": ("multilevel.compare.bridge", "post_prob"),
    "priors": ("multilevel.priors", None),
    # callable subpackage: ml.sbc(formula, data, n=...), ml.sbc.SBCResult
    "sbc": ("multilevel.sbc", None),
    "distributed": ("multilevel.distributed", None),
    "compare_priors": ("multilevel.sensitivity", "compare_priors"),
    "sensitivity": ("multilevel.sensitivity", None),
    "regularization_path": ("multilevel.regularization", "regularization_path"),
    "vif": ("multilevel.diagnostics.vif", "vif"),
    "icc": ("multilevel.diagnostics.icc", "icc"),
    "re_pca": ("multilevel.diagnostics.repca", "re_pca"),   # lme4's rePCA
    "check_overdispersion": ("multilevel.diagnostics.dispersion", "check_overdispersion"),
    "check_zeroinflation": ("multilevel.diagnostics.dispersion", "check_zeroinflation"),
    "binned_residuals": ("multilevel.diagnostics.binned", "binned_residuals"),   # performance's
    "diagnostics": ("multilevel.diagnostics", None),
    "prepare": ("multilevel.prepare", None),
    "plots": ("multilevel.plots", None),
    # ml.predict.category_probabilities / category_draws (without a fit.predict call first)
    "predict": ("multilevel.predict", None),
    # brms' draw arrays (draws x rows)
    "posterior_linpred": ("multilevel.predict.draws", "posterior_linpred"),
    "posterior_epred": ("multilevel.predict.draws", "posterior_epred"),
    "posterior_predict": ("multilevel.predict.draws", "posterior_predict"),
    # interpreting a fit (issue 23)
    "effects": ("multilevel.effects", None),
    "predictions": ("multilevel.effects", "predictions"),
    "comparisons": ("multilevel.effects", "comparisons"),
    "slopes": ("multilevel.effects", "slopes"),
    "datagrid": ("multilevel.effects", "datagrid"),
    "emmeans": ("multilevel.effects", "emmeans"),
    "emtrends": ("multilevel.effects", "emtrends"),   # emmeans' emtrends
    "hypothesis": ("multilevel.effects", "hypothesis"),
    "describe_posterior": ("multilevel.effects", "describe_posterior"),
    # a run folder of `multilevel fit` back as a fit (issue 25)
    "load_run": ("multilevel.runfolder", "load_run"),
}

__all__ = ["MultilevelError", "errors", "fit", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        value = mod if attr is None else getattr(mod, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'multilevel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
