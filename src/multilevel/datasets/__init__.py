"""Example data shipped with the package (from R's lme4 and datasets, and scikit-learn).

>>> import multilevel as ml
>>> ml.datasets.load("sleepstudy").shape
(180, 3)
"""

from multilevel.datasets.registry import DATASETS, describe, load, names

__all__ = ["DATASETS", "describe", "load", "names"]
