"""Frequentist inference for REML/ML mixed models as reviewers ask for it (layer 3, verbs).

- :func:`coef_table`, :func:`anova`, :func:`contest`, :func:`contrast_rows`: t and F
  tests with Satterthwaite's (lmerTest) or Kenward–Roger's (pbkrtest) denominator df.
- :func:`vcov_adjusted`: Kenward–Roger's adjusted covariance of the fixed effects.
- :func:`confint`: Wald, profile and parametric-bootstrap intervals (lme4's ``confint``).
- :func:`simulate`, :func:`bootstrap_lrt`, :func:`bootmer`: lme4's ``simulate``, pbkrtest's
  ``PBmodcomp`` and lme4's ``bootMer`` (a parametric bootstrap of any statistic).
- :func:`influence`: lme4's ``influence.merMod``, case- and group-deletion refits.
- :func:`r2_nakagawa` (and :func:`r2` for REML/ML fits): ``performance::r2_nakagawa``.
- :func:`ranova`: lmerTest's likelihood-ratio tests of the group-effect terms;
  :func:`drop1`: lmerTest's F tests of deleting each marginal fixed-effect term;
  :func:`step`: lmerTest's backward elimination built on the two.
"""

from multilevel.inference.bootmer import BootResult, bootmer
from multilevel.inference.bootstrap import BootstrapLRT, bootstrap_lrt
from multilevel.inference.confint import confint
from multilevel.inference.influence import Influence, influence
from multilevel.inference.kenward_roger import vcov_adjusted
from multilevel.inference.r2 import r2, r2_nakagawa
from multilevel.inference.ranova import ranova
from multilevel.inference.simulate import simulate
from multilevel.inference.step import StepResult, step
from multilevel.inference.tests import anova, coef_table, contest, contrast_rows, drop1

__all__ = ["BootResult", "BootstrapLRT", "Influence", "StepResult", "anova", "bootmer", "bootstrap_lrt", "coef_table", "confint", "contest",
           "contrast_rows", "drop1", "influence", "r2", "r2_nakagawa", "ranova", "simulate", "step", "vcov_adjusted"]
