"""Simulation-based calibration (Talts et al. 2018): prior draw → simulated data → refit → rank.

If the sampler and the model code are right, the rank of each true (prior-drawn)
parameter among its posterior draws is uniform over ``0..L``. Each replicate is an
independent job for :func:`multilevel.distributed.run_jobs`, carrying its own seed,
so a Dask run gives exactly the serial run's ranks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from multilevel.errors import DataError, SpecError

_SAMPLING = ("draws", "tune", "chains", "sampler", "target_accept", "lkj_eta")


@dataclass(frozen=True)
class SBCJob:
    """One replicate: refit ``formula`` to data simulated from the prior draw ``truth``."""

    index: int
    formula: str
    data: pd.DataFrame = field(repr=False)
    truth: dict = field(repr=False)
    options: dict = field(repr=False)
    thin: int = 1
    n_ranks: int = 0
    # the prior parameters of the model the truth was drawn from (its data-scaled defaults
    # would otherwise be rescaled to each simulated response: multilevel.bayes.cache.fixed_priors)
    prior_values: dict | None = field(default=None, repr=False)
    # the simulating model's centred terms and mass matrix (multilevel.bayes.model.parameterization):
    # a replicate deciding from its own simulated response could be another structure
    geometry: tuple | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"replicate {self.index} (seed {self.options.get('seed')})"


@dataclass(frozen=True)
class ReplicateResult:
    """Ranks of the true values among ``n_ranks`` thinned posterior draws, per parameter."""

    index: int
    ranks: dict
    max_rhat: float
    divergences: int
    compilations: int = 0   # log-density compilations this replicate's fit made


def run_replicate(job: SBCJob) -> ReplicateResult:
    """Fit one replicate and rank its true parameter values among the posterior draws."""
    from multilevel.bayes.cache import fixed_priors
    from multilevel.bayes.model import fixed_parameterization
    from multilevel.engines import fit as fit_model
    from multilevel.errors import ConvergenceWarning

    with warnings.catch_warnings(), fixed_priors(job.prior_values) as applied, \
            fixed_parameterization(job.geometry):
        warnings.simplefilter("ignore", ConvergenceWarning)  # SBC reports ranks, not per-fit checks
        fit = fit_model(job.formula, job.data, method="bayes", progress=False, check=False,
                        log_likelihood=False, **job.options)   # ranks need no log-likelihood
    if job.prior_values is not None and not applied:
        raise DataError(
            f"SBC {job.label}: the refit ran with sampler {fit.sampler!r}, which cannot take the "
            "prior parameters of the simulating model (its data-scaled default priors would be "
            "rescaled to each simulated response). Use sampler='nutpie'."
        )
    draws = fit.summary_draws
    ranks = {}
    for name, truth in job.truth.items():
        # chain-major flattening, thinned, then the first n_ranks draws (bins divide n_ranks + 1)
        values = np.asarray(draws[name].values, dtype=float).reshape(-1)[:: job.thin][: job.n_ranks]
        ranks[name] = int(np.sum(values < truth))
    stats = fit.idata.sample_stats
    divergences = int(np.asarray(stats["diverging"].values).sum()) if "diverging" in stats else 0
    max_rhat = float(fit.convergence.table.loc["max R-hat", "value"])
    return ReplicateResult(index=job.index, ranks=ranks, max_rhat=max_rhat, divergences=divergences,
                           compilations=int(fit.timings.get("compilations", 0)))


def sbc(spec_or_formula, data=None, *, n: int = 100, seed: int = 0, family: str | None = None,
        priors=None, draws: int = 500, tune: int = 500, chains: int = 2, thin: int = 5,
        bins: int | None = None, sampler: str | None = None, client=None, progress=None,
        **options):
    """Simulation-based calibration of a Bayesian multilevel model (Talts et al. 2018).

    Draws ``n`` parameter sets from the prior (``pymc.sample_prior_predictive`` on the
    built model), simulates a response for each, refits the model to every simulated
    data set (independent jobs, serial or on Dask), and ranks each true value among
    the thinned posterior draws. Uniform ranks are what a correct model and sampler
    give; :meth:`SBCResult.test` checks uniformity per parameter (chi-square on binned
    ranks) and :meth:`SBCResult.plot` draws the rank histograms.

    Parameters
    ----------
    spec_or_formula : str, Path or ModelSpec
        An lme4 formula, or a TOML model spec (``models/*.toml``) whose data, family,
        priors and sampling settings are used (the arguments here override them).
    data : DataFrame or str, optional
        The predictors and groups to simulate on (a dataset name works); required with
        a formula. The response column is replaced by simulated values.
    n : int
        Number of replicates (prior draws).
    seed : int
        Seeds the prior draws; replicate ``i`` is fitted with seed ``seed + 1 + i``.
    family, priors : optional
        As for :func:`multilevel.fit`.
    draws, tune, chains, sampler, **options
        Sampling settings of each refit (``target_accept``, ``lkj_eta`` ...).
    thin : int
        Keep every ``thin``-th posterior draw before ranking (SBC assumes nearly
        independent draws).
    bins : int, optional
        Bins of the rank histogram; default ``max(2, min(20, n // 5))`` so that each
        bin expects at least 5 replicates.
    client : None, "local", str or distributed.Client
        Where the replicates run (see :func:`multilevel.distributed.run_jobs`).
    progress : bool, optional
        A line on stderr as replicates finish; default: when stderr is a terminal.

    Returns
    -------
    SBCResult

    Examples
    --------
    >>> import multilevel as ml
    >>> res = ml.sbc("Reaction ~ Days + (1 | Subject)", "sleepstudy", n=20, seed=1,
    ...              draws=200, tune=200, chains=2, thin=2)  # doctest: +SKIP
    >>> res.test()[["statistic", "df", "p_value"]]  # doctest: +SKIP
    """
    from multilevel.distributed import run_jobs
    from multilevel.sbc.result import SBCResult

    formula, frame_data, fit_options = _resolve(spec_or_formula, data, family, priors, draws, tune,
                                                chains, sampler, options)
    _check_counts(n, thin, bins)
    bins = bins or max(2, min(20, n // 5))
    kept = fit_options["draws"] * fit_options["chains"] // thin
    n_ranks = bins * ((kept + 1) // bins) - 1  # ranks 0..n_ranks fill the bins evenly
    if n_ranks < bins - 1 or n_ranks < 1:
        raise DataError(
            f"{kept} posterior draws after thinning are too few for {bins} bins; raise draws or "
            "chains, or lower thin or bins."
        )
    truth, simulated, data_frame, response, priors, geometry = _prior_draws(
        formula, frame_data, fit_options, n, seed)
    jobs = []
    for i in range(n):
        replicate = data_frame.copy()
        replicate[response] = simulated[i]
        jobs.append(SBCJob(index=i, formula=formula, data=replicate, truth=truth.iloc[i].to_dict(),
                           options={**fit_options, "seed": int(seed) + 1 + i}, thin=thin,
                           n_ranks=n_ranks, prior_values=priors, geometry=geometry))
    outcomes = run_jobs(jobs, run_replicate, client=client, errors="return", progress=progress,
                        label="SBC replicates")
    return SBCResult.from_outcomes(outcomes, truth, n_ranks=n_ranks, bins=bins, formula=formula,
                                   seed=seed)


def _resolve(spec_or_formula, data, family, priors, draws, tune, chains, sampler, options):
    """(formula, data, fit options) from a formula + data or a model spec."""
    from multilevel.engines import _resolve_data

    base: dict = {"family": "gaussian", "priors": None, "draws": draws, "tune": tune,
                  "chains": chains, "sampler": "auto"}
    spec = spec_or_formula
    if isinstance(spec, (str, Path)) and str(spec).endswith(".toml"):
        from multilevel.spec import load_spec

        spec = load_spec(spec)
    if hasattr(spec, "fit_kwargs"):
        if spec.method != "bayes":
            raise SpecError(f"SBC needs a Bayesian model; the spec has method = {spec.method!r}.")
        kwargs = spec.fit_kwargs()
        base.update({k: kwargs[k] for k in ("family", "priors") if k in kwargs})
        base.update({k: v for k, v in kwargs.items() if k in _SAMPLING})
        formula, frame = spec.formula, (spec.load_data() if data is None else _resolve_data(data))
    else:
        if data is None:
            raise DataError("sbc(formula, data): give the data to simulate on (a DataFrame or a "
                            "shipped dataset name), or pass a model spec.")
        formula, frame = str(spec), _resolve_data(data)
    for key, value in (("family", family), ("priors", priors), ("sampler", sampler)):
        if value is not None:
            base[key] = value
    unknown = sorted(set(options) - set(_SAMPLING))
    if unknown:
        raise SpecError(f"Unknown sbc option(s) {', '.join(unknown)}; valid: {', '.join(_SAMPLING)}.")
    base.update(options)
    return formula, frame, base


def _check_counts(n, thin, bins):
    for name, value, low in (("n", n, 2), ("thin", thin, 1), ("bins", bins, 2)):
        if value is None and name == "bins":
            continue
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise DataError(f"{name} must be an integer >= {low}, got {value!r}.")


def _prior_draws(formula, data, options, n, seed):
    """True parameters (DataFrame n × parameters, lme4 names), simulated responses, the
    prior parameters and the parameterisation of the model they were drawn from."""
    import xarray as xr

    from multilevel.bayes.model import build_model, parameterization
    from multilevel.bayes.result import BayesFit
    from multilevel.bayes.sampling import SamplingSettings

    built = build_model(formula, data, family=options["family"], priors=options["priors"],
                        lkj_eta=options.get("lkj_eta", 1.0))
    response = built.bambi.response_term.name
    frame = built.design.frame.data.reset_index(drop=True)
    if response not in frame.columns:
        raise DataError(
            f"SBC replaces the response column by simulated values, but the response "
            f"{response!r} is not a plain column of the data. Compute it as a column first."
        )
    prior = built.sample_prior(draws=n, seed=seed)
    as_posterior = xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()})
    # Bambi reports the intercept for uncentred predictors; apply the same correction.
    cleaned = built.bambi.backend._clean_results(as_posterior, omit_offsets=True,
                                                include_response_params=False)
    settings = SamplingSettings("prior", n, 0, 1, seed, 0.9)
    truth_ds = BayesFit(built=built, idata=cleaned, settings=settings).summary_draws
    truth = pd.DataFrame({k: np.asarray(v.values).reshape(-1) for k, v in truth_ds.items()})
    simulated = np.asarray(prior["prior_predictive"][response].values).reshape(n, -1)
    if simulated.shape[1] != len(frame):
        raise DataError(f"The simulated response has {simulated.shape[1]} values for {len(frame)} rows.")
    from multilevel.bayes.datainputs import lift_data, prior_values

    lifted = lift_data(built.pymc)
    priors = None if lifted is None else prior_values(lifted)
    return truth, simulated, frame, response, priors, parameterization(built)
