"""Refits on subsets of the data: the seam between cross-validation and compute.

Exact refits (reloo) and K-fold cross-validation need the same model fitted on
many subsets. Each refit is a :class:`FitJob` — formula, family, priors, sampling
settings, training rows, held-out rows — and :func:`run_jobs` maps them to
:class:`JobResult` s (the held-out log-likelihood draws). The jobs are independent
and their inputs and outputs are plain, picklable data, so a distributed map
(``dask.distributed``) can replace the serial one in :func:`run_jobs` without
touching the callers. Refits go through the public :func:`multilevel.fit`.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from multilevel.errors import ComparisonError, ConvergenceWarning, MultilevelError, check_seed

# Sampling settings a refit takes over from the original fit, and that refit= may change.
REFIT_KEYS = ("draws", "tune", "chains", "seed", "sampler", "target_accept", "lkj_eta")


@dataclass(frozen=True)
class FitJob:
    """One refit: fit ``formula`` to ``train``, score the rows ``test``.

    Attributes
    ----------
    label : str
        For messages (``"fold 3"``, ``"row 57"``).
    test_index : tuple of int
        Positions of the held-out rows in the original fit's rows.
    y_test, trials_test : ndarray
        Response (and binomial trials) of the held-out rows.
    options : dict
        Keyword arguments for :func:`multilevel.fit` (family, priors, sampling).
    seed : int or None
        Seed of new-group effects drawn for non-gaussian held-out rows.
    geometry : tuple, optional
        The fitted model's centred terms and mass matrix, which every refit keeps
        (:func:`multilevel.bayes.model.fixed_parameterization`).
    symbolic_rows : bool
        Compile the refit with its row count as an input
        (:func:`multilevel.bayes.cache.symbolic_rows`): training sets of different sizes
        (unequal K-fold folds, grouped folds, reloo) share one compilation. Carried in
        the job so that it holds on the process that runs it (Dask workers).
    """

    label: str
    formula: str
    train: pd.DataFrame = field(repr=False)
    test: pd.DataFrame = field(repr=False)
    test_index: tuple[int, ...]
    y_test: np.ndarray = field(repr=False)
    trials_test: np.ndarray | None = field(repr=False)
    options: dict = field(default_factory=dict, repr=False)
    seed: int | None = None
    symbolic_rows: bool = True
    # the fitted model's parameterisation (multilevel.bayes.model.parameterization): a training
    # set deciding noncentered="auto" anew could be another structure, another compilation
    geometry: tuple | None = None


@dataclass(frozen=True)
class JobResult:
    """What a refit returns: held-out log-likelihood draws (chains, draws, n_test)."""

    label: str
    test_index: tuple[int, ...]
    loglik: np.ndarray = field(repr=False)
    seconds: float
    problems: tuple[str, ...] = ()
    compilations: int = 0   # nutpie compilations the refit made (0: a compilation reused)


def run_job(job: FitJob) -> JobResult:
    """Fit one job with :func:`multilevel.fit` and score its held-out rows."""
    from multilevel.bayes.cache import symbolic_rows
    from multilevel.bayes.model import fixed_parameterization
    from multilevel.compare.pointwise import heldout_loglik
    from multilevel.engines import fit as fit_model

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, symbolic_rows(job.symbolic_rows), \
            fixed_parameterization(job.geometry):
        warnings.simplefilter("always", ConvergenceWarning)
        try:
            # the training rows' log-likelihood is not what a refit is for: skipped
            refit = fit_model(job.formula, job.train, method="bayes", progress=False,
                              log_likelihood=False, **job.options)
        except MultilevelError as exc:
            raise ComparisonError(
                f"The refit for {job.label} (without {len(job.test_index)} row(s)) failed: {exc}"
            ) from exc
    problems = tuple(f"{job.label}: {w.message}" for w in caught
                     if issubclass(w.category, ConvergenceWarning))
    for w in caught:  # anything else is the caller's to see, unchanged
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    loglik = heldout_loglik(refit, job.test, job.y_test, job.trials_test, seed=job.seed)
    return JobResult(label=job.label, test_index=job.test_index, loglik=loglik,
                     seconds=time.perf_counter() - start, problems=problems,
                     compilations=int(refit.timings.get("compilations", 0)))


def run_jobs(jobs: list[FitJob], progress: bool | None = None, label: str = "refits") -> list[JobResult]:
    """Run independent refits, results in the order of ``jobs``.

    Serial by default; on Dask inside ``with multilevel.distributed.using(client):``
    (see :func:`multilevel.distributed.run_jobs`). Every job runs even if one fails.
    ``progress``: a line on stderr per finished refit, headed ``label`` (default: on
    when stderr is a terminal).
    """
    from multilevel.distributed import JobsFailedError
    from multilevel.distributed import run_jobs as distributed_run_jobs

    try:
        return distributed_run_jobs(jobs, run_job, progress=progress, label=label)
    except JobsFailedError as exc:  # keep this module's error type for callers
        raise ComparisonError(str(exc)) from exc


def refit_options(fit, refit: dict | None) -> dict:
    """The original fit's family, priors and sampling settings, updated by ``refit``."""
    s = fit.settings
    options = {"family": fit.family, "priors": fit.built.priors, "draws": s.draws, "tune": s.tune,
               "chains": s.chains, "seed": s.seed, "sampler": s.sampler,
               "target_accept": s.target_accept,
               "lkj_eta": getattr(fit.built.bambi.backend, "lkj_eta", 1.0), "na": "error",
               **fit.data_options()}
    unknown = sorted(set(refit or {}) - set(REFIT_KEYS))
    if unknown:
        raise ComparisonError(
            f"refit= has unknown key(s) {', '.join(map(repr, unknown))}; valid: {', '.join(REFIT_KEYS)}."
        )
    options.update(refit or {})
    return options


def make_jobs(fit, test_sets: list[np.ndarray], labels: list[str], refit: dict | None = None,
              ) -> list[FitJob]:
    """One :class:`FitJob` per held-out set of row positions."""
    from multilevel.bayes.model import parameterization

    frame = fit.design.frame
    data = frame.data.reset_index(drop=True)
    y = np.asarray(fit.design.y, dtype=float)
    trials = None if frame.trials is None else np.asarray(frame.trials, dtype=float)
    options = refit_options(fit, refit)
    geometry = parameterization(fit.built)
    base_seed = options.get("seed")
    jobs = []
    for i, (rows, label) in enumerate(zip(test_sets, labels)):
        rows = np.sort(np.asarray(rows, dtype=int))
        keep = np.ones(len(data), dtype=bool)
        keep[rows] = False
        seed = None if base_seed is None else int(base_seed) + 1 + i
        jobs.append(FitJob(
            label=label, formula=fit.formula, train=data.loc[keep].reset_index(drop=True),
            test=data.iloc[rows].reset_index(drop=True), test_index=tuple(int(r) for r in rows),
            y_test=y[rows], trials_test=None if trials is None else trials[rows],
            options={**options, "seed": seed}, seed=seed, geometry=geometry,
        ))
    return jobs


def make_folds(n: int, k: int | None = None, groups=None, seed: int | None = None) -> np.ndarray:
    """Fold number (1..k) of each of ``n`` rows.

    Without ``groups``: ``k`` random folds of (almost) equal size. With ``groups``
    (one label per row): whole groups go to folds; ``k=None`` gives one fold per
    group (leave-one-group-out), otherwise the groups are dealt at random to ``k``
    folds.

    Examples
    --------
    >>> make_folds(6, groups=["a", "a", "b", "b", "c", "c"]).tolist()
    [1, 1, 2, 2, 3, 3]
    """
    rng = np.random.default_rng(check_seed(seed))
    if groups is None:
        k = 10 if k is None else k
        _check_k(k, n, "rows")
        folds = np.arange(n) % k + 1
        return folds[rng.permutation(n)]
    groups = np.asarray(groups)
    if len(groups) != n:
        raise ComparisonError(f"group_by has {len(groups)} values for {n} rows.")
    labels, codes = np.unique(groups.astype(str), return_inverse=True)
    n_groups = len(labels)
    if k is None or k == n_groups:
        if n_groups < 2:
            raise ComparisonError("Leave-one-group-out needs at least two groups.")
        return codes + 1
    _check_k(k, n_groups, "groups")
    fold_of_group = (np.arange(n_groups) % k + 1)[rng.permutation(n_groups)]
    return fold_of_group[codes]


def _check_k(k, n, what):
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 2 or k > n:
        raise ComparisonError(f"k_folds must be an integer between 2 and the number of {what} ({n}), got {k!r}.")
