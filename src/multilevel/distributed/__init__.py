"""Many independent fits — cross-validation folds, prior grids, regularization paths,
simulation-based calibration — run serially or on Dask (``dask.distributed``).

* :func:`run_jobs` maps a function over jobs: ``client=None`` (serial, in this
  process), ``"local"`` (a ``LocalCluster`` of worker processes), a scheduler
  address, or a ``distributed.Client``.
* :func:`using` sends every ``run_jobs`` call inside a ``with`` block to a client —
  the way to put ``ml.compare(..., loo="kfold")`` or ``ml.sbc`` on a cluster.
* A failed job never loses the others: :class:`JobsFailedError` holds every result
  and every :class:`JobFailure` (the job's inputs, error and traceback).

Dask is optional: ``pip install 'multilevel[distributed]'``.
"""

from multilevel.distributed.runner import JobFailure, JobsFailedError, run_jobs, using

__all__ = ["JobFailure", "JobsFailedError", "run_jobs", "using"]
