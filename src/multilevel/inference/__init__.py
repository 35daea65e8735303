"""Frequentist inference for REML/ML fits as reviewers ask for it (layer 3, verbs).

- :func:`coef_table`, :func:`anova`, :func:`contest`, :func:`contrast_rows`: t and F
  tests with Satterthwaite's (lmerTest) or Kenward–Roger's (pbkrtest) denominator df.
- :func:`vcov_adjusted`: Kenward–Roger's adjusted covariance of the fixed effects.
"""

from multilevel.inference.kenward_roger import vcov_adjusted
from multilevel.inference.tests import anova, coef_table, contest, contrast_rows

__all__ = ["anova", "coef_table", "contest", "contrast_rows", "vcov_adjusted"]
