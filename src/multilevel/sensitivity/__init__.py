"""Prior sensitivity: prior predictive checks, power-scaling, comparing priors."""

from multilevel.sensitivity.compare import PriorComparison, compare_priors
from multilevel.sensitivity.psense import prior_predictive, sensitivity

__all__ = ["PriorComparison", "compare_priors", "prior_predictive", "sensitivity"]
