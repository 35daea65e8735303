"""PSIS-LOO with an explicit fix for high Pareto k: reloo, moment matching or K-fold.

``az.loo`` estimates leave-one-out cross-validation by importance sampling; where
the Pareto shape ``k`` of an observation's weights exceeds the threshold (0.7),
that estimate is unreliable. The fix is the user's choice, as in brms:

* ``"warn"``: keep PSIS-LOO, report the rows and warn (:class:`ParetoKWarning`);
* ``"reloo"``: refit without each bad row and use its exact predictive density
  (``az.reloo``);
* ``"moment_match"``: adapt the draws to each leave-one-out posterior without
  refitting (``az.loo_moment_match``);
* ``"kfold"``: K-fold cross-validation instead of LOO (``az.loo_kfold``), with
  ``group_by`` putting whole groups into folds (leave-one-group-out when
  ``k_folds`` is None).

Refits run through :func:`multilevel.compare.refit.run_jobs`; ArviZ combines the
results (through a wrapper that hands it the finished refits).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from multilevel.compare.errors import ParetoKWarning
from multilevel.compare import refit as refits  # refits.run_jobs: the swappable executor
from multilevel.compare.refit import make_folds, make_jobs
from multilevel.compare.infocrit import log_likelihood_array
from multilevel.errors import ComparisonError, warn

HIGH_K = ("warn", "reloo", "moment_match", "kfold")
K_THRESHOLD = 0.7
OBS_DIM = "obs_id"


@dataclass
class LooResult:
    """Cross-validation of one model.

    Attributes
    ----------
    elpd : ELPDData
        ArviZ's result (pointwise), ready for ``az.compare``.
    method : str
        ``"psis"``, ``"psis+reloo"``, ``"psis+moment_match"``, ``"kfold"`` or ``"logo"``.
    high_k_rows : list
        Row labels (the data's index) with ``k > k_threshold`` in PSIS-LOO.
    high_k_left : int
        Rows still above the threshold after the fix (0 for reloo and K-fold).
    n_refits : int
    n_compilations : int
        Compilations the refits made (one per model structure and shape: the refits
        share it, :mod:`multilevel.bayes.cache`).
    notes : list of str
    """

    elpd: object = field(repr=False)
    method: str
    k_threshold: float
    high_k_rows: list = field(default_factory=list)
    high_k_left: int = 0
    n_refits: int = 0
    notes: list[str] = field(default_factory=list)
    n_compilations: int = 0

    @property
    def n_high_k(self) -> int:
        return len(self.high_k_rows)


def check_high_k(high_k: str, k_folds=None, group_by=None, refit=None) -> str:
    """Validate ``high_k`` and refuse options the chosen fix would not use."""
    if high_k not in HIGH_K:
        raise ComparisonError(f"high_k={high_k!r} is not valid; use one of: {', '.join(HIGH_K)}.")
    if high_k != "kfold" and (k_folds is not None or group_by is not None):
        raise ComparisonError(
            f"k_folds and group_by set the folds of high_k='kfold', not of high_k={high_k!r}. "
            "Pass high_k='kfold' for K-fold cross-validation, or drop them."
        )
    if high_k in ("warn", "moment_match") and refit is not None:
        raise ComparisonError(
            f"refit= sets the sampling of refits, which high_k={high_k!r} does not run; use it "
            "with high_k='reloo' or 'kfold', or drop it."
        )
    return high_k


def cv_data(idata):
    """The fit's DataTree with the observation dimension renamed from Bambi's ``__obs__``.

    ``az.reloo`` stacks the observation dimensions into one named ``__obs__`` and
    fails when that name is taken (ArviZ 1.3); every cross-validation here uses
    the renamed tree so that pointwise results line up.
    """
    out = idata.copy()
    for group in ("log_likelihood", "observed_data"):
        if group in out.children and "__obs__" in out[group].dims:
            out[group] = out[group].to_dataset().rename({"__obs__": OBS_DIM})
    return out


def psis_loo(fit, name: str = "model", var_name: str | None = None, data=None):
    """``az.loo`` (pointwise), with ArviZ's own high-k warning left to our report."""
    import arviz as az

    log_likelihood_array(fit, var_name, name)  # clear error if the group is missing
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        return az.loo(cv_data(fit.idata) if data is None else data, pointwise=True,
                      var_name=var_name)


def loo(fit, *, high_k: str = "warn", k_threshold: float = K_THRESHOLD, k_folds: int | None = None,
        group_by=None, refit: dict | None = None, seed: int | None = 0,
        name: str = "model", progress: bool | None = None) -> LooResult:
    """Leave-one-out cross-validation of a Bayesian fit, with a chosen fix for high Pareto k.

    Parameters
    ----------
    fit : BayesFit
    high_k : {"warn", "reloo", "moment_match", "kfold"}
        What to do about observations with Pareto ``k > k_threshold`` (see the module
        docstring). ``"kfold"`` replaces LOO by K-fold cross-validation for this model.
    k_threshold : float
        Pareto k above which PSIS-LOO is not trusted (0.7, as in ``loo`` and brms).
    k_folds : int, optional
        Number of folds for ``high_k="kfold"``: 10 by default; with ``group_by`` the
        default is one fold per group (leave-one-group-out).
    group_by : str or array-like, optional
        A column of the model's data (or one label per row): K-fold folds hold whole groups.
    refit : dict, optional
        Sampling settings of the refits (``draws``, ``tune``, ``chains``, ``seed``,
        ``sampler``, ``target_accept``, ``lkj_eta``); default: those of ``fit``.
    seed : int, optional
        Seed of the random fold assignment.
    name : str
        The model's name in messages.
    progress : bool, optional
        A line on stderr per finished refit (reloo, K-fold); default: on when stderr
        is a terminal, never elsewhere; ``False``: none.

    Returns
    -------
    LooResult

    Examples
    --------
    >>> import multilevel as ml
    >>> fit = ml.fit("Reaction ~ Days + (Days | Subject)", "sleepstudy", seed=1,
    ...              progress=False)                                  # doctest: +SKIP
    >>> res = ml.compare.loo(fit, high_k="reloo", refit={"draws": 500})   # doctest: +SKIP
    >>> res.high_k_rows, res.high_k_left                              # doctest: +SKIP
    ([7, 56, 59], 0)
    """
    check_high_k(high_k, k_folds, group_by, refit)
    if high_k == "kfold":
        folds = make_folds(fit.nobs, k_folds, group_values(fit, group_by, name), seed)
        return kfold(fit, folds, refit=refit, name=name, scheme=fold_scheme(group_by, k_folds),
                     progress=progress)
    base = psis_loo(fit, name)
    k = np.asarray(base.pareto_k.values).reshape(-1)
    bad = np.flatnonzero(k > k_threshold)
    rows = list(fit.design.frame.data.index[bad])
    result = LooResult(elpd=base, method="psis", k_threshold=k_threshold, high_k_rows=rows,
                       high_k_left=len(bad))
    if not len(bad):
        return result
    if high_k == "warn":
        result.notes.append(
            f"{name}: {len(bad)} observation(s) with Pareto k > {k_threshold} (rows {_rows(rows)}); "
            "PSIS-LOO is unreliable for them. Resolve with high_k='reloo', 'moment_match' or 'kfold'."
        )
        warn(result.notes[-1], ParetoKWarning)
        return result
    if high_k == "reloo":
        return _reloo(fit, base, bad, result, refit, name, progress)
    return _moment_match(fit, base, bad, result, name)


def _reloo(fit, base, bad, result, refit, name, progress=None):
    import arviz as az

    jobs = make_jobs(fit, [np.array([i]) for i in bad], [f"{name} row {i}" for i in bad], refit)
    done = refits.run_jobs(jobs, progress=progress,
                           label=f"{name}: exact LOO for {len(bad)} high-k row(s), refits")
    wrapper = _finished_refits(cv_data(fit.idata), done)
    result.elpd = az.reloo(wrapper, loo_orig=base, k_threshold=result.k_threshold, pointwise=True)
    result.method, result.high_k_left, result.n_refits = "psis+reloo", 0, len(done)
    result.n_compilations = sum(job.compilations for job in done)
    result.notes.append(
        f"{name}: {len(bad)} observation(s) with Pareto k > {result.k_threshold} (rows "
        f"{_rows(result.high_k_rows)}) replaced by exact leave-one-out refits."
    )
    result.notes += [p for job in done for p in job.problems]
    return result


def _moment_match(fit, base, bad, result, name):
    import arviz as az

    from multilevel.compare.moment import augmented_idata, moment_inputs

    var_name = list(fit.idata.log_likelihood.data_vars)[0]
    idata = augmented_idata(fit)
    log_prob, log_lik_i, upars = moment_inputs(fit, idata, bad, var_name)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="After Moment Matching")
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        matched = az.loo_moment_match(cv_data(idata), base, log_prob_upars_fn=log_prob,
                                      log_lik_i_upars_fn=log_lik_i, upars=upars,
                                      var_name=var_name, k_threshold=result.k_threshold,
                                      pointwise=True)
    left = int(np.sum(np.asarray(matched.pareto_k.values) > result.k_threshold))
    result.elpd, result.method, result.high_k_left = matched, "psis+moment_match", left
    result.notes.append(
        f"{name}: moment matching for {len(bad)} observation(s) with Pareto k > "
        f"{result.k_threshold} (rows {_rows(result.high_k_rows)}); {left} still above it"
        + (" — use high_k='reloo' or 'kfold' for those." if left else ".")
    )
    if left:
        warn(result.notes[-1], ParetoKWarning)
    return result


SCHEMES = {"random": "random folds", "grouped": "whole groups per fold",
           "logo": "leave-one-group-out", "given": "folds given"}


def fold_scheme(group_by, k_folds) -> str:
    """How folds were made, for the table's ``cv`` column and the notes."""
    if group_by is None:
        return "random"
    return "logo" if k_folds is None else "grouped"


def kfold(fit, folds: np.ndarray, *, refit: dict | None = None, name: str = "model",
          scheme: str = "given", progress: bool | None = None) -> LooResult:
    """K-fold cross-validation with the given fold number (1..k) per row (``az.loo_kfold``).

    ``scheme`` only labels the result: ``"random"``, ``"grouped"``, ``"logo"`` or ``"given"``.
    ``progress``: a line on stderr per finished fold (default: when stderr is a terminal).
    """
    import arviz as az

    log_likelihood_array(fit, None, name)  # clear error if the group is missing
    folds = np.asarray(folds, dtype=int)
    if folds.shape != (fit.nobs,):
        raise ComparisonError(f"{name}: folds has {folds.size} entries for {fit.nobs} rows.")
    ids = np.unique(folds)
    test_sets = [np.flatnonzero(folds == f) for f in ids]
    jobs = make_jobs(fit, test_sets, [f"{name} fold {f}" for f in ids], refit)
    done = refits.run_jobs(jobs, progress=progress,
                           label=f"{name}: {len(ids)}-fold cross-validation, folds")
    data = cv_data(fit.idata)
    wrapper = _finished_refits(data, done)
    elpd = az.loo_kfold(data, wrapper, pointwise=True, folds=folds)
    notes = [f"{name}: {len(ids)}-fold cross-validation ({SCHEMES[scheme]}) instead of PSIS-LOO."]
    notes += [p for job in done for p in job.problems]
    return LooResult(elpd=elpd, method="logo" if scheme == "logo" else f"kfold({len(ids)})",
                     k_threshold=float("nan"), n_refits=len(done), notes=notes,
                     n_compilations=sum(job.compilations for job in done))


def group_values(fit, group_by, name: str = "model"):
    """Group labels per row from a column name of the model's data, or the labels themselves."""
    if group_by is None:
        return None
    if isinstance(group_by, str):
        data = fit.design.frame.data
        if group_by not in data.columns:
            raise ComparisonError(
                f"group_by={group_by!r} is not a column of the data of {name!r} (it has: "
                f"{', '.join(map(str, data.columns))}); pass one label per row instead."
            )
        return data[group_by].to_numpy()
    values = np.asarray(group_by)
    if values.shape != (fit.nobs,):
        raise ComparisonError(f"group_by has {values.size} labels for the {fit.nobs} rows of {name!r}.")
    return values


def _rows(rows) -> str:
    return ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")


def _finished_refits(idata, results):
    """An ArviZ ``SamplingWrapper`` that hands over refits already run by ``run_jobs``."""
    import xarray as xr
    from arviz_stats.loo import SamplingWrapper

    by_rows = {tuple(r.test_index): r for r in results}

    class FinishedRefits(SamplingWrapper):
        def sel_observations(self, idx):
            key = tuple(int(i) for i in np.atleast_1d(idx))
            return key, key

        def sample(self, modified_observed_data):
            return by_rows[modified_observed_data]

        def get_inference_data(self, fitted_model):
            return fitted_model

        def log_likelihood__i(self, excluded_obs, idata__i):
            return xr.DataArray(idata__i.loglik, dims=("chain", "draw", OBS_DIM))

    return FinishedRefits(model=None, idata_orig=idata)
