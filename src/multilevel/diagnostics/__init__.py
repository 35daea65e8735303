"""Diagnostics before and after fitting: collinearity (VIF), ICC and the evidence for a
random effect, the panel F test, convergence checks, overdispersion and zero-inflation,
binned residuals of 0/1 responses,
the principal components of the random effects (lme4's rePCA).

Nothing here imports PyMC, Bambi or ArviZ (a Bayesian fit passed in brings its own).
The plots that were ``multilevel.diagnostics.plots`` are :mod:`multilevel.plots`
(``ml.plots``), in the presentation layer.
"""

from multilevel.diagnostics.binned import binned_residuals
from multilevel.diagnostics.convergence import (FreqConvergenceReport, check_convergence,
                                                idata_convergence)
from multilevel.diagnostics.dispersion import (OverdispersionCheck, ZeroInflationCheck,
                                               check_overdispersion, check_zeroinflation)
from multilevel.diagnostics.evidence import RandomEffectEvidence, random_effect_evidence
from multilevel.diagnostics.icc import ICCResult, icc
from multilevel.diagnostics.panel import PanelFTest, panel_f_test
from multilevel.diagnostics.repca import REPCA, re_pca
from multilevel.diagnostics.vif import vif

__all__ = ["REPCA", "FreqConvergenceReport", "ICCResult", "OverdispersionCheck", "PanelFTest",
           "RandomEffectEvidence", "ZeroInflationCheck", "binned_residuals", "check_convergence", "check_overdispersion",
           "check_zeroinflation", "icc", "idata_convergence", "panel_f_test",
           "random_effect_evidence", "re_pca", "vif"]
