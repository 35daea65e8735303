"""lme4's ML/REML engine (no PyMC): design → deviance(θ) → optimize → FreqFit.

Stages, each a plain function: :func:`~multilevel.formula.build_design` →
:func:`~multilevel.freq.deviance.make_deviance` → :func:`~multilevel.freq.optimize.minimize_theta`
→ :class:`~multilevel.freq.result.FreqFit`; :func:`fit_freq` chains them. GLMMs
(:mod:`~multilevel.freq.glmm`) add PIRLS and the Laplace approximation; formulas
without random effects give least squares (:mod:`~multilevel.freq.ols`) or a GLM
(:mod:`~multilevel.freq.glm`); :func:`lmlist` fits one per group (lme4's ``lmList``).
"""

from multilevel.freq.deviance import make_deviance
from multilevel.freq.fit import fit_design, fit_freq
from multilevel.freq.glm import GLMFit
from multilevel.freq.glmm import GLMMFit
from multilevel.freq.lmlist import LMList, lmlist
from multilevel.freq.lrt import LRTResult, lrt
from multilevel.freq.ols import OLSFit
from multilevel.freq.result import FreqFit

__all__ = ["FreqFit", "GLMFit", "GLMMFit", "LMList", "LRTResult", "OLSFit", "fit_design", "fit_freq",
           "lmlist", "lrt", "make_deviance"]
