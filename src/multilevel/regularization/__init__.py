"""Regularization paths over prior scales, with LOO's and scikit-learn's choices."""

from multilevel.regularization.path import PathResult, regularization_path

__all__ = ["PathResult", "regularization_path"]
