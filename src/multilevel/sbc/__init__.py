"""Simulation-based calibration: ``ml.sbc(spec_or_formula, data, n=..., seed=...)``.

See :func:`multilevel.sbc.core.sbc` and :class:`multilevel.sbc.result.SBCResult`.
"""

import sys
import types

from multilevel.sbc.core import ReplicateResult, SBCJob, run_replicate, sbc
from multilevel.sbc.result import SBCResult

__all__ = ["ReplicateResult", "SBCJob", "SBCResult", "run_replicate", "sbc"]


class _CallableModule(types.ModuleType):
    """``ml.sbc(...)`` runs :func:`sbc`; ``ml.sbc.SBCResult`` etc. stay reachable."""

    def __call__(self, *args, **kwargs):
        return sbc(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
