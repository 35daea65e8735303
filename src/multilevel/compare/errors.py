"""Errors and warnings of model comparison.

:class:`~multilevel.errors.ComparisonError` (models that cannot be compared) lives
in the package-wide hierarchy; the warning below is specific to cross-validation.
"""

from __future__ import annotations

from multilevel.errors import ComparisonError

__all__ = ["ComparisonError", "ParetoKWarning"]


class ParetoKWarning(UserWarning):
    """PSIS-LOO is unreliable for some observations (Pareto k above the threshold).

    Raised with ``high_k="warn"`` (the rows are listed), or when moment matching
    leaves observations above the threshold; ``high_k="reloo"`` or ``"kfold"`` fix it.
    """
